"""Attention rollout (Abnar & Zuidema, 2020) of an AST encoder, drawn over the spectrogram.

Each layer's attention, averaged over heads, is mixed with the identity for the residual
connection and row-normalised, A'_l = norm(0.5 A_l + 0.5 I); the rollout is the product
R = A'_L ... A'_1, whose rows say how much each input token flows into each output token. The
relevance of the patches for the clip-level prediction is the rollout row of the prefix
(cls/distillation) tokens, or the mean row of the real patch tokens when the encoder has none.
Patch relevance is spread back onto the frames and mel bins each patch covers (averaged where
patches overlap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from pianox import atomic

from .task import unwrap


def supports_rollout(model: Any) -> bool:
    """True for encoders with per-layer attention maps on a patch grid (the `ast` model)."""
    m = unwrap(model)
    return all(hasattr(m, a) for a in ("to_grid", "grid", "patch_shape", "stride", "num_prefix_tokens"))


def attention_rollout(maps: Sequence[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Per-layer attention weights, each (B, H, N, N) -> (B, N, N) rollout (rows sum to 1)."""
    rollout = None
    for weights in maps:
        a = weights.float().mean(dim=1)
        eye = torch.eye(a.shape[-1], device=a.device).expand_as(a)
        a = residual * eye + (1.0 - residual) * a
        a = a / a.sum(dim=-1, keepdim=True)
        rollout = a if rollout is None else torch.bmm(a, rollout)
    if rollout is None:
        raise ValueError("attention_rollout: no attention maps (an encoder without layers?)")
    return rollout


def patch_relevance(model: Any, features: torch.Tensor, padding_mask: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """(B, T, F) features -> (B, Fp, Tp) relevance of each patch for the prefix tokens (see
    module doc), from the encoder's `return_attention=True` maps and `to_grid`."""
    m = unwrap(model)
    with torch.no_grad():
        _, maps = m(features, padding_mask=padding_mask, return_attention=True)
    rollout = attention_rollout(maps)  # (B, P + N, P + N)
    P = m.num_prefix_tokens
    if P:
        rows = rollout[:, :P].mean(dim=1)
    else:
        real = m.token_mask(padding_mask) if padding_mask is not None else \
            torch.ones(rollout.shape[:2], dtype=torch.bool, device=rollout.device)
        w = real.float() / real.float().sum(dim=1, keepdim=True)
        rows = torch.bmm(w.unsqueeze(1), rollout).squeeze(1)
    return m.to_grid(rows.unsqueeze(-1), features.shape[1])[..., 0]


def spread_to_frames(model: Any, relevance: torch.Tensor, num_frames: int, num_bins: int) -> np.ndarray:
    """(Fp, Tp) patch relevance -> (T, F) map over frames and bins (overlaps averaged)."""
    m = unwrap(model)
    (ph, pw), (fs, ts) = m.patch_shape, m.stride
    rel = relevance.detach().cpu().numpy()
    total = np.zeros((max(num_frames, pw), num_bins))
    count = np.zeros_like(total)
    for f in range(rel.shape[0]):
        for t in range(rel.shape[1]):
            total[t * ts: t * ts + pw, f * fs: f * fs + ph] += rel[f, t]
            count[t * ts: t * ts + pw, f * fs: f * fs + ph] += 1
    return (total / np.maximum(count, 1))[:num_frames]


def rollout_figure(model: Any, features: Any, example: Any, path: Path, *, device: Any = "cpu",
                   title: str | None = None) -> np.ndarray:
    """Compute the rollout of one `Example` and save spectrogram + overlay as a PNG at `path`.

    Returns the (T, F) relevance map that was drawn."""
    from pianox.audio import load_example

    wave = torch.from_numpy(load_example(example, features.sample_rate))[None]
    with torch.no_grad():
        feats = features(wave).to(device)
    m = unwrap(model)
    was_training = m.training
    m.eval()
    try:
        rel = patch_relevance(m, feats)[0]
    finally:
        m.train(was_training)
    heat = spread_to_frames(m, rel, feats.shape[1], feats.shape[2])
    spec = feats[0].float().cpu().numpy()
    _draw(spec, heat, features.frame_rate, path, title or str(example.key))
    return heat


def _draw(spec: np.ndarray, heat: np.ndarray, frame_rate: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = spec.shape[0] / frame_rate
    extent = (0.0, seconds, 0, spec.shape[1])
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    axes[0].imshow(spec.T, origin="lower", aspect="auto", extent=extent, cmap="magma")
    axes[0].set_title(f"{title}: log-mel")
    axes[0].set_ylabel("mel bin")
    axes[1].imshow(spec.T, origin="lower", aspect="auto", extent=extent, cmap="gray")
    shown = axes[1].imshow(heat.T, origin="lower", aspect="auto", extent=extent, cmap="jet", alpha=0.5)
    axes[1].set_title("attention rollout (Abnar & Zuidema)")
    axes[1].set_ylabel("mel bin")
    axes[1].set_xlabel("time (s)")
    fig.colorbar(shown, ax=axes, fraction=0.025, label="relevance")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
