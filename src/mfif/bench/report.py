"""Tables, figures and the results Markdown from the bench's CSV files."""

from __future__ import annotations

import datetime as _dt
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mfif.bench.figures import auto_crop, grow_shrink_scores, plot_fig6, plot_fig7, plot_map_diff, plot_visual
from mfif.bench.pairs import Dataset
from mfif.bench.runner import BenchConfig, cpu_name, output_path, read_csv, write_csv
from mfif.bench.tables import mean_scores, metric_directions, rank_methods, table1_markdown, table2_markdown
from mfif.io import write_atomic

__all__ = ["ReportOptions", "make_report", "write_text"]


@dataclass
class ReportOptions:
    """Extras of the report.

    Attributes:
        fig6_method: Our method whose decision maps are grown/shrunk (default ``mfif-gan`` if run,
            else the first method that saved maps); ``""`` turns Fig. 6 off.
        fig6_dataset: Dataset of Fig. 6 (default ``lytro`` if given, else the first).
        fig6_limit: At most this many pairs for Fig. 6 (None = all).
        ks: Grow/shrink offsets.
        visual_pairs: Pair ids for Fig. 5-style crops (default: the first pair of each dataset).
        diff_maps: Two method names whose decision maps are compared (default: the first two of
            ours with maps).
        visual_published: How many published outputs join the crops (authors' first, then by
            average rank).
        docs: Also write the results Markdown here (links made relative to it).
        command: The command line, recorded in the report.
    """

    fig6_method: str | None = None
    fig6_dataset: str | None = None
    fig6_limit: int | None = None
    ks: Sequence[int] = tuple(range(-10, 11))
    visual_pairs: Sequence[str] | None = None
    diff_maps: tuple[str, str] | None = None
    visual_published: int = 4
    docs: Path | None = None
    command: str = ""
    notes: list[str] = field(default_factory=list)


