"""The test session is hermetic: caches point into a temp folder (finding 8 of the evaluation
issue: tests rendered twins into the real ~/.cache/pianox)."""

from __future__ import annotations

import os
from pathlib import Path

from pianox.train.cache import cache_root as features_cache
from pianox_synth.scores import cache_dir as score_cache
from pianox_synth.sources import cache_root as twin_cache


def test_caches_point_into_the_session_temp_folder(hermetic_cache):
    home_cache = Path(os.path.expanduser("~")) / ".cache"
    for path in (features_cache(), score_cache(), twin_cache()):
        assert path.is_relative_to(hermetic_cache), path
        assert not path.is_relative_to(home_cache), path
