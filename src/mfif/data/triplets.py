"""Folder-level mask recovery and pack sources.

A *triplet folder* holds ``groundtruth/``, ``sourceA/`` and ``sourceB/`` with files of the same stem
(mf-voc layout; A = foreground sharp). :func:`recover_dir` writes a *recovered folder*::

    OUT/recovery.json    per item: id, image (absolute path of the all-in-focus file), mask,
                         ambiguity, sigma, confident; plus the skipped items and their reasons
    OUT/masks/ID.png     1-bit recovered masks (1 = foreground = sharp in A)

A *VOC folder* holds ``JPEGImages/`` and ``SegmentationClass/`` (labels ≠ 0 are foreground).
:func:`pack_sources` turns any of the three into :class:`~mfif.data.pack.PackSource` items.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from mfif.data.pack import PackSource, mask_to_png_bytes
from mfif.data.recovery import recover_mask, voc_label_to_mask
from mfif.errors import MfifError
from mfif.io import write_atomic

TRIPLET_DIRS = ("groundtruth", "sourceA", "sourceB")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
RECOVERY_JSON = "recovery.json"

__all__ = ["find_triplets", "recover_dir", "pack_sources", "load_triplet"]


def _stems(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def find_triplets(root: str | os.PathLike[str]) -> tuple[list[tuple[str, Path, Path, Path]], list[dict[str, str]]]:
    """List ``(id, gt, a, b)`` of a triplet folder and the ids missing one of the three files."""
    root = Path(root)
    dirs = [root / d for d in TRIPLET_DIRS]
    for d in dirs:
        if not d.is_dir():
            raise MfifError(f"{root}: not a triplet folder (no {d.name}/)")
    gt, sa, sb = (_stems(d) for d in dirs)
    ids = sorted(set(gt) | set(sa) | set(sb))
    ok, bad = [], []
    for i in ids:
        missing = [n for n, m in zip(TRIPLET_DIRS, (gt, sa, sb)) if i not in m]
        if missing:
            bad.append({"id": i, "reason": f"missing file in {', '.join(missing)}"})
        else:
            ok.append((i, gt[i], sa[i], sb[i]))
    return ok, bad


def _read_rgb(p: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(p) as im:
        im.load()
        return np.asarray(im.convert("RGB"), np.float32) / 255.0


def load_triplet(gt: Path, a: Path, b: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``(a, b, gt)`` as float32 H×W×3; raises MfifError on unreadable files or size mismatch."""
    arrs = []
    for p in (a, b, gt):
        try:
            arrs.append(_read_rgb(p))
        except Exception as exc:  # noqa: BLE001 - any decoder failure = bad item
            raise MfifError(f"{p}: unreadable ({type(exc).__name__})") from None
    if not (arrs[0].shape == arrs[1].shape == arrs[2].shape):
        raise MfifError(f"{gt.stem}: size mismatch A {arrs[0].shape[:2]}, B {arrs[1].shape[:2]}, gt {arrs[2].shape[:2]}")
    return arrs[0], arrs[1], arrs[2]


def _recover_one(args: tuple[str, Path, Path, Path, dict[str, Any]]) -> dict[str, Any]:
    i, gt, a, b, opts = args
    try:
        A, B, G = load_triplet(gt, a, b)
        r = recover_mask(A, B, G, **opts)
    except MfifError as exc:
        return {"id": i, "error": str(exc)}
    return {
        "id": i,
        "image": str(gt.resolve()),
        "png": mask_to_png_bytes(r.mask),
        "ambiguity": round(r.ambiguity, 5),
        "sigma": r.sigma,
        "confident": round(r.confident, 4),
        "residual": round(r.residual, 3),
        "foreground": round(float(r.mask.mean()), 4),
    }


