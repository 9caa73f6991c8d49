"""``mfif batch``: fuse every pair or stack found in a folder.

Items are found by naming convention (:func:`find_items`):

* files ``NAME_A`` / ``NAME_B`` (any single letter after ``_`` or ``-``), e.g. ``lytro_01_A.jpg``;
* files ``NAME-1`` / ``NAME-2`` or ``NAME_1`` / ``NAME_2`` (numbers after ``_`` or ``-``);
* files ``NAME1`` / ``NAME2`` (numbers right after a non-digit), e.g. ``clock1.bmp``;
* a sub-folder whose images do not split into several such groups is one numbered stack (its
  images in natural name order) named after the folder.

The first rule that matches a file name decides its group; members are ordered by letter or number.
Each item is written to ``OUT_DIR/<relative folder>/<NAME>.<ext>``. Finished outputs are skipped
(resume; ``--overwrite`` redoes them), failing items are reported and the others still done; the run
ends with a summary and exit code 1 if any item failed.
"""

from __future__ import annotations

import argparse
import os
import time
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mfif.errors import MfifError
from mfif.io import HEIF_SUFFIXES, INPUT_SUFFIXES, RAW_SUFFIXES, natural_key

#: Naming rules, in priority order: (name, regex on the file stem with groups ``name`` and ``key``).
RULES = (
    ("letter", re.compile(r"^(?P<name>.+)[_-](?P<key>[A-Za-z])$")),
    ("number", re.compile(r"^(?P<name>.+)[_-](?P<key>\d+)$")),
    ("suffix-number", re.compile(r"^(?P<name>.*\D)(?P<key>\d+)$")),
)


@dataclass
class Item:
    """One fusion job: ``sources`` (ordered) fused into ``OUT_DIR/rel/name``."""

    name: str
    sources: list[Path]
    rel: Path = Path(".")
    rule: str = ""
    extras: dict = field(default_factory=dict)


def _key_order(key: str) -> tuple:
    return (0, int(key), "") if key.isdigit() else (1, 0, key.lower())


