"""Every collected test keeps a node id of its own, so that pytest-xdist runs each one.

xdist's workers report what they collected by node id, and its file and group schedulers
(`--dist loadfile`, `loadgroup`) queue tests by that id: two tests with one id run once.
schemathesis 4.32 names its items `test_fuzz_schema[GET /health]`, but pytest 9.2 builds a
Function's id from `originalname` and the callspec, which schemathesis does not pass, so all
eleven operations shared the id `test_fuzz_schema`, and `--dist loadfile` ran one of them.
"""

from __future__ import annotations

from collections import Counter

import pytest


def _repair(item: pytest.Item) -> None:
    """Give back an item the `[...]` its name carries and its id lost."""
    original = getattr(item, "originalname", None)
    if not isinstance(item, pytest.Function) or not original or item.name == original:
        return
    suffix = item.name[len(original) :]
    lost = item.nodeid == f"{item.parent.nodeid}::{original}"
    if lost and suffix.startswith("[") and suffix.endswith("]"):
        # pytest 9.2 keeps the id as a NodeId in `_id` (Node.nodeid is str(self._id)).
        item._id = item._id.with_params(suffix[1:-1])  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _repair(item)
    shared = [nodeid for nodeid, count in Counter(i.nodeid for i in items).items() if count > 1]
    if shared:
        raise pytest.UsageError(
            "tests that share a node id run once under pytest-xdist: " + ", ".join(shared)
        )
