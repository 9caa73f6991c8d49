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
        from mfif.distributed.cluster import _warm_up

        if self.threads:
            import torch

            torch.set_num_threads(int(self.threads))
        _warm_up(self.kwargs)