def write_text(path: Path, text: str) -> None:
    """Write text atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def replace_section(doc: Path, text: str, *, start: str, end: str) -> None:
    """Replace the part of ``doc`` between the marker lines ``start`` and ``end`` with ``text`` (markers
    kept), or append the marked block when the markers are absent; atomic (:func:`write_text`). Used by
    the scripts that refresh generated tables inside hand-written docs."""
    old = doc.read_text(encoding="utf-8") if doc.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    write_text(doc, new)


def _gpu_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover
        pass
    return "none"


def _f(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _means_csv(path: Path, means: Mapping[str, Mapping[str, float]], metrics: Sequence[str], n: int) -> None:
    ranks, avg = rank_methods(means, metric_directions(metrics))
    rows = [{"method": m, **{k: means[m][k] for k in metrics}, "avg_rank": avg[m], "pairs": n} for m in means]
    write_csv(path, rows, ["method", *metrics, "avg_rank", "pairs"])


def _views(scores: list[dict], ds: str) -> list[tuple[str, str, list[dict]]]:
    rows = [r for r in scores if r["dataset"] == ds]
    ours_png = [r for r in rows if r["source"] == "ours" and r["format"] == "png"]
    ours_jpg = [r for r in rows if r["source"] == "ours" and r["format"] == "jpeg-matched"]
    pub = [r for r in rows if r["source"] == "published" and r["group"] == "main"]
    if not pub:
        return [("lossless", "ours, lossless PNG outputs", ours_png)]
    views = [("as-delivered", "as delivered: ours lossless PNG, published JPEG (q75, 4:2:0)", ours_png + pub)]
    if ours_jpg:
        views.append(("format-matched", "format-matched: ours re-encoded with the published JPEG settings", ours_jpg + pub))
    if {r["pair"] for r in pub} < {r["pair"] for r in ours_png}:  # published cover fewer pairs: ours on all too
        views.append(("lossless-all-pairs", "ours only, all pairs, lossless PNG", ours_png))
    return views


def _rel(target: Path, base_dir: Path) -> str:
    return os.path.relpath(Path(target).resolve(), Path(base_dir).resolve()).replace(os.sep, "/")


def make_report(cfg: BenchConfig, result: Mapping[str, list], opts: ReportOptions | None = None) -> Path:
    """Write tables (Markdown + CSV), figures and ``results.md`` under ``cfg.out``.

    Args:
        cfg: The bench configuration that produced ``result``.
        result: What :func:`mfif.bench.runner.run_bench` returned.
        opts: Figure/report options.

    Returns:
        Path of ``results.md``.
    """
    opts = opts or ReportOptions()
    out = Path(cfg.out)
    from mfif.metrics import METRIC_NAMES

    metrics = list(cfg.metrics or METRIC_NAMES)
    dirs = metric_directions(metrics)
    scores = list(result["scores"])
    runs = list(result["runs"])
    tables_dir = out / "tables"
    figs = out / "figures"
    md = _header(opts)
    long_fields = ["dataset", "pair", "method", "source", "group", "format", "k", "metric", "direction", "value"]
    write_csv(out / "scores_long.csv", ({**{k: r.get(k, "") for k in long_fields[:7]}, "metric": m,
                                        "direction": dirs[m], "value": r.get(m, "")}
                                       for r in scores for m in metrics), long_fields)
    table1, pub_rank = _table1(cfg, scores, metrics, dirs, tables_dir)
    md += table1
    md += _not_scored(result)
    if runs:
        md.append(_table2(cfg, runs, tables_dir))
    fig6 = _fig6(cfg, scores, opts, metrics, figs)
    if fig6:
        md.append("\n## Fig. 6: focus-map diffusion / contraction\n\n" + fig6 + "\n")
    md += _fig7(cfg, scores, metrics, dirs, figs, tables_dir)
    vis = _visuals(cfg, scores, opts, figs, pub_rank)
    if vis:
        md.append("\n## Fig. 4/5-style visuals\n\n" + vis + "\n")

    text = "".join(md)
    res = out / "results.md"
    write_text(res, _links(text, res.parent))
    if opts.docs is not None:
        write_text(Path(opts.docs), _links(text, Path(opts.docs).parent))
    return res


def _header(opts: ReportOptions) -> list[str]:
    """Title, provenance (date, command, CPU/GPU, Python), how to read the tables, the notes."""
    md = ["# Benchmark results\n"]
    md.append(f"Generated {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `mfif bench`"
              + (f": `{opts.command}`" if opts.command else "") + ".\n")
    md.append(f"CPU: {cpu_name()}. GPU: {_gpu_name()}. Python {sys.version.split()[0]}.\n")
    md.append("Metric directions: ↑ higher is better, ↓ lower is better, →0 closest to zero is better. "
              "The best three per column are bold with ¹ ² ³; **Avg. rank** is the mean of the per-metric ranks. "
              "Cells are means over the pairs every listed method has (count given per table).\n")
    md.extend(f"- {n}\n" for n in opts.notes)
    return md


def _table1(
    cfg: BenchConfig, scores: list[dict], metrics: list[str], dirs: Mapping[str, str], tables_dir: Path
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Table 1 per dataset and view (Markdown + CSV files); also the average ranks of the as-delivered view."""
    md = ["\n## Table 1: fusion quality\n"]
    pub_rank: dict[str, dict[str, float]] = {}
    for ds in cfg.datasets:
        for view, caption, rows in _views(scores, ds.name):
            means, pairs = mean_scores(rows, metrics)
            if not means:
                continue
            t = table1_markdown(means, dirs)
            if view == "as-delivered":
                pub_rank[ds.name] = rank_methods(means, dirs)[1]
            stem = f"table1_{ds.name}_{view}"
            write_text(tables_dir / f"{stem}.md", t)
            _means_csv(tables_dir / f"{stem}.csv", means, metrics, len(pairs))
            md.append(f"\n### {ds.name} — {caption} ({len(pairs)} pairs)\n\n{t}\n")
            md.append(f"Files: [{stem}.md](@@{tables_dir / (stem + '.md')}@@), [{stem}.csv](@@{tables_dir / (stem + '.csv')}@@)\n")
    return md, pub_rank


def _not_scored(result: Mapping[str, list]) -> list[str]:
    """Lists of the published files not scored and of the fusions that failed."""
    md: list[str] = []
    skipped = result.get("skipped") or []
    if skipped:
        md.append("\nPublished files not scored:\n\n")
        groups: dict[tuple[str, str, str], list[str]] = {}
        for s in skipped:
            groups.setdefault((str(s["dataset"]), str(s["pair"]), str(s["reason"])), []).append(str(s["method"]))
        for (d, pr, why), ms in groups.items():
            shown = ", ".join(ms[:3]) + (f" and {len(ms) - 3} more" if len(ms) > 3 else "")
            md.append(f"- {d}/{pr}: {shown}: {why}\n")
    failed = result.get("failed") or []
    if failed:
        md.append("\nFusions that failed (not in the tables):\n\n")
        md.extend(f"- {f['dataset']}/{f['pair']} {f['method']}: {f['reason']}\n" for f in failed)
    return md


