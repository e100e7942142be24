"""The training loop every task trains with.

`Trainer(stages, experiment, run).fit()` trains the encoder and the task head on the source's
train split, evaluates on [eval] split, keeps checkpoints/last and checkpoints/best, and
finally evaluates best/ on the test split. It resumes bit-exactly from checkpoints/last: the
data order is a function of (seed, epoch) and the RNG states are restored. SIGTERM / SIGINT
save at the next step boundary and stop cleanly.
"""

from __future__ import annotations

import math
import signal
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import PianoxError, TrainingError
from ..rundir import RunDir
from ..stages import Stages
from . import checkpoint as ckpt
from .cache import CachedFeatures
from .data import Collate, EpochSampler, ExampleDataset, make_loader, to_device
from .distributed import World, average_gradients, barrier, broadcast
from .optim import apply_freeze, build_optimizer, build_scheduler
from .progress import Progress


class Interrupted(PianoxError):
    """Training stopped by SIGTERM/SIGINT after saving checkpoints/last."""

    exit_code = 130


@dataclass
class TrainState:
    """Counters that, with the checkpoint, fully describe where training is."""

    step: int = 0
    epoch: int = 0
    micro_in_epoch: int = 0
    best: float | None = None
    bad_evals: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "micro_in_epoch": self.micro_in_epoch,
                "best": self.best, "bad_evals": self.bad_evals}


