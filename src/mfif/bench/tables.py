"""Direction-aware ranking and Markdown tables (paper Table 1 and Table 2 layouts).

Table 1: one row per method, one column per metric (mean over the pairs common to every method in
the table), the best three of each column marked (``**x**¹``, ``**x**²``, ``**x**³``) according to the
metric's direction (``higher``, ``lower`` or ``zero`` = closest to 0), plus an average-rank column.
Table 2: seconds per pair, one column per dataset, with the device each method ran on.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["metric_directions", "rank_methods", "mean_scores", "table1_markdown", "table2_markdown", "fmt_num"]

_SUP = {1: "¹", 2: "²", 3: "³"}


def metric_directions(names: Iterable[str]) -> dict[str, str]:
    """``name -> direction`` from :data:`mfif.metrics.METRICS` (``higher`` if unknown)."""
    try:
        from mfif.metrics import METRICS
    except ImportError:  # pragma: no cover - metrics package absent
        METRICS = {}
    return {n: getattr(METRICS.get(n), "direction", "higher") for n in names}


def _key(v: float, direction: str) -> float:
    if v is None or not math.isfinite(v):
        return math.inf
    if direction == "lower":
        return v
    if direction == "zero":
        return abs(v)
    return -v


def rank_methods(
    means: Mapping[str, Mapping[str, float]], directions: Mapping[str, str]
) -> tuple[dict[str, dict[str, int]], dict[str, float]]:
    """Rank methods per metric (1 = best; ties share the smaller rank; NaN ranks last).

    Args:
        means: ``method -> metric -> value``.
        directions: ``metric -> "higher" | "lower" | "zero"``.

    Returns:
        ``(ranks, average_rank)``: ``ranks[method][metric]`` and ``average_rank[method]`` (mean over
        the metrics).
    """
    methods = list(means)
    ranks: dict[str, dict[str, int]] = {m: {} for m in methods}
    for metric, d in directions.items():
        keys = [_key(means[m].get(metric, math.nan), d) for m in methods]
        for i, m in enumerate(methods):
            if keys[i] == math.inf:
                ranks[m][metric] = len(methods)
            else:
                ranks[m][metric] = 1 + sum(1 for k in keys if k < keys[i])
    avg = {m: float(np.mean(list(ranks[m].values()))) if ranks[m] else math.nan for m in methods}
    return ranks, avg


def mean_scores(
    rows: Sequence[Mapping[str, object]], metrics: Sequence[str], *, common_pairs: bool = True
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Mean of each metric per method over pairs.

    Args:
        rows: Score rows with keys ``method``, ``pair`` and the metric names (floats or strings).
        metrics: Metric names.
        common_pairs: Average only over the pairs every method has (fair ranking).

    Returns:
        ``(means, pairs)``: ``means[method][metric]`` (NaN-ignoring mean) and the pairs used.
    """
    by_method: dict[str, dict[str, Mapping[str, object]]] = {}
    for r in rows:
        by_method.setdefault(str(r["method"]), {})[str(r["pair"])] = r
    if not by_method:
        return {}, []
    sets = [set(v) for v in by_method.values()]
    pairs = sorted(set.intersection(*sets) if common_pairs else set.union(*sets))
    means: dict[str, dict[str, float]] = {}
    for m, per in by_method.items():
        means[m] = {}
        for metric in metrics:
            vals = [_f(per[p].get(metric)) for p in pairs if p in per]
            vals = [v for v in vals if math.isfinite(v)]
            means[m][metric] = float(np.mean(vals)) if vals else math.nan
    return means, pairs


def _f(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def fmt_num(v: float) -> str:
    """Four significant-ish digits: 0.8123, 12.35, 2.462, -0.0160."""
    if v is None or not math.isfinite(v):
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    if a >= 0.1 or a == 0:
        return f"{v:.4f}"
    return f"{v:.4f}" if a >= 0.01 else f"{v:.2e}"


def table1_markdown(
    means: Mapping[str, Mapping[str, float]],
    directions: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    sort_by_rank: bool = True,
) -> str:
    """Markdown table: methods x metrics, best three marked, average-rank column.

    Args:
        means: ``method -> metric -> mean value``.
        directions: ``metric -> direction`` (column order).
        labels: Optional display name per method.
        sort_by_rank: Order rows by average rank (best first); else keep ``means`` order.

    Returns:
        The table text (GitHub Markdown).
    """
    ranks, avg = rank_methods(means, directions)
    methods = list(means)
    if sort_by_rank:
        methods.sort(key=lambda m: (avg[m], m))
    arrow = {"higher": "↑", "lower": "↓", "zero": "→0"}
    head = ["Method"] + [f"{k} {arrow.get(d, '')}" for k, d in directions.items()] + ["Avg. rank ↓"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":--"] + ["--:"] * (len(head) - 1)) + "|"]
    best_avg = sorted(set(avg.values()))[:3]
    for m in methods:
        cells = [(labels or {}).get(m, m)]
        for k in directions:
            s = fmt_num(means[m].get(k, math.nan))
            r = ranks[m][k]
            if r <= 3 and math.isfinite(means[m].get(k, math.nan)):
                s = f"**{s}**{_SUP[r]}"
            cells.append(s)
        a = f"{avg[m]:.2f}"
        if avg[m] in best_avg:
            a = f"**{a}**{_SUP[1 + best_avg.index(avg[m])]}"
        cells.append(a)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table2_markdown(
    seconds: Mapping[str, Mapping[str, float]], devices: Mapping[str, str], datasets: Sequence[str]
) -> str:
    """Markdown table of mean seconds per pair.

    Args:
        seconds: ``method -> dataset -> mean seconds per pair``.
        devices: ``method -> device description`` (e.g. ``CPU: AMD EPYC 7B13 (2 threads)``).
        datasets: Column order.

    Returns:
        The table text; the fastest three per column are marked.
    """
    def order(m: str) -> tuple[float, str]:
        # mean over the datasets the method was timed on; untimed methods last (a NaN key would make
        # the sort order arbitrary, and nanmean of nothing warns)
        vals = [v for v in (seconds[m].get(d, math.nan) for d in datasets) if math.isfinite(v)]
        return (float(np.mean(vals)) if vals else math.inf, m)

    methods = sorted(seconds, key=order)
    head = ["Method"] + [f"{d} (s/pair)" for d in datasets] + ["Device"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":--"] + ["--:"] * len(datasets) + [":--"]) + "|"]
    means = {m: {d: seconds[m].get(d, math.nan) for d in datasets} for m in methods}
    ranks, _ = rank_methods(means, {d: "lower" for d in datasets})
    for m in methods:
        cells = [m]
        for d in datasets:
            v = means[m][d]
            s = "–" if not math.isfinite(v) else (f"{v:.3f}" if v < 10 else f"{v:.1f}")
            if math.isfinite(v) and ranks[m][d] <= 3:
                s = f"**{s}**{_SUP[ranks[m][d]]}"
            cells.append(s)
        cells.append(devices.get(m, "?"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
