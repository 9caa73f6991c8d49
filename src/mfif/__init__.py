"""mfif: multi-focus image fusion.

Quick start::

    import mfif
    result = mfif.fuse([a, b])          # a, b: float32 H x W x 3 in [0, 1]
    result.fused, result.decision_map

Heavy modules (torch, the methods) are imported lazily so ``mfif --version`` stays fast.
"""

from __future__ import annotations

import os as _os
from typing import Any

# OpenMP threads that sleep while they wait instead of spinning: when another process shares the CPU
# (batch and Dask workers, a second job), spinning threads fight it for the cores and the learned
# methods slow down several-fold (benchmarks/contention.py, docs/speed.md). libgomp reads this once,
# when torch is first imported, so it only takes effect when mfif is imported before torch; a value
# set by the user wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.4.4"

__all__ = ["__version__", "fuse", "load_model", "list_methods", "FusionResult", "MfifError"]


def __getattr__(name: str) -> Any:
    if name in ("fuse", "load_model"):
        from mfif import api

        return getattr(api, name)
    if name == "list_methods":
        from mfif.registry import list_methods

        return list_methods
    if name == "FusionResult":
        from mfif.registry import FusionResult

        return FusionResult
    if name == "MfifError":
        from mfif.errors import MfifError

        return MfifError
    raise AttributeError(f"module 'mfif' has no attribute {name!r}")
