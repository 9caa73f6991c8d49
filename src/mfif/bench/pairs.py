"""Finding source pairs in dataset folders and published fused outputs for them.

Naming (see ``../shared/data/inputs/*/README.txt``):

* ``lytro_NN_A.jpg`` / ``lytro_NN_B.jpg`` -> pair ``lytro_NN`` (also ``mffw_NN_A/_B``);
* ``NAME1.bmp`` / ``NAME2.bmp`` -> pair ``NAME`` (grayscale set; ``toy3`` of a three-image stack is
  ignored, the bench fuses pairs);
* ``g_NN_1.tif`` / ``g_NN_2.tif`` -> pair ``g_NN``.

Published outputs (a folder of fused images made by someone else) are matched to pairs by file stem,
case-insensitively, trying in order: ``<pair>``, ``<pair>_<NAME>``, ``<pair>_fused``,
``<Prefix>_fusion_<i>`` (the MFIF-GAN authors' naming: ``Lytro_fusion_1`` <-> ``lytro_01``,
``MFFW2_fusion_3`` <-> ``mffw_03``, ``grayscale_fusion_i`` <-> :data:`GRAYSCALE_ORDER`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mfif.errors import MfifError
from mfif.io import SUPPORTED_SUFFIXES

__all__ = [
    "Pair",
    "Dataset",
    "Published",
    "GRAYSCALE_ORDER",
    "find_pairs",
    "parse_dataset_arg",
    "parse_published_arg",
    "discover_reference",
]

# MFIF-GAN's 10-pair grayscale set -> scene names of inputs/grayscale (README there). "clock" is
# listed but its framing differs from the authors' version (pixels not identical): it is excluded
# from matching so the published clock output is never scored against the wrong sources.
GRAYSCALE_ORDER: dict[int, str] = {
    2: "pepsi", 3: "lab", 4: "desk", 5: "calendar", 6: "wine", 7: "corner", 8: "flower",
    9: "newspaper", 10: "craft",
}
# Authors' file prefixes per dataset name (lower-case dataset name -> prefixes).
_PREFIXES: dict[str, tuple[str, ...]] = {
    "lytro": ("lytro",),
    "mffw": ("mffw2", "mffw"),
    "grayscale": ("grayscale",),
}
_SUFFIX_RE = re.compile(r"^(?P<stem>.+?)(?P<sep>[_-]?)(?P<tag>[AB12])$")


@dataclass(frozen=True)
class Pair:
    """One source pair.

    Attributes:
        dataset: Dataset name given on the command line (e.g. ``lytro``).
        pair_id: Pair name (``lytro_01``, ``clock``, ``g_03``).
        a: Path of source A (first source; focus map 1 = A in focus).
        b: Path of source B.
        index: Trailing number of the pair id (``lytro_07`` -> 7), or None.
    """

    dataset: str
    pair_id: str
    a: Path
    b: Path
    index: int | None = None


@dataclass
class Dataset:
    """A named folder of pairs."""

    name: str
    root: Path
    pairs: list[Pair] = field(default_factory=list)


@dataclass
class Published:
    """Fused outputs made elsewhere, scored like a method.

    Attributes:
        name: Display name (e.g. ``official:MFIF-GAN``, ``mfifb:CNN``).
        root: Folder searched (recursively) for files.
        tag: Extra stem suffix tried (``<pair>_<tag>``), default the part of ``name`` after ``:``.
        datasets: Restrict to these dataset names (None = any).
        group: ``main`` (ranked in Table 1), ``ablation`` (Fig. 7), ``fig6`` (Fig. 6) or ``unranked``.
        k: Grow/shrink pixels for ``fig6`` entries.
    """

    name: str
    root: Path
    tag: str | None = None
    datasets: tuple[str, ...] | None = None
    group: str = "main"
    k: int | None = None
    _index: dict[str, Path] | None = field(default=None, repr=False)

    def _files(self) -> dict[str, Path]:
        if self._index is None:
            idx: dict[str, Path] = {}
            for dirpath, _dirs, files in os.walk(self.root):
                for f in sorted(files):
                    p = Path(dirpath) / f
                    if p.suffix.lower() in SUPPORTED_SUFFIXES:
                        idx.setdefault(p.stem.lower(), p)
            self._index = idx
        return self._index

    def find(self, pair: Pair) -> Path | None:
        """The published fused image for ``pair``, or None."""
        if self.datasets is not None and pair.dataset not in self.datasets:
            return None
        files = self._files()
        tag = self.tag if self.tag is not None else self.name.split(":", 1)[-1]
        cands = [pair.pair_id, f"{pair.pair_id}_{tag}", f"{pair.pair_id}_fused"]
        ds = pair.dataset.lower()
        prefixes = _PREFIXES.get(ds, (ds,))
        if ds == "grayscale":
            idx = {v: k for k, v in GRAYSCALE_ORDER.items()}.get(pair.pair_id)
        else:
            idx = pair.index
        if idx is not None:
            cands += [f"{p}_fusion_{idx}" for p in prefixes]
        for c in cands:
            hit = files.get(c.lower())
            if hit is not None:
                return hit
        return None


def _index_of(pair_id: str) -> int | None:
    m = re.search(r"(\d+)$", pair_id)
    return int(m.group(1)) if m else None


def find_pairs(root: str | os.PathLike[str], *, dataset: str | None = None) -> list[Pair]:
    """Find the source pairs in a folder (not recursive), sorted by pair id.

    Args:
        root: Folder of sources named as described in the module docstring.
        dataset: Name recorded in each :class:`Pair` (default: the folder name).

    Returns:
        The pairs; files without a partner are ignored.

    Raises:
        MfifError: the folder does not exist or holds no pair.
    """
    r = Path(root)
    if not r.is_dir():
        raise MfifError(f"{r}: dataset folder not found")
    name = dataset or r.name
    groups: dict[str, dict[str, Path]] = {}
    for p in sorted(r.iterdir()):
        if not p.is_file() or p.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        m = _SUFFIX_RE.match(p.stem)
        if not m:
            continue
        tag = {"1": "A", "2": "B"}.get(m.group("tag"), m.group("tag"))
        groups.setdefault(m.group("stem"), {})[tag] = p
    pairs = [
        Pair(dataset=name, pair_id=k, a=v["A"], b=v["B"], index=_index_of(k))
        for k, v in sorted(groups.items())
        if "A" in v and "B" in v
    ]
    if not pairs:
        raise MfifError(f"{r}: no source pairs found (expected NAME_A/NAME_B or NAME1/NAME2 files)")
    return pairs


def parse_dataset_arg(text: str) -> Dataset:
    """Parse ``NAME=PATH`` (or a bare ``PATH``, named after the folder) into a :class:`Dataset`."""
    name, sep, path = text.partition("=")
    if not sep:
        name, path = Path(text).name, text
    if not name or not path:
        raise MfifError(f"--dataset: expected NAME=PATH, got {text!r}")
    ds = Dataset(name=name, root=Path(path))
    ds.pairs = find_pairs(ds.root, dataset=name)
    return ds


def parse_published_arg(text: str, *, group: str = "main") -> Published:
    """Parse ``NAME=DIR`` into a :class:`Published` (``--published`` / ``--ablation``)."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise MfifError(f"--published: expected NAME=DIR, got {text!r}")
    if not Path(path).is_dir():
        raise MfifError(f"--published {name}: folder {path} not found")
    return Published(name=name, root=Path(path), group=group)


