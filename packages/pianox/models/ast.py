"""The Audio Spectrogram Transformer encoder (model plugin `ast`).

(B, T, F) log-mel features -> patch tokens (16x16 patches with AST's overlapping strides, or
SSAST's frame tokens spanning all F bins) -> learned prefix tokens (cls, distillation) and
positional embeddings -> pre-norm transformer layers -> final LayerNorm -> (B, P + N, D) token
states, the same tensor as Hugging Face's `ASTModel(...).last_hidden_state`.

Variable-length batches carry a (B, T) padding mask down to attention: a patch token is real
when its whole time span lies in real frames, prefix tokens are always real, and padded tokens
are masked out as keys, so padding never changes the states of real tokens. Weights load from
Hugging Face, official AST/SSAST and pianox checkpoints (`from_pretrained`, `Config.init`) and
save to a directory `transformers.ASTModel.from_pretrained` reads (`save_pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from pianox.errors import ConfigError

from .positions import resize_grid
from .transformer import Block, PatchEmbed

PRESETS: dict[str, tuple[int, int, int]] = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}
"""Preset -> (embedding dim, layers, heads): the DeiT sizes AST and SSAST use."""

ATTENTION_IMPLS = ("auto", "triton", "sdpa", "eager")


class ASTEncoder(nn.Module):
    """AST/SSAST encoder: `forward(features (B, T, F), padding_mask (B, T) | None, mask (B, N) | None)`
    -> (B, num_prefix_tokens + N, dim) token states after the final LayerNorm.

    Built as `ASTEncoder(config, num_bins=F)`. `attention_impl` (initially `config.attention`)
    is the attention implementation handed to the kernels; the runner sets it from
    `backend.attention`. `blocks` is the ModuleList of transformer layers.
    """

    name: ClassVar[str] = "ast"

    @dataclass
    class Config:
        preset: Literal["tiny", "small", "base"] = "base"
        """Size preset: tiny/small/base = embedding 192/384/768, heads 3/6/12, 12 layers."""
        dim: int = 0
        """Embedding size D (0 = the preset's)."""
        depth: int = 0
        """Number of transformer layers (0 = the preset's 12)."""
        heads: int = 0
        """Attention heads (0 = the preset's)."""
        mlp_ratio: float = 4.0
        """MLP hidden size as a multiple of D."""
        patch: Literal["patch", "frame"] = "patch"
        """Tokens: "patch" = patch_size x patch_size squares (AST, SSAST-Patch); "frame" =
        num_bins x frame_width strips over the whole frequency axis (SSAST-Frame)."""
        patch_size: int = 16
        """Side of a square patch, in bins and frames ("patch" tokens)."""
        frame_width: int = 2
        """Frames per frame token, also its stride ("frame" tokens)."""
        fstride: int = 10
        """Frequency stride between patches, in bins (10 = AST's overlap, 16 = none)."""
        tstride: int = 10
        """Time stride between patches, in frames (10 = AST's overlap, 16 = none)."""
        max_frames: int = 1024
        """Input length (frames) the positional grid is laid out for; shorter inputs use its
        first columns, longer ones a bilinearly stretched grid."""
        prefix_tokens: int = 2
        """Learned tokens before the patches: 0, 1 (cls) or 2 (cls + distillation, as AST)."""
        dropout: float = 0.0
        """Dropout on embeddings and on each residual branch."""
        qkv_bias: bool = True
        """Bias on the q, k, v projections."""
        norm_eps: float = 1e-6
        """LayerNorm epsilon (timm/AST use 1e-6; Hugging Face's AST configs 1e-12)."""
        init: str = ""
        """Checkpoint to initialise from (HF dir, official AST/SSAST .pth, pianox dir); "" = random."""
        attention: Literal["auto", "triton", "sdpa", "eager"] = "auto"
        """Initial attention implementation (the runner overrides it with backend.attention)."""
        attention_maps: bool = False
        """Keep each forward's per-layer attention weights in `last_attention_maps`."""

    def __init__(self, config: "ASTEncoder.Config | None" = None, *, num_bins: int = 128):
        super().__init__()
        self.config = cfg = config if config is not None else self.Config()
        dim, depth, heads = _validated_size(cfg, num_bins)
        self.dim, self.depth, self.heads, self.num_bins = dim, depth, heads, num_bins
        self.patch_shape, self.stride = patch_geometry(cfg.patch, cfg.patch_size, cfg.frame_width,
                                                       cfg.fstride, cfg.tstride, num_bins)
        self.attention_impl: str = cfg.attention
        self.last_attention_maps: tuple[torch.Tensor, ...] | None = None

        self.patch_embed = PatchEmbed(dim, self.patch_shape, self.stride)
        if cfg.prefix_tokens >= 1:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        if cfg.prefix_tokens == 2:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        fp, tp = self.pos_grid
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.prefix_tokens + fp * tp, dim))
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_drop = nn.Dropout(cfg.dropout)
        hidden = int(round(dim * cfg.mlp_ratio))
        self.blocks = nn.ModuleList(Block(dim, heads, hidden, cfg.qkv_bias, cfg.dropout, cfg.norm_eps)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.reset_parameters()
        if cfg.init:
            from .weights import load_checkpoint, read_checkpoint

            load_checkpoint(self, read_checkpoint(cfg.init))

    def reset_parameters(self) -> None:
        """Random initialisation as DeiT/SSAST: truncated normal (std 0.02) for linear weights,
        tokens and positions, zero biases, unit LayerNorms, Xavier-normal mask embedding."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for p in (self.pos_embed, getattr(self, "cls_token", None), getattr(self, "dist_token", None)):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        nn.init.xavier_normal_(self.mask_embed)

    # ---- geometry ---------------------------------------------------------------------------

    @property
    def num_prefix_tokens(self) -> int:
        """Prefix tokens (cls, distillation) in front of the patch tokens of every output."""
        return self.config.prefix_tokens

    @property
    def pos_grid(self) -> tuple[int, int]:
        """(frequency patches, time patches) of the learned positional grid (`max_frames` long)."""
        return self.grid(self.config.max_frames)

    def grid(self, num_frames: int) -> tuple[int, int]:
        """(frequency patches Fp, time patches Tp) for an input of `num_frames` frames; N = Fp * Tp.

        Inputs shorter than one patch are zero-padded to one patch (then masked as padding).
        """
        return grid_size(self.patch_shape, self.stride, self.num_bins, num_frames)

    def patch_time_span(self, t_index: Any) -> tuple[Any, Any]:
        """Frames [start, stop) covered by time-patch index `t_index` (int or tensor of indices)."""
        start = t_index * self.stride[1]
        return start, start + self.patch_shape[1]

    def token_mask(self, padding_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) bool frame mask (True = real) -> (B, P + N) bool token mask (True = real).

        A patch token is real when every frame of its time span is real; prefix tokens always are.
        """
        B, T = padding_mask.shape
        pw, ts = self.patch_shape[1], self.stride[1]
        if T < pw:
            padding_mask = nn.functional.pad(padding_mask, (0, pw - T), value=False)
        fp, tp = self.grid(T)
        counts = torch.cumsum(padding_mask.to(torch.int32), dim=1)
        counts = nn.functional.pad(counts, (1, 0))  # counts[:, i] = real frames before frame i
        starts = torch.arange(tp, device=padding_mask.device) * ts
        real_t = (counts[:, starts + pw] - counts[:, starts]) == pw  # (B, Tp)
        real = real_t[:, None, :].expand(B, fp, tp).reshape(B, fp * tp)
        prefix = real.new_ones(B, self.num_prefix_tokens)
        return torch.cat([prefix, real], dim=1)

    def to_grid(self, tokens: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Patch tokens of an output, (B, P + N, D) -> (B, Fp, Tp, D) on the patch grid."""
        fp, tp = self.grid(num_frames)
        return tokens[:, self.num_prefix_tokens:].reshape(tokens.shape[0], fp, tp, tokens.shape[-1])

    # ---- forward ----------------------------------------------------------------------------

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, *, return_attention: bool = False) -> Any:
        """Encode (B, T, F) features into (B, P + N, D) token states.

        `padding_mask` (B, T) bool, True = real frame. `mask` (B, N) bool, True = replace that
        patch's embedding by the learned mask embedding before positions are added (SSAST's
        masked patch modelling). With `return_attention`, returns (states, per-layer attention
        weights, each (B, H, P + N, P + N)).
        """
        x, real = self._embed(features, padding_mask, mask)
        need = return_attention or self.config.attention_maps
        maps = []
        for block in self.blocks:
            x, weights = block(x, real, self.attention_impl, need)
            if need:
                maps.append(weights)
        x = self.norm(x)
        if self.config.attention_maps:
            self.last_attention_maps = tuple(maps)
        return (x, tuple(maps)) if return_attention else x

    def _embed(self, features: torch.Tensor, padding_mask: torch.Tensor | None, mask: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Patch + prefix embeddings with positions, (B, P + N, D), and the token mask or None."""
        if features.dim() != 3 or features.shape[-1] != self.num_bins:
            raise ValueError(f"ast: expected features (B, T, {self.num_bins}), got {tuple(features.shape)}")
        B, T, _ = features.shape
        real = None
        if padding_mask is not None:
            if padding_mask.shape != (B, T):
                raise ValueError(f"ast: padding_mask {tuple(padding_mask.shape)} does not match "
                                 f"features (B, T) = {(B, T)}")
            real = self.token_mask(padding_mask.to(torch.bool))
            # Nothing to mask: keep the unmasked (fastest) attention path. Eager only: under
            # torch.compile this data-dependent branch would split the graph.
            if not torch.compiler.is_compiling() and bool(real.all()):
                real = None
        pw = self.patch_shape[1]
        if T < pw:
            features = nn.functional.pad(features, (0, 0, 0, pw - T))
            if real is None:
                real = self.token_mask(features.new_ones(B, T, dtype=torch.bool))
        x = self.patch_embed(features)  # (B, N, D)
        if mask is not None:
            if mask.shape != x.shape[:2]:
                raise ValueError(f"ast: mask {tuple(mask.shape)} does not match the {x.shape[1]} patch tokens")
            x = torch.where(mask.to(torch.bool).unsqueeze(-1), self.mask_embed.to(x.dtype), x)
        P = self.num_prefix_tokens
        fp, tp = self.grid(T)
        positions = resize_grid(self.pos_embed[:, P:], self.pos_grid, (fp, tp))
        x = x + positions
        if P:
            prefix = [self.cls_token] + ([self.dist_token] if P == 2 else [])
            prefix = torch.cat(prefix, dim=1) + self.pos_embed[:, :P]
            x = torch.cat([prefix.to(x.dtype).expand(B, -1, -1), x], dim=1)
        return self.pos_drop(x), real

    # ---- weights in and out -----------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path, *, allow_pickle: bool = False, num_bins: int | None = None,
                        source_stride: tuple[int, int] | None = None, **overrides: Any) -> "ASTEncoder":
        """Build an encoder from a checkpoint: a Hugging Face AST directory, an official AST or
        SSAST .pth, or a pianox directory. The architecture comes from the checkpoint; `overrides`
        (Config fields, e.g. max_frames=512, tstride=16) change it, positional embeddings are
        cropped/interpolated to the new grid. `.pth` files load with `weights_only=True` unless
        `allow_pickle=True`. `source_stride` = (fstride, tstride) the .pth was trained with when it
        is not AST's (10, 10). Raises CheckpointError naming the file and key on any mismatch.
        """
        from .weights import from_pretrained

        return from_pretrained(cls, path, allow_pickle=allow_pickle, num_bins=num_bins,
                               source_stride=source_stride, **overrides)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors (+ pianox.safetensors: the mask embedding) to
        `directory` atomically; with cls + distillation tokens and square patches it is a
        directory `transformers.ASTModel.from_pretrained` loads."""
        from .weights import save_pretrained

        return save_pretrained(self, directory)

    def config_json(self) -> dict[str, Any]:
        """The config.json that makes a training checkpoint (weights under "model.*") loadable
        by `from_pretrained` / `[model] init`; the engine writes it beside every checkpoint."""
        from .weights import config_json

        return config_json(self)


def patch_geometry(patch: str, patch_size: int, frame_width: int, fstride: int, tstride: int, num_bins: int
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """((patch height, width), (fstride, tstride)) in (bins, frames) for a tokenisation choice."""
    if patch == "frame":
        return (num_bins, frame_width), (num_bins, frame_width)
    return (patch_size, patch_size), (fstride, tstride)


def grid_size(patch_shape: tuple[int, int], stride: tuple[int, int], num_bins: int, num_frames: int
              ) -> tuple[int, int]:
    """(frequency patches, time patches) a Conv2d patchifier yields on (num_bins, num_frames)."""
    (ph, pw), (fs, ts) = patch_shape, stride
    return (num_bins - ph) // fs + 1, (max(num_frames, pw) - pw) // ts + 1


def _validated_size(cfg: ASTEncoder.Config, num_bins: int) -> tuple[int, int, int]:
    """(dim, depth, heads) from the preset and explicit overrides; ConfigError on bad values."""
    if cfg.preset not in PRESETS:
        raise ConfigError(f"[model] preset={cfg.preset!r}: expected one of {', '.join(PRESETS)}")
    p_dim, p_depth, p_heads = PRESETS[cfg.preset]
    dim, depth, heads = cfg.dim or p_dim, cfg.depth or p_depth, cfg.heads or p_heads
    checks = [
        (min(cfg.dim, cfg.depth, cfg.heads) >= 0, "dim, depth and heads must be >= 0 (0 = preset)"),
        (dim % heads == 0, f"dim={dim} is not divisible by heads={heads}"),
        (cfg.patch in ("patch", "frame"), f"patch={cfg.patch!r}: expected 'patch' or 'frame'"),
        (cfg.prefix_tokens in (0, 1, 2), f"prefix_tokens={cfg.prefix_tokens}: expected 0, 1 or 2"),
        (min(cfg.fstride, cfg.tstride, cfg.patch_size, cfg.frame_width) > 0, "strides and patch sizes must be > 0"),
        (cfg.patch == "frame" or cfg.patch_size <= num_bins,
         f"patch_size={cfg.patch_size} exceeds num_bins={num_bins}"),
        (cfg.max_frames > 0 and cfg.mlp_ratio > 0, "max_frames and mlp_ratio must be > 0"),
        (0.0 <= cfg.dropout < 1.0, f"dropout={cfg.dropout} must be in [0, 1)"),
        (cfg.attention in ATTENTION_IMPLS,
         f"attention={cfg.attention!r}: expected one of {', '.join(ATTENTION_IMPLS)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"[model] kind='ast': {message}")
    return dim, depth, heads