def _images(d: Path) -> list[Path]:
    return sorted(
        (p for p in d.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def group_files(files: list[Path]) -> tuple[list[Item], list[Path]]:
    """Group image files of one folder by the naming rules.

    Returns:
        ``(items, leftovers)``: groups with at least two members (ordered by key), and files that match
        no rule or would form a group of one.
    """
    groups: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    leftovers: list[Path] = []
    for f in files:
        for rule, rx in RULES:
            m = rx.match(f.stem)
            if m:
                groups.setdefault((rule, m.group("name")), []).append((m.group("key"), f))
                break
        else:
            leftovers.append(f)
    items = []
    for (rule, name), members in groups.items():
        keys = [k.lower() for k, _ in members]
        if len(members) < 2 or len(set(keys)) < len(keys):
            leftovers.extend(f for _, f in members)
            continue
        members.sort(key=lambda kf: _key_order(kf[0]))
        items.append(Item(name=name, sources=[f for _, f in members], rule=rule))
    items.sort(key=lambda it: natural_key(it.name))
    return items, sorted(leftovers, key=lambda p: natural_key(p.name))


def find_items(in_dir: Path, *, exclude: Path | None = None) -> tuple[list[Item], list[Path]]:
    """All fusion items under ``in_dir`` (recursively), skipping hidden folders and ``exclude``.

    Returns:
        ``(items, unpaired)``; ``item.rel`` is the output sub-folder relative to OUT_DIR.
    """
    items: list[Item] = []
    unpaired: list[Path] = []
    excl = exclude.resolve() if exclude is not None else None

    def walk(d: Path) -> None:
        if excl is not None and (d.resolve() == excl or excl in d.resolve().parents):
            return
        files = _images(d)
        rel = d.relative_to(in_dir)
        groups, left = group_files(files)
        if d != in_dir and len(files) >= 2 and len(groups) <= 1:
            items.append(Item(name=d.name, sources=files, rel=rel.parent, rule="folder"))
        else:
            for it in groups:
                it.rel = rel
                items.append(it)
            for f in left:  # a lone multi-page TIFF is a z-stack of its own
                if _is_tiff_stack(f):
                    items.append(Item(name=f.stem, sources=[f], rel=rel, rule="tiff-stack"))
                else:
                    unpaired.append(f)
        for sub in sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")),
                          key=lambda p: natural_key(p.name)):
            walk(sub)

    walk(in_dir)
    return items, unpaired


def _is_tiff_stack(f: Path) -> bool:
    if f.suffix.lower() not in (".tif", ".tiff"):
        return False
    try:
        import tifffile

        with tifffile.TiffFile(f) as tif:
            return len(tif.pages) > 1
    except Exception:  # noqa: BLE001 - unreadable: reported when read
        return False


def skipped_files(in_dir: Path, used: set[Path], *, exclude: Path | None = None) -> list[tuple[Path, str]]:
    """Every file under ``in_dir`` (hidden folders and ``exclude`` left out) that is no item's source,
    with the reason it is skipped."""
    excl = exclude.resolve() if exclude is not None else None
    out: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(in_dir):
        r = Path(root)
        dirs[:] = sorted((d for d in dirs if not d.startswith(".") and (excl is None or (r / d).resolve() != excl)),
                         key=natural_key)
        for name in sorted(files, key=natural_key):
            f = r / name
            if f.resolve() in used:
                continue
            if name.startswith("."):
                why = "hidden file"
            elif f.suffix.lower() not in INPUT_SUFFIXES:
                why = f"not an image format mfif reads ({f.suffix or 'no extension'})"
            else:
                why = "no partner found by the naming rules"
            out.append((f, why))
    return out


_TEMP_RE = re.compile(r"^\.mfif-[A-Za-z0-9_]{8}\.(png|jpe?g|tiff?|bmp)$", re.IGNORECASE)


def remove_stale_temporaries(out_dir: Path) -> int:
    """Remove the temporary files (``.mfif-XXXXXXXX.ext``, :func:`mfif.io.encode_image`) that a killed run
    left under ``out_dir`` (hidden folders not searched). One batch per OUT_DIR at a time is assumed.

    Returns:
        How many were removed.
    """
    n = 0
    if not out_dir.is_dir():
        return 0
    for root, dirs, files in os.walk(out_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if _TEMP_RE.match(name):
                try:
                    os.unlink(os.path.join(root, name))
                    n += 1
                except OSError:
                    pass
    return n


def _out_path(out_dir: Path, item: Item, ext: str) -> Path:
    suffix = item.sources[0].suffix.lower() if ext == "same" else "." + ext.lstrip(".").lower()
    if suffix in RAW_SUFFIXES or suffix in HEIF_SUFFIXES:  # read-only formats: 16-bit TIFF / PNG
        suffix = ".tif" if suffix in RAW_SUFFIXES else ".png"
    return out_dir / item.rel / f"{item.name}{suffix}"


def _cmd(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mfif.cli.fuse import fusion_kwargs, run_fusion

    in_dir, out_dir = Path(args.in_dir), Path(args.out_dir)
    if not in_dir.is_dir():
        raise MfifError(f"{in_dir}: input folder not found")
    if out_dir.exists() and not out_dir.is_dir():
        raise MfifError(f"{out_dir}: exists and is not a folder")
    if out_dir.resolve() == in_dir.resolve():
        raise MfifError(f"{out_dir}: OUT_DIR must differ from IN_DIR (outputs would mix with the inputs)")
    method = fusion_kwargs(args)["method"]  # validate the options once, before any work
    inside = in_dir.resolve() in out_dir.resolve().parents  # OUT_DIR within IN_DIR: do not scan it
    items, unpaired = find_items(in_dir, exclude=out_dir if inside else None)
    all_inputs = {p.resolve() for it in items for p in it.sources} | {p.resolve() for p in unpaired}
    seen: dict[Path, Item] = {}
    for it in items:  # disambiguate equal output names in one folder
        p = _out_path(out_dir, it, args.ext)
        while p in seen:
            it.name += "+"
            p = _out_path(out_dir, it, args.ext)
        seen[p] = it
    if args.list:
        for p, it in seen.items():
            print(f"{p}  <-  {', '.join(str(s) for s in it.sources)}  [{it.rule}]")
        for f in unpaired:
            print(f"(unpaired) {f}")
        return 0
    if not items:
        raise MfifError(f"{in_dir}: no pairs or stacks found (see 'mfif batch --help' for the naming rules)")
    skipped_list = skipped_files(in_dir, {p.resolve() for it in items for p in it.sources},
                                 exclude=out_dir if inside else None)
    for f, why in skipped_list:
        print(f"mfif: note: {f}: {why}; skipped", file=sys.stderr)
    stale = remove_stale_temporaries(out_dir)
    if stale:
        print(f"mfif: note: removed {stale} temporary file(s) of an interrupted run under {out_dir}", file=sys.stderr)

    t_start = time.perf_counter()
    done = skipped = 0
    failed: list[tuple[Item, str]] = []
    dask_engine = getattr(args, "engine", "local") != "local" or args.scheduler or args.jobs
    if dask_engine:  # each item a Dask task (mfif.distributed.batch; same skips, errors and report)
        from mfif.distributed.batch import run_items

        done, skipped, failed = run_items(seen, all_inputs, args, fuse_one=run_fusion, kwargs=fusion_kwargs(args))
    bar = tqdm([] if dask_engine else list(seen.items()), desc="mfif batch", unit="item", file=sys.stderr,
               disable=args.no_progress or bool(dask_engine))
    for out, it in bar:
        bar.set_postfix_str(it.name, refresh=False)
        if out.resolve() in all_inputs:
            failed.append((it, f"{out}: output path is an input file; refusing to overwrite it"))
            continue
        if out.exists() and not args.overwrite:
            skipped += 1
            continue
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            stem = out.with_suffix("")
            with warnings.catch_warnings():
                if args.quiet:
                    warnings.simplefilter("ignore")
                run_fusion(
                    it.sources,
                    out,
                    args,
                    map_path=Path(f"{stem}_map.png") if args.maps else None,
                    depth_path=Path(f"{stem}_depth.png") if args.depth_maps else None,
                )
            done += 1
        except MfifError as exc:
            failed.append((it, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
            failed.append((it, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
        if failed and failed[-1][0] is it:
            tqdm.write(f"mfif: error: {it.name}: {failed[-1][1]}", file=sys.stderr)
    bar.close()
    total = len(seen)
    print(f"batch: {total} item(s): {done} fused, {skipped} already done (skipped), {len(failed)} failed; "
          f"{len(skipped_list)} other file(s) skipped")
    print(f"mfif: batch with {method} took {time.perf_counter() - t_start:.1f} s", file=sys.stderr)
    for it, msg in failed:
        print(f"  FAILED {it.name}: {msg}")
    for f, why in skipped_list:
        print(f"  SKIPPED {f}: {why}")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    from mfif.cli.fuse import add_fusion_options

    p = sub.add_parser(
        "batch",
        help="fuse every pair/stack in a folder",
        description="Fuse every pair or stack found in IN_DIR into OUT_DIR. Files are grouped by name: "
        "NAME_A/NAME_B (any letter), NAME-1/NAME-2 or NAME_1/NAME_2, NAME1/NAME2 (e.g. clock1.bmp); "
        "a sub-folder that does not split into such groups is one stack (its images in name order). "
        "Existing outputs are skipped (resume); failing items are reported and the rest still done; "
        "exit code 1 if any item failed.",
    )
    p.add_argument("in_dir", metavar="IN_DIR", help="folder of source images (searched recursively)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created; mirrors IN_DIR's sub-folders)")
    p.add_argument("--ext", default="same", choices=["same", "png", "tif", "tiff", "jpg", "bmp"],
                   help="output format (default: that of the item's first source)")
    p.add_argument("--overwrite", action="store_true", help="redo items whose output already exists")
    p.add_argument("--maps", action="store_true", help="also write NAME_map.png (decision map)")
    p.add_argument("--depth-maps", action="store_true", help="also write NAME_depth.png (source index per pixel)")
    p.add_argument("--list", action="store_true", help="only print the items found and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="hide per-file notes (alpha dropped, 8-bit JPEG, ...)")
    from mfif.cli.fuse import add_input_options

    add_input_options(p)
    add_fusion_options(p)
    from mfif.distributed.batch import add_engine_options

    add_engine_options(p)
    p.set_defaults(func=_cmd)