def recover_dir(
    triplet_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    limit: int | None = None,
    progress: bool = True,
    **opts: Any,
) -> dict[str, Any]:
    """Recover masks for every triplet of a folder; returns the ``recovery.json`` dict.

    Args:
        triplet_dir: Folder with groundtruth/, sourceA/, sourceB/.
        out_dir: Output folder (created); masks/ and recovery.json are written atomically per file.
        jobs: Worker processes.
        limit: Only the first ``limit`` triplets (by id).
        progress: tqdm progress bar.
        **opts: Passed to :func:`~mfif.data.recovery.recover_mask`.
    """
    from tqdm import tqdm

    triplets, skipped = find_triplets(triplet_dir)
    if limit is not None:
        triplets = triplets[:limit]
    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    items = []
    t0 = time.perf_counter()
    work = [(i, g, a, b, opts) for i, g, a, b in triplets]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results: Iterator[dict[str, Any]] = ex.map(_recover_one, work, chunksize=16)
            results = iter(tqdm(results, total=len(work), desc="recover", unit="img", disable=not progress))
            res_list = list(results)
    else:
        res_list = [_recover_one(w) for w in tqdm(work, desc="recover", unit="img", disable=not progress)]
    for r in res_list:
        if "error" in r:
            skipped.append({"id": r["id"], "reason": r["error"]})
            continue
        png = r.pop("png")
        write_atomic(out / "masks" / f"{r['id']}.png", png)
        r["mask"] = f"masks/{r['id']}.png"
        items.append(r)
    doc = {
        "format": "mfif-recovery",
        "version": 1,
        "source": str(Path(triplet_dir).resolve()),
        "options": {k: v for k, v in opts.items()},
        "seconds": round(time.perf_counter() - t0, 2),
        "items": items,
        "skipped": skipped,
    }
    write_atomic(out / RECOVERY_JSON, json.dumps(doc, indent=1).encode())
    return doc


def pack_sources(folder: str | os.PathLike[str], *, jobs: int = 1, progress: bool = True) -> tuple[list[PackSource], list[dict[str, str]], dict[str, Any]]:
    """Pack sources of a recovered folder, a triplet folder (recovered on the fly) or a VOC folder.

    Returns:
        ``(sources, skipped, info)``.
    """
    folder = Path(folder)
    if (folder / RECOVERY_JSON).is_file():
        doc = json.loads((folder / RECOVERY_JSON).read_text())
        src = [
            PackSource(it["id"], Path(it["image"]), folder / it["mask"], it.get("ambiguity"),
                       {"sigma": it.get("sigma")})
            for it in doc["items"]
        ]
        return src, list(doc.get("skipped", [])), {"kind": "recovered", "path": str(folder), "source": doc.get("source")}
    if all((folder / d).is_dir() for d in TRIPLET_DIRS):
        with tempfile.TemporaryDirectory() as tmp:
            doc = recover_dir(folder, tmp, jobs=jobs, progress=progress)
            src = []
            for it in doc["items"]:
                m = (Path(tmp) / it["mask"]).read_bytes()
                from mfif.data.pack import png_bytes_to_mask

                src.append(PackSource(it["id"], Path(it["image"]), png_bytes_to_mask(m), it["ambiguity"], {"sigma": it["sigma"]}))
        return src, list(doc["skipped"]), {"kind": "triplets", "path": str(folder)}
    if (folder / "JPEGImages").is_dir() and (folder / "SegmentationClass").is_dir():
        imgs = _stems(folder / "JPEGImages")
        labs = _stems(folder / "SegmentationClass")
        src, skipped = [], []
        for i in sorted(labs):
            if i not in imgs:
                skipped.append({"id": i, "reason": "missing image in JPEGImages"})
                continue
            try:
                m = voc_label_to_mask(labs[i])
            except MfifError as exc:
                skipped.append({"id": i, "reason": str(exc)})
                continue
            src.append(PackSource(i, imgs[i], m, None))
        return src, skipped, {"kind": "voc", "path": str(folder)}
    raise MfifError(f"{folder}: not a recovered folder ({RECOVERY_JSON}), triplet folder or VOC folder")
