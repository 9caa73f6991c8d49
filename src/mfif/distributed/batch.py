"""``mfif batch --engine dask``: each item of a batch folder is one Dask task.

The driver (the ``mfif batch`` process) finds the items exactly as the local engine does, skips the
finished ones (resume) and refuses outputs that are inputs; every remaining item becomes one task,
submitted to an existing cluster (``--scheduler``) or to an embedded ``LocalCluster`` (``--jobs``).
A worker fuses its item with the same function as the local engine
(:func:`mfif.cli.fuse.run_fusion`, handed in by the CLI), so outputs are bit-identical, into a private hidden folder beside
the output (``.mfif-dask-<run>/``) on the shared file system, then renames the files into place —
maps first, the fused image last, so an existing fused image always means a finished item. A task
that ends with an error reports it as the local engine does (the item fails alone); a worker that
dies mid-item has its task re-run elsewhere by the scheduler (a finished item is recognised by its
marker and not redone); the run folders are removed at the end, so a run never leaves partial files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

from mfif.errors import MfifError

#: Prefix of the per-run hidden work folders (beside the outputs, removed at the end of a run).
WORK_PREFIX = ".mfif-dask-"


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The ``--engine``/``--scheduler``/``--jobs``/``--connect-timeout`` options of ``mfif batch``."""
    g = p.add_argument_group("engine (optional extra mfif[dask]; docs/dask.md)")
    g.add_argument("--engine", default="local", choices=["local", "dask"],
                   help="local: items one after another in this process (default); dask: each item a Dask task")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="--engine dask: address of a running Dask scheduler (tcp://host:8786); default: an "
                        "embedded LocalCluster on this machine")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="--engine dask without --scheduler: worker processes (default: this machine's cores)")
    g.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                   help="--engine dask: seconds to wait for --scheduler (default 10)")


def check_engine_options(args: argparse.Namespace) -> None:
    """Raise :class:`MfifError` for engine options that do not fit together."""
    engine = getattr(args, "engine", "local")
    if engine != "dask":
        for flag, val in (("--scheduler", args.scheduler), ("--jobs", args.jobs),
                          ("--connect-timeout", args.connect_timeout)):
            if val is not None:
                raise MfifError(f"{flag} applies to --engine dask")
        return
    if args.scheduler is not None and args.jobs is not None:
        raise MfifError("--jobs sizes the embedded cluster; with --scheduler the cluster's workers decide")
    if args.jobs is not None and args.jobs < 1:
        raise MfifError(f"--jobs {args.jobs}: must be >= 1")
    if args.connect_timeout is not None and args.connect_timeout <= 0:
        raise MfifError(f"--connect-timeout {args.connect_timeout}: must be > 0")


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def fuse_item(
    sources: list[str],
    out: str,
    args: argparse.Namespace,
    *,
    fuse_one: Callable[..., Any],
    work: str,
    slot: str,
    maps: bool,
    depth_maps: bool,
) -> tuple[str, str]:
    """Fuse one item on a worker and move its outputs into place atomically.

    Args:
        sources: Absolute source paths, in order.
        out: Absolute final output path (``OUT/rel/NAME.ext``).
        args: The parsed ``mfif batch`` options (fusion options; no callables).
        fuse_one: The local engine's item function, ``fuse_one(sources, out, args, map_path=, depth_path=)``
            (:func:`mfif.cli.fuse.run_fusion`; pickled by reference, so workers import it themselves).
        work: This run's hidden work folder beside ``out``.
        slot: This item's name inside ``work`` (unique in the run).
        maps, depth_maps: Also write ``NAME_map.png`` / ``NAME_depth.png`` beside ``out``.

    Returns:
        ``("fused", "")``, ``("done-before", "")`` when an earlier attempt of this task finished it, or
        ``("failed", message)`` with the local engine's message.
    """
    out_p, work_p = Path(out), Path(work)
    marker = work_p / f"{slot}.done"
    if marker.exists():
        return "done-before", ""
    tmp = work_p / slot
    stem = out_p.with_suffix("")
    finals = {"out": out_p}
    if maps:
        finals["map"] = Path(f"{stem}_map.png")
    if depth_maps:
        finals["depth"] = Path(f"{stem}_depth.png")
    temps = {k: tmp / p.name for k, p in finals.items()}
    try:
        if tmp.exists():  # a killed earlier attempt
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            fuse_one([Path(s) for s in sources], temps["out"], args, map_path=temps.get("map"),
                     depth_path=temps.get("depth"))
        for k in ("map", "depth", "out"):  # the fused image last: it marks the item as done
            if k in temps:
                os.replace(temps[k], finals[k])
        marker.touch()
        return "fused", ""
    except MfifError as exc:
        return "failed", str(exc).replace(str(tmp), str(out_p.parent))
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        return "failed", _first_line(exc).replace(str(tmp), str(out_p.parent))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _worker_args(args: argparse.Namespace) -> argparse.Namespace:
    """The options a worker needs: everything parsed except callables."""
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if not callable(v)})


