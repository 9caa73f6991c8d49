"""Dask clients for mfif: an existing cluster (``--scheduler``) or an embedded ``LocalCluster``.

Workers run one task at a time (``threads_per_worker=1``); learned methods use the worker's torch
threads for the network, so an embedded cluster of ``jobs`` workers gives each ``cores // jobs`` torch
threads. :class:`ModelPlugin` loads the fusion model once per worker (the weights then sit in the
process-wide cache of :func:`mfif.fusion.methods.get_generator`), before the first item arrives.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator

from mfif.distributed import require_dask
from mfif.errors import MfifError

#: Seconds to wait for a ``--scheduler`` before giving up with one error line.
DEFAULT_CONNECT_TIMEOUT = 10.0


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def make_model_plugin(fusion_kwargs: dict[str, Any], *, torch_threads: int | None = None) -> Any:
    """A ``distributed`` worker plugin that loads the model of ``fusion_kwargs`` once per worker.

    Args:
        fusion_kwargs: Keyword options of :func:`mfif.api.fuse` (``method``, ``weights``, ``device``, ...).
        torch_threads: ``torch.set_num_threads`` on each worker; None = leave the worker's setting.

    Returns:
        A :class:`distributed.WorkerPlugin` instance (named ``mfif-model``; registering it again replaces it).
    """
    from mfif.distributed._plugin import ModelPlugin

    return ModelPlugin(fusion_kwargs, torch_threads)


@contextlib.contextmanager
def open_client(
    *,
    scheduler: str | None = None,
    jobs: int | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    what: str = "--engine dask",
) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``scheduler``, or to an embedded ``LocalCluster``.

    Args:
        scheduler: Scheduler address (``tcp://host:8786``); None = start a ``LocalCluster`` of ``jobs``
            worker processes with one task slot each (one worker: a thread of this process), closed
            on exit.
        jobs: Worker processes of the embedded cluster; None = this machine's cores.
        connect_timeout: Seconds to wait for ``scheduler``.
        what: The option named in error messages.

    Yields:
        The client (closed on exit).

    Raises:
        MfifError: dask missing, the scheduler unreachable, or ``jobs`` < 1.
    """
    require_dask(what)
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{float(connect_timeout)}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MfifError(f"--scheduler {scheduler}: cannot reach the Dask scheduler within "
                            f"{connect_timeout:g} s ({msg})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = cpu_count() if jobs is None else int(jobs)
    if n < 1:
        raise MfifError(f"--jobs {jobs}: must be >= 1")
    # one worker: a thread of this process (no second interpreter importing torch and the model);
    # several: one process each, so that a crash or a leak stays with its worker
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=n > 1, dashboard_address=None,
                           silence_logs=logging.ERROR)
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
