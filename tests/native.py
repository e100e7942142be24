"""The compiled core for tests that compare it with the reference.

Without `pianox._core` such tests skip — unless PIANOX_REQUIRE_CORE is set (.ci/run sets it),
when a missing or broken build fails the run instead of letting the reference be compared with
itself through the fallback."""

from __future__ import annotations

import os

import pytest


def require_core():
    """The `pianox._core` module; skip (or fail under PIANOX_REQUIRE_CORE) when it cannot load."""
    try:
        from pianox import _core
    except ImportError as exc:
        message = f"the compiled core pianox._core does not import: {exc}"
        if os.environ.get("PIANOX_REQUIRE_CORE"):
            pytest.fail(message + " (PIANOX_REQUIRE_CORE is set)", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return _core
