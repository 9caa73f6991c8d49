"""Run methods on dataset pairs, keep lossless outputs, score them, time them; resumable.

Layout under ``out``::

    outputs/<dataset>/<method>/<pair>.png        fused image (lossless, input bit depth)
    outputs/<dataset>/<method>/<pair>_map.png    decision map (1 = A), when the method has one
    scores.csv                                   one row per scored fused image (tidy, see SCORE_FIELDS)
    runs.csv                                     one row per fusion run: seconds, device

A second run with the same ``out`` skips fusions whose PNG exists and score rows already present,
so an interrupted bench resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from mfif.bench.formats import jpeg_roundtrip, jpeg_settings
from mfif.bench.pairs import Dataset, Pair, Published
from mfif.errors import MfifError
from mfif.io import write_atomic

__all__ = [
    "BenchConfig",
    "SCORE_FIELDS",
    "RUN_FIELDS",
    "run_bench",
    "read_csv",
    "write_csv",
    "cpu_name",
    "device_label",
    "output_path",
]

# format: "png" (ours, lossless), "jpeg-matched" (ours re-encoded like the published JPEG),
# "as-delivered" (a published file as it is).
SCORE_KEY = ("dataset", "pair", "method", "format")
SCORE_HEAD = ["dataset", "pair", "method", "source", "group", "format", "k", "file"]
RUN_FIELDS = ["dataset", "pair", "method", "seconds", "device", "height", "width", "channels"]


def _metric_names() -> tuple[str, ...]:
    from mfif.metrics import METRIC_NAMES

    return tuple(METRIC_NAMES)


SCORE_FIELDS = SCORE_HEAD + list(_metric_names())


@dataclass
class BenchConfig:
    """What to run.

    Attributes:
        datasets: Datasets with their pairs.
        methods: Registry names to run.
        out: Output folder.
        published: Published outputs to score as methods.
        format_match: Also score ours JPEG re-encoded like the published files.
        metrics: Metric names (default all twelve).
        device: ``auto``, ``cpu`` or ``cuda`` for learned methods.
        weights: Per-method weights path.
        options: Per-method fusion options.
        warmup: Run each method once on a small crop before timing (loads weights, warms caches).
        progress: Show tqdm progress bars.
        limit: Use at most this many pairs per dataset (quick runs).
        pairs: Only these pair ids (None = all).
        jobs: Processes for scoring the published outputs (after our methods ran, so the timings are
            not disturbed).
    """

    datasets: list[Dataset]
    methods: list[str]
    out: Path
    published: list[Published] = field(default_factory=list)
    format_match: bool = True
    metrics: Sequence[str] | None = None
    device: str = "auto"
    weights: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    warmup: bool = True
    progress: bool = True
    limit: int | None = None
    pairs: Sequence[str] | None = None
    jobs: int = 1

    def selected(self, ds: Dataset) -> list[Pair]:
        """The pairs of ``ds`` this run uses (``pairs`` filter, then ``limit``)."""
        ps = [p for p in ds.pairs if self.pairs is None or p.pair_id in self.pairs]
        return ps[: self.limit] if self.limit else ps


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts (empty list if it does not exist)."""
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], fields: Sequence[str]) -> None:
    """Write rows atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(v) for k, v in r.items()})
    write_atomic(path, buf.getvalue())


def _cell(v: object) -> object:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return "" if v is None else v


def cpu_name() -> str:
    """CPU model and thread count, e.g. ``AMD EPYC 7B13 (2 threads)``."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    try:
        import torch

        threads = torch.get_num_threads()
    except Exception:  # pragma: no cover
        threads = os.cpu_count() or 1
    return f"{name} ({threads} threads)"


def device_label(method: str, device: str) -> str:
    """Where ``method`` runs: ``GPU: <name>`` for learned methods on CUDA, else ``CPU: <name>``."""
    from mfif.registry import get_method

    if get_method(method).needs_weights and device != "cpu":
        try:
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)}"
        except Exception:  # pragma: no cover
            pass
    return f"CPU: {cpu_name()}"


def output_path(out: Path, dataset: str, method: str, pair: str, *, kind: str = "") -> Path:
    """Where the bench keeps a fused output (``kind="map"`` for the decision map)."""
    safe = method.replace("/", "_").replace(":", "_")
    return Path(out) / "outputs" / dataset / safe / (f"{pair}_{kind}.png" if kind else f"{pair}.png")


