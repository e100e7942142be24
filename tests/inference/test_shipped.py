"""Shipped models: `pianox models pack` writes a model folder (config, safetensors weights, the
task's decoding files, a model card, a sha256 manifest) that loads by folder and by shipped name,
gives the run's outputs (exactly; fp16 closely), is verified on every load, and is listed by
`pianox models`. pianox-models' own folders stay under the 30 MB budget."""

from __future__ import annotations

import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from pianox.errors import CheckpointError, OutputError
from pianox.inference.card import headline, report_rows
from pianox.inference.models import MANIFEST, PRETRAINED_GROUP, load_model, pretrained_path, sha256, verify

from framework.plugin_factory import make_distribution
from robustness.corpus import tone

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "packages" / "pianox-models" / "src" / "pianox_models" / "models"
BUDGET_BYTES = 30 * 1000 * 1000

DRUMS_EVAL_REPORT = {  # the shape of `pianox drums-eval -o` (pianox_drums.cli.run_eval)
    "run": None, "split": "test", "model_file": None,
    "scored": {"split": "test", "examples": 48, "total": 48, "sampled": False,
               "timbre": {"held_out": ["kit-b"], "disjoint": True, "shared_samples": 0, "held_out_samples": 9}},
    "clips": 48, "reference_hits": {"kick": 120},
    "model": {"f1_micro": 0.8125, "f1_macro": 0.75, "f1_kick": 0.9, "f1_ride": None,
              "ci95": {"f1_micro": [0.79, 0.833], "f1_macro": [0.7, 0.8], "f1_kick": [0.85, 0.95]}},
    "baseline": {"f1_micro": 0.5, "ci95": {"f1_micro": [0.45, 0.55]}},
    "velocity_mae": 9.5,
}


@pytest.fixture(scope="module")
def run(runs, tmp_path_factory) -> Path:
    """A copy of the untrained drums run with what a trained one has besides weights: tuned
    thresholds beside them, test results, and an encoder `init` that must not travel."""
    run = tmp_path_factory.mktemp("shipped") / runs["drums"].name
    shutil.copytree(runs["drums"], run)
    task = load_model(run, task="drums", device="cpu").task
    best = run / "checkpoints" / "best"
    (best / "drums_thresholds.json").write_text(json.dumps(
        {"class_map": task.config.class_map, "thresholds": [0.37] * task.classes.count}))
    (run / "results.json").write_text(json.dumps(
        {"best": 0.5, "metric": "val/f1_micro", "steps": 10,
         "scored": {"test": {"examples": 12, "total": 12, "sampled": False}},
         "test/f1_micro": 0.625, "test/loss": 0.25}))
    (run / "status.json").write_text(json.dumps(  # what pianox.runner records (rundir.git_commit)
        {"state": "finished", "commit": "0123abcd+dirty", "experiment": "experiments/drums_small.toml"}))
    config = (run / "config.toml").read_text()
    assert config.count('init = ""') == 1
    (run / "config.toml").write_text(config.replace('init = ""', 'init = "runs/pretraining-gone"'))
    return run


