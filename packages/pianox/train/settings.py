"""[run], [train] and [eval] live in `pianox.settings` (reading an experiment must not import
the training package); this name keeps older imports working."""

from ..settings import EvalConfig, RunConfig, TrainConfig

__all__ = ["EvalConfig", "RunConfig", "TrainConfig"]
