"""Key layouts of AST checkpoints and their mapping to the pianox (timm-style) parameter names.

Three layouts exist in the wild:

- Hugging Face `ASTModel` as saved on disk (transformers 4 and 5): `embeddings.cls_token`,
  `embeddings.distillation_token`, `embeddings.position_embeddings`,
  `embeddings.patch_embeddings.projection.*`, `encoder.layer.N.attention.attention.{query,key,
  value}.*` (split q/k/v), `...attention.output.dense`, `...intermediate.dense`,
  `...output.dense`, `...layernorm_{before,after}`, `layernorm.*`; optionally under
  `audio_spectrogram_transformer.` (ASTForAudioClassification). transformers 5's in-memory names
  (`layers.N.attention.q_proj`, `o_proj`, `mlp.fc1/fc2`) are accepted too.
- timm/DeiT as in the official AST and SSAST repositories (`module.v.` + `cls_token`,
  `dist_token`, `pos_embed`, `patch_embed.proj.*`, `blocks.N.{norm1,attn.qkv,attn.proj,norm2,
  mlp.fc1,mlp.fc2}.*`, `norm.*`) — the pianox names themselves, under some prefix.
- SSAST pretraining extras beside `module.v.`: `module.mask_embed` (mapped), the pretraining
  input shape `module.p_input_fdim/p_input_tdim` (read), heads `module.cpredlayer.*`,
  `module.gpredlayer.*` (ignored, being outside the encoder prefix).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import torch

from pianox.errors import CheckpointError

from .ast import PRESETS, ASTEncoder

HF_MODEL_TYPE = "audio-spectrogram-transformer"
HF_ANCHOR = "embeddings.patch_embeddings.projection.weight"
TIMM_ANCHOR = "patch_embed.proj.weight"

_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.distillation_token": "dist_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_LAYER = {  # per-layer module: HF legacy name -> pianox name (q/k/v handled apart)
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_HF_QKV = ("attention.attention.query", "attention.attention.key", "attention.attention.value")
_HF5_TO_LEGACY = {  # transformers 5 in-memory names -> the on-disk (legacy) ones
    "attention.q_proj": "attention.attention.query",
    "attention.k_proj": "attention.attention.key",
    "attention.v_proj": "attention.attention.value",
    "attention.o_proj": "attention.output.dense",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
_TIMM_IGNORED = re.compile(r"(head|head_dist|pre_logits|fc_norm)\..*")
"""timm classifier heads stored under the encoder prefix (DeiT's head and head_dist)."""

_NATIVE = re.compile(r"(cls_token|dist_token|pos_embed|mask_embed|patch_embed\.proj\.(weight|bias)|norm\.(weight|bias)|"
                     r"blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias))")


def find_prefix(state: dict[str, torch.Tensor], path: object) -> tuple[str, str]:
    """("hf" | "timm", prefix): which layout `state` uses and the key prefix of its encoder.

    Found from the patch-embedding weight; CheckpointError when there is none or several.
    """
    hits = [(layout, key[: -len(anchor)]) for key in state
            for layout, anchor in (("hf", HF_ANCHOR), ("timm", TIMM_ANCHOR))
            if key.endswith(anchor) and (key == anchor or key[-len(anchor) - 1] == ".")]
    if len(hits) != 1:
        what = "no" if not hits else f"{len(hits)} ({', '.join(p + '…' for _, p in hits)})"
        raise CheckpointError(f"{path}: found {what} AST patch embedding; expected one key ending in "
                              f"{HF_ANCHOR!r} (Hugging Face) or {TIMM_ANCHOR!r} (official AST/SSAST, pianox)")
    return hits[0]


def to_native(state: dict[str, torch.Tensor], layout: str, prefix: str, path: object
              ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Map the encoder part of a checkpoint to pianox names.

    Returns (tensors by pianox name, pianox name -> key in the file). Keys outside `prefix` are
    ignored (task heads); unknown keys inside it raise CheckpointError naming them.
    """
    inner = {k[len(prefix):]: k for k in state if k.startswith(prefix)}
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    unknown: list[str] = []
    qkv: dict[tuple[str, str], dict[int, str]] = {}
    for key, full in inner.items():
        if layout == "timm":
            if _NATIVE.fullmatch(key):
                out[key], origin[key] = state[full], full
            elif not _TIMM_IGNORED.fullmatch(key):
                unknown.append(full)
            continue
        key = _hf_legacy(key)
        if key in _HF_TOP:
            out[_HF_TOP[key]], origin[_HF_TOP[key]] = state[full], full
            continue
        m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", key)
        if m is None:
            unknown.append(full)
        elif m.group(2) in _HF_QKV:
            qkv.setdefault((m.group(1), m.group(3)), {})[_HF_QKV.index(m.group(2))] = full
        elif m.group(2) in _HF_LAYER:
            name = f"blocks.{m.group(1)}.{_HF_LAYER[m.group(2)]}.{m.group(3)}"
            out[name], origin[name] = state[full], full
        else:
            unknown.append(full)
    if unknown:
        raise CheckpointError(f"{path}: unexpected keys for an AST encoder: {', '.join(sorted(unknown)[:8])}")
    if layout == "timm":
        # SSAST keeps its mask embedding beside the ViT (`module.mask_embed` next to `module.v.`).
        outer = prefix[:-2] + "mask_embed" if prefix.endswith("v.") else None
        if outer in state and "mask_embed" not in out:
            out["mask_embed"], origin["mask_embed"] = state[outer], outer
    for (layer, kind), parts in qkv.items():
        if len(parts) != 3:
            have = ", ".join(parts[i] for i in sorted(parts))
            raise CheckpointError(f"{path}: layer {layer} has only some of query/key/value {kind}: {have}")
        name = f"blocks.{layer}.attn.qkv.{kind}"
        out[name] = torch.cat([state[parts[i]] for i in range(3)], dim=0)
        origin[name] = parts[0].replace(".query.", ".{query,key,value}.")
    return out, origin


def _hf_legacy(key: str) -> str:
    """transformers-5 in-memory key -> on-disk (legacy) key; legacy keys pass unchanged."""
    m = re.fullmatch(r"layers\.(\d+)\.(.+)\.(weight|bias)", key)
    if m is None:
        return key
    module = _HF5_TO_LEGACY.get(m.group(2), m.group(2))
    return f"encoder.layer.{m.group(1)}.{module}.{m.group(3)}"


def to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pianox state dict -> Hugging Face on-disk names (bare `ASTModel`), q/k/v split."""
    top = {v: k for k, v in _HF_TOP.items()}
    layer = {v: k for k, v in _HF_LAYER.items()}
    out = {}
    for name, tensor in state.items():
        if name == "mask_embed":
            raise KeyError("the mask embedding has no Hugging Face name; pianox keeps it in pianox.safetensors")
        if name in top:
            out[top[name]] = tensor
            continue
        m = re.fullmatch(r"blocks\.(\d+)\.(.+)\.(weight|bias)", name)
        if m is None:
            raise KeyError(f"no Hugging Face name for parameter {name!r}")
        i, module, kind = m.groups()
        if module == "attn.qkv":
            for part, chunk in zip(_HF_QKV, tensor.chunk(3, dim=0), strict=True):
                out[f"encoder.layer.{i}.{part}.{kind}"] = chunk
        else:
            out[f"encoder.layer.{i}.{layer[module]}.{kind}"] = tensor
    return out


def architecture(state: dict[str, torch.Tensor]) -> dict[str, object]:
    """Config fields read off the tensors of a pianox-named state: dim, depth, mlp_ratio,
    qkv_bias and prefix_tokens (heads are not in the tensors)."""
    dim = state["pos_embed"].shape[-1]
    layers = {int(k.split(".")[1]) for k in state if k.startswith("blocks.")}
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0] if layers else 4 * dim
    return {
        "dim": int(dim),
        "depth": len(layers),
        "mlp_ratio": hidden / dim,
        "qkv_bias": "blocks.0.attn.qkv.bias" in state,
        "prefix_tokens": int("cls_token" in state) + int("dist_token" in state),
    }


# ---- geometry and architecture per format -------------------------------------------------


def from_pianox_meta(block: dict[str, Any], path: Path) -> tuple[dict[str, Any], int]:
    if block.get("kind") != ASTEncoder.name:
        raise CheckpointError(f"{path}: config.json is for model kind {block.get('kind')!r}, not 'ast'")
    config = dict(block.get("config", {}))
    fields = {f.name for f in dataclasses.fields(ASTEncoder.Config)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise CheckpointError(f"{path}: config.json pianox.config has unknown fields: {', '.join(unknown)}")
    probe = ASTEncoder.Config(**config)
    dim, depth, heads = PRESETS.get(probe.preset, (0, 0, 0))
    config["heads"] = probe.heads or heads
    config["depth"] = probe.depth or depth
    config["dim"] = probe.dim or dim
    return config, int(block.get("num_bins", 128))


def from_hf_meta(meta: dict[str, Any], path: Path) -> tuple[dict[str, Any], int]:
    try:
        patch = meta.get("patch_size", 16)
        if isinstance(patch, (list, tuple)):
            if len(set(patch)) != 1:
                raise CheckpointError(f"{path}: config.json patch_size={patch} is not square")
            patch = patch[0]
        if meta.get("hidden_act", "gelu") != "gelu":
            raise CheckpointError(f"{path}: config.json hidden_act={meta['hidden_act']!r}; only 'gelu' is supported")
        config = {
            "dim": int(meta["hidden_size"]), "depth": int(meta["num_hidden_layers"]),
            "heads": int(meta["num_attention_heads"]), "patch": "patch", "patch_size": int(patch),
            "fstride": int(meta.get("frequency_stride", 10)), "tstride": int(meta.get("time_stride", 10)),
            "max_frames": int(meta.get("max_length", 1024)), "qkv_bias": bool(meta.get("qkv_bias", True)),
            "norm_eps": float(meta.get("layer_norm_eps", 1e-12)),
            "dropout": float(meta.get("hidden_dropout_prob", 0.0)),
        }
        return config, int(meta.get("num_mel_bins", 128))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config.json is not a valid ASTConfig: {exc!r}") from exc


def official_geometry(raw: dict[str, torch.Tensor], prefix: str, kernel: tuple[int, int], arch: dict[str, Any],
                       source_stride: tuple[int, int] | None, path: Path) -> tuple[dict[str, Any], int]:
    """Geometry of an official AST/SSAST .pth, which stores only tensors."""
    ph, pw = kernel
    outer = prefix[:-2] if prefix.endswith("v.") else prefix
    n = raw[prefix + "pos_embed"].shape[1] - arch["prefix_tokens"]
    if outer + "p_input_fdim" in raw:  # SSAST pretraining: no overlap, input shape recorded
        num_bins = int(raw[outer + "p_input_fdim"].item())
        max_frames = int(raw[outer + "p_input_tdim"].item())
        stride = (ph, pw)
    else:
        num_bins = ph if ph != pw else 128  # AST/SSAST recipes: 128 mel bins
        stride = tuple(source_stride) if source_stride is not None else ((10, 10) if ph == pw else (ph, pw))
        fp = (num_bins - ph) // stride[0] + 1
        if fp <= 0 or n % fp:
            raise CheckpointError(f"{path}: key {prefix}pos_embed has {n} patch positions, not a multiple of "
                                  f"the {fp} frequency patches that fstride={stride[0]} gives; "
                                  f"pass source_stride=(fstride, tstride)")
        max_frames = (n // fp - 1) * stride[1] + pw
    config: dict[str, Any] = {"heads": max(1, arch["dim"] // 64), "max_frames": max_frames, "norm_eps": 1e-6}
    if ph == pw:
        config.update(patch="patch", patch_size=ph, fstride=stride[0], tstride=stride[1])
    elif ph == num_bins and stride == (ph, pw):
        config.update(patch="frame", frame_width=pw)
    else:
        raise CheckpointError(f"{path}: key {prefix}patch_embed.proj.weight has {ph}x{pw} patches with stride "
                              f"{stride}; supported are square patches and non-overlapping full-height frames")
    return config, num_bins


def hf_config(encoder: ASTEncoder) -> dict[str, Any]:
    """Hugging Face ASTConfig fields for `encoder` (bare ASTModel)."""
    cfg = encoder.config
    return {
        "architectures": ["ASTModel"], "model_type": HF_MODEL_TYPE,
        "hidden_size": encoder.dim, "num_hidden_layers": encoder.depth,
        "num_attention_heads": encoder.heads, "intermediate_size": int(round(encoder.dim * cfg.mlp_ratio)),
        "hidden_act": "gelu", "hidden_dropout_prob": cfg.dropout, "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02, "layer_norm_eps": cfg.norm_eps, "patch_size": cfg.patch_size,
        "qkv_bias": cfg.qkv_bias, "frequency_stride": cfg.fstride, "time_stride": cfg.tstride,
        "max_length": cfg.max_frames, "num_mel_bins": encoder.num_bins,
    }