@pytest.fixture(scope="module")
def report(run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "drums-test.json"
    path.write_text(json.dumps({**DRUMS_EVAL_REPORT, "run": str(run),
                                "model_file": str(run / "checkpoints" / "best")}))
    return path


@pytest.fixture(scope="module")
def packed(run, report, tmp_path_factory) -> dict[str, Path]:
    """The run packed as float32 and as float16 (through the command line)."""
    from pianox.cli import main

    root = tmp_path_factory.mktemp("packed")
    out = {}
    for dtype, extra in (("fp32", []), ("fp16", ["--fp16"])):
        out[dtype] = root / f"drums-{dtype}"
        args = ["models", "pack", str(run), "--name", f"drums-{dtype}", "-o", str(out[dtype]),
                "--metrics", str(report), *extra]
        assert main(args) == 0
    return out


def _posteriors(model: str | Path) -> tuple[np.ndarray, object]:
    from pianox_drums.inference import Transcriber, load_trained, torch_predictor

    trained = load_trained(model)
    tr = Transcriber(trained.features, torch_predictor(trained.network()), trained.decoding)
    wave = np.concatenate([tone(1.0), 0.5 * tone(1.5)])
    return tr.posteriors(wave, "two tones")[0], trained


def test_a_packed_folder_holds_its_files_listed_with_their_sha256(run, packed):
    folder = packed["fp32"]
    manifest = json.loads((folder / MANIFEST).read_text())
    files = ("README.md", "config.json", "config.toml", "drums_thresholds.json", "model.safetensors")
    assert {p.name for p in folder.iterdir()} == {*files, MANIFEST}  # meta.json and state.pt stay behind
    assert manifest["files"] == {name: sha256(folder / name) for name in files}
    assert manifest["name"] == "drums-fp32" and manifest["task"] == "drums"
    assert manifest["dtype"] == "float32+float64"  # the drums head counts frames in float64
    assert manifest["created_from"] == str(run / "checkpoints" / "best") and manifest["commit"] == "0123abcd+dirty"
    assert 'init = ""' in (folder / "config.toml").read_text()  # the pretraining run does not travel
    assert (folder / "model.safetensors").read_bytes() == (run / "checkpoints/best/model.safetensors").read_bytes()
    assert not list(folder.parent.glob(".*"))  # no temporary folder left behind


def test_the_fp32_folder_gives_the_runs_posteriors_exactly_and_fp16_closely(run, packed):
    import torch
    from safetensors import safe_open

    want, trained_run = _posteriors(run)
    got, trained = _posteriors(packed["fp32"])
    np.testing.assert_array_equal(got, want)
    assert trained.tuned and np.allclose(trained.decoding.thresholds, 0.37)  # the decoding file came along
    half, trained16 = _posteriors(packed["fp16"])
    with safe_open(str(packed["fp16"] / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if k.startswith("model.")} == {torch.float16}
    assert {p.dtype for p in trained16.model.parameters()} == {torch.float32}  # loaded back as float32
    assert json.loads((packed["fp16"] / MANIFEST).read_text())["dtype"] == "float16+float64"
    np.testing.assert_allclose(half, want, atol=5e-3)
    assert not np.array_equal(half, want)  # it really is rounded
    sizes = [(packed[d] / "model.safetensors").stat().st_size for d in ("fp16", "fp32")]
    assert sizes[0] < 0.6 * sizes[1]


def test_the_card_says_task_seed_data_size_metrics_with_cis_and_licence(packed):
    from safetensors import safe_open

    with safe_open(str(packed["fp32"] / "model.safetensors"), "np") as f:
        encoder = sum(f.get_tensor(k).size for k in f.keys() if k.startswith("model."))
    card = (packed["fp16"] / "README.md").read_text()
    assert card.startswith("# drums-fp16\n")
    assert "| experiment file | `experiments/drums_small.toml` |" in card and "| commit | 0123abcd+dirty |" in card
    for phrase in ("| task | drums |", "| seed | 0 |", "float16",
                   'kind = "dummy"', "### `drums-test.json` (evaluation report)",
                   "Split `test`, all 48 clips. Held-out timbre kit-b: no sample shared with training.",
                   "| f1_micro | 0.8125 | [0.79, 0.833] | test | 48 clips |",
                   "| baseline f1_micro | 0.5 | [0.45, 0.55] | test | 48 clips |",
                   "| velocity_mae | 9.5 | — | test | 48 clips |",
                   "### The run's final test (results.json)", "| f1_micro | 0.625 | — | test | 12 examples |",
                   "## Licence", "the `dummy` corpus"):
        assert phrase in card, phrase
    assert "f1_ride" not in card  # no reference hits: no figure
    assert headline(card) == "f1_micro 0.8125 [0.79, 0.833] (test, 48 clips)"
    params = next(line for line in card.splitlines() if line.startswith("| parameters |"))
    assert f"(encoder {encoder:,}, head " in params


def test_report_rows_read_the_eval_drums_eval_and_transcribe_eval_reports():
    transcribe = {"split": "test", "recordings": 3, "systems": {
        "pianox": {"onset_f1": 0.9, "onset_f1_ci": [0.85, 0.95], "seconds_per_10s": 0.2, "per_piece": {}},
        "basic-pitch": {"onset_f1": 0.7, "onset_f1_ci": [0.6, 0.8]}}}
    assert report_rows(transcribe, "onset_f1") == [("onset_f1", 0.9, (0.85, 0.95)),
                                                   ("basic-pitch onset_f1", 0.7, (0.6, 0.8)),
                                                   ("seconds_per_10s", 0.2, None)]
    evaluated = {"split": "test", "examples": 5, "metrics": {"loss": 1.5, "f1_micro": float("nan")}}
    assert report_rows(evaluated) == [("loss", 1.5, None)]
    assert report_rows(DRUMS_EVAL_REPORT, "f1_macro")[0] == ("f1_macro", 0.75, (0.7, 0.8))


def test_a_changed_missing_or_unlisted_file_is_refused_naming_it(packed, tmp_path):
    folder = tmp_path / "drums"
    shutil.copytree(packed["fp16"], folder)
    assert verify(folder)["name"] == "drums-fp16"
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"drums/model\.safetensors does not match its sha256 in .*manifest"):
        load_model(folder, task="drums")
    shutil.copy(packed["fp16"] / "model.safetensors", weights)
    (folder / "drums_thresholds.json").unlink()
    with pytest.raises(CheckpointError, match=r"drums/drums_thresholds\.json is listed in .* but missing"):
        load_model(folder, task="drums")
    shutil.copy(packed["fp16"] / "drums_thresholds.json", folder)
    (folder / "extra.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"drums/extra\.json is not listed in"):
        load_model(folder, task="drums")
    (folder / "extra.json").unlink()
    (folder / "NOTES.txt").write_text("not a file that decides outputs")
    assert load_model(folder, task="drums").path == folder


@pytest.fixture
def shipped(packed, tmp_path, monkeypatch):
    """A distribution `acme-models` shipping the fp16 folder as `drums` (the task's default)
    and the fp32 one as `drums-exact`, as pianox-models ships its own."""
    source = f'''
from pathlib import Path
def drums():
    return Path({str(packed["fp16"])!r})
def exact():
    return Path({str(packed["fp32"])!r})
'''
    make_distribution(tmp_path / "site", "acme-models", "acme_models", source,
                      {PRETRAINED_GROUP: {"drums": "acme_models:drums", "drums-exact": "acme_models:exact"}},
                      version="2.0")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "acme_models", raising=False)


def test_shipped_models_load_by_name_and_pianox_models_lists_them(packed, shipped, pianox):
    assert load_model("drums-exact", task="drums", device="cpu").path == packed["fp32"]
    assert load_model(None, task="drums", device="cpu").path == packed["fp16"]  # the task's default
    code, out, err = pianox("models", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out) if r["distribution"] == "acme-models"}
    assert rows["drums"]["default"] and not rows["drums-exact"]["default"]
    assert {(r["task"], r["version"], r["error"]) for r in rows.values()} == {("drums", "2.0", None)}
    assert rows["drums"]["metric"] == "f1_micro 0.8125 [0.79, 0.833] (test, 48 clips)"
    assert rows["drums"]["bytes"] == sum(p.stat().st_size for p in packed["fp16"].iterdir())
    code, out, _ = pianox("models", "list")
    line = next(line for line in out.splitlines() if "drums-exact" in line)
    assert "acme-models 2.0" in line and "MB" in line and "f1_micro 0.8125 [0.79, 0.833]" in line
    assert "yes" in next(line for line in out.splitlines() if "│ drums " in line)