def run_items(
    seen: dict[Path, Any],
    all_inputs: set[Path],
    args: argparse.Namespace,
    *,
    fuse_one: Callable[..., Any],
    kwargs: dict[str, Any],
) -> tuple[int, int, list]:
    """Run the items of ``mfif batch`` on Dask.

    Args:
        seen: Output path → item (``mfif.cli.batch.Item``), in item order.
        all_inputs: Resolved paths of every input file (outputs must not be one of them).
        args: Parsed ``mfif batch`` options (``engine``, ``scheduler``, ``jobs``, ``connect_timeout``, ...).
        fuse_one: The local engine's item function (:func:`mfif.cli.fuse.run_fusion`), run by the workers.
        kwargs: The run's :func:`mfif.api.fuse` options (the worker plugin loads their model).

    Returns:
        ``(done, skipped, failed)`` as the local engine counts them; ``failed`` is a list of
        ``(item, message)`` in item order.

    Raises:
        MfifError: engine options that do not fit, dask missing, or the scheduler unreachable.
    """
    check_engine_options(args)
    from tqdm import tqdm

    from mfif.distributed.cluster import DEFAULT_CONNECT_TIMEOUT, cpu_count, make_model_plugin, open_client

    skipped = 0
    failed: dict[int, tuple[Any, str]] = {}
    todo: list[tuple[int, Path, Any]] = []
    for i, (out, it) in enumerate(seen.items()):
        if out.resolve() in all_inputs:
            failed[i] = (it, f"{out}: output path is an input file; refusing to overwrite it")
        elif out.exists() and not args.overwrite:
            skipped += 1
        else:
            todo.append((i, out, it))
    stale = 0  # work folders of an interrupted run (one batch per OUT_DIR at a time, as the local engine)
    for parent in {out.parent for out in seen}:
        for w in parent.glob(f"{WORK_PREFIX}*") if parent.is_dir() else ():
            if w.is_dir():
                shutil.rmtree(w, ignore_errors=True)
                stale += 1
    if stale:
        print(f"mfif: note: removed {stale} work folder(s) of an interrupted Dask run", file=sys.stderr)
    done = 0
    if todo:
        run = uuid.uuid4().hex[:12]
        works: set[Path] = set()
        wargs = _worker_args(args)
        embedded = args.scheduler is None
        jobs = args.jobs if args.jobs is not None else cpu_count()
        threads = max(1, cpu_count() // jobs) if embedded else None
        timeout = DEFAULT_CONNECT_TIMEOUT if args.connect_timeout is None else args.connect_timeout
        try:
            with open_client(scheduler=args.scheduler, jobs=jobs if embedded else None, connect_timeout=timeout) as client:
                from distributed import as_completed

                # no --method: pairs and stacks may get different defaults (mfif-stack for N > 2); warm both
                plugin_kwargs = {**kwargs, "method": getattr(args, "method", None)}
                client.register_plugin(make_model_plugin(plugin_kwargs, torch_threads=threads))
                futs = {}
                for i, out, it in todo:
                    out_abs = out.resolve()
                    out_abs.parent.mkdir(parents=True, exist_ok=True)
                    work = out_abs.parent / f"{WORK_PREFIX}{run}"
                    work.mkdir(exist_ok=True)
                    works.add(work)
                    f = client.submit(fuse_item, [str(Path(s).resolve()) for s in it.sources], str(out_abs), wargs,
                                      fuse_one=fuse_one, work=str(work), slot=f"{i}", maps=bool(args.maps), depth_maps=bool(args.depth_maps),
                                      pure=False, key=f"mfif-batch-{run}-{i}")
                    futs[f] = (i, it)
                bar = tqdm(total=len(futs), desc="mfif batch (dask)", unit="item", file=sys.stderr,
                           disable=args.no_progress)
                for f in as_completed(list(futs), loop=client.loop):
                    i, it = futs[f]
                    try:
                        status, msg = f.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the item fails alone
                        status, msg = "failed", _first_line(exc)
                    if status == "failed":
                        for s in it.sources:  # name the sources as given, as the local engine does
                            msg = msg.replace(str(Path(s).resolve()), str(s))
                        failed[i] = (it, msg)
                        tqdm.write(f"mfif: error: {it.name}: {msg}", file=sys.stderr)
                    else:
                        done += 1
                    bar.update(1)
                bar.close()
        finally:
            for w in works:
                shutil.rmtree(w, ignore_errors=True)
    return done, skipped, [failed[i] for i in sorted(failed)]
