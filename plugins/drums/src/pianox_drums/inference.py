"""Loading a trained drum model and transcribing audio with it (torch or ONNX Runtime).

`load_trained(RUN_OR_DIR)` rebuilds features, encoder and head from a run directory (its
config.toml + checkpoints/best) or a checkpoint folder, with the per-class thresholds tuned at
the end of training (`drums_thresholds.json` beside the weights; the task's `threshold` when
absent). A `Transcriber` computes the features of a whole recording once, runs the network over
overlapping windows (`sliding.overlap_add`) and peak-picks hits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pianox.errors import CheckpointError
from pianox.finite import require_finite

from .classes import DrumClasses, drum_classes
from .decoding import posteriors_to_hits
from .sliding import overlap_add

THRESHOLDS_FILE = "drums_thresholds.json"
DEFAULT_WINDOW_SECONDS = 10.0


@dataclass
class Decoding:
    """Everything needed besides the network to turn audio into hits (stored in ONNX metadata)."""

    classes: DrumClasses
    thresholds: np.ndarray
    min_distance: int
    frame_rate: float
    window: int
    """Sliding-window length, frames."""
    hop: int
    """Frames between window starts."""
    features: dict[str, Any] = field(default_factory=dict)
    """The features stage as a table: kind + Config fields (target_frames 0)."""

    def to_json(self) -> dict[str, Any]:
        return {"class_map": self.classes.class_map, "classes": list(self.classes.names),
                "thresholds": [float(t) for t in self.thresholds], "min_distance": self.min_distance,
                "frame_rate": self.frame_rate, "window": self.window, "hop": self.hop,
                "features": self.features}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> "Decoding":
        try:
            classes = drum_classes(data["class_map"])
            thresholds = np.asarray(data["thresholds"], np.float32)
            if thresholds.shape != (classes.count,):
                raise ValueError(f"{len(thresholds)} thresholds for {classes.count} classes")
            return cls(classes, thresholds, int(data["min_distance"]), float(data["frame_rate"]),
                       int(data["window"]), int(data["hop"]), dict(data.get("features", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{where}: unusable drum decoding settings: {exc}") from exc


@dataclass
class TrainedDrums:
    """A trained run, ready for inference: stages, network and decoding settings."""

    run_dir: Path
    checkpoint: Path
    experiment: Any
    features: Any
    model: Any
    head: Any
    task: Any
    decoding: Decoding
    tuned: bool
    """Whether the thresholds come from drums_thresholds.json (else the task's default)."""

    def network(self) -> Any:
        """The encoder + head as one eval-mode module (`head.DrumNet`)."""
        from .head import DrumNet

        return DrumNet(self.model, self.head).eval()


def features_table(spec: Any) -> dict[str, Any]:
    """A features stage spec as a table with `target_frames` 0 (whole recordings)."""
    table = spec.table()
    if "target_frames" in table:
        table["target_frames"] = 0
    return table


def build_features(table: dict[str, Any], where: str) -> Any:
    """Instantiate a features plugin from a table (kind + Config fields)."""
    from pianox import registry
    from pianox.schema import Where, build

    table = dict(table)
    kind = table.pop("kind", None)
    if not isinstance(kind, str):
        raise CheckpointError(f"{where}: no features kind recorded")
    cls = registry.load("features", kind)
    return cls(build(cls.Config, table, Where(file=where, table="features")))


def load_trained(path: str | Path) -> TrainedDrums:
    """Rebuild a trained drum model from a run directory or checkpoint folder (see module doc).

    The encoder is not re-initialised from `[model] init` (the checkpoint holds its weights) and
    features keep each recording's full length. Raises CheckpointError naming the path.
    """
    from pianox.train.checkpoint import load_weights
    from pianox.trained import load_experiment_of

    run_dir, ckpt, exp = load_experiment_of(path, task="drums")
    model_cfg = exp.stages["model"].config
    trained_frames = int(getattr(exp.stages["features"].config, "target_frames", 0) or 0)
    table = features_table(exp.stages["features"])
    features = build_features(table, str(run_dir / "config.toml"))
    model = exp.stages["model"].build(num_bins=features.num_bins)
    if hasattr(model, "attention_impl"):
        model.attention_impl = "sdpa"
    task = exp.stages["task"].build()
    head = task.build_head(model, features)
    load_weights(ckpt, {"model": model, "head": head})
    model.eval()
    head.eval()
    thresholds, tuned = read_thresholds(ckpt, task)
    window = window_frames(task.config.window_seconds, features.frame_rate, trained_frames,
                           getattr(model_cfg, "max_frames", 0))
    hop = max(1, int(round(window * task.config.hop_fraction)))
    decoding = Decoding(task.classes, thresholds, task.min_distance, float(features.frame_rate), window, hop,
                        table)
    return TrainedDrums(run_dir, ckpt, exp, features, model, head, task, decoding, tuned)


def window_frames(window_seconds: float, frame_rate: float, trained_frames: int = 0, max_frames: int = 0) -> int:
    """Sliding-window length in frames: `window_seconds` when set, else the training clip
    length (features target_frames), else the encoder's positional grid, else 10 s."""
    if window_seconds > 0:
        return max(1, int(round(window_seconds * frame_rate)))
    return int(trained_frames or max_frames or round(DEFAULT_WINDOW_SECONDS * frame_rate))


def read_thresholds(checkpoint: Path, task: Any) -> tuple[np.ndarray, bool]:
    """Per-class thresholds from `checkpoint`/drums_thresholds.json, else the task's `threshold`."""
    file = checkpoint / THRESHOLDS_FILE
    if not file.is_file():
        return np.full(task.classes.count, task.config.threshold, np.float32), False
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        values = np.asarray(data["thresholds"], np.float32)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"cannot read thresholds from {file}: {exc}") from exc
    if values.shape != (task.classes.count,) or data.get("class_map") != task.config.class_map:
        raise CheckpointError(f"{file}: thresholds are for class_map {data.get('class_map')!r} with "
                              f"{values.size} classes, the model has {task.config.class_map!r}")
    return values, True


