"""The drums task's part of `pianox.inference`: decoding settings, and audio -> hits.

`load_trained(MODEL)` loads a drums model through `pianox.inference.load_model` (a run
directory, checkpoint folder, model folder or shipped name) with the per-class thresholds tuned
at the end of training (`drums_thresholds.json` beside the weights; the task's `threshold` when
absent). A `Transcriber` streams a recording in overlapping windows of the training clip
length, runs the network (torch or ONNX Runtime) on each and overlap-adds the posteriors
(`combine = "add"`), then peak-picks hits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pianox.errors import CheckpointError
from pianox.inference.pipeline import Plan, collect
from pianox.inference.stream import Windows, array_windows, frame_windowing, stream_windows

from .classes import DrumClasses, drum_classes
from .decoding import posteriors_to_hits

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
    """A loaded drums model (`pianox.inference.LoadedModel`) with the features of whole
    recordings (no target_frames) and its decoding settings."""

    loaded: Any
    features: Any
    decoding: Decoding
    tuned: bool
    """Whether the thresholds come from drums_thresholds.json (else the task's default)."""

    @property
    def run_dir(self) -> Path:
        return self.loaded.path

    @property
    def checkpoint(self) -> Path:
        return self.loaded.checkpoint

    @property
    def experiment(self) -> Any:
        return self.loaded.experiment

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def head(self) -> Any:
        return self.loaded.head

    @property
    def task(self) -> Any:
        return self.loaded.task

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


def load_trained(path: str | Path | None, device: str | None = "cpu") -> TrainedDrums:
    """Load a drums model (see module doc) onto `device`; CheckpointError naming the path."""
    from pianox.inference.models import load_model

    loaded = load_model(path, task="drums", device=device)
    return decoding_of(loaded)


def decoding_of(loaded: Any, thresholds: bool = True) -> TrainedDrums:
    """A loaded drums model's whole-recording features and decoding settings (the tuned
    thresholds when `thresholds` and they exist, else the task's `threshold`)."""
    exp, task = loaded.experiment, loaded.task
    trained_frames = int(getattr(exp.stages["features"].config, "target_frames", 0) or 0)
    table = features_table(exp.stages["features"])
    features = build_features(table, str(loaded.path / "config.toml"))
    if thresholds:
        values, tuned = read_thresholds(loaded.checkpoint, task)
    else:
        values, tuned = np.full(task.classes.count, task.config.threshold, np.float32), False
    window = window_frames(task.config.window_seconds, features.frame_rate, trained_frames,
                           getattr(exp.stages["model"].config, "max_frames", 0))
    hop = max(1, int(round(window * task.config.hop_fraction)))
    decoding = Decoding(task.classes, values, task.min_distance, float(features.frame_rate), window, hop, table)
    return TrainedDrums(loaded, features, decoding, tuned)


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
    """Audio -> (T, C) posteriors -> hits (N, 4) [time s, class, velocity, confidence]."""

    def __init__(self, features: Any, predict: Callable[[np.ndarray], Sequence[np.ndarray]],
                 decoding: Decoding, batch_size: int = 8):
        self.features, self.predict, self.decoding, self.batch_size = features, predict, decoding, batch_size
        # The network takes no padding mask (nor does its ONNX export): the last window ends where
        # the audio ends instead of running over zeros, and a short file is one short window.
        self.windowing = frame_windowing(features, decoding.window, decoding.hop, pad_last=False)

    def windows(self, audio: str | Path | np.ndarray, source: str | None = None) -> Windows:
        """The windows of an audio file (streamed) or of a waveform at the features' rate."""
        if isinstance(audio, np.ndarray):
            return array_windows(audio, self.windowing, source or "waveform")
        return stream_windows(audio, self.features.sample_rate, self.windowing)

    def _forward(self, feats: Any, frames: Any, mask: Any) -> dict[str, np.ndarray]:
        if feats.shape[1] == 0:  # a file shorter than one feature frame: nothing to hear
            empty = np.zeros((feats.shape[0], 0, self.decoding.classes.count), np.float32)
            return {"onset posteriors": empty, "velocities": empty}
        probs, velocity = self.predict(feats.numpy())
        return {"onset posteriors": np.asarray(probs), "velocities": np.asarray(velocity)}

    def posteriors(self, audio: str | Path | np.ndarray, source: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(onset posteriors (T, C), velocities (T, C) in [0, 1]) of a recording (a file,
        streamed, or a waveform); InferenceError naming `source` when they are not finite."""
        plan = Plan(self._forward, "add", self.batch_size)
        got = collect(self.windows(audio, source), self.features, plan, progress)
        return got["onset posteriors"], got["velocities"]

    def hits(self, probs: np.ndarray, velocity: np.ndarray | None) -> np.ndarray:
        """Peak-picked hits (N, 4) of posteriors with the stored thresholds."""
        d = self.decoding
        return posteriors_to_hits(probs, velocity, d.frame_rate, d.thresholds, d.min_distance)

    def transcribe(self, audio: str | Path | np.ndarray, source: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Hits (N, 4) of a recording (a file or a mono waveform at the features' sample rate)."""
        return self.hits(*self.posteriors(audio, source, progress))
