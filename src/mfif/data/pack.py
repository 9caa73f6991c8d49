"""A compact training pack: all-in-focus images + binary focus masks + a manifest.

Layout (documented in docs/data.md)::

    PACK/
      manifest.json      format "mfif-pack" v1: items, checksums, splits, skipped items
      images/ID.jpg      the original image bytes (JPEG kept as is; other formats as PNG)
      masks/ID.png       1-bit PNG, white (1) = foreground = sharp in source A

Each manifest item: ``{"id", "image", "mask", "height", "width", "ambiguity", "split",
"sha256": {"image", "mask"}}``. ``split`` is ``"train"`` or ``"val"``; the validation items are chosen by
a seeded rule (the ``val_count`` items with the smallest ``sha256(f"{val_seed}:{id}")``), so the split
does not depend on file order. A pack is written to a temporary folder beside the target and renamed
into place, so a failure never leaves a half-written pack.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mfif.errors import MfifError
from mfif.io import publish

FORMAT = "mfif-pack"
VERSION = 1
MANIFEST = "manifest.json"

__all__ = ["Pack", "PackSource", "write_pack", "mask_to_png_bytes", "png_bytes_to_mask", "sha256_bytes", "val_rank"]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def val_rank(item_id: str, seed: int) -> str:
    """The sort key of the seeded validation rule (smallest keys go to ``val``)."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def mask_to_png_bytes(mask: np.ndarray) -> bytes:
    """Encode an H×W mask (bool or {0,1} numbers; > 0.5 = foreground) as a 1-bit PNG."""
    from PIL import Image

    m = np.asarray(mask)
    if m.ndim != 2:
        raise MfifError(f"mask: expected H x W, got shape {m.shape}")
    im = Image.fromarray(((m > 0.5) * 255).astype(np.uint8)).convert("1")
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_bytes_to_mask(data: bytes, name: str = "mask") -> np.ndarray:
    """Decode a mask PNG (1-bit or 8-bit; > half-range = foreground) to H×W float32 in {0, 1}."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise MfifError(f"{name}: unreadable mask ({exc})") from None
    if im.mode == "1":
        arr = np.asarray(im, dtype=bool)
    else:
        a = np.asarray(im.convert("L"))
        arr = a > 127
    return arr.astype(np.float32)


def decode_image_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """Decode image bytes to H×W×3 float32 in [0, 1] (gray is replicated, alpha dropped)."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise MfifError(f"{name}: unreadable image ({exc})") from None
    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return arr.astype(np.float32) / 255.0


@dataclass
class PackSource:
    """One item to put into a pack.

    Attributes:
        id: Unique item id (file stem).
        image: Path of the all-in-focus image (its bytes are copied if JPEG/PNG).
        mask: H×W mask array (1 = sharp in A), or a path to a mask PNG.
        ambiguity: Per-image ambiguity score from mask recovery (None if unknown).
        extra: Additional per-item fields stored in the manifest.
    """

    id: str
    image: Path
    mask: Any
    ambiguity: float | None = None
    extra: dict[str, Any] | None = None


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        im.load()  # decode fully: catches truncated files
    return h, w


