"""``mfif bench stacks``: deep focal stacks with known truth (docs/stacking.md §Deep stacks: benchmark).

A seeded suite of synthetic sweeps (:func:`mfif.data.stacks.focal_stack`) is generated on the fly —
N frames (5, 12, 30 by default) × depth type (layers, tilted, smooth) × {clean, noise, breathing,
noise + breathing} × ``per_type`` repeats (the kernel alternates Gaussian / disk over repeats) — and
every method fuses every stack. Scores per stack and method:

* ``psnr`` / ``ssim``: fused image against the all-in-focus truth, whole image;
  ``psnr_edge`` / ``ssim_edge``: the same within ``band`` px (10) of a depth edge (a change of the
  true frame index);
* ``depth_acc``: share of pixels whose depth index is within ±1 frame of the true index (methods that
  return a depth map);
* ``halo``: on bright-background scenes (``layers``), 100 × the mean absolute low-pass (Gaussian σ
  2 px) difference of the fused and true luminance within the band — over- and undershoot, in % of
  full scale; lower is better;
* ``seconds`` and ``peak_mib`` (resident memory above the level before the call, sampled every 2 ms).

Each stack belongs to one of two seeded halves, ``select`` and ``report``: a choice (the learned
methods' default strategy) is made on ``select`` (:func:`choose_strategy`) and reported on ``report``.

Methods are registry names (``gff``), a learned method with a strategy (``mfif-gan-lite:vote``), or
``openfocus:ALGO`` (openfocus's Python API: ``stackmffv3``, ``stackmffv2``, ``guided_filter``,
``dct``, ``dtcwt``; skipped with a note when openfocus is not importable).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from mfif.data.stacks import DEPTH_TYPES, FocalStack, focal_stack
from mfif.errors import MfifError

#: Frame counts of the full suite.
SIZES = (5, 12, 30)
#: (noise, breathing) variants; noise σ scale 0.01, breathing 2 % over the sweep.
VARIANTS = ((False, False), (True, False), (False, True), (True, True))
NOISE = 0.01
BREATHING = 0.02
#: Classical N-frame methods run by default (the fast ones; ``all_classical`` adds the rest).
FAST_CLASSICAL = ("laplacian-argmax", "gff", "dwt", "lp")
#: openfocus methods compared (``openfocus:NAME``).
OPENFOCUS_METHODS = ("stackmffv3", "stackmffv2", "guided_filter", "dct", "dtcwt")
LEARNED_STRATEGIES = ("vote", "sequential")
FIELDS = ("case", "half", "n", "depth_type", "kernel", "noise", "breathing", "size", "method", "psnr", "ssim",
          "psnr_edge", "ssim_edge", "depth_acc", "halo", "seconds", "peak_mib")


@dataclass(frozen=True)
class StackCase:
    """One stack of the suite (its seed fixes everything)."""

    n: int
    depth_type: str
    noise: bool
    breathing: bool
    kernel: str
    seed: int
    size: int
    half: str

    @property
    def id(self) -> str:
        v = ("n" if self.noise else "") + ("b" if self.breathing else "") or "clean"
        return f"n{self.n}-{self.depth_type}-{v}-{self.kernel}-s{self.seed}"

    def build(self) -> FocalStack:
        return focal_stack(self.n, size=(self.size, self.size), depth_type=self.depth_type, kernel=self.kernel,
                           noise=NOISE if self.noise else 0.0, breathing=BREATHING if self.breathing else 0.0,
                           seed=self.seed)


def make_suite(
    ns: Sequence[int] = SIZES,
    *,
    size: int = 256,
    per_type: int = 1,
    types: Sequence[str] = DEPTH_TYPES,
    variants: Sequence[tuple[bool, bool]] = VARIANTS,
    seed: int = 0,
) -> list[StackCase]:
    """The seeded suite: ``ns`` × ``types`` × ``variants`` × ``per_type`` stacks.

    Within each (N, depth type) group a permutation seeded by ``seed`` puts the first half of the
    stacks in ``select`` and the rest in ``report``.
    """
    for t in types:
        if t not in DEPTH_TYPES:
            raise MfifError(f"--types: {t!r} is not one of {', '.join(DEPTH_TYPES)}")
    for n in ns:
        if n < 2:
            raise MfifError(f"--n: a stack needs at least two frames, got {n}")
    rng = np.random.default_rng(seed)
    cases: list[StackCase] = []
    for n in ns:
        for ti, t in enumerate(types):
            group = []
            for vi, (noise, breathing) in enumerate(variants):
                for r in range(per_type):
                    s = seed * 1_000_003 + n * 10_007 + DEPTH_TYPES.index(t) * 1009 + vi * 101 + r
                    group.append((noise, breathing, ("gaussian", "disk")[(r + vi) % 2], s))
            order = rng.permutation(len(group))
            n_sel = (len(group) + 1) // 2
            for rank, gi in enumerate(order):
                noise, breathing, kernel, s = group[gi]
                cases.append(StackCase(n, t, noise, breathing, kernel, int(s), size,
                                       "select" if rank < n_sel else "report"))
    return cases


# --------------------------------------------------------------------------------------- methods
def openfocus_note() -> str | None:
    """None when openfocus's Python API imports, else the one-line reason it is skipped."""
    try:
        from core.multi_focus_fusion import fuse_images  # noqa: F401  (openfocus's top-level package)
    except Exception as e:  # noqa: BLE001 - any import failure means "absent"
        return (f"openfocus not importable ({type(e).__name__}: {e}); its methods are skipped "
                "(pip install 'mfif[bench]', or under numpy 2: pip install --no-deps openfocus dtcwt six)")
    return None


