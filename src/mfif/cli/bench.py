"""``mfif bench``: the evaluation harness (paper Table 1, Table 2, Fig. 4–7) and ``mfif bench synthetic``.

Examples::

    mfif bench --dataset lytro=../shared/data/inputs/lytro --dataset mffw=../shared/data/inputs/mffw \\
        --methods mfif-gan,gff,quadtree --reference-root ../shared/data/reference --out runs/bench
    mfif bench synthetic --pack packs/mf-voc --methods mfif-gan-lite,gff --out runs/synthetic
    mfif bench stacks --n 5,12 --size 256 --out runs/stacks

See docs/bench.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from mfif.errors import MfifError


def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _kv(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep or not k or not v:
            raise MfifError(f"{flag}: expected METHOD=VALUE, got {it!r}")
        out[k] = v
    return out


def _default_methods() -> list[str]:
    from mfif.fusion.methods import has_weights
    from mfif.registry import list_methods

    return [m.name for m in list_methods() if not m.name.startswith("_") and (not m.needs_weights or has_weights(m.name))]


def _expand_methods(names: list[str]) -> list[str]:
    """``paper`` in a method list stands for the paper's Table 1 methods (:data:`mfif.bench.PAPER_METHODS`)."""
    from mfif.bench import PAPER_METHODS

    out: list[str] = []
    for n in names:
        for m in (PAPER_METHODS if n == "paper" else (n,)):
            if m not in out:
                out.append(m)
    return out


def _method_options(args: argparse.Namespace) -> dict[str, dict]:
    import json

    opts: dict[str, dict] = {}
    for m, js in _kv(args.option, "--option").items():
        try:
            val = json.loads(js)
        except ValueError:
            raise MfifError(f"--option {m}: not a JSON object: {js!r}") from None
        if not isinstance(val, dict):
            raise MfifError(f"--option {m}: expected a JSON object, got {js!r}")
        opts[m] = val
    return opts


