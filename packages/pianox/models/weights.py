"""AST weights in and out: read HF / official AST / SSAST / pianox checkpoints, write HF-loadable ones.

`read_checkpoint(path)` returns a `Checkpoint`: the encoder tensors under pianox names plus the
architecture and positional grid they were trained with. `load_checkpoint(encoder, ckpt)` copies
them into an encoder, cropping or interpolating positional embeddings to its grid;
`from_pretrained` builds the encoder from the checkpoint first. `.pth`/`.bin` files are read with
`torch.load(weights_only=True)`; unpickling arbitrary objects needs `allow_pickle=True`.
`save_pretrained` writes config.json (Hugging Face ASTConfig fields + a "pianox" block),
model.safetensors (Hugging Face key names) and pianox.safetensors (the mask embedding) through a
temporary directory and a rename.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pianox import atomic
from pianox.errors import CheckpointError, ConfigError

from .ast import ASTEncoder, grid_size, patch_geometry
from .checkpoint_formats import (HF_MODEL_TYPE, architecture, find_prefix, from_hf_meta, from_pianox_meta, hf_config,
                                 official_geometry, to_hf, to_native)
from .positions import resize_grid

FORMAT_VERSION = 1
EXTRAS_FILE = "pianox.safetensors"
"""Beside model.safetensors: pianox-only tensors (the SSAST mask embedding) that Hugging Face's
ASTModel has no parameter for, kept apart so it loads the directory without complaint."""


@dataclass
class Checkpoint:
    """An AST encoder checkpoint read from disk, in pianox terms.

    `state`: tensors by pianox parameter name; `origin`: pianox name -> key in the file (for
    messages); `config`: ASTEncoder.Config fields describing it; `num_bins`, `patch_shape`
    (bins, frames), `stride` (bins, frames) and `grid` (Fp, Tp) of its positional table;
    `heads_known`: False when the file does not record the head count (official .pth: dim // 64).
    """

    path: Path
    format: str
    state: dict[str, torch.Tensor]
    origin: dict[str, str]
    config: dict[str, Any]
    num_bins: int
    patch_shape: tuple[int, int]
    stride: tuple[int, int]
    grid: tuple[int, int]
    heads_known: bool = True


def read_checkpoint(path: str | Path, *, allow_pickle: bool = False,
                    source_stride: tuple[int, int] | None = None) -> Checkpoint:
    """Read an AST checkpoint: a directory (config.json + model.safetensors / shards /
    pytorch_model.bin), a .safetensors file or a torch .pth/.bin file. `source_stride`
    (fstride, tstride) applies to official .pth files, which do not record it (default (10, 10),
    AST's recipe, for 16x16 patches). Raises CheckpointError naming the file and key."""
    path = Path(path)
    meta: dict[str, Any] = {}
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise CheckpointError(f"{path}: checkpoint directory has no config.json")
        try:
            meta = json.loads(config_file.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{config_file}: unreadable JSON: {exc}") from exc
        state = _read_dir_weights(path, allow_pickle)
    elif path.is_file():
        state = _read_safetensors(path) if path.suffix == ".safetensors" else _torch_load(path, allow_pickle)
    else:
        raise CheckpointError(f"{path}: no such checkpoint file or directory")
    ckpt = _interpret(path, state, meta, source_stride)
    extras = path / EXTRAS_FILE
    if path.is_dir() and extras.is_file():
        for name, tensor in _read_safetensors(extras).items():
            if name != "mask_embed":
                raise CheckpointError(f"{extras}: unexpected key {name!r}")
            ckpt.state[name], ckpt.origin[name] = tensor, f"{EXTRAS_FILE}:{name}"
    return ckpt


def load_checkpoint(encoder: ASTEncoder, ckpt: Checkpoint) -> None:
    """Copy a checkpoint's tensors into `encoder`, resizing positional embeddings to its grid.

    The time axis is cropped (same stride and patch width, shorter grid) or interpolated; the
    mask embedding keeps its initialisation when the checkpoint has none. Anything else that
    does not fit raises CheckpointError naming the file and the key.
    """
    where = ckpt.path
    patch_key = ckpt.origin.get("patch_embed.proj.weight", "patch_embed.proj.weight")
    if ckpt.patch_shape != encoder.patch_shape:
        raise CheckpointError(f"{where}: key {patch_key} holds {ckpt.patch_shape[0]}x{ckpt.patch_shape[1]} "
                              f"patches; the model uses {encoder.patch_shape[0]}x{encoder.patch_shape[1]}")
    if ckpt.config["prefix_tokens"] != encoder.num_prefix_tokens:
        raise CheckpointError(f"{where}: has {ckpt.config['prefix_tokens']} prefix tokens (cls/distillation); "
                              f"the model has prefix_tokens={encoder.num_prefix_tokens}")
    if ckpt.heads_known and ckpt.config["heads"] != encoder.heads:
        raise CheckpointError(f"{where}: was trained with {ckpt.config['heads']} attention heads; "
                              f"the model has heads={encoder.heads}")
    own = encoder.state_dict()
    missing = [k for k in own if k not in ckpt.state and k != "mask_embed"]
    if missing:
        raise CheckpointError(f"{where}: missing encoder weights: {', '.join(missing[:8])}")
    extra = [ckpt.origin.get(k, k) for k in ckpt.state if k not in own]
    if extra:
        raise CheckpointError(f"{where}: weights the model has no place for: {', '.join(extra[:8])}")
    new = {}
    for name, target in own.items():
        if name not in ckpt.state:
            continue
        tensor = ckpt.state[name]
        if name == "pos_embed" and tensor.dim() == 3:
            P = encoder.num_prefix_tokens
            crop = ckpt.stride[1] == encoder.stride[1] and ckpt.patch_shape[1] == encoder.patch_shape[1]
            grid = resize_grid(tensor[:, P:], ckpt.grid, encoder.pos_grid, crop_time=crop)
            tensor = torch.cat([tensor[:, :P], grid], dim=1)
        if tensor.shape != target.shape:
            raise CheckpointError(f"{where}: key {ckpt.origin.get(name, name)} has shape {tuple(tensor.shape)}, "
                                  f"the model's {name} has {tuple(target.shape)}")
        new[name] = tensor
    encoder.load_state_dict(new, strict=False)


def from_pretrained(cls: type[ASTEncoder], path: str | Path, *, allow_pickle: bool = False,
                    num_bins: int | None = None, source_stride: tuple[int, int] | None = None,
                    **overrides: Any) -> ASTEncoder:
    """Build a `cls` encoder shaped like the checkpoint at `path` (plus Config `overrides`) and
    load its weights; see `ASTEncoder.from_pretrained`."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"from_pretrained({path}): unknown ast Config fields: {', '.join(unknown)}")
    ckpt = read_checkpoint(path, allow_pickle=allow_pickle, source_stride=source_stride)
    config = cls.Config(**{**ckpt.config, **overrides, "init": ""})
    encoder = cls(config, num_bins=ckpt.num_bins if num_bins is None else num_bins)
    load_checkpoint(encoder, ckpt)
    return encoder


def save_pretrained(encoder: ASTEncoder, directory: str | Path) -> Path:
    """Write `encoder` to `directory` (config.json + model.safetensors + pianox.safetensors),
    replacing it atomically (a crash leaves the old or the new directory, never a mix).

    Tensor names are Hugging Face's and config.json holds `config_json(encoder)`, so
    `transformers.ASTModel.from_pretrained` loads it when HF can express the architecture.
    Returns the directory.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: exists and is not a directory")
    own = {k: v.detach().to("cpu").contiguous() for k, v in encoder.state_dict().items()}
    extras = {"mask_embed": own.pop("mask_embed")}
    with atomic.atomic_dir(directory) as tmp:
        (tmp / "config.json").write_text(json.dumps(config_json(encoder), indent=2, sort_keys=True) + "\n")
        save_file(to_hf(own), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_file(extras, str(tmp / EXTRAS_FILE), metadata={"format": "pt"})
    return directory


def config_json(encoder: ASTEncoder) -> dict[str, Any]:
    """The config.json describing `encoder`: a "pianox" block (kind, num_bins, exact Config) and,
    when Hugging Face's AST can express the architecture (cls + distillation tokens, square
    patches), the ASTConfig fields. Written beside weights under pianox names (for example
    "model.*" in a training checkpoint), it also makes that directory loadable by from_pretrained.
    """
    meta: dict[str, Any] = {}
    if encoder.num_prefix_tokens == 2 and encoder.config.patch == "patch":
        meta = hf_config(encoder)
    meta["pianox"] = {"kind": encoder.name, "format_version": FORMAT_VERSION, "num_bins": encoder.num_bins,
                      "config": dataclasses.asdict(encoder.config) | {"init": ""}}
    return meta


# ---- reading files --------------------------------------------------------------------------


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file: {exc}") from exc


def _read_dir_weights(path: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    single, index = path / "model.safetensors", path / "model.safetensors.index.json"
    if single.is_file():
        return _read_safetensors(single)
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{index}: unreadable shard index: {exc}") from exc
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(_read_safetensors(path / shard))
        return state
    if (path / "pytorch_model.bin").is_file():
        return _torch_load(path / "pytorch_model.bin", allow_pickle)
    raise CheckpointError(f"{path}: no model.safetensors, shard index or pytorch_model.bin")


def _torch_load(path: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    """A torch checkpoint's state dict, tensors only unless `allow_pickle`."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as exc:
        if allow_pickle:
            raise CheckpointError(f"{path}: unreadable torch checkpoint: {exc}") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: holds pickled Python objects, not only tensors ({first}); refusing to "
                              f"unpickle it. Pass allow_pickle=True only for a file you trust") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable torch checkpoint: {exc}") from exc
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model", "module"):  # common training-script wrappers
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


# ---- what a checkpoint describes ------------------------------------------------------------


def _interpret(path: Path, raw: dict[str, torch.Tensor], meta: dict[str, Any],
               source_stride: tuple[int, int] | None) -> Checkpoint:
    layout, prefix = find_prefix(raw, path)
    state, origin = to_native(raw, layout, prefix, path)
    for name, what in (("pos_embed", "positional"), ("patch_embed.proj.weight", "patch")):
        if name not in state:
            raise CheckpointError(f"{path}: has no {what} embedding ({name})")
    arch = architecture(state)
    kernel = tuple(int(n) for n in state["patch_embed.proj.weight"].shape[-2:])
    heads_known = True
    if isinstance(meta.get("pianox"), dict):
        fmt, config, num_bins = "pianox", *from_pianox_meta(meta["pianox"], path)
    elif meta.get("model_type") == HF_MODEL_TYPE:
        fmt, config, num_bins = "hf", *from_hf_meta(meta, path)
    elif layout == "hf":
        raise CheckpointError(f"{path}: Hugging Face AST weights without a config.json "
                              f"(model_type={HF_MODEL_TYPE!r}) to say their geometry")
    else:
        fmt = "ssast" if (prefix[:-2] + "p_input_fdim") in raw and prefix.endswith("v.") else "ast"
        config, num_bins = official_geometry(raw, prefix, kernel, arch, source_stride, path)
        heads_known = False
    for key in ("dim", "depth", "prefix_tokens"):
        if key in config and config[key] != arch[key]:
            raise CheckpointError(f"{path}: config says {key}={config[key]} but the weights have {arch[key]} "
                                  f"(key {origin['pos_embed']})")
    config.update(arch)
    patch_shape, stride = patch_geometry(config.get("patch", "patch"), config.get("patch_size", 16),
                                         config.get("frame_width", 2), config.get("fstride", 10),
                                         config.get("tstride", 10), num_bins)
    grid = grid_size(patch_shape, stride, num_bins, config["max_frames"])
    expected = arch["prefix_tokens"] + grid[0] * grid[1]
    if state["pos_embed"].shape[1] != expected:
        raise CheckpointError(f"{path}: key {origin['pos_embed']} has {state['pos_embed'].shape[1]} positions; "
                              f"its geometry ({num_bins} bins, {config['max_frames']} frames, grid {grid[0]}x{grid[1]} "
                              f"+ {arch['prefix_tokens']} prefix) needs {expected}")
    return Checkpoint(path, fmt, state, origin, config, num_bins, patch_shape, stride, grid, heads_known)