def default_methods(*, all_classical: bool = False, openfocus: bool = True, learned: Sequence[str] = ("mfif-gan-lite",)
                    ) -> list[str]:
    """The default method list: ``mfif-stack``, learned pair models × {vote, sequential}, classical N-frame
    methods, openfocus."""
    from mfif.fusion.methods import has_weights
    from mfif.registry import list_methods

    from mfif.fusion.stack_native import NAME as STACK_NATIVE, has_stack_weights

    out = [STACK_NATIVE] if has_stack_weights() else []
    out += [f"{m}:{s}" for m in learned if has_weights(m) for s in LEARNED_STRATEGIES]
    infos = [m for m in list_methods() if not m.name.startswith("_") and not m.needs_weights and m.max_inputs is None]
    names = [m.name for m in infos]
    out += names if all_classical else [m for m in FAST_CLASSICAL if m in names]
    if openfocus:
        out += [f"openfocus:{a}" for a in OPENFOCUS_METHODS]
    return out


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class PeakRSS:
    """Context manager: ``peak_mib`` = highest resident memory above the level at entry (MiB)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_mib = 0.0

    def __enter__(self) -> "PeakRSS":
        self._base = _rss_bytes()
        self._peak = self._base
        self._stop = threading.Event()

        def watch() -> None:
            while not self._stop.is_set():
                self._peak = max(self._peak, _rss_bytes())
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mib = (self._peak - self._base) / 2**20


def _openfocus(algo: str, frames: list[np.ndarray]) -> np.ndarray:
    from core.multi_focus_fusion import fuse_images

    rgb = frames[0].ndim == 3
    src = [(f[..., ::-1] if rgb else f) * np.float32(255.0) for f in frames]  # BGR, float 0-255 (its working domain)
    import torch

    threads = torch.get_num_threads()
    try:
        out = np.asarray(fuse_images(src, algorithm=algo, use_gpu=False), np.float32)
    finally:  # openfocus's networks set torch's process-wide thread count; the next method gets it back
        torch.set_num_threads(threads)
    if out.ndim == 3 and rgb:
        out = out[..., ::-1]
    elif out.ndim == 3:
        out = out.mean(axis=2)
    scale = 255.0 if out.dtype != np.uint16 else 65535.0
    return np.clip(out / scale, 0.0, 1.0).astype(np.float32)


def run_method(spec: str, frames: list[np.ndarray], *, device: str = "cpu") -> tuple[np.ndarray, np.ndarray | None]:
    """Fuse ``frames`` with ``spec`` (``NAME``, ``NAME:STRATEGY`` or ``openfocus:ALGO``).

    Returns:
        ``(fused, depth)``: float32 image of the frames' shape, int32 H×W depth map or None.
    """
    name, _, arg = spec.partition(":")
    if name == "openfocus":
        if arg not in OPENFOCUS_METHODS:
            raise MfifError(f"--methods: openfocus:{arg} is not one of {', '.join(OPENFOCUS_METHODS)}")
        return _openfocus(arg, frames), None
    from mfif.api import fuse
    from mfif.registry import get_method

    info = get_method(name)
    opts: dict[str, Any] = {}
    if arg:
        if arg not in LEARNED_STRATEGIES:
            raise MfifError(f"--methods: {spec}: strategy must be one of {', '.join(LEARNED_STRATEGIES)}")
        opts["stack_strategy"] = arg
    if info.accepts("device"):
        opts["device"] = device
    res = fuse(frames, method=name, **opts)
    return res.fused, res.depth_map


# --------------------------------------------------------------------------------------- scores
def _psnr(x: np.ndarray, y: np.ndarray, sel: np.ndarray | None = None) -> float:
    d = (np.asarray(x, np.float64) - y) ** 2
    if d.ndim == 3:
        d = d.mean(axis=2)
    if sel is not None and not sel.any():
        return float("nan")
    mse = float(d[sel].mean()) if sel is not None else float(d.mean())
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def score(stack: FocalStack, fused: np.ndarray, depth: np.ndarray | None, *, band: float = 10.0) -> dict[str, float]:
    """The scores of one fused stack (module docstring)."""
    from scipy import ndimage
    from skimage.metrics import structural_similarity

    from mfif.filters import luma

    truth = stack.truth
    fused = np.asarray(fused, np.float32)
    if fused.shape != truth.shape:
        raise MfifError(f"fused image shape {fused.shape} differs from the truth's {truth.shape}")
    near = ndimage.distance_transform_edt(~stack.edges) <= band if stack.edges.any() else np.zeros(truth.shape[:2], bool)
    _, smap = structural_similarity(truth, fused, data_range=1.0, channel_axis=2 if truth.ndim == 3 else None, full=True)
    if smap.ndim == 3:
        smap = smap.mean(axis=2)
    out = dict(psnr=_psnr(fused, truth), ssim=float(smap.mean()), psnr_edge=_psnr(fused, truth, near),
               ssim_edge=float(smap[near].mean()) if near.any() else float("nan"), depth_acc=float("nan"),
               halo=float("nan"))
    if depth is not None:
        out["depth_acc"] = float(np.mean(np.abs(np.asarray(depth, np.int64) - stack.depth) <= 1))
    if stack.bright and near.any():
        dl = ndimage.gaussian_filter(luma(fused).astype(np.float64) - luma(truth), 2.0)
        out["halo"] = float(100.0 * np.abs(dl[near]).mean())
    return out


# --------------------------------------------------------------------------------------- run
def _warm(methods: Sequence[str], device: str) -> None:
    """One call per method on a tiny stack: model loads and first-call costs stay out of the timings."""
    tiny = focal_stack(3, size=(64, 64), depth_type="layers", seed=1).frames
    for m in methods:
        run_method(m, tiny, device=device)


def run_stacks(
    cases: Sequence[StackCase],
    methods: Sequence[str],
    *,
    device: str = "cpu",
    band: float = 10.0,
    warmup: bool = True,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
    done: Iterable[tuple[str, str]] = (),
) -> list[dict]:
    """Fuse and score every case with every method.

    Args:
        cases: The suite (:func:`make_suite`).
        methods: Method specs (module docstring). ``openfocus:*`` are dropped with a note on stderr
            when openfocus is not importable.
        device: Device of the learned methods.
        band: Half-width (px) of the depth-edge band.
        warmup: Warm every method up on a tiny stack first.
        progress: A tqdm bar on stderr.
        on_row: Called with each new row (e.g. to append to a CSV as the run goes).
        done: ``(case id, method)`` pairs to skip (a resumed run).

    Returns:
        The new rows (dicts with :data:`FIELDS`).
    """
    import sys

    methods = list(methods)
    if any(m.startswith("openfocus:") for m in methods):
        note = openfocus_note()
        if note:
            print(f"mfif: note: {note}", file=sys.stderr)
            methods = [m for m in methods if not m.startswith("openfocus:")]
    skip = set(done)
    todo = [(c, m) for c in cases for m in methods if (c.id, m) not in skip]
    if warmup and todo:
        _warm(sorted({m for _, m in todo}), device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="stacks", unit="fusion", file=sys.stderr, leave=False)
    rows: list[dict] = []
    try:
        for case in cases:
            ms = [m for m in methods if (case.id, m) not in skip]
            if not ms:
                continue
            stack = case.build()
            for m in ms:
                with PeakRSS() as mem:
                    t0 = time.perf_counter()
                    fused, depth = run_method(m, stack.frames, device=device)
                    secs = time.perf_counter() - t0
                row = dict(case=case.id, half=case.half, n=case.n, depth_type=case.depth_type, kernel=case.kernel,
                           noise=int(case.noise), breathing=int(case.breathing), size=case.size, method=m,
                           **score(stack, fused, depth, band=band), seconds=secs, peak_mib=mem.peak_mib)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return rows


# --------------------------------------------------------------------------------------- summaries
_METRICS = ("psnr", "ssim", "psnr_edge", "ssim_edge", "depth_acc", "halo", "seconds", "peak_mib")


def _f(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def summarize(rows: Sequence[dict], *, by: Sequence[str] = ("n", "method"), half: str | None = None
              ) -> dict[tuple, dict[str, float]]:
    """Mean of every score per group (NaN where a method has no such score); ``count`` = stacks."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if half is not None and r["half"] != half:
            continue
        groups.setdefault(tuple(str(r[k]) for k in by), []).append(r)
    out = {}
    for key, rs in groups.items():
        d = {}
        for m in _METRICS:
            vals = np.array([_f(r.get(m)) for r in rs])
            vals = vals[np.isfinite(vals)]
            d[m] = float(vals.mean()) if vals.size else float("nan")
        d["peak_mib"] = float(np.nanmax([_f(r.get("peak_mib")) for r in rs]))
        d["count"] = len(rs)
        out[key] = d
    return out


