"""The worker plugin (imports ``distributed``; loaded only when a Dask engine runs)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin


class ModelPlugin(WorkerPlugin):
    """Loads the fusion model when a worker starts (and on workers that join or restart later).

    Args:
        kwargs: Keyword options of :func:`mfif.api.fuse` (``method``, ``weights``, ``device``, ...).
        threads: ``torch.set_num_threads`` on the worker; None = leave the worker's setting.
    """

    name = "mfif-model"

    def __init__(self, kwargs: dict[str, Any], threads: int | None = None) -> None:
        self.kwargs = dict(kwargs)
        self.threads = threads

    def setup(self, worker: Any) -> None:
        if self.threads:
            import torch

            torch.set_num_threads(int(self.threads))
        _warm_up(self.kwargs)


def _warm_up(fusion_kwargs: dict[str, Any]) -> None:
    """Fuse a tiny seeded pair and a 3-frame stack with ``fusion_kwargs`` so that the method's model is loaded
    and cached (with ``method`` None: the default of pairs and the default of stacks)."""
    import warnings

    import numpy as np

    from mfif.api import fuse

    rng = np.random.default_rng(0)
    a = rng.random((32, 32), dtype=np.float32)
    b = rng.random((32, 32), dtype=np.float32)
    kw = {k: v for k, v in fusion_kwargs.items() if k not in ("align", "tile", "tile_overlap", "stack_strategy")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fuse([a, b], **kw)
            fuse([a, b, (a + b) / 2], **kw)
    except Exception:  # noqa: BLE001 - best effort: an item's own error is reported with the item
        pass
