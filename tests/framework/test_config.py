"""Experiment files: validation errors name file/table/key/line; env, overrides, hash, round trip."""

from __future__ import annotations

import tomllib

import pytest

from pianox.config import experiment_from_dict, key_lines, load_experiment, parse_override
from pianox.errors import ConfigError


def test_loads_dummy_experiment_with_defaults(write_exp):
    exp = load_experiment(write_exp())
    assert exp.run.name == "exp" and exp.run.seed == 3
    assert exp.stages["model"].kind == "dummy" and exp.stages["model"].config.dim == 32
    assert exp.stages["backend"].kind == "cpu"
    assert exp.train.epochs == 2 and exp.train.lr == pytest.approx(3e-3)
    assert exp.train.betas == (0.9, 0.999)


def test_malformed_toml_names_line_and_column(write_exp):
    path = write_exp("[run]\nseed = 1\nname = \n")
    with pytest.raises(ConfigError, match=r"exp\.toml: invalid TOML: .*line 3, column 8"):
        load_experiment(path)


def test_unknown_table(write_exp):
    path = write_exp("[sorce]\nkind = 'dummy'\n")
    with pytest.raises(ConfigError, match=r"unknown table \[sorce\].*known tables: .*source"):
        load_experiment(path)


def test_unknown_key_names_file_table_key_and_line(write_exp):
    text = open(write_exp()).read().replace("[model]\nkind = \"dummy\"", "[model]\nkind = \"dummy\"\ndpeth = 3")
    path = write_exp(text.replace("{", "{{").replace("}", "}}"))
    lineno = text.splitlines().index("dpeth = 3") + 1
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    msg = str(err.value)
    assert "exp.toml" in msg and "[model]" in msg and "'dpeth'" in msg and f"line {lineno}" in msg
    assert "valid keys: depth, dim" in msg


@pytest.mark.parametrize("table,key,value,expect", [
    ("train", "epochs", '"two"', "expected int"),
    ("train", "lr", "true", "expected float"),
    ("train", "schedule", '"cosin"', "'cosine' | 'linear' | 'constant'"),
    ("train", "betas", "[0.9]", "expected tuple"),
    ("model", "dim", "3.5", "expected int"),
])
def test_wrong_types(write_exp, table, key, value, expect):
    exp = write_exp()
    with pytest.raises(ConfigError, match=rf"\[{table}\] key '{key}'.*{expect}"):
        load_experiment(exp, [f"{table}.{key}={value}"])


def test_value_constraint_names_table(write_exp):
    with pytest.raises(ConfigError, match=r"\[train\].*batch_size must be >= 1"):
        load_experiment(write_exp(), ["train.batch_size=0"])


def test_unknown_plugin_kind_lists_available(write_exp):
    with pytest.raises(ConfigError, match=r"\[task\] key 'kind'.*unknown pianox.tasks plugin 'nope'; available: .*dummy"):
        load_experiment(write_exp(), ["task.kind=nope"])


def test_missing_kind(write_exp):
    with pytest.raises(ConfigError, match=r"\[task\].*needs kind"):
        experiment_from_dict({"source": {"kind": "dummy"}, "features": {"kind": "dummy"},
                              "model": {"kind": "dummy"}, "task": {"hidden": 3}})


def test_missing_required_stage():
    with pytest.raises(ConfigError, match=r"missing table \[model\]"):
        experiment_from_dict({"source": {"kind": "dummy"}, "features": {"kind": "dummy"}, "task": {"kind": "dummy"}})


def test_env_interpolation(write_exp, monkeypatch):
    text = "[run]\noutput_dir = \"${{PIANOX_TEST_OUT}}/x\"\nname = \"${{PIANOX_UNSET_VAR:-fallback}}\"\n"
    base = open(write_exp()).read().split("[source]", 1)[1]
    path = write_exp(text + "[source]" + base.replace("{", "{{").replace("}", "}}"))
    monkeypatch.setenv("PIANOX_TEST_OUT", "/tmp/somewhere")
    monkeypatch.delenv("PIANOX_UNSET_VAR", raising=False)
    exp = load_experiment(path)
    assert exp.run.output_dir == "/tmp/somewhere/x" and exp.run.name == "fallback"
    monkeypatch.delenv("PIANOX_TEST_OUT")
    with pytest.raises(ConfigError, match=r"\[run\] key 'output_dir' \(line 2\).*PIANOX_TEST_OUT.*not set"):
        load_experiment(path)


def test_overrides_are_typed_and_land(write_exp):
    exp = load_experiment(write_exp(), ["train.lr=0.5", "model.dim=8", "run.name=other", "train.betas=[0.8, 0.9]"])
    assert exp.train.lr == 0.5 and isinstance(exp.train.lr, float)
    assert exp.stages["model"].config.dim == 8 and exp.run.name == "other"
    assert exp.train.betas == (0.8, 0.9)
    saved = tomllib.loads(exp.dumps())
    assert saved["train"]["lr"] == 0.5 and saved["model"]["dim"] == 8


def test_override_of_unknown_key_is_an_error(write_exp):
    with pytest.raises(ConfigError, match=r"\[model\] key 'dimm' \(from --set model.dimm=3\): unknown key"):
        load_experiment(write_exp(), ["model.dimm=3"])
    with pytest.raises(ConfigError, match="expected table.key=value"):
        parse_override("model.dim")


def test_parse_override_bare_words_are_strings():
    assert parse_override("source.root=/data/maestro") == (["source", "root"], "/data/maestro")
    assert parse_override("train.epochs=3") == (["train", "epochs"], 3)


def test_hash_ignores_run_placement_and_backend(write_exp):
    base = load_experiment(write_exp())
    same = load_experiment(write_exp(), ["run.output_dir=/elsewhere", "backend.kind=auto",
                                         "train.num_workers=2", "train.log_every=5"])
    assert base.hash() == same.hash() and len(base.hash()) == 8
    assert load_experiment(write_exp(), ["train.lr=0.1"]).hash() != base.hash()
    assert load_experiment(write_exp(), ["run.seed=4"]).hash() != base.hash()


def test_resolved_config_round_trips(write_exp, tmp_path):
    exp = load_experiment(write_exp(), ["train.lr=0.25"])
    path = tmp_path / "resolved.toml"
    path.write_text(exp.dumps())
    again = load_experiment(path)
    assert again.table() == exp.table() and again.hash() == exp.hash()


def test_key_lines_maps_tables_and_keys():
    lines = key_lines("[run]\nseed = 1\n\n[train.augment]\nnoise = 0.1\n")
    assert lines == {"run": 1, "run.seed": 2, "train.augment": 4, "train.augment.noise": 5}
