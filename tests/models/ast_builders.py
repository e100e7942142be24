"""Builders shared by the encoder tests: small random Hugging Face AST models and official-format
state dicts synthesised from them with the official repositories' key names (written out here,
independently of pianox's own key mapping)."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")


def random_hf(fs: int = 10, ts: int = 10, max_length: int = 128, layers: int = 2, eps: float = 1e-12,
              seed: int = 0, classifier: bool = False):
    """A small random-weight HF AST (hidden 64, 4 heads, MLP 256, 128 mel bins), eager attention.

    Every parameter is random (HF initialises tokens/positions to zero, which would hide mapping
    errors); LayerNorm weights are 1 + noise.
    """
    config = transformers.ASTConfig(hidden_size=64, num_hidden_layers=layers, num_attention_heads=4,
                                    intermediate_size=256, num_mel_bins=128, frequency_stride=fs, time_stride=ts,
                                    max_length=max_length, layer_norm_eps=eps, num_labels=5)
    config._attn_implementation = "eager"
    cls = transformers.ASTForAudioClassification if classifier else transformers.ASTModel
    model = cls(config).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.1
            p.copy_(1.0 + noise if "layernorm" in name and name.endswith("weight") else noise)
    return model


def hf_hidden(model, x: torch.Tensor) -> torch.Tensor:
    """last_hidden_state of an ASTModel or ASTForAudioClassification for (B, T, F) input."""
    base = getattr(model, "audio_spectrogram_transformer", model)
    with torch.no_grad():
        return base(x).last_hidden_state


def official_ast_state(model) -> dict[str, torch.Tensor]:
    """The state dict of YuanGongND/ast's ASTModel (DataParallel-wrapped, timm DeiT inside
    `module.v`, fused qkv, `module.mlp_head`) holding the weights of an HF ASTModel."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    out = {
        "module.v.cls_token": sd["embeddings.cls_token"],
        "module.v.dist_token": sd["embeddings.distillation_token"],
        "module.v.pos_embed": sd["embeddings.position_embeddings"],
        "module.v.patch_embed.proj.weight": sd["embeddings.patch_embeddings.projection.weight"],
        "module.v.patch_embed.proj.bias": sd["embeddings.patch_embeddings.projection.bias"],
        "module.v.norm.weight": sd["layernorm.weight"],
        "module.v.norm.bias": sd["layernorm.bias"],
        # DeiT's ImageNet heads stay in the official checkpoints; AST's own head is mlp_head.
        "module.v.head.weight": torch.randn(1000, 64), "module.v.head.bias": torch.randn(1000),
        "module.v.head_dist.weight": torch.randn(1000, 64), "module.v.head_dist.bias": torch.randn(1000),
        "module.mlp_head.0.weight": torch.ones(64), "module.mlp_head.0.bias": torch.zeros(64),
        "module.mlp_head.1.weight": torch.randn(527, 64), "module.mlp_head.1.bias": torch.randn(527),
    }
    # Layer weights by their on-disk (transformers 4) names or their transformers-5 ones.
    modules = {  # timm name: (transformers-4 module, transformers-5 module)
        "q": ("attention.attention.query", "attention.q_proj"),
        "k": ("attention.attention.key", "attention.k_proj"),
        "v": ("attention.attention.value", "attention.v_proj"),
        "attn.proj": ("attention.output.dense", "attention.o_proj"),
        "norm1": ("layernorm_before", "layernorm_before"),
        "norm2": ("layernorm_after", "layernorm_after"),
        "mlp.fc1": ("intermediate.dense", "mlp.fc1"),
        "mlp.fc2": ("output.dense", "mlp.fc2"),
    }
    for i in range(model.config.num_hidden_layers):
        for kind in ("weight", "bias"):
            layer = {}
            for timm, (old, new) in modules.items():
                key = f"encoder.layer.{i}.{old}.{kind}"
                layer[timm] = sd[key] if key in sd else sd[f"layers.{i}.{new}.{kind}"]
            out[f"module.v.blocks.{i}.attn.qkv.{kind}"] = torch.cat([layer.pop(n) for n in ("q", "k", "v")])
            out.update({f"module.v.blocks.{i}.{timm}.{kind}": t for timm, t in layer.items()})
    return out


def ssast_pretrain_state(vit: dict[str, torch.Tensor], dim: int, fdim: int, tdim: int,
                         mask_embed: torch.Tensor) -> dict[str, torch.Tensor]:
    """YuanGongND/ssast's pretraining-stage state dict around a `module.v.*` ViT: the mask
    embedding, the pretraining input shape and the two pretext heads beside it."""
    out = {k: v for k, v in vit.items() if k.startswith("module.v.") and ".head" not in k}
    out["module.mask_embed"] = mask_embed
    out["module.p_input_fdim"] = torch.tensor(fdim)
    out["module.p_input_tdim"] = torch.tensor(tdim)
    for head in ("cpredlayer", "gpredlayer"):
        out[f"module.{head}.0.weight"] = torch.randn(dim, dim)
        out[f"module.{head}.0.bias"] = torch.randn(dim)
        out[f"module.{head}.2.weight"] = torch.randn(256, dim)
        out[f"module.{head}.2.bias"] = torch.randn(256)
    return out