def _table2(cfg: BenchConfig, runs: list[dict], tables_dir: Path) -> str:
    """Table 2 (mean seconds per pair, per method and dataset, with the devices used)."""
    secs: dict[str, dict[str, list[float]]] = {}
    devs: dict[str, set[str]] = {}
    for r in runs:
        secs.setdefault(r["method"], {}).setdefault(r["dataset"], []).append(_f(r["seconds"]))
        devs.setdefault(r["method"], set()).add(str(r["device"]))
    mean_secs = {m: {d: float(np.mean(v)) for d, v in per.items()} for m, per in secs.items()}
    t2 = table2_markdown(mean_secs, {m: "; ".join(sorted(v)) for m, v in devs.items()},
                         [d.name for d in cfg.datasets if any(d.name in v for v in mean_secs.values())])
    write_text(tables_dir / "table2_time.md", t2)
    return "\n## Table 2: running time (seconds per pair, fusion only, after one warm-up)\n\n" + t2 + "\n"


def _fig7(
    cfg: BenchConfig, scores: list[dict], metrics: list[str], dirs: Mapping[str, str], figs: Path, tables_dir: Path
) -> list[str]:
    """Fig. 7 per dataset: the published ablation variants beside the official MFIF-GAN outputs."""
    md: list[str] = []
    for ds in cfg.datasets:
        rows = [r for r in scores if r["dataset"] == ds.name and r["source"] == "published"
                and (r["group"] == "ablation" or (r["method"] == "official:MFIF-GAN" and r["group"] == "main"))]
        means, pairs = mean_scores(rows, metrics)
        if len(means) < 2:
            continue
        p = plot_fig7(means, metrics, figs / f"fig7_{ds.name}.png", title=f"Ablation variants, {ds.name} ({len(pairs)} pairs)")
        t = table1_markdown(means, dirs)
        write_text(tables_dir / f"fig7_{ds.name}.md", t)
        md.append(f"\n## Fig. 7: ablation variants — {ds.name} ({len(pairs)} pairs)\n\n![fig7 {ds.name}](@@{p}@@)\n\n{t}\n")
    return md


def _links(text: str, base: Path) -> str:
    parts = text.split("@@")
    for i in range(1, len(parts), 2):
        parts[i] = _rel(Path(parts[i]), base)
    return "".join(parts)


def _pick_map_method(cfg: BenchConfig, ds: Dataset, preferred: str | None) -> str | None:
    cands = ([preferred] if preferred else []) + (["mfif-gan"] if "mfif-gan" in cfg.methods else []) + list(cfg.methods)
    for m in cands:
        if m in cfg.methods and any(output_path(cfg.out, ds.name, m, p.pair_id, kind="map").is_file() for p in ds.pairs):
            return m
    return None


