"""Set-up shared by the benchmarks."""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "evalharness"


def precompile() -> None:
    """Write evalharness's bytecode before timing it, as installing a wheel does. In an editable
    checkout under PYTHONDONTWRITEBYTECODE=1 (set on this machine) every process would otherwise
    compile the package from source: about 0.1 s per process that no installed copy pays."""
    compileall.compile_dir(str(PACKAGE), quiet=1, force=False)