_OFFICIAL_DS = {"Lytro": "lytro", "MFFW": "mffw", "grayscale": "grayscale"}
_FIG6_RE = re.compile(r"^MFIF_(diffused|contracted)_with_(\d+)pixels$")


def discover_reference(root: str | os.PathLike[str], *, rank_official_mffw: bool = False) -> list[Published]:
    """Published methods found under a reference root (``../shared/data/reference``).

    * ``mfif-gan-official/<Dataset>/<variant>/``: ``official:MFIF-GAN`` is ranked (group ``main``);
      the other variants are ``ablation`` entries (Fig. 7) and ``MFIF_{diffused,contracted}_with_k``
      are ``fig6`` entries (k > 0 diffused = A's region grown, k < 0 contracted). The MFFW outputs are
      not ranked by default (their README: they were fused from other encodings of the scenes).
    * ``mfifb/fused/<dataset>_NN_<METHOD>.jpg``: ``mfifb:<METHOD>`` for each of the 30 methods.

    Args:
        root: Folder holding ``mfif-gan-official`` and/or ``mfifb``.
        rank_official_mffw: Also rank the authors' MFFW outputs.

    Returns:
        The published entries (may be empty).
    """
    r = Path(root)
    if not r.is_dir():
        raise MfifError(f"--reference-root: {r} not found")
    out: list[Published] = []
    off = r / "mfif-gan-official"
    if off.is_dir():
        variants: dict[str, dict[str, Path]] = {}
        for dsdir in sorted(p for p in off.iterdir() if p.is_dir()):
            ds = _OFFICIAL_DS.get(dsdir.name, dsdir.name.lower())
            for vdir in sorted(p for p in dsdir.iterdir() if p.is_dir()):
                variants.setdefault(vdir.name, {})[ds] = vdir
        for v, per_ds in variants.items():
            m = _FIG6_RE.match(v)
            for ds, vdir in per_ds.items():
                if m:
                    k = int(m.group(2)) * (1 if m.group(1) == "diffused" else -1)
                    out.append(Published(f"official:{v}", vdir, datasets=(ds,), group="fig6", k=k))
                    continue
                group = "main" if v == "MFIF-GAN" else "ablation"
                if ds == "mffw" and not rank_official_mffw:
                    group = "unranked" if group == "main" else "ablation-unranked"
                out.append(Published(f"official:{v}", vdir, datasets=(ds,), group=group))
    fb = r / "mfifb" / "fused"
    if fb.is_dir():
        names: set[str] = set()
        for p in fb.iterdir():
            m = re.match(r"^[A-Za-z]+_\d+_(.+)$", p.stem)
            if m and p.suffix.lower() in SUPPORTED_SUFFIXES:
                names.add(m.group(1))
        shared_index: dict[str, Path] | None = None
        for n in sorted(names):
            pub = Published(f"mfifb:{n}", fb, tag=n)
            if shared_index is None:
                shared_index = pub._files()
            pub._index = shared_index
            out.append(pub)
    if not out:
        warnings.warn(f"--reference-root: nothing recognised under {r}", stacklevel=2)
    return out