def choose_strategy(rows: Sequence[dict], *, half: str = "select") -> dict[str, dict[str, Any]]:
    """Per learned method, the strategy with the higher mean PSNR on ``half`` (ties: lower mean time).

    Returns:
        ``{method: {"choice": strategy, "psnr": {strategy: mean}, "seconds": {...}, "stacks": k}}``,
        for each method run with both strategies on the same stacks.
    """
    by: dict[str, dict[str, dict[str, dict]]] = {}
    for r in rows:
        name, _, strat = str(r["method"]).partition(":")
        if strat in LEARNED_STRATEGIES and r["half"] == half:
            by.setdefault(name, {}).setdefault(strat, {})[r["case"]] = r
    out = {}
    for name, per in by.items():
        if len(per) < 2:
            continue
        common = set.intersection(*(set(v) for v in per.values()))
        if not common:
            continue
        ps = {s: float(np.mean([_f(per[s][c]["psnr"]) for c in common])) for s in per}
        ts = {s: float(np.mean([_f(per[s][c]["seconds"]) for c in common])) for s in per}
        choice = max(per, key=lambda s: (round(ps[s], 6), -ts[s]))
        out[name] = dict(choice=choice, psnr=ps, seconds=ts, stacks=len(common))
    return out


def _cell(v: float, fmt: str) -> str:
    return "–" if not np.isfinite(v) else format(v, fmt)