def torch_predictor(net: Any) -> Callable[[np.ndarray], Sequence[np.ndarray]]:
    """(B, W, F) float32 -> (probabilities, velocities), each (B, W, C), with a torch module."""
    import torch

    device = next(net.parameters()).device

    def predict(batch: np.ndarray) -> Sequence[np.ndarray]:
        with torch.inference_mode():
            probs, velocity = net(torch.from_numpy(batch).to(device))
        return probs.float().cpu().numpy(), velocity.float().cpu().numpy()

    return predict


class Transcriber:
    """Waveform -> (T, C) posteriors -> hits (N, 4) [time s, class, velocity, confidence]."""

    def __init__(self, features: Any, predict: Callable[[np.ndarray], Sequence[np.ndarray]],
                 decoding: Decoding, batch_size: int = 8):
        self.features, self.predict, self.decoding, self.batch_size = features, predict, decoding, batch_size

    def feature_frames(self, waveform: np.ndarray) -> np.ndarray:
        """(S,) float32 mono at the features' sample rate -> (T, F) features."""
        import torch

        wave = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None]
        with torch.inference_mode():
            return self.features(wave)[0].numpy()

    def posteriors(self, waveform: np.ndarray, source: str = "waveform") -> tuple[np.ndarray, np.ndarray]:
        """(onset posteriors (T, C), velocities (T, C) in [0, 1]) of a whole recording;
        InferenceError naming `source` when they are not finite."""
        d = self.decoding
        probs, velocity = overlap_add(self.predict, self.feature_frames(waveform), d.window, d.hop,
                                      self.batch_size)
        require_finite(probs, source, "onset posteriors")
        require_finite(velocity, source, "velocities")
        return probs, velocity

    def hits(self, probs: np.ndarray, velocity: np.ndarray | None) -> np.ndarray:
        """Peak-picked hits (N, 4) of posteriors with the stored thresholds."""
        d = self.decoding
        return posteriors_to_hits(probs, velocity, d.frame_rate, d.thresholds, d.min_distance)

    def transcribe(self, waveform: np.ndarray, source: str = "waveform") -> np.ndarray:
        """Hits (N, 4) of a mono waveform at the features' sample rate (`source` names it in errors)."""
        return self.hits(*self.posteriors(waveform, source))