def write_pack(
    sources: Iterable[PackSource],
    out: str | os.PathLike[str],
    *,
    val_count: int = 64,
    val_seed: int = 0,
    max_ambiguity: float | None = None,
    name: str | None = None,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    total: int | None = None,
    skipped: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Write a pack atomically.

    Bad items (missing/unreadable image or mask, size mismatch) are skipped and listed in the
    manifest's ``skipped`` list with a reason; items whose ambiguity exceeds ``max_ambiguity`` are
    listed in ``dropped``.

    Args:
        sources: Items to pack.
        out: Target folder (must not exist unless ``overwrite``).
        val_count: Number of items put in the ``val`` split by the seeded rule.
        val_seed: Seed of that rule.
        max_ambiguity: Drop items with a larger ambiguity score (None = keep all).
        name: Pack name stored in the manifest (default: folder name).
        info: Free-form provenance stored in the manifest.
        overwrite: Replace an existing pack.
        progress: Show a tqdm progress bar.
        total: Number of sources (for the progress bar).
        skipped: Items already skipped upstream (e.g. by mask recovery), listed in the manifest too.

    Returns:
        The manifest dict.
    """
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and not overwrite:
        raise MfifError(f"{out}: already exists (use --overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        items: list[dict[str, Any]] = []
        skipped = list(skipped or [])
        dropped: list[dict[str, Any]] = []
        seen: set[str] = set()
        for src in tqdm(sources, total=total, desc="pack", unit="img", disable=not progress):
            sid = str(src.id)
            if sid in seen:
                skipped.append({"id": sid, "reason": "duplicate id"})
                continue
            seen.add(sid)
            try:
                iname, idata, mask = _read_item(src, sid)
                amb = None if src.ambiguity is None else float(src.ambiguity)
                if max_ambiguity is not None and amb is not None and amb > max_ambiguity:
                    dropped.append({"id": sid, "ambiguity": amb})
                    continue
                mdata = mask_to_png_bytes(mask)
            except MfifError as exc:
                skipped.append({"id": sid, "reason": str(exc)})
                continue
            items.append(_store_item(tmp, src, sid, iname, idata, mask, mdata, amb))
        if not items:
            raise MfifError(f"{out}: no usable items ({len(skipped)} skipped, {len(dropped)} dropped)")
        n_val = _assign_val(items, val_count, val_seed)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "name": name or out.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "mask_convention": "1-bit PNG, 1 (white) = foreground = sharp in source A",
            "val_rule": f"the {n_val} items with the smallest sha256('{val_seed}:' + id)",
            "val_seed": val_seed,
            "max_ambiguity": max_ambiguity,
            "counts": {
                "items": len(items),
                "train": sum(it["split"] == "train" for it in items),
                "val": sum(it["split"] == "val" for it in items),
                "skipped": len(skipped),
                "dropped": len(dropped),
            },
            "info": info or {},
            "items": items,
            "skipped": skipped,
            "dropped": dropped,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _replace_folder(tmp, out)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_item(src: PackSource, sid: str) -> tuple[str, bytes, np.ndarray]:
    """One source's image bytes as stored in the pack (``images/ID.jpg|png``) and its H×W mask.

    JPEG and PNG bytes are kept as they are; any other format is re-encoded as RGB PNG.

    Raises:
        MfifError: missing or unreadable image or mask, or a mask of another size than the image.
    """
    ipath = Path(src.image)
    if not ipath.is_file():
        raise MfifError(f"{ipath}: missing image")
    data = ipath.read_bytes()
    try:
        h, w = _image_size(data)
    except Exception as exc:  # noqa: BLE001 - any decoder failure = bad item
        raise MfifError(f"{ipath}: unreadable image ({type(exc).__name__}: {exc})") from None
    suffix = ipath.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        iname, idata = f"images/{sid}.jpg", data
    elif suffix == ".png":
        iname, idata = f"images/{sid}.png", data
    else:
        from PIL import Image

        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(buf, format="PNG")
        iname, idata = f"images/{sid}.png", buf.getvalue()
    if isinstance(src.mask, (str, os.PathLike)):
        mp = Path(src.mask)
        if not mp.is_file():
            raise MfifError(f"{mp}: missing mask")
        mask = png_bytes_to_mask(mp.read_bytes(), str(mp))
    else:
        mask = np.asarray(src.mask)
    if mask.shape[:2] != (h, w) or mask.ndim != 2:
        raise MfifError(f"{sid}: mask size {mask.shape} does not match image {h}x{w}")
    return iname, idata, mask


def _store_item(
    tmp: Path, src: PackSource, sid: str, iname: str, idata: bytes, mask: np.ndarray, mdata: bytes,
    amb: float | None,
) -> dict[str, Any]:
    """Write one item's image and mask into the pack folder; returns its manifest entry."""
    (tmp / iname).write_bytes(idata)
    mname = f"masks/{sid}.png"
    (tmp / mname).write_bytes(mdata)
    h, w = mask.shape
    item = {
        "id": sid,
        "image": iname,
        "mask": mname,
        "height": h,
        "width": w,
        "ambiguity": amb,
        "foreground": float(np.mean(mask > 0.5)),
        "split": "train",
        "sha256": {"image": sha256_bytes(idata), "mask": sha256_bytes(mdata)},
    }
    if src.extra:
        item.update(src.extra)
    return item


def _assign_val(items: list[dict[str, Any]], val_count: int, val_seed: int) -> int:
    """Mark the seeded rule's validation items (at least one item stays ``train``); sort by id.

    Returns:
        The number of ``val`` items.
    """
    n_val = min(max(int(val_count), 0), len(items) - 1)
    for it in sorted(items, key=lambda it: val_rank(it["id"], val_seed))[:n_val]:
        it["split"] = "val"
    items.sort(key=lambda it: it["id"])
    return n_val


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move the finished folder ``tmp`` to ``out``, replacing an existing ``out`` only at the end."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "x")
        publish(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        publish(tmp, out)


class Pack:
    """Read access to a pack folder.

    Args:
        root: Pack folder containing ``manifest.json``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        mpath = self.root / MANIFEST
        if not mpath.is_file():
            raise MfifError(f"{self.root}: not a pack (no {MANIFEST})")
        try:
            self.manifest = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise MfifError(f"{mpath}: unreadable manifest ({exc})") from None
        if self.manifest.get("format") != FORMAT:
            raise MfifError(f"{mpath}: not an {FORMAT} manifest")
        self.items: list[dict[str, Any]] = list(self.manifest.get("items", []))

    def __len__(self) -> int:
        return len(self.items)

    def indices(self, split: str | None = None) -> list[int]:
        """Item indices of a split (``"train"``, ``"val"``) or all (None)."""
        if split is None:
            return list(range(len(self.items)))
        return [i for i, it in enumerate(self.items) if it.get("split") == split]

    def image_bytes(self, i: int) -> bytes:
        return (self.root / self.items[i]["image"]).read_bytes()

    def load_image(self, i: int) -> np.ndarray:
        """Item ``i``'s image, H×W×3 float32 in [0, 1]."""
        it = self.items[i]
        return decode_image_bytes(self.image_bytes(i), str(self.root / it["image"]))

    def load_mask(self, i: int) -> np.ndarray:
        """Item ``i``'s mask, H×W float32 in {0, 1} (1 = sharp in A)."""
        it = self.items[i]
        p = self.root / it["mask"]
        return png_bytes_to_mask(p.read_bytes(), str(p))

    def verify(self) -> list[str]:
        """Check every file against its sha256. Returns a list of problems (empty = all good)."""
        problems = []
        for it in self.items:
            for key in ("image", "mask"):
                p = self.root / it[key]
                if not p.is_file():
                    problems.append(f"{p}: missing")
                    continue
                if sha256_bytes(p.read_bytes()) != it["sha256"][key]:
                    problems.append(f"{p}: checksum mismatch")
        return problems