def test_pianox_models_says_plainly_when_none_is_installed(pianox, monkeypatch):
    monkeypatch.setattr("pianox.inference.models.pretrained_models", dict)  # whatever this machine has
    code, out, _ = pianox("models")
    assert code == 0 and out.startswith("no shipped models are installed")


def test_pack_refuses_an_existing_folder_without_overwrite_and_foreign_reports(run, report, packed, pianox,
                                                                                 tmp_path):
    folder = packed["fp32"]
    before = (folder / MANIFEST).read_text()
    code, _, err = pianox("models", "pack", run, "--name", "again", "-o", folder)
    assert code == OutputError.exit_code and f"{folder} exists; use --overwrite" in err
    assert (folder / MANIFEST).read_text() == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, _, err = pianox("models", "pack", run, "--name", "x", "-o", other, "--overwrite")
    assert code == 1 and "is not a model folder" in err and (other / "keep.txt").exists()
    code, _, err = pianox("models", "pack", run, "--name", "x", "-o", run / "packed")
    assert code == 1 and "may not hold, or lie inside" in err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({**DRUMS_EVAL_REPORT, "run": "runs/another-1a2b3c4d"}))
    code, _, err = pianox("models", "pack", run, "--name", "x", "-o", tmp_path / "x", "--metrics", foreign)
    assert code == 2 and "scores runs/another-1a2b3c4d, not the packed model" in err
    assert not (tmp_path / "x").exists()
    code, out, err = pianox("models", "pack", run, "--name", "again", "-o", tmp_path / "copy", "--licence",
                            "CC BY 4.0, see LICENCE.", "--metrics", report)
    assert code == 0, err
    assert "CC BY 4.0, see LICENCE." in (tmp_path / "copy" / "README.md").read_text()
    shutil.copytree(tmp_path / "copy", tmp_path / "replaced")
    code, _, err = pianox("models", "pack", run, "--name", "again", "-o", tmp_path / "replaced", "--overwrite")
    assert code == 0, err
    assert json.loads((tmp_path / "replaced" / MANIFEST).read_text())["name"] == "again"


def test_pianox_models_ships_verified_folders_under_the_size_budget():
    """Every model folder of pianox-models has an entry point, verifies against its manifest,
    and all their weights together stay under 30 MB (the issue's budget for git)."""
    dist = metadata.distribution("pianox-models")
    eps = [ep for ep in dist.entry_points if ep.group == PRETRAINED_GROUP]
    folders = {pretrained_path(ep.name).resolve() for ep in eps}
    assert folders == {p.resolve() for p in SHIPPED.iterdir() if p.is_dir()}
    for folder in folders:
        assert verify(folder) is not None, folder
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*.safetensors")) < BUDGET_BYTES