class Trainer:
    def __init__(self, stages: Stages, experiment: Any, run: RunDir, *, quiet: bool = False,
                 world: World | None = None):
        self.world = world or World()
        self.s = stages
        self.exp = experiment
        self.cfg = experiment.train
        self.run = run
        self.quiet = quiet
        self.device = stages.backend.device
        self.state = TrainState()
        self._stop_signal: int | None = None
        self.head = stages.task.build_head(stages.model, stages.features)
        apply_freeze(stages.model, self.cfg)
        self.model = stages.backend.prepare(stages.model)
        self.head = stages.backend.prepare(self.head)
        self.optimizer = build_optimizer(self.model, self.head, self.cfg)
        self.scaler = stages.backend.grad_scaler()
        prepare = getattr(stages.task, "prepare", None)
        if callable(prepare):  # the task's checks of the source, before any training
            prepare(stages.source)
        self.train_examples = list(stages.source.examples("train"))
        if not self.train_examples:
            raise TrainingError(f"source {stages.source.name!r} has no training examples")
        global_batch = self.cfg.batch_size * self.cfg.accumulate * self.world.size
        self.steps_per_epoch = max(1, math.ceil(len(self.train_examples) / global_batch))
        self.total_steps = self.cfg.max_steps or self.cfg.epochs * self.steps_per_epoch
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, self.cfg)
        self._cached: dict[str, CachedFeatures] = {}
        self.scored: dict[str, dict[str, Any]] = {}
        self.writer = _tensorboard(run) if experiment.run.tensorboard and self.world.is_main else None

    # ------------------------------------------------------------------------ checkpoints

    def _modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "head": self.head}

    def save(self, name: str) -> None:
        """Write checkpoints/<name> (rank 0 only)."""
        if not self.world.is_main:
            return
        state = {"trainer": self.state.as_dict(), "history": self.state.history,
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "rng": ckpt.rng_state()}
        meta = {"step": self.state.step, "epoch": self.state.epoch, "hash": self.exp.hash(),
                "metric": self.cfg.metric, "best": self.state.best}
        ckpt.save(self.run.checkpoints / name, self._modules(), state, meta)

    def restore(self) -> bool:
        """Continue from checkpoints/last when the run was resumed; True if restored."""
        last = self.run.checkpoints / "last"
        if not (self.run.resumed and last.exists()):
            return False
        ckpt.load_weights(last, self._modules())
        state = ckpt.load_state(last)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        t = state["trainer"]
        self.state = TrainState(step=t["step"], epoch=t["epoch"], micro_in_epoch=t["micro_in_epoch"],
                                best=t["best"], bad_evals=t["bad_evals"], history=list(state["history"]))
        ckpt.set_rng_state(state["rng"])
        self.run.truncate_metrics(self.state.step)
        return True

    # ----------------------------------------------------------------------------- loops

    def _loader(self, examples: list, split: str, *, shuffle: bool, epoch: int = 0, skip: int = 0,
                batch_size: int | None = None, sharded: bool = False) -> torch.utils.data.DataLoader:
        rank, size = (self.world.rank, self.world.size) if sharded else (0, 1)
        return split_loader(self.s, self.exp, examples, split, shuffle=shuffle, epoch=epoch, skip=skip,
                            batch_size=batch_size, rank=rank, world=size, cache=self._cached)

    def evaluate(self, split: str) -> dict[str, float]:
        """Task metrics on `split`, keys prefixed "val/" (the [eval] split) or "<split>/".
        The [eval] split may be a sample ([eval] max_examples); any other split is scored as
        `eval_examples` says (whole unless [eval] test_sample), recorded in `self.scored`."""
        self.model.eval()
        self.head.eval()
        during = split == self.exp.eval.split
        try:
            info, metrics = evaluate_split(self.s, self.exp, self.model, self.head, split, self._cached,
                                           during_training=during)
            self.scored[split] = info
        finally:
            self.model.train()
            self.head.train()
        prefix = "val" if split == self.exp.eval.split else split
        return {f"{prefix}/{k}": float(v) for k, v in metrics.items()}

    def _better(self, value: float) -> bool:
        if self.state.best is None or math.isnan(self.state.best):
            return not math.isnan(value)
        return value < self.state.best if self.cfg.mode == "min" else value > self.state.best

    def _eval_and_checkpoint(self) -> bool:
        """Evaluate, log, update best/; return True when early stopping triggers. Rank 0
        evaluates; its decision and metrics are broadcast so every rank stops together."""
        stop, metrics = False, {}
        if self.world.is_main:
            stop, metrics = self._evaluate_main()
        stop, metrics, self.state.best, self.state.bad_evals = broadcast(
            self.world, (stop, metrics, self.state.best, self.state.bad_evals))
        self._last_eval = metrics
        return stop

    def _evaluate_main(self) -> tuple[bool, dict[str, float]]:
        metrics = self.evaluate(self.exp.eval.split)
        record = {"step": self.state.step, "epoch": self.state.epoch, **metrics}
        self.run.log(record)
        self._tb(metrics)
        stop = False
        if self.cfg.metric in metrics:
            value = metrics[self.cfg.metric]
            if self._better(value):
                self.state.best = value
                self.state.bad_evals = 0
                self.save("best")
            else:
                self.state.bad_evals += 1
                stop = bool(self.cfg.patience) and self.state.bad_evals >= self.cfg.patience
        elif metrics:
            raise TrainingError(f"[train] metric {self.cfg.metric!r} is not among the evaluated metrics: "
                                f"{', '.join(sorted(metrics))}")
        return stop, metrics

    def _tb(self, scalars: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in scalars.items():
                self.writer.add_scalar(k, v, self.state.step)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop_signal = signum

    def fit(self) -> dict[str, float]:
        """Train to the end (or early stop / signal) and return the final test metrics."""
        self.restore()
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        self._last_eval: dict[str, float] = {}
        progress = Progress(total=self.total_steps, disable=self.quiet, initial=self.state.step)
        try:
            with progress:
                stopped = self._train_epochs(progress)
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
            if self.writer is not None:
                self.writer.flush()
        if stopped == "signal":
            raise Interrupted(f"interrupted by signal {self._stop_signal} at step {self.state.step}; "
                              f"checkpoint saved in {self.run.checkpoints / 'last'} (continue with --resume)")
        return self._finish()

    def _train_epochs(self, progress: Progress) -> str | None:
        cfg = self.cfg
        self.model.train()
        self.head.train()
        while self.state.epoch < cfg.epochs and self.state.step < self.total_steps:
            epoch_start = time.perf_counter()
            losses: list[float] = []
            loader = self._loader(self.train_examples, "train", shuffle=True, epoch=self.state.epoch,
                                  skip=self.state.micro_in_epoch, sharded=True)
            self.optimizer.zero_grad(set_to_none=True)
            pending = 0
            for batch in loader:
                loss_value = self._micro_step(to_device(batch, self.device))
                self.state.micro_in_epoch += 1
                pending += 1
                if loss_value is not None:
                    losses.append(loss_value)
                if pending < cfg.accumulate:
                    continue
                pending = 0
                self._optimizer_step()
                progress.update(self.state.step, loss=losses[-1] if losses else float("nan"),
                                lr=self.scheduler.get_last_lr()[0])
                if cfg.checkpoint_every and self.state.step % cfg.checkpoint_every == 0:
                    self.save("last")
                if self.state.step % cfg.log_every == 0:
                    rec = {"step": self.state.step, "epoch": self.state.epoch,
                           "train/loss": losses[-1] if losses else float("nan"),
                           "lr": self.scheduler.get_last_lr()[0]}
                    self.run.log(rec)
                    self._tb({"train/loss": rec["train/loss"], "lr": rec["lr"]})
                if cfg.eval_every and self.state.step % cfg.eval_every == 0:
                    if self._eval_and_checkpoint():
                        self.save("last")
                        return "early"
                    self.save("last")
                    self._keep_step_checkpoint()
                if self._stop_signal is not None:
                    self.save("last")
                    return "signal"
                if self.state.step >= self.total_steps:
                    break
            if pending:  # a last partial accumulation still updates the weights
                self._optimizer_step()
            self.state.epoch += 1
            self.state.micro_in_epoch = 0
            early = False if cfg.eval_every else self._eval_and_checkpoint()
            self.state.history.append({"epoch": self.state.epoch, "step": self.state.step,
                                       "train/loss": sum(losses) / len(losses) if losses else float("nan"),
                                       "lr": self.scheduler.get_last_lr()[0],
                                       "time_s": time.perf_counter() - epoch_start, **self._last_eval})
            self.run.write_json("history.json", self.state.history)
            self.save("last")
            self._keep_step_checkpoint()
            if early:
                return "early"
            if self._stop_signal is not None:
                return "signal"
        return None

    def _micro_step(self, batch: dict[str, Any]) -> float | None:
        with self.s.backend.autocast():
            loss, _logs = self.s.task.loss(self.model, self.head, batch)
        if not torch.isfinite(loss.detach()).all():
            where = f"step {self.state.step + 1} (epoch {self.state.epoch}, batch {self.state.micro_in_epoch})"
            if self.cfg.nan_policy == "error":
                raise TrainingError(f"non-finite loss {loss.item()} at {where}; set [train] nan_policy = "
                                    f"\"skip\" to skip such batches")
            self.run.log({"step": self.state.step, "skipped_batch": self.state.micro_in_epoch})
            return None
        self.scaler.scale(loss / self.cfg.accumulate).backward()
        return float(loss.detach())

    def _optimizer_step(self) -> None:
        average_gradients(self.world, (p for g in self.optimizer.param_groups for p in g["params"]))
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state.step += 1

    def _keep_step_checkpoint(self) -> None:
        if self.cfg.keep_last > 0:
            self.save(f"step-{self.state.step}")
            ckpt.prune(self.run.checkpoints, self.cfg.keep_last)

    def _finish(self) -> dict[str, float]:
        barrier(self.world)  # rank 0's last checkpoint is on disk for everyone
        results: dict[str, float] = {}
        if not self.world.is_main:
            return results
        best = self.run.checkpoints / "best"
        if self.exp.eval.test:
            if best.exists():
                ckpt.load_weights(best, self._modules())
            results = self.evaluate("test")
            if results:
                self.run.log({"step": self.state.step, "epoch": self.state.epoch, **results})
                self._tb(results)
        extra: dict[str, Any] = {}
        if self.exp.eval.test and results:
            from ..holdout import timbre_report

            timbre = timbre_report(self.s.source, self.s.source, "test")
            if timbre is not None:
                extra["timbre"] = timbre
        self.run.write_json("results.json", {"best": self.state.best, "metric": self.cfg.metric,
                                             "steps": self.state.step, "scored": self.scored, **extra,
                                             **results})
        from .plots import plot_curves

        plot_curves(self.run.read_metrics(), self.run.plots / "curves.png")
        return results


def split_loader(stages: Stages, exp: Any, examples: list, split: str, *, shuffle: bool = False,
                 epoch: int = 0, skip: int = 0, batch_size: int | None = None, rank: int = 0,
                 world: int = 1, cache: dict[str, CachedFeatures] | None = None
                 ) -> torch.utils.data.DataLoader:
    """The DataLoader of `examples` of `split` as training and evaluation see them: augmented
    (train split only, when [train.augment] is active), from the feature cache when
    `[train] cache_features`, in the (seed, epoch) order; `skip` batches are left out (resume).
    `cache` keeps each split's CachedFeatures between calls."""
    cfg = exp.train
    bs = batch_size or cfg.batch_size
    sampler = EpochSampler(len(examples), shuffle=shuffle, seed=exp.run.seed, epoch=epoch,
                           skip=skip * bs, rank=rank, world=world)
    augment = cfg.augment if split == "train" and cfg.augment.active() else None
    collate = Collate(stages.features, stages.task, precomputed=cfg.cache_features, augment=augment,
                      seed=exp.run.seed * 7919 + epoch)
    if cfg.cache_features:
        cache = {} if cache is None else cache
        dataset = cache.get(split)
        if dataset is None:
            dataset = cache[split] = CachedFeatures(examples, stages.features, stages.source, split)
    else:
        dataset = ExampleDataset(examples, stages.features.sample_rate, augment, exp.run.seed, epoch)
    return make_loader(dataset, collate, sampler, batch_size=bs, num_workers=cfg.num_workers,
                       seed=exp.run.seed * 7919 + epoch)


def eval_examples(stages: Stages, exp: Any, split: str, *, during_training: bool = False
                  ) -> tuple[list, dict[str, Any]]:
    """(examples, what was scored) of `split` for an evaluation.

    During training the validation may use a seeded random sample of [eval] max_examples
    examples; otherwise (the final test, `pianox eval`) the whole split is scored unless
    [eval] test_sample asks for a seeded random sample. The sample is the same for a given
    (run seed, split) and keeps the examples in source order. The returned dict says which:
    {"split", "examples" (scored), "total" (in the split), "sampled", "sample_seed"?}."""
    examples = list(stages.source.examples(split))
    total = len(examples)
    limit = exp.eval.max_examples if during_training else exp.eval.test_sample
    info: dict[str, Any] = {"split": split, "examples": total, "total": total, "sampled": False}
    if limit and limit < total:
        seed = [int(exp.run.seed) & 0xFFFFFFFF, zlib.crc32(split.encode())]
        keep = np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
        examples = [examples[i] for i in keep]
        info.update(examples=limit, sampled=True, sample_seed=seed)
    return examples, info


def evaluate_split(stages: Stages, exp: Any, model: nn.Module, head: nn.Module, split: str,
                   cache: dict[str, CachedFeatures] | None = None, *, during_training: bool = False,
                   source: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what was scored, task metrics) of `model` + `head` (already in eval mode) on `split`:
    the examples of `eval_examples`, [eval] batch_size, no augmentation, no gradients, the
    backend's autocast. The metrics are {} when the split is empty.

    The encoder's states and the `loss` metric are checked to be finite: a model that gives NaN
    (non-finite weights, an input far out of range) is an InferenceError naming `source` (by
    default the split) and the batch's first example, never NaN metrics in a report."""
    from ..finite import require_finite

    examples, info = eval_examples(stages, exp, split, during_training=during_training)
    if not examples:
        return info, {}
    loader = split_loader(stages, exp, examples, split, batch_size=exp.eval.batch_size or None,
                          cache=cache)
    device = stages.backend.device
    where = source or f"the {split} split"
    current = {"keys": []}

    def batches() -> Any:
        for b in loader:
            current["keys"] = b.get("keys", [])
            yield to_device(b, device)

    def check_states(module: nn.Module, inputs: Any, output: Any) -> None:
        states = output[0] if isinstance(output, (tuple, list)) else output
        if isinstance(states, torch.Tensor) and states.is_floating_point():
            first = current["keys"][0] if current["keys"] else "?"
            require_finite(states, f"{where}, batch of {first}", "encoder states")

    hook = model.register_forward_hook(check_states)
    try:
        with torch.no_grad(), stages.backend.autocast():
            metrics = stages.task.evaluate(model, head, batches())
    finally:
        hook.remove()
    if "loss" in metrics:
        require_finite(np.asarray([metrics["loss"]], np.float64), where, "loss")
    return info, metrics


def _tensorboard(run: RunDir) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(run.path / "tensorboard"))