def _fuse(method: str, a: np.ndarray, b: np.ndarray, cfg: BenchConfig):  # noqa: ANN202
    from mfif.api import fuse
    from mfif.registry import get_method

    opts = dict(cfg.options.get(method, {}))
    if get_method(method).accepts("device"):
        opts.setdefault("device", cfg.device)
        if method in cfg.weights:
            opts["weights"] = cfg.weights[method]
    return fuse([a, b], method=method, **opts)


class _Store:
    """Score and run rows keyed for resume, saved atomically."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.scores = {tuple(r[k] for k in SCORE_KEY): r for r in read_csv(out / "scores.csv")}
        self.runs = {(r["dataset"], r["pair"], r["method"]): r for r in read_csv(out / "runs.csv")}
        self.dirty = False

    def has(self, key: tuple[str, ...]) -> bool:
        return key in self.scores

    def add_score(self, row: dict[str, object]) -> None:
        self.scores[tuple(str(row[k]) for k in SCORE_KEY)] = row
        self.dirty = True

    def add_run(self, row: dict[str, object]) -> None:
        self.runs[(str(row["dataset"]), str(row["pair"]), str(row["method"]))] = row
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        write_csv(self.out / "scores.csv", self.scores.values(), SCORE_FIELDS)
        write_csv(self.out / "runs.csv", self.runs.values(), RUN_FIELDS)
        self.dirty = False


def _score(a: np.ndarray, b: np.ndarray, f: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    from mfif.metrics import evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN metrics are recorded as NaN in the CSV
        return evaluate(a, b, f, metrics=list(metrics))


def _progress(total: int, desc: str, enabled: bool):  # noqa: ANN202
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    if tqdm is None or not enabled:
        class _Null:
            def update(self, n: int = 1) -> None: ...
            def set_postfix_str(self, s: str) -> None: ...
            def close(self) -> None: ...
        return _Null()
    return tqdm(total=total, desc=desc, unit="task", leave=False)


def run_bench(cfg: BenchConfig) -> dict[str, list[dict[str, object]]]:
    """Run, score and time every method on every pair; score the published outputs.

    Args:
        cfg: What to run (see :class:`BenchConfig`).

    Returns:
        ``{"scores": [...], "runs": [...], "skipped": [...], "failed": [...]}``: all rows (old and
        new); one ``{"dataset", "pair", "method", "reason"}`` entry per published file that could not
        be scored (``skipped``) and per failed fusion (``failed``; a method that fails on its first
        pair is dropped for the rest of the run, e.g. a learned method without weights).

    Raises:
        MfifError: an unknown method name.
    """
    from mfif.io import read_image, save_map, write_image
    from mfif.registry import get_method

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = list(cfg.metrics or _metric_names())
    for m in cfg.methods:
        get_method(m)  # fail early on a typo
    store = _Store(out)
    skipped: list[dict[str, object]] = []
    failed: list[dict[str, object]] = []
    warmed: set[str] = set()
    worked: set[str] = set()
    disabled: set[str] = set()
    try:
        for ds in cfg.datasets:
            pairs = cfg.selected(ds)
            pubs = [p for p in cfg.published if p.datasets is None or ds.name in p.datasets]
            main_pubs = [p for p in pubs if p.group == "main"]
            total = len(pairs) * (len(cfg.methods) + len(pubs))
            bar = _progress(total, f"bench {ds.name}", cfg.progress)
            for pair in pairs:
                a, info_a = read_image(pair.a)
                b, _ = read_image(pair.b)
                if a.shape != b.shape:
                    from mfif.io import harmonize

                    (a, b), _ = harmonize([a, b], [str(pair.a), str(pair.b)])
                ref_jpeg = next((f for f in (p.find(pair) for p in main_pubs) if f is not None), None)
                for method in cfg.methods:
                    bar.set_postfix_str(f"{pair.pair_id} {method}")
                    if method in disabled:
                        bar.update()
                        continue
                    try:
                        _run_one(cfg, store, ds, pair, method, a, b, info_a.bit_depth, ref_jpeg, metrics, warmed,
                                 read_image, write_image, save_map)
                        worked.add(method)
                    except Exception as exc:  # noqa: BLE001 - one failing method must not stop the bench
                        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
                        failed.append({"dataset": ds.name, "pair": pair.pair_id, "method": method,
                                       "reason": f"{type(exc).__name__}: {msg}"})
                        if method not in worked:  # fails from the start (e.g. no weights): drop it
                            disabled.add(method)
                        warnings.warn(f"bench: {method} failed on {ds.name}/{pair.pair_id}: {msg}", stacklevel=2)
                    bar.update()
                store.save()
            # published outputs: scored after ours (so their timings are not disturbed), optionally in parallel
            tasks = []
            for pair in pairs:
                for pub in pubs:
                    f = None if store.has((ds.name, pair.pair_id, pub.name, "as-delivered")) else pub.find(pair)
                    if f is None:
                        bar.update()
                    else:
                        tasks.append((pair, pub, f))
            for i, ((pair, pub, f), (status, val)) in enumerate(
                zip(tasks, _map(_score_file, [(str(p.a), str(p.b), str(f), metrics) for p, _, f in tasks], cfg.jobs))
            ):
                bar.set_postfix_str(f"{pair.pair_id} {pub.name}")
                if status == "skip":
                    skipped.append({"dataset": ds.name, "pair": pair.pair_id, "method": pub.name, "reason": val})
                else:
                    store.add_score({"dataset": ds.name, "pair": pair.pair_id, "method": pub.name, "source": "published",
                                     "group": pub.group, "format": "as-delivered", "k": "" if pub.k is None else pub.k,
                                     "file": str(f), **val})
                bar.update()
                if i % 50 == 49:
                    store.save()
            store.save()
            bar.close()
    finally:
        store.save()
    return {"scores": list(store.scores.values()), "runs": list(store.runs.values()), "skipped": skipped,
            "failed": failed}


def _run_one(cfg, store, ds, pair, method, a, b, bit_depth, ref_jpeg, metrics, warmed,  # noqa: ANN001, ANN202
             read_image, write_image, save_map):
    png = output_path(cfg.out, ds.name, method, pair.pair_id)
    if not png.is_file():
        if cfg.warmup and method not in warmed:
            h, w = a.shape[:2]
            s = min(h, w, 96)
            _fuse(method, a[:s, :s], b[:s, :s], cfg)
        warmed.add(method)
        t0 = time.perf_counter()
        res = _fuse(method, a, b, cfg)
        seconds = time.perf_counter() - t0
        png.parent.mkdir(parents=True, exist_ok=True)
        if res.decision_map is not None:
            save_map(output_path(cfg.out, ds.name, method, pair.pair_id, kind="map"), res.decision_map)
        write_image(png, res.fused, bit_depth=16 if bit_depth == 16 else 8)
        h, w = a.shape[:2]
        store.add_run({"dataset": ds.name, "pair": pair.pair_id, "method": method, "seconds": seconds,
                       "device": device_label(method, cfg.device), "height": h, "width": w,
                       "channels": 1 if a.ndim == 2 else 3})
    fused = None
    common = {"dataset": ds.name, "pair": pair.pair_id, "method": method, "source": "ours", "group": "main", "k": ""}
    if not store.has((ds.name, pair.pair_id, method, "png")):
        fused, _ = read_image(png)
        store.add_score({**common, "format": "png", "file": str(png), **_score(a, b, fused, metrics)})
    if cfg.format_match and not store.has((ds.name, pair.pair_id, method, "jpeg-matched")):
        if fused is None:
            fused, _ = read_image(png)
        settings = jpeg_settings(ref_jpeg)
        fj = jpeg_roundtrip(fused, settings=settings)
        note = f"like {ref_jpeg}" if ref_jpeg else "quality=75 4:2:0"
        store.add_score({**common, "format": "jpeg-matched", "file": note, **_score(a, b, fj, metrics)})


def _score_file(task: tuple[str, str, str, list[str]]) -> tuple[str, object]:
    """Worker: score one published file against its sources -> ("ok", scores) or ("skip", reason)."""
    from mfif.io import harmonize, read_image

    pa, pb, pf, metrics = task
    a, _ = read_image(pa)
    b, _ = read_image(pb)
    if a.shape != b.shape:
        (a, b), _ = harmonize([a, b], [pa, pb])
    img, _ = read_image(pf)
    if img.shape[:2] != a.shape[:2]:
        return "skip", f"size {img.shape[1]}x{img.shape[0]} differs from the sources' {a.shape[1]}x{a.shape[0]}"
    return "ok", _score(a, b, img, metrics)


def _map(fn, tasks: list, jobs: int):  # noqa: ANN001, ANN202
    """``map`` in order, in ``jobs`` spawned processes when jobs > 1 (scoring only; never while timing)."""
    if jobs <= 1 or len(tasks) < 2:
        for t in tasks:
            yield fn(t)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
        yield from ex.map(fn, tasks, chunksize=2)
