"""ONNX export of encoder + head, dynamic int8 quantisation, and ONNX Runtime inference.

The exported graph maps `features` (B, T, F) float32 to `probs` (B, T, C) onset posteriors and
`velocity` (B, T, C), with B and T dynamic (T from one patch up to the encoder's positional
grid, `max_frames`). The decoding settings (class map, thresholds, window, features table) are
stored as JSON in the model's metadata under "pianox_drums", so `pianox drums --onnx` needs no
run directory. Quantisation is onnxruntime.quantization.quantize_dynamic (int8 weights of
MatMul / Gemm, activations quantised per call). onnx and onnxruntime are imported on use; their
absence is a PluginError saying what to install.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pianox.atomic import atomic_path
from pianox.errors import CheckpointError, PluginError

from .inference import Decoding, TrainedDrums

METADATA_KEY = "pianox_drums"


def _need(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise PluginError(f"ONNX export/inference needs {module.split('.')[0]} (pip install onnx onnxruntime "
                          f"onnxscript): {exc}") from exc


def time_range(trained: TrainedDrums) -> tuple[int, int]:
    """(fewest, most) frames the exported graph accepts: one patch up to the encoder's
    positional grid (`max_frames`; longer inputs would stretch the grid), else 4 windows."""
    geometry = trained.head.geometry
    most = int(getattr(trained.model.config, "max_frames", 0) or 0) or 4 * trained.decoding.window
    return max(2, geometry.patch_width), max(most, trained.decoding.window)


def _export_network(trained: TrainedDrums) -> Any:
    """The network to trace. An AST's positional table gets one spare time column: inputs up
    to `max_frames` then always take the encoder's crop path (identical numbers), whereas an
    input exactly `max_frames` long would take its "same grid" shortcut, a branch on the frame
    count that pins the exported time axis to that one length."""
    import copy

    import torch

    from .head import DrumNet

    model = trained.model
    if not (hasattr(model, "pos_embed") and hasattr(model, "pos_grid")):
        return trained.network()
    fp, tp = model.pos_grid
    P = model.num_prefix_tokens
    widened = copy.deepcopy(model)
    widened.config.max_frames = model.config.max_frames + model.stride[1]
    if widened.pos_grid != (fp, tp + 1):
        raise RuntimeError(f"cannot widen the positional grid {fp}x{tp} by one time patch")
    grid = model.pos_embed[:, P:].reshape(1, fp, tp, -1)
    grid = torch.cat([grid, grid[:, :, -1:]], dim=2).reshape(1, fp * (tp + 1), -1)
    widened.pos_embed = torch.nn.Parameter(torch.cat([model.pos_embed[:, :P], grid], dim=1).detach())
    return DrumNet(widened, trained.head).eval()


def _set_metadata(path: Path, decoding: Decoding) -> None:
    onnx = _need("onnx")
    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(decoding.to_json())
    onnx.save(model, str(path))


def export_onnx(trained: TrainedDrums, path: str | Path, quantize: bool = False) -> dict[str, Path]:
    """Write `path` (float32 ONNX) and, with `quantize`, `<stem>.int8.onnx` beside it; returns
    {"float32": path, "int8": path}. Files are replaced atomically."""
    import torch

    _need("onnxscript")
    path = Path(path)
    net = _export_network(trained)
    lo, hi = time_range(trained)
    frames = min(max(trained.decoding.window, lo), hi)
    example = torch.zeros(1, frames, trained.features.num_bins)
    dims = {"features": {0: torch.export.Dim("batch", min=1, max=1024),
                         1: torch.export.Dim("frames", min=lo, max=hi)}}
    out: dict[str, Path] = {}
    with atomic_path(path) as tmp:
        log = io.StringIO()
        with contextlib.redirect_stdout(log), torch.no_grad():
            torch.onnx.export(net, (example,), str(tmp), dynamo=True, dynamic_shapes=dims,
                              input_names=["features"], output_names=["probs", "velocity"],
                              external_data=False)
        _set_metadata(tmp, trained.decoding)
    out["float32"] = path
    if quantize:
        q = path.with_name(path.stem + ".int8.onnx")
        quantization = _need("onnxruntime.quantization")
        shape_inference = _need("onnxruntime.quantization.shape_inference")
        with atomic_path(q) as tmp, tempfile.TemporaryDirectory() as scratch:
            # ORT's pre-processing (shape inference + graph optimisation) lets the quantiser see
            # every MatMul; it is skipped when it cannot handle the graph.
            source = Path(scratch) / "pre.onnx"
            try:
                shape_inference.quant_pre_process(str(path), str(source), auto_merge=True)
            except Exception:  # ORT raises assorted types from its shape inference
                source = path
            quantization.quantize_dynamic(str(source), str(tmp), weight_type=quantization.QuantType.QInt8)
            _set_metadata(tmp, trained.decoding)
        out["int8"] = q
    return out


def load_onnx(path: str | Path, threads: int = 0) -> tuple[Any, Decoding]:
    """(onnxruntime.InferenceSession, decoding settings) of an exported drum model."""
    ort = _need("onnxruntime")
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"ONNX model not found: {p}")
    options = ort.SessionOptions()
    # Idle ORT workers otherwise spin for a while after each run, taking the cores from
    # everything else in the process (feature extraction, torch) on a small machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads > 0:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise CheckpointError(f"cannot load ONNX model {p}: {exc}") from exc
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise CheckpointError(f"{p} has no {METADATA_KEY!r} metadata: export it with `pianox drums-export`")
    return session, Decoding.from_json(json.loads(meta[METADATA_KEY]), str(p))


def onnx_predictor(session: Any) -> Callable[[np.ndarray], Sequence[np.ndarray]]:
    """(B, W, F) float32 -> (probabilities, velocities), each (B, W, C), with an ORT session."""

    def predict(batch: np.ndarray) -> Sequence[np.ndarray]:
        probs, velocity = session.run(["probs", "velocity"], {"features": np.ascontiguousarray(batch, np.float32)})
        return probs, velocity

    return predict


def parity(trained: TrainedDrums, session: Any, frames: Sequence[int] = (), seed: int = 0) -> float:
    """Max |ONNX - torch| onset posterior over random feature inputs of a few lengths."""
    import torch

    lo, hi = time_range(trained)
    lengths = list(frames) or sorted({lo, min(trained.decoding.window, hi), max(lo, trained.decoding.window // 3)})
    rng = np.random.default_rng(seed)
    net = trained.network()
    worst = 0.0
    for T in lengths:
        x = rng.standard_normal((2, T, trained.features.num_bins)).astype(np.float32)
        with torch.inference_mode():
            ref = net(torch.from_numpy(x))[0].numpy()
        got = session.run(["probs"], {"features": x})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst
