"""Drum transcription speed on CPU: 10 s of audio end to end (features, sliding windows, network,
peak picking) with the torch model, its ONNX export and the int8-quantised export.

The network is the one of experiments/egmd_twin_drums.toml (AST-tiny width, 4 layers, frame
tokens, 512-frame windows with hop 256); set PIANOX_DRUMS_RUN=<run dir> to time a trained run
instead of random weights (speed does not depend on the weights). The ONNX int8 pipeline is the
pytest-benchmark measurement (target: <= 100 ms per 10 s segment); ratios torch / ONNX
(target >= 1) come from interleaved rounds in the same test, each side's fastest round. Both
sides run on THREADS intra-op threads (PIANOX_BENCH_THREADS, default 1): on a shared 2-core
machine torch's OpenMP pool at 2 threads stalls at its barriers whenever another process holds
a core (measured: 50 to 500 ms for the same call), which would make any ratio noise.

    uv run pytest bench/bench_drums.py --benchmark-only
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pianox.testing.timing import interleaved_best

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from pianox.features.plugins import KaldiFeatures  # noqa: E402
from pianox.models.ast import ASTEncoder  # noqa: E402
from pianox_drums.inference import (Decoding, TrainedDrums, Transcriber, features_table,  # noqa: E402
                                    load_trained, torch_predictor)
from pianox_drums.onnx_export import export_onnx, load_onnx, onnx_predictor  # noqa: E402
from pianox_drums.task import DrumsTask  # noqa: E402

SECONDS = 10.0
ROUNDS = 7
BUDGET_S = 0.1  # target for the int8 pipeline per 10 s of audio
THREADS = int(os.environ.get("PIANOX_BENCH_THREADS", "1"))


def _random_model() -> TrainedDrums:
    from pianox.config import StageSpec

    features = KaldiFeatures()
    model = ASTEncoder(ASTEncoder.Config(preset="tiny", depth=4, patch="frame", max_frames=512),
                       num_bins=features.num_bins).eval()
    model.attention_impl = "sdpa"
    task = DrumsTask()
    head = task.build_head(model, features).eval()
    table = features_table(StageSpec("kaldi", KaldiFeatures, features.config))
    decoding = Decoding(task.classes, np.full(task.classes.count, 0.5, np.float32), task.min_distance,
                        features.frame_rate, 512, 256, table)
    from pianox.inference.models import LoadedModel
    from pianox.stages import Stages

    stages = Stages(source=None, features=features, model=model, task=task, backend=None)
    return TrainedDrums(LoadedModel(Path("."), Path("."), None, stages, model, head), features, decoding, False)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory, run_from_env):
    import torch

    run = run_from_env("PIANOX_DRUMS_RUN")
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield _pipelines(tmp_path_factory, run)
    torch.set_num_threads(before)


def _pipelines(tmp_path_factory, run: str | None) -> dict[str, Transcriber]:
    trained = load_trained(run) if run else _random_model()
    paths = export_onnx(trained, tmp_path_factory.mktemp("onnx") / "drums.onnx", quantize=True)
    out = {"torch": Transcriber(trained.features, torch_predictor(trained.network()), trained.decoding)}
    for kind, path in paths.items():
        session, decoding = load_onnx(path, threads=THREADS)
        out[f"onnx-{kind}"] = Transcriber(trained.features, onnx_predictor(session), decoding)
    return out


def _audio() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * 16000)) / 16000
    clicks = (np.sin(2 * np.pi * 3.0 * t) > 0.999).astype(np.float32)  # a hit every 1/3 s
    return (0.3 * np.convolve(clicks, rng.standard_normal(800) * np.exp(-np.arange(800) / 150), "same")
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_transcribe_10s(benchmark, pipelines, report_ratio, bench_disabled):
    wave = _audio()
    fns = {name: (lambda tr=tr: tr.transcribe(wave)) for name, tr in pipelines.items()}
    best = interleaved_best(fns, 1 if bench_disabled else ROUNDS)
    for name in ("onnx-float32", "onnx-int8"):
        report_ratio(f"10 s, {name} vs torch", best["torch"] / best[name],
                     reference="the same network in torch (pianox_drums torch_predictor)", target=1.0,
                     note=f"{1000 * best[name]:.1f} ms per 10 s (torch {1000 * best['torch']:.1f} ms), "
                          f"{THREADS} thread(s)")
    report_ratio("10 s, onnx-int8 vs budget", BUDGET_S / best["onnx-int8"], reference="the 100 ms budget per 10 s",
                 target=1.0, note=f"{1000 * best['onnx-int8']:.1f} ms per 10 s")
    benchmark.extra_info.update({f"{k}_ms": 1000 * v for k, v in best.items()})
    benchmark(fns["onnx-int8"])
