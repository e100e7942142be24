"""SSAST pretraining (task `ssast`): masked spectrogram patch modelling, joint loss.

For each clip, a share of its tokens (400 of 512 for a 1024 x 128 input, i.e. 0.78125, scaled
to any length) is replaced by the encoder's mask embedding. From the encoder's states at the
masked positions two heads (Linear -> ReLU -> Linear to the patch's value count, 256 for
16 x 16) predict the raw patch values:

    discriminative  InfoNCE among the masked patches of a clip: logits = pred_i . target_j,
                    cross-entropy towards j = i; `acc` is how often j = i wins (retrieval)
    generative      mean squared error between the reconstruction and the patch values

loss = nce_weight * nce + mse_weight * mse (SSAST: 1 and 10). The encoder is used through the
`pianox.models` contract plus its token geometry (`grid`, `token_mask`, `patch_shape`,
`stride`, `num_prefix_tokens`), i.e. the `ast` model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from pianox.api import Example
from pianox.errors import ConfigError, TrainingError

from .masking import batch_masks


class SSASTHead(nn.Module):
    """The two SSAST prediction heads: (B, M, D) states -> (B, M, V) patch values."""

    def __init__(self, dim: int, values: int):
        super().__init__()
        self.discriminative = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, values))
        self.generative = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, values))


def patch_targets(features: torch.Tensor, patch_shape: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    """(B, T, F) features -> (B, N, ph * pw) raw patch values in the encoder's token order
    (frequency-major grid; values in (frequency, time) order, as its Conv2d consumes them)."""
    x = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
    ph, pw = patch_shape
    if x.shape[-1] < pw:
        x = F.pad(x, (0, pw - x.shape[-1]))
    return F.unfold(x, kernel_size=(ph, pw), stride=stride).transpose(1, 2)


def info_nce(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE within each clip: pred, target (B, M, V) -> (mean loss, retrieval accuracy)."""
    logits = torch.bmm(pred.float(), target.float().transpose(1, 2))  # (B, M, M)
    labels = torch.arange(logits.shape[1], device=logits.device).expand(logits.shape[0], -1)
    loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
    acc = (logits.argmax(dim=-1) == labels).float().mean()
    return loss, acc


class SSASTTask:
    """Self-supervised AST pretraining; `val/nce`, `val/mse`, `val/acc` are logged."""

    name = "ssast"

    @dataclass
    class Config:
        mask_ratio: float = 400 / 512
        """Share of each clip's real tokens that is masked (SSAST: 400 of 512)."""
        masking: Literal["auto", "cluster", "random"] = "auto"
        """auto = cluster masking for patch tokens, random masking for frame tokens (as SSAST)."""
        nce_weight: float = 1.0
        """Weight of the discriminative (InfoNCE) loss."""
        mse_weight: float = 10.0
        """Weight of the generative (reconstruction) loss."""
        eval_seed: int = 1234
        """Seed of the masks drawn for evaluation, so every evaluation masks the same tokens."""
        plot_clips: int = 3
        """Validation clips drawn in plots/reconstruction.png at the end of the run."""

        def validate(self) -> None:
            if not 0.0 < self.mask_ratio < 1.0:
                raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
            if self.nce_weight < 0 or self.mse_weight < 0 or self.nce_weight + self.mse_weight == 0:
                raise ValueError("nce_weight and mse_weight must be >= 0 and not both 0")

    def __init__(self, config: "SSASTTask.Config | None" = None):
        self.config = config or self.Config()

    # ------------------------------------------------------------------------------ contract

    def build_head(self, model: Any, features: Any) -> nn.Module:
        for attr in ("grid", "token_mask", "patch_shape", "stride", "num_prefix_tokens"):
            if not hasattr(model, attr):
                raise ConfigError(f"[task] kind = 'ssast' needs a patch-token encoder (the 'ast' model); "
                                  f"{type(model).__name__} has no {attr!r}")
        ph, pw = model.patch_shape
        return SSASTHead(model.dim, ph * pw)

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]:
        return batch  # self-supervised: the targets are the features themselves

    def _strategy(self, model: Any) -> str:
        if self.config.masking != "auto":
            return self.config.masking
        return "random" if model.config.patch == "frame" else "cluster"

    def _forward(self, model: Any, head: SSASTHead, batch: dict[str, Any], generator: torch.Generator
                 ) -> dict[str, torch.Tensor]:
        feats, padding = batch["features"], batch["padding_mask"]
        fp, tp = model.grid(feats.shape[1])
        P = model.num_prefix_tokens
        real = model.token_mask(padding)[:, P:]
        if int(real.sum(dim=1).min()) < 2:
            raise TrainingError(f"a clip in batch {batch.get('keys', [])[:4]} has fewer than 2 real patches; "
                                f"SSAST needs longer clips (at least {model.patch_shape[1] * 2} frames)")
        mask = batch_masks(real, fp, tp, self.config.mask_ratio, self._strategy(model), generator)
        states = model(feats, padding_mask=padding, mask=mask)[:, P:]  # (B, N, D)
        targets = patch_targets(feats, model.patch_shape, model.stride)
        B, count = mask.shape[0], int(mask[0].sum())
        picked = states[mask].reshape(B, count, -1)
        target = targets[mask].reshape(B, count, -1).float()
        nce, acc = info_nce(head.discriminative(picked), target)
        recon = head.generative(picked).float()
        mse = F.mse_loss(recon, target)
        loss = self.config.nce_weight * nce + self.config.mse_weight * mse
        return {"loss": loss, "nce": nce, "mse": mse, "acc": acc, "mask": mask, "recon": recon}

    def loss(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        # Masks come from a generator seeded off torch's global RNG, which checkpoints save and
        # restore, so a resumed run draws the same masks as an uninterrupted one.
        gen = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        out = self._forward(model, head, batch, gen)
        return out["loss"], {k: float(out[k].detach()) for k in ("nce", "mse", "acc")}

    def evaluate(self, model: Any, head: nn.Module, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        gen = torch.Generator().manual_seed(self.config.eval_seed)
        sums = {"loss": 0.0, "nce": 0.0, "mse": 0.0, "acc": 0.0}
        n = 0
        for batch in batches:
            out = self._forward(model, head, batch, gen)
            size = batch["features"].shape[0]
            for k in sums:
                sums[k] += float(out[k]) * size
            n += size
        return {k: v / max(n, 1) for k, v in sums.items()}

    def finish(self, run: Any) -> None:
        from .plots import plot_reconstructions

        plot_reconstructions(self, run, run.run.plots / "reconstruction.png")
        save = getattr(run.model, "save_pretrained", None)
        if callable(save):  # an encoder directory that fine-tuning (and transformers) can load
            save(run.run.checkpoints / "encoder")
