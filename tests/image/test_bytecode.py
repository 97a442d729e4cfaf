"""Nothing is compiled from source at cold start: stdlib, dependencies and app alike."""

from __future__ import annotations

import re

import pytest

from tests.image.support import FIGURES, BuiltImage

pytestmark = pytest.mark.image

# `python -v` says "code object from '.../x.py'" for each module compiled from source
# (".../x.pyc" when read from a cache file) and "bytecode is stale" before recompiling.
FROM_SOURCE = re.compile(r"code object from '[^']*\.py'|bytecode is stale")


def test_importing_the_handler_compiles_nothing(image: BuiltImage) -> None:
    # Settings are read at import: a database URL on the tmpfs, as Lambda's /tmp.
    out = image.run_python(
        "import handler", "-v", env={"DATABASE_URL": "sqlite:////tmp/portfolio.db"}
    )
    compiled = [line for line in out.splitlines() if FROM_SOURCE.search(line)]
    cached = sum("code object from" in line for line in out.splitlines())
    FIGURES["modules compiled from source at import (python -v)"] = len(compiled)
    FIGURES["modules loaded from .pyc at import"] = cached
    assert "Traceback" not in out, out[-3000:]
    assert cached > 100  # the handler really was imported
    assert compiled == []
