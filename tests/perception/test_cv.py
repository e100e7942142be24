"""The cross-validation driver end to end: every fold trained (or reused) and pooled."""

from __future__ import annotations

import json

import tomli_w

from pianox_perception.cv import fold_experiments, run_folds

from .conftest import experiment


def test_cv_runs_every_fold_reuses_finished_runs_and_pools_out_of_fold(corpus, trained_run, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(experiment(corpus, trained_run.parent)))
    base, folds = fold_experiments(path, [])
    assert [k for k, _ in folds] == [0, 1] and folds[1][1].stages["source"].config.fold == 1
    before = (trained_run / "status.json").read_text()
    out = run_folds(path, quiet=True)
    result = json.loads((out / "cv_results.json").read_text())
    assert [f["fold"] for f in result["folds"]] == [0, 1]
    assert result["folds"][0]["run"] == str(trained_run)  # fold 0 is the finished fixture run
    assert (trained_run / "status.json").read_text() == before
    # 8 excerpts x 2 players: 2 excerpts are test, the other 6 are validated once each
    assert result["clips_oof"] == 12 and result["oof"]["clips"] == 12
    assert result["test_ensemble"]["clips"] == 4
    oof = json.loads((out / "predictions" / "oof.json").read_text())
    assert len(set(oof["clips"])) == 12
    assert (out / "plots" / "cv_oof.png").exists() and "cross-validation" in (out / "cv_results.md").read_text()