def _cmd_bench(args: argparse.Namespace) -> int:
    from mfif.bench.pairs import discover_reference, parse_dataset_arg, parse_published_arg
    from mfif.bench.report import ReportOptions, make_report
    from mfif.bench.runner import BenchConfig, run_bench

    if not args.out:
        raise MfifError("--out: required (output folder)")
    if not args.dataset:
        raise MfifError("--dataset: give at least one NAME=PATH")
    datasets = [parse_dataset_arg(d) for d in args.dataset]
    methods = _expand_methods(_csv_list(args.methods)) if args.methods else _default_methods()
    published = [parse_published_arg(p) for p in args.published or []]
    published += [parse_published_arg(p, group="ablation") for p in args.ablation or []]
    if args.reference_root:
        published += discover_reference(args.reference_root, rank_official_mffw=args.rank_official_mffw)
    cfg = BenchConfig(
        datasets=datasets, methods=methods, out=Path(args.out), published=published,
        format_match=not args.no_format_match, metrics=_csv_list(args.metrics) or None, device=args.device,
        weights=_kv(args.weights, "--weights"), options=_method_options(args), warmup=not args.no_warmup,
        progress=not args.no_progress, limit=args.limit, pairs=_csv_list(args.pairs) or None, jobs=args.jobs,
    )
    n = sum(len(cfg.selected(d)) for d in datasets)
    from mfif.models.runtime import resolve_device

    if "mfif-gan" in methods and args.device in ("auto", "cpu") and resolve_device(args.device).type == "cpu":
        print("mfif: note: mfif-gan (the paper-size model) runs on the CPU here, about 16 s per 520x520 pair "
              "on 2 cores; --methods chooses the methods", file=sys.stderr)
    print(f"mfif bench: {len(methods)} methods x {n} pairs, {len(published)} published entries -> {cfg.out}", file=sys.stderr)
    result = run_bench(cfg)
    opts = ReportOptions(
        fig6_method="" if args.no_fig6 else args.fig6_method, fig6_dataset=args.fig6_dataset,
        fig6_limit=args.fig6_limit,
        visual_pairs=_csv_list(args.visual_pairs) if args.visual_pairs is not None else None,
        diff_maps=tuple(_csv_list(args.diff_maps)[:2]) if args.diff_maps else None,  # type: ignore[arg-type]
        docs=Path(args.docs) if args.docs else None, command="mfif " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    res = make_report(cfg, result, opts)
    print(f"wrote {res}")
    if opts.docs:
        print(f"wrote {opts.docs}")
    return 0


def _cmd_synthetic(args: argparse.Namespace) -> int:
    from mfif.bench.report import write_text
    from mfif.bench.runner import read_csv, write_csv
    from mfif.bench.synthetic import FIELDS, builtin_pairs, evaluate_synthetic, pack_pairs, summarize, summary_markdown

    if not args.syn_out:
        raise MfifError("--out: required (output folder)")
    parts = _csv_list(args.sigma)
    try:
        sigma = None if not parts else float(parts[0]) if len(parts) == 1 else (float(parts[0]), float(parts[1]))
    except (ValueError, IndexError):
        raise MfifError(f"--sigma: expected S or LOW,HIGH, got {args.sigma!r}") from None
    if args.pack:
        pairs = pack_pairs(args.pack, split=args.split, limit=args.syn_limit, sigma=sigma, seed=args.seed,
                           max_side=args.max_side)
        setting = f"pack={Path(args.pack).resolve()};split={args.split};sigma={args.sigma};seed={args.seed};max_side={args.max_side}"
    else:
        pairs = builtin_pairs(n=args.n, size=args.size, sigma=2.0 if sigma is None else sigma, seed=args.seed)
        setting = f"builtin;n={args.n};size={args.size};sigma={args.sigma};seed={args.seed}"
    out = Path(args.syn_out)
    csv_path = out / "synthetic.csv"
    setting += f";band={args.band:g}"
    done = {(r["pair"], r["method"]): r for r in read_csv(csv_path) if r.get("setting") == setting
            and (not args.ssim or r.get("ssim") not in ("", "nan"))}
    methods = _csv_list(args.syn_methods) if args.syn_methods else ["laplacian-argmax"]
    rows = evaluate_synthetic(
        pairs, methods, band=args.band, ssim=args.ssim, references=not args.no_references, device=args.syn_device,
        weights=_kv(args.syn_weights, "--weights"), setting=setting, done=done, progress=not args.syn_no_progress,
    )
    keep = [r for r in read_csv(csv_path) if r.get("setting") != setting]
    write_csv(csv_path, keep + rows, FIELDS)
    text = (f"# Synthetic known-truth evaluation\n\nSetting: `{setting}` ({len(pairs)} pairs). "
            f"PSNR against the all-in-focus truth; band = pixels within {args.band:g} px of the focus boundary; "
            "IoU of the decision map with the true mask. `truth-mask` = hard pick with the true mask.\n\n"
            + summary_markdown(summarize(rows), band=args.band))
    write_text(out / "synthetic.md", text)
    print(summary_markdown(summarize(rows), band=args.band), end="")
    print(f"wrote {csv_path} and {out / 'synthetic.md'}")
    return 0


def _cmd_stacks(args: argparse.Namespace) -> int:
    from mfif.bench.report import write_text
    from mfif.bench.runner import cpu_name, read_csv, write_csv
    from mfif.bench.stacks import (FIELDS, default_methods, figure, make_suite, run_stacks, strategy_markdown,
                                   summary_markdown, variant_markdown)

    if not args.st_out:
        raise MfifError("--out: required (output folder)")
    try:
        ns = [int(x) for x in _csv_list(args.st_n)]
    except ValueError:
        raise MfifError(f"--n: expected comma-separated frame counts, got {args.st_n!r}") from None
    if not ns:
        raise MfifError("--n: give at least one frame count")
    if args.st_size < 32:
        raise MfifError(f"--size: at least 32 px, got {args.st_size}")
    cases = make_suite(ns, size=args.st_size, per_type=args.per_type, seed=args.st_seed,
                       types=_csv_list(args.types) or ("layers", "tilted", "smooth"))
    methods = _csv_list(args.st_methods) or default_methods(all_classical=args.all_classical,
                                                           openfocus=not args.no_openfocus)
    out = Path(args.st_out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "stacks.csv"
    setting = {"size": str(args.st_size)}
    old = [r for r in read_csv(csv_path) if all(r.get(k) == v for k, v in setting.items())]
    done = {(r["case"], r["method"]) for r in old if r["case"] in {c.id for c in cases}}
    print(f"mfif bench stacks: {len(cases)} stacks (N = {','.join(map(str, ns))}, {args.st_size}^2) x "
          f"{len(methods)} methods -> {out}", file=sys.stderr)
    rows = list(read_csv(csv_path))

    def keep(row: dict) -> None:
        rows.append(row)
        write_csv(csv_path, rows, FIELDS)

    run_stacks(cases, methods, device=args.st_device, band=args.band, progress=not args.st_no_progress,
               warmup=not args.st_no_warmup, on_row=keep, done=done)
    ids = {c.id for c in cases}
    cur = [r for r in rows if r["case"] in ids and str(r["size"]) == str(args.st_size)
           and (r["method"] in methods)]
    parts = ["mfif", "bench", "stacks", "--n", ",".join(map(str, ns)), "--size", str(args.st_size), "--per-type",
             str(args.per_type), "--seed", str(args.st_seed)] + (["--types", args.types] if args.types else []) + (
             ["--methods", args.st_methods] if args.st_methods else []) + (["--all-classical"] if args.all_classical
             else []) + (["--no-openfocus"] if args.no_openfocus else []) + ["--out", str(out)]
    command = " ".join(shlex.quote(a) for a in parts)
    text = (f"# Deep focal stacks: benchmark\n\nCommand: `{command}`\nMachine: {cpu_name()}\n\n"
            "## Stack strategy of the learned methods (chosen on the select half)\n\n" + strategy_markdown(cur)
            + "\n## Report half\n\n" + summary_markdown(cur, half="report", band=args.band)
            + "\n## PSNR per variant (all stacks)\n\n" + variant_markdown(cur)
            + "\n## All stacks\n\n" + summary_markdown(cur, band=args.band))
    write_text(out / "stacks.md", text)
    if cur:
        figure(cur, out / "stacks.png")
    print(summary_markdown(cur, band=args.band), end="")
    print(strategy_markdown(cur), end="")
    print(f"wrote {csv_path}, {out / 'stacks.md'} and {out / 'stacks.png'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark methods: tables, figures, leaderboard (see docs/bench.md)", allow_abbrev=False,
                       description="Run methods on dataset pairs, score with the twelve metrics, time them, rank "
                       "them with published outputs, and write tables/figures/results.md. Resumable.")
    p.add_argument("--dataset", action="append", metavar="NAME=PATH", help="a folder of pairs (repeatable); "
                   "NAME lytro/mffw/grayscale enables the authors' file naming for published outputs")
    p.add_argument("--methods", default=None, help="comma-separated registry names; 'paper' = the paper's Table 1 methods "
                   "(cnn, mmf-net, mwgf, quadtree, dsift, csr, nsct, fusegan, mfif-gan) (default: all with weights available)")
    p.add_argument("--out", default=None, help="output folder (outputs/, scores.csv, runs.csv, tables/, figures/, results.md)")
    p.add_argument("--published", action="append", metavar="NAME=DIR", help="published fused outputs ranked as a method")
    p.add_argument("--ablation", action="append", metavar="NAME=DIR", help="fused outputs of an ablation variant (Fig. 7)")
    p.add_argument("--reference-root", default=None, help="auto-discover mfif-gan-official/ and mfifb/ under this folder")
    p.add_argument("--rank-official-mffw", action="store_true", help="also rank the authors' MFFW outputs (off: see README)")
    p.add_argument("--no-format-match", action="store_true", help="skip the JPEG format-matched ranking")
    p.add_argument("--metrics", default=None, help="comma-separated subset of the twelve metrics")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (learned methods)")
    p.add_argument("--weights", action="append", metavar="METHOD=PATH", help="weights for a learned method")
    p.add_argument("--option", action="append", metavar="METHOD=JSON", help='method options, e.g. gff=\'{"r1": 45}\'')
    p.add_argument("--limit", type=int, default=None, help="at most N pairs per dataset (quick runs)")
    p.add_argument("--pairs", default=None, help="comma-separated pair ids to use (e.g. lytro_01,pepsi)")
    p.add_argument("--jobs", type=int, default=1, help="processes for scoring published outputs (default 1)")
    p.add_argument("--no-warmup", action="store_true", help="time the first call too (includes loading)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--fig6-method", default=None, help="method whose decision maps are grown/shrunk (default mfif-gan)")
    p.add_argument("--fig6-dataset", default=None, help="dataset of Fig. 6 (default lytro)")
    p.add_argument("--fig6-limit", type=int, default=None, help="at most N pairs for Fig. 6")
    p.add_argument("--no-fig6", action="store_true", help="skip Fig. 6")
    p.add_argument("--visual-pairs", default=None, help="pair ids for Fig. 5-style crops (default: first of each dataset)")
    p.add_argument("--diff-maps", default=None, metavar="M1,M2", help="two methods whose decision maps are differenced")
    p.add_argument("--docs", default=None, help="also write the results Markdown here (e.g. docs/results.md)")
    p.set_defaults(func=_cmd_bench)
    bsub = p.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    s = bsub.add_parser("synthetic", help="known-truth evaluation on synthetic α-matte pairs",
                        description="PSNR (whole image and within --band px of the focus boundary), optional SSIM, "
                        "focus-map IoU on held-out synthetic pairs; references truth-mask and laplacian-argmax.")
    s.add_argument("--pack", default=None, help="pack folder (its 'val' items); default: scikit-image built-in images")
    s.add_argument("--split", default="val", help="pack split (default val)")
    s.add_argument("--limit", dest="syn_limit", type=int, default=None, help="at most N pack items")
    s.add_argument("--max-side", type=int, default=None, help="downscale pack items to this long side")
    s.add_argument("--n", type=int, default=6, help="number of built-in pairs (no --pack)")
    s.add_argument("--size", type=int, default=128, help="side of built-in pairs (no --pack)")
    s.add_argument("--sigma", default=None, help="defocus sigma, or LOW,HIGH drawn per pair (default: the pack "
                   "item's own sigma, else 2.0)")
    s.add_argument("--seed", type=int, default=0, help="seed of masks/sigma")
    s.add_argument("--band", type=float, default=8, help="boundary band half-width in px (default 8)")
    s.add_argument("--ssim", action="store_true", help="also compute SSIM")
    s.add_argument("--no-references", action="store_true", help="omit truth-mask and laplacian-argmax")
    s.add_argument("--methods", dest="syn_methods", default=None, help="comma-separated registry names")
    s.add_argument("--device", dest="syn_device", default="auto", help="auto, cpu or cuda")
    s.add_argument("--weights", dest="syn_weights", action="append", metavar="METHOD=PATH", help="weights per learned method")
    s.add_argument("--out", dest="syn_out", default=None, help="output folder (synthetic.csv, synthetic.md)")
    s.add_argument("--no-progress", dest="syn_no_progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_synthetic)
    st = bsub.add_parser("stacks", help="deep focal stacks with known truth (N frames, depth types, noise, breathing)",
                         description="Seeded synthetic focal sweeps generated on the fly: PSNR/SSIM against the truth "
                         "(whole image and near depth edges), depth accuracy, halo score, time and peak memory per "
                         "stack; learned methods with vote and sequential, classical N-frame methods, openfocus when "
                         "importable. See docs/stacking.md.")
    st.add_argument("--n", dest="st_n", default="5,12,30", help="comma-separated frame counts (default 5,12,30)")
    st.add_argument("--size", dest="st_size", type=int, default=256, help="frame side in px (default 256)")
    st.add_argument("--per-type", type=int, default=1, help="stacks per depth type and variant (default 1: 4 per type)")
    st.add_argument("--types", default=None, help="depth types (default layers,tilted,smooth)")
    st.add_argument("--methods", dest="st_methods", default=None, help="comma-separated: NAME, NAME:vote|sequential, "
                    "openfocus:ALGO (default: mfif-gan-lite vote and sequential, fast classical methods, openfocus)")
    st.add_argument("--all-classical", action="store_true", help="every classical N-frame method, not only the fast ones")
    st.add_argument("--no-openfocus", action="store_true", help="leave openfocus's methods out")
    st.add_argument("--band", type=float, default=10, help="depth-edge band half-width in px (default 10)")
    st.add_argument("--seed", dest="st_seed", type=int, default=0, help="suite seed (default 0)")
    st.add_argument("--device", dest="st_device", default="cpu", help="device of the learned methods (default cpu)")
    st.add_argument("--out", dest="st_out", default=None, help="output folder (stacks.csv, stacks.md, stacks.png)")
    st.add_argument("--no-warmup", dest="st_no_warmup", action="store_true", help="time the first call too")
    st.add_argument("--no-progress", dest="st_no_progress", action="store_true", help="no progress bar")
    st.set_defaults(func=_cmd_stacks)