def summary_markdown(rows: Sequence[dict], *, half: str | None = None, band: float = 10.0) -> str:
    """One table per N: mean scores per method (best PSNR / SSIM / depth accuracy / halo in bold)."""
    s = summarize(rows, by=("n", "method"), half=half)
    ns = sorted({int(k[0]) for k in s})
    lines = []
    for n in ns:
        keys = [k for k in s if int(k[0]) == n]
        keys.sort(key=lambda k: -s[k]["psnr"] if np.isfinite(s[k]["psnr"]) else 0)
        best = {m: (max if m != "halo" else min)([s[k][m] for k in keys if np.isfinite(s[k][m])], default=np.nan)
                for m in ("psnr", "ssim", "psnr_edge", "ssim_edge", "depth_acc", "halo")}
        count = max(s[k]["count"] for k in keys)
        lines += [f"**N = {n}** ({count} stacks{'' if half is None else f', half {half}'}; edge = within {band:g} px "
                  "of a depth edge; depth acc. = within ±1 frame; halo on bright-background scenes, lower is better)",
                  "", "| method | PSNR dB | SSIM | PSNR edge | SSIM edge | depth acc. % | halo | s / stack | peak MiB |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for k in keys:
            d = s[k]

            def b(m: str, text: str) -> str:
                return f"**{text}**" if np.isfinite(d[m]) and np.isclose(d[m], best[m], rtol=0, atol=1e-9) else text

            lines.append(f"| {k[1]} | {b('psnr', _cell(d['psnr'], '.2f'))} | {b('ssim', _cell(d['ssim'], '.4f'))} | "
                         f"{b('psnr_edge', _cell(d['psnr_edge'], '.2f'))} | {b('ssim_edge', _cell(d['ssim_edge'], '.4f'))} | "
                         f"{b('depth_acc', _cell(100 * d['depth_acc'], '.1f'))} | {b('halo', _cell(d['halo'], '.2f'))} | "
                         f"{_cell(d['seconds'], '.2f')} | {_cell(d['peak_mib'], '.0f')} |")
        lines.append("")
    return "\n".join(lines)


def variant_markdown(rows: Sequence[dict], *, metric: str = "psnr") -> str:
    """Mean ``metric`` per N, method and variant (clean / noise / breathing / both), as Markdown."""
    names = {(0, 0): "clean", (1, 0): "noise", (0, 1): "breathing", (1, 1): "noise + breathing"}
    s = summarize([dict(r, variant=names[(int(r["noise"]), int(r["breathing"]))]) for r in rows],
                  by=("n", "method", "variant"))
    lines = [f"| N | method | {' | '.join(names.values())} |", "|---|---|" + "---|" * len(names)]
    for n in sorted({int(k[0]) for k in s}):
        ms = sorted({k[1] for k in s if int(k[0]) == n}, key=lambda m: -np.nanmean(
            [s[k][metric] for k in s if int(k[0]) == n and k[1] == m]))
        for m in ms:
            cells = " | ".join(_cell(s.get((str(n), m, v), {}).get(metric, np.nan), ".2f") for v in names.values())
            lines.append(f"| {n} | {m} | {cells} |")
    return "\n".join(lines) + "\n"


def strategy_markdown(rows: Sequence[dict]) -> str:
    """The strategy choice on ``select`` and its check on ``report``, as Markdown."""
    sel = choose_strategy(rows, half="select")
    rep = choose_strategy(rows, half="report")
    if not sel:
        return "No learned method was run with both strategies.\n"
    lines = ["| method | half | stacks | " + " | ".join(f"{s} PSNR / s" for s in LEARNED_STRATEGIES) + " | best |",
             "|---|---|---|" + "---|" * len(LEARNED_STRATEGIES) + "---|"]
    for name in sorted(sel):
        for half, ch in (("select", sel), ("report", rep)):
            if name not in ch:
                continue
            c = ch[name]
            cells = " | ".join(f"{c['psnr'].get(s, float('nan')):.2f} dB / {c['seconds'].get(s, float('nan')):.2f}"
                               for s in LEARNED_STRATEGIES)
            lines.append(f"| {name} | {half} | {c['stacks']} | {cells} | {c['choice']} |")
    lines.append("")
    for name in sorted(sel):
        lines.append(f"Chosen on the select half: `{name}` → **{sel[name]['choice']}**"
                     + (f"; on the report half the better one is {rep[name]['choice']}." if name in rep else "."))
    return "\n".join(lines) + "\n"


def figure(rows: Sequence[dict], path: os.PathLike | str) -> None:
    """PSNR against the truth and time per stack, per method, for each N (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarize(rows, by=("n", "method"))
    methods = sorted({k[1] for k in s}, key=lambda m: -np.nanmean([s[k]["psnr"] for k in s if k[1] == m]))
    ns = sorted({int(k[0]) for k in s})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / max(1, len(ns))
    x = np.arange(len(methods))
    for i, n in enumerate(ns):
        ps = [s.get((str(n), m), {}).get("psnr", np.nan) for m in methods]
        ts = [s.get((str(n), m), {}).get("seconds", np.nan) for m in methods]
        axes[0].bar(x + i * width, ps, width, label=f"N = {n}")
        axes[1].bar(x + i * width, ts, width, label=f"N = {n}")
    for ax, title in zip(axes, ("PSNR against the truth (dB)", "seconds per stack (log)")):
        ax.set_xticks(x + width * (len(ns) - 1) / 2)
        ax.set_xticklabels(methods, rotation=40, ha="right", fontsize=8)
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    lo = np.nanmin([v["psnr"] for v in s.values()])
    axes[0].set_ylim(max(0.0, lo - 3), None)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
