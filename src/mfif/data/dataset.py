"""A torch Dataset of synthetic multi-focus pairs built on the fly from a pack (images + masks).

Item ``i`` is a dict of float32 tensors:

* ``"a"``, ``"b"``: 3×H×W sources in [0, 1] (A = mask-1 region sharp), only when ``synthesize=True``;
* ``"mask"``: 1×H×W in {0, 1} (1 = A in focus);
* ``"truth"``: 3×H×W all-in-focus crop;
* ``"sigma"``: scalar tensor, the σ used (drawn per item when a range is given);
* ``"teacher"``: 1×H×W extra map (e.g. a teacher's soft focus map), only with ``extra_maps``;
* ``"a_in"``, ``"b_in"``: the network's inputs when they differ from the clean ``a``/``b`` (JPEG
  augmentation), only with ``jpeg_p`` > 0.

Augmentation (``augment=True``): random crop, horizontal/vertical flips and 90° rotations. Everything
random about item ``i`` comes from ``numpy.random.default_rng([seed, epoch, i])``, so results do not
depend on DataLoader worker count or order; call :meth:`SyntheticPairDataset.set_epoch` each epoch to
get new crops. The pair is synthesised on the full image and then cropped, so crop borders carry no
padding artefacts.

Real-photo augmentations (all off by default; each draws from its own generator
``default_rng([seed, epoch, i, k])``, so switching one on leaves every other draw unchanged):
``scale`` (resize image and mask by a factor drawn per item, before synthesis), ``small_regions_p``
(add small blobs / thin strokes of the opposite class to the mask, :func:`add_small_regions`),
``disk_p`` (pill-box instead of Gaussian defocus), ``ring_p`` (its outer 1 px ring: doubled thin lines), ``jpeg_p`` (JPEG-compress the cropped A and B,
returned as ``a_in``/``b_in``; ``a``/``b`` stay clean for the image loss) and ``swap_p`` (swap A and B
and invert the mask — and a teacher map). For GPU training use ``synthesize=False`` and
:func:`mfif.data.synthesis.synthesize_batch_torch` on the batch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from mfif.data.pack import Pack
from mfif.data.synthesis import MODELS, add_small_regions, jpeg_roundtrip, rescale_item, synthesize_pair
from mfif.errors import MfifError

try:  # torch is a dependency of the package, but keep import errors readable
    import torch
    from torch.utils.data import Dataset
except ModuleNotFoundError:  # pragma: no cover
    torch = None  # type: ignore[assignment]
    Dataset = object  # type: ignore[assignment,misc]

__all__ = ["SyntheticPairDataset"]


class _ArraySource:
    def __init__(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> None:
        if len(images) != len(masks):
            raise MfifError(f"masks: {len(masks)} masks for {len(images)} images")
        self.images = []
        self.masks = []
        for k, (im, m) in enumerate(zip(images, masks)):
            im = np.asarray(im, dtype=np.float32)
            if im.ndim == 2:
                im = np.repeat(im[..., None], 3, axis=2)
            if im.ndim != 3 or im.shape[2] != 3:
                raise MfifError(f"images[{k}]: expected H x W or H x W x 3, got {im.shape}")
            m = (np.asarray(m, dtype=np.float32) > 0.5).astype(np.float32)
            if m.shape != im.shape[:2]:
                raise MfifError(f"masks[{k}]: shape {m.shape} does not match image {im.shape[:2]}")
            self.images.append(im)
            self.masks.append(m)

    def __len__(self) -> int:
        return len(self.images)

    def load_image(self, i: int) -> np.ndarray:
        return self.images[i]

    def load_mask(self, i: int) -> np.ndarray:
        return self.masks[i]


class SyntheticPairDataset(Dataset):
    """Synthetic (A, B, mask, truth) samples from a pack.

    Args:
        pack_or_dir: A :class:`~mfif.data.pack.Pack` or its folder.
        crop: Square crop size (None = whole image). Images smaller than the crop are padded by
            symmetric reflection.
        model: ``"alpha"`` (α-matte, authors' composition) or ``"conventional"``.
        sigma: A fixed σ or a ``(lo, hi)`` range drawn uniformly per item.
        augment: Random crop position, flips and 90° rotations (False = centre crop, no flips).
        seed: Base seed.
        indices: Pack item indices to use (overrides ``split``).
        length: Virtual length; item ``i`` uses image ``indices[i % n]`` (default: ``n``).
        split: ``"train"`` (default), ``"val"`` or None (all items) when reading a pack.
        synthesize: False = return only ``truth``, ``mask`` and ``sigma`` (synthesise on the GPU).
        literal: Paper's literal eqs. 10–11 for the α-matte model (fringe; for ablations only).
        cache: Keep decoded images in memory after first use.
        max_ambiguity: Skip pack items whose recovery ambiguity score is larger (stricter than the
            pack's own threshold); items without a score are kept.
        fixed_sigma: Pack item index → σ to use for that item instead of the drawn one (the draw
            still happens, so the crops and flips of every item stay the same).
        extra_maps: Pack item index → H×W map of the item's full image (same shape as its mask),
            cropped, flipped and rotated exactly like the mask and returned as ``"teacher"``
            (float32). Every item of ``indices`` must have one.
        scale: A fixed factor or a ``(lo, hi)`` range drawn uniformly per item: the image and mask
            are resized by it before synthesis and cropping (1 = off). < 1 packs more detail into
            each pixel, like the small real test photos.
        small_regions_p: Probability that an item's mask gets 1..``small_regions_max`` small blobs or
            thin strokes of the opposite class (texture-weighted placement; 0 = off).
        small_regions_max: Largest number of shapes added to one mask.
        disk_p: Probability that an item's defocus blur is a pill-box of radius 2σ instead of the
            Gaussian (0 = off).
        ring_p: Probability that it is the pill-box's outer 1 px ring instead (a bright-rimmed lens
            blur that doubles thin lines; 0 = off; ``disk_p + ring_p`` ≤ 1).
        jpeg_p: Probability that an item's cropped A and B are JPEG-compressed (same quality for
            both), returned as ``a_in``/``b_in`` (0 = off; then those keys are absent).
        jpeg_quality: ``(lo, hi)`` quality range, drawn as an integer per item.
        swap_p: Probability that A and B are swapped and the mask (and teacher map) inverted (0 = off).
        exposure_p: Probability that one of the two network inputs (A or B, drawn) is multiplied by a
            gain drawn from ``exposure_gain`` and clipped to [0, 1] — two photos of one scene taken at
            slightly different exposures — before any JPEG compression; returned as ``a_in``/``b_in``
            (0 = off). The image loss composes the clean sources.
        exposure_gain: ``(lo, hi)`` range of that gain.
    """

    def __init__(
        self,
        pack_or_dir: Pack | str | os.PathLike[str] | _ArraySource,
        *,
        crop: int | None = 128,
        model: str = "alpha",
        sigma: float | tuple[float, float] = 1.0,
        augment: bool = True,
        seed: int = 0,
        indices: Sequence[int] | None = None,
        length: int | None = None,
        split: str | None = "train",
        synthesize: bool = True,
        literal: bool = False,
        cache: bool = False,
        max_ambiguity: float | None = None,
        fixed_sigma: Mapping[int, float] | None = None,
        extra_maps: Mapping[int, np.ndarray] | None = None,
        scale: float | tuple[float, float] = 1.0,
        small_regions_p: float = 0.0,
        small_regions_max: int = 4,
        disk_p: float = 0.0,
        ring_p: float = 0.0,
        jpeg_p: float = 0.0,
        jpeg_quality: tuple[int, int] = (50, 95),
        swap_p: float = 0.0,
        exposure_p: float = 0.0,
        exposure_gain: tuple[float, float] = (0.85, 1.15),
    ) -> None:
        if model not in MODELS:
            raise MfifError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
        if isinstance(pack_or_dir, (str, os.PathLike)):
            pack_or_dir = Pack(Path(pack_or_dir))
        self.source = pack_or_dir
        if indices is not None:
            self.indices = [int(i) for i in indices]
        elif isinstance(pack_or_dir, Pack):
            self.indices = pack_or_dir.indices(split)
        else:
            self.indices = list(range(len(pack_or_dir)))
        if max_ambiguity is not None and isinstance(pack_or_dir, Pack):
            self.indices = [
                i for i in self.indices
                if (pack_or_dir.items[i].get("ambiguity") is None or pack_or_dir.items[i]["ambiguity"] <= max_ambiguity)
            ]
        if not self.indices:
            raise MfifError(f"dataset: no items (split={split!r})")
        if isinstance(sigma, (int, float)):
            if sigma < 0:
                raise MfifError(f"sigma: must be >= 0, got {sigma}")
            self.sigma_range = (float(sigma), float(sigma))
        else:
            lo, hi = (float(s) for s in sigma)
            if not 0 <= lo <= hi:
                raise MfifError(f"sigma: expected 0 <= lo <= hi, got {sigma}")
            self.sigma_range = (lo, hi)
        if crop is not None and crop < 1:
            raise MfifError(f"crop: must be >= 1, got {crop}")
        self.crop = crop
        self.model = model
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.length = int(length) if length is not None else len(self.indices)
        self.synthesize = synthesize
        self.literal = literal
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self.fixed_sigma = fixed_sigma
        if fixed_sigma is not None:
            bad = [j for j in self.indices
                   if j in fixed_sigma and not (math.isfinite(float(fixed_sigma[j])) and float(fixed_sigma[j]) >= 0)]
            if bad:
                raise MfifError(f"fixed_sigma: item {bad[0]}: must be a finite number >= 0, got {fixed_sigma[bad[0]]}")
        lo_s, hi_s = (float(scale), float(scale)) if isinstance(scale, (int, float)) else (float(v) for v in scale)
        if not 0 < lo_s <= hi_s:
            raise MfifError(f"scale: expected a number > 0 or (lo, hi) with 0 < lo <= hi, got {scale}")
        self.scale_range = (lo_s, hi_s)
        for name, v in (("small_regions_p", small_regions_p), ("disk_p", disk_p), ("ring_p", ring_p), ("jpeg_p", jpeg_p),
                        ("swap_p", swap_p), ("exposure_p", exposure_p)):
            if not 0 <= float(v) <= 1:
                raise MfifError(f"{name}: expected a probability in [0, 1], got {v}")
        if small_regions_max < 1:
            raise MfifError(f"small_regions_max: must be >= 1, got {small_regions_max}")
        q_lo, q_hi = (int(q) for q in jpeg_quality)
        if not 1 <= q_lo <= q_hi <= 100:
            raise MfifError(f"jpeg_quality: expected (lo, hi) with 1 <= lo <= hi <= 100, got {jpeg_quality}")
        g_lo, g_hi = (float(g) for g in exposure_gain)
        if not 0 < g_lo <= g_hi:
            raise MfifError(f"exposure_gain: expected (lo, hi) with 0 < lo <= hi, got {exposure_gain}")
        if float(disk_p) + float(ring_p) > 1:
            raise MfifError(f"disk_p + ring_p: must be at most 1, got {disk_p} + {ring_p}")
        if not synthesize and (disk_p > 0 or ring_p > 0 or jpeg_p > 0 or swap_p > 0 or exposure_p > 0):
            raise MfifError("disk_p, ring_p, jpeg_p, swap_p, exposure_p: need synthesize=True (they act on the "
                            "synthesised pair)")
        self.small_regions_p = float(small_regions_p)
        self.small_regions_max = int(small_regions_max)
        self.disk_p = float(disk_p)
        self.ring_p = float(ring_p)
        self.jpeg_p = float(jpeg_p)
        self.jpeg_quality = (q_lo, q_hi)
        self.swap_p = float(swap_p)
        self.exposure_p = float(exposure_p)
        self.exposure_gain = (g_lo, g_hi)
        self.extra_maps = extra_maps
        if extra_maps is not None:
            lacking = [j for j in self.indices if j not in extra_maps]
            if lacking:
                raise MfifError(f"extra_maps: no map for {len(lacking)} of {len(self.indices)} items "
                                f"(e.g. pack item {lacking[0]})")

    @classmethod
    def from_arrays(
        cls, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], **kwargs: Any
    ) -> "SyntheticPairDataset":
        """In-memory dataset (tests, notebooks): images H×W(×3) float32 [0,1], masks H×W {0,1}."""
        kwargs.pop("split", None)
        return cls(_ArraySource(images, masks), split=None, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch used in the per-item seed (new crops/σ each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _load(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and j in self._cache:
            return self._cache[j]
        img = self.source.load_image(j)
        m = self.source.load_mask(j)
        if self._cache is not None:
            self._cache[j] = (img, m)
        return img, m

    def sample(self, i: int) -> dict[str, Any]:
        """Item ``i`` as numpy arrays (H×W×3 / H×W) plus the drawn parameters."""
        if not 0 <= i < self.length:
            raise IndexError(i)
        j = self.indices[i % len(self.indices)]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, m = self._load(j)
        lo, hi = self.sigma_range
        sigma = float(rng.uniform(lo, hi)) if hi > lo else lo
        if self.fixed_sigma is not None and j in self.fixed_sigma:
            sigma = float(self.fixed_sigma[j])  # drawn above all the same: later draws keep their order
        extra = None
        if self.extra_maps is not None:
            extra = np.asarray(self.extra_maps[j])
            if extra.shape != m.shape:
                raise MfifError(f"extra_maps: item {j}: map shape {extra.shape} does not match the mask {m.shape}")
        sub = [np.random.default_rng([self.seed, self.epoch, i, k]) for k in range(1, 6)]
        lo_s, hi_s = self.scale_range
        if (lo_s, hi_s) != (1.0, 1.0):
            s_f = float(sub[0].uniform(lo_s, hi_s)) if hi_s > lo_s else lo_s
            img, m, extra = rescale_item(img, m, s_f, extra=extra)
        if self.small_regions_p > 0 and sub[1].random() < self.small_regions_p:
            m = add_small_regions(m, sub[1], count=int(sub[1].integers(1, self.small_regions_max + 1)), image=img)
        kernel = "gaussian"
        if self.disk_p > 0 or self.ring_p > 0:  # no draw when both are off (earlier runs' streams unchanged)
            u = sub[2].random()
            kernel = "disk" if u < self.disk_p else "ring" if u < self.disk_p + self.ring_p else "gaussian"
        quality = None
        if self.jpeg_p > 0:
            do_jpeg = sub[3].random() < self.jpeg_p
            q = int(sub[3].integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
            quality = q if do_jpeg else None
        swap = self.swap_p > 0 and sub[4].random() < self.swap_p
        h, w = m.shape
        c = self.crop
        if c is not None and (h < c or w < c):
            ph, pw = max(c - h, 0), max(c - w, 0)
            pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
            img = np.pad(img, pads + ((0, 0),), mode="symmetric")
            m = np.pad(m, pads, mode="symmetric")
            if extra is not None:
                extra = np.pad(extra, pads, mode="symmetric")
            h, w = m.shape
        if c is None:
            y0, x0, ch, cw = 0, 0, h, w
        elif self.augment:
            y0 = int(rng.integers(0, h - c + 1))
            x0 = int(rng.integers(0, w - c + 1))
            ch = cw = c
        else:
            y0, x0, ch, cw = (h - c) // 2, (w - c) // 2, c, c
        flip_h = flip_v = False
        k = 0
        if self.augment:
            flip_h = bool(rng.integers(0, 2))
            flip_v = bool(rng.integers(0, 2))
            k = int(rng.integers(0, 4))
        out: dict[str, np.ndarray] = {"truth": img, "mask": m}
        if self.synthesize:
            out["a"], out["b"] = synthesize_pair(img, m, sigma=sigma, model=self.model, literal=self.literal,
                                                 kernel=kernel)
        if extra is not None:
            out["teacher"] = extra
        for key, arr in out.items():
            arr = arr[y0 : y0 + ch, x0 : x0 + cw]
            if flip_h:
                arr = arr[:, ::-1]
            if flip_v:
                arr = arr[::-1]
            if k:
                arr = np.rot90(arr, k)
            out[key] = np.ascontiguousarray(arr, dtype=np.float32)
        gain = None
        if self.exposure_p > 0:  # its own stream: the draws above stay those of a run without it
            rx = np.random.default_rng([self.seed, self.epoch, i, 6])
            if rx.random() < self.exposure_p:
                gain = ("ab"[int(rx.integers(0, 2))], float(rx.uniform(*self.exposure_gain)))
        if self.synthesize and (self.jpeg_p > 0 or self.exposure_p > 0):
            for key in ("a", "b"):
                x = out[key]
                if gain is not None and gain[0] == key:
                    x = np.clip(x * np.float32(gain[1]), 0.0, 1.0).astype(np.float32)
                out[key + "_in"] = jpeg_roundtrip(x, quality) if quality is not None else x
        if swap:
            out["mask"] = (1.0 - out["mask"]).astype(np.float32)
            if "teacher" in out:
                out["teacher"] = (1.0 - out["teacher"]).astype(np.float32)
            for x, y in (("a", "b"), ("a_in", "b_in")):
                if x in out:
                    out[x], out[y] = out[y], out[x]
        return {**out, "sigma": sigma, "index": j, "kernel": kernel, "jpeg_quality": quality, "swapped": swap,
                "exposure": gain}

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.sample(i)
        item = {
            "truth": torch.from_numpy(s["truth"].transpose(2, 0, 1).copy()),
            "mask": torch.from_numpy(s["mask"][None].copy()),
            "sigma": torch.tensor(s["sigma"], dtype=torch.float32),
        }
        if self.synthesize:
            for key in ("a", "b", "a_in", "b_in"):
                if key in s:
                    item[key] = torch.from_numpy(s[key].transpose(2, 0, 1).copy())
        if "teacher" in s:
            item["teacher"] = torch.from_numpy(s["teacher"][None].copy())
        return item
