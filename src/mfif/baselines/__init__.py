"""Classical multi-focus fusion baselines, registered in :mod:`mfif.registry`.

Every public module of this package (names not starting with ``_``) is imported here, so a new
baseline module registers itself just by being added to the folder. Shared helpers live in
:mod:`mfif.baselines._common`. See docs/baselines.md for the algorithms, parity and speed.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__: list[str] = []

for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):
        continue
    importlib.import_module(f"{__name__}.{_info.name}")
    __all__.append(_info.name)