def _fig6(cfg: BenchConfig, scores: list[dict], opts: ReportOptions, metrics: list[str], figs: Path) -> str:
    from mfif.io import read_image

    if opts.fig6_method == "" or not cfg.datasets:
        return ""
    names = [d.name for d in cfg.datasets]
    dsname = opts.fig6_dataset or ("lytro" if "lytro" in names else names[0])
    ds = next((d for d in cfg.datasets if d.name == dsname), None)
    if ds is None:
        return ""
    method = _pick_map_method(cfg, ds, opts.fig6_method)
    ours: dict[int, dict[str, float]] = {}
    n_ours = 0
    if method is not None:
        cache = cfg.out / f"fig6_{ds.name}_{method.replace(':', '_')}.csv"
        old = {(r["pair"], int(r["k"])): r for r in read_csv(cache)}
        pairs = [p for p in cfg.selected(ds) if output_path(cfg.out, ds.name, method, p.pair_id, kind="map").is_file()]
        pairs = pairs[: opts.fig6_limit] if opts.fig6_limit else pairs
        rows = dict(old)
        for p in pairs:
            need = [k for k in opts.ks if (p.pair_id, int(k)) not in old]
            if need:
                a, _ = read_image(p.a)
                b, _ = read_image(p.b)
                dm, _ = read_image(output_path(cfg.out, ds.name, method, p.pair_id, kind="map"))
                dm = dm if dm.ndim == 2 else dm[..., 0]
                for k, sc in grow_shrink_scores(a, b, dm, need, metrics).items():
                    rows[(p.pair_id, k)] = {"pair": p.pair_id, "k": k, **sc}
                write_csv(cache, rows.values(), ["pair", "k", *metrics])
        use = {p.pair_id for p in pairs}
        for k in opts.ks:
            vals = [rows[(pid, int(k))] for pid in use if (pid, int(k)) in rows]
            if vals:
                ours[int(k)] = {m: float(np.nanmean([_f(v[m]) for v in vals])) for m in metrics}
        n_ours = len(use)
    pub_rows = [r for r in scores if r["dataset"] == ds.name and r["source"] == "published"
                and (r["group"] == "fig6" or r["method"] == "official:MFIF-GAN")]
    published: dict[int, dict[str, float]] = {}
    for r in pub_rows:
        r["_k"] = 0 if r["group"] != "fig6" else int(_f(r["k"]))
    for k in sorted({r["_k"] for r in pub_rows}):
        vals = [r for r in pub_rows if r["_k"] == k]
        published[k] = {m: float(np.nanmean([_f(v[m]) for v in vals])) for m in metrics}
    if len(published) < 2:
        published = {}
    if not ours and not published:
        return ""
    label = "ours (grow/shrink of our decision maps)"
    if not ours:
        ours, published, label = published, {}, "published (authors' diffused/contracted outputs)"
    p = plot_fig6(ours, metrics, figs / f"fig6_{ds.name}.png", published=published or None,
                  title=f"{ds.name}: metrics vs grow (+k) / shrink (−k) of the decision map", ours_label=label)
    txt = f"![fig6](@@{p}@@)\n\n"
    if method is not None and n_ours:
        txt += f"Left: `{method}` decision maps grown/shrunk by k pixels (`mfif.postprocess.grow_shrink`), {n_ours} pairs. "
    if published:
        txt += "Right: the authors' published `MFIF_{diffused,contracted}_with_k` outputs (diffused = +k), k = 0 their MFIF-GAN output. "
    txt += "Each metric is min–max normalised over k; see the CSV for raw values.\n"
    return txt


def _visuals(cfg: BenchConfig, scores: list[dict], opts: ReportOptions, figs: Path,
             pub_rank: Mapping[str, Mapping[str, float]]) -> str:
    from mfif.io import read_image

    txt = []
    for ds in cfg.datasets:
        sel = cfg.selected(ds)
        if not sel:
            continue
        want = list(opts.visual_pairs) if opts.visual_pairs is not None else [sel[0].pair_id]
        for pair in [p for p in ds.pairs if p.pair_id in want]:
            imgs: dict[str, np.ndarray] = {}
            a, _ = read_image(pair.a)
            b, _ = read_image(pair.b)
            imgs["source A"], imgs["source B"] = a, b
            for m in cfg.methods:
                f = output_path(cfg.out, ds.name, m, pair.pair_id)
                if f.is_file():
                    imgs[m] = read_image(f)[0]
            pub = {r["method"]: r for r in scores
                   if (r["dataset"], r["pair"], r["source"], r["group"]) == (ds.name, pair.pair_id, "published", "main")}
            order = sorted(pub, key=lambda m: (not m.startswith("official:"), pub_rank.get(ds.name, {}).get(m, math.inf), m))
            for m in order[: opts.visual_published]:
                im = read_image(pub[m]["file"])[0]
                if im.shape == a.shape:
                    imgs[m] = im
            if len(imgs) <= 2:
                continue
            fused_only = [v for k, v in imgs.items() if not k.startswith("source ")]
            crop = auto_crop(fused_only, frac=0.2)
            p = plot_visual(imgs, figs / f"visual_{ds.name}_{pair.pair_id}.png", crop=crop,
                            title=f"{ds.name} {pair.pair_id} (detail where the outputs differ most)")
            txt.append(f"![{pair.pair_id}](@@{p}@@)\n\n")
            with_maps = [m for m in cfg.methods if output_path(cfg.out, ds.name, m, pair.pair_id, kind="map").is_file()]
            pair_names = opts.diff_maps or (tuple(with_maps[:2]) if len(with_maps) >= 2 else None)
            if pair_names:
                maps = []
                for m in pair_names:
                    f = output_path(cfg.out, ds.name, m, pair.pair_id, kind="map")
                    if not f.is_file():
                        break
                    mp = read_image(f)[0]
                    maps.append(mp if mp.ndim == 2 else mp[..., 0])
                if len(maps) == 2:
                    q = plot_map_diff(maps[0], maps[1], tuple(pair_names), figs / f"mapdiff_{ds.name}_{pair.pair_id}.png",
                                      title=f"{ds.name} {pair.pair_id}: decision maps")
                    txt.append(f"![map difference {pair.pair_id}](@@{q}@@)\n\n")
    return "".join(txt)
