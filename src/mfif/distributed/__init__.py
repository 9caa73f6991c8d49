"""Scale-out on Dask (optional extra ``mfif[dask]``): batch folders and large z-stacks.

* :mod:`mfif.distributed.cluster` — connecting to a Dask scheduler or starting an embedded
  ``LocalCluster``, and the worker plugin that loads the fusion model once per worker.
* :mod:`mfif.distributed.batch` — ``mfif batch --engine dask``: one Dask task per item, with the local
  engine's semantics (resume, per-item errors, report) and atomic outputs.
* :mod:`mfif.distributed.volume` — z-stacks stored as Zarr / OME-Zarr or (lazily read) TIFF fused with
  ``dask.array`` (chunks span all of z, tile y/x, ``map_overlap``) into an OME-Zarr fused plane plus
  depth map (``mfif volume``).

Nothing here imports Dask at module import time; :func:`require_dask` turns a missing extra into one
clear :class:`~mfif.errors.MfifError`.
"""

from __future__ import annotations

from mfif.errors import MfifError


def require_dask(what: str = "--engine dask") -> None:
    """Raise :class:`MfifError` naming the extra when dask.distributed or zarr is not installed."""
    try:
        import dask.array  # noqa: F401
        import distributed  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as exc:
        raise MfifError(f"{what} needs the optional extra: pip install 'mfif[dask]' ({exc.name} is missing)") from None
