"""`pianox data check SOURCE ROOT`: list every problem of a corpus on disk without failing.

A source supports checking by having a classmethod `problems(root, full=False) -> list[str]`
(one line per problem, naming the file or key). The built-in readers and their twins have it.
"""

from __future__ import annotations

import os

from ..errors import DataError


def check_corpus(source: str, root: str | os.PathLike, full: bool = False) -> list[str]:
    """Problems of the corpus at `root` read as `source` (a registered source name).

    Returns an empty list for a clean corpus. Raises `PluginError` for an unknown source and
    `DataError` for a source that cannot check corpora; bad data never raises.
    """
    from .. import registry

    cls = registry.load("source", source)
    check = getattr(cls, "problems", None)
    if not callable(check):
        raise DataError(f"source {source!r} ({cls.__module__}.{cls.__qualname__}) cannot check "
                        f"a corpus: it has no problems(root) classmethod")
    return list(check(root, full=full))
