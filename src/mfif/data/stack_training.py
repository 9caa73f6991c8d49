"""Synthetic focal stacks for training the stack model (``mfif-stack``), on the fly and seeded.

Every sample is built from all-in-focus photographs (a :class:`SceneBank`: any folder of images, e.g.
the ground-truth crops of the mf-voc triplets): a depth map, a focal sweep of N planes, each frame
blurred by the defocus of its plane. It generalises the α-matte pair synthesis
(:mod:`mfif.data.synthesis`) to N planes, like :func:`mfif.data.stacks.focal_stack` but with photographs
as textures instead of noise textures (which stay reserved for validation and the bench):

* ``layers`` (2–4 photographs at distinct depths, painted far to near; a frame composes them as
  ``F ← blur(M)·blur(T) + (1 − blur(M))·F``, so a defocused near layer spreads over the sharp
  background — the defocus spread effect; masks are smooth blobs, small blobs or thin strokes; a
  bright low-contrast background behind darker layers in a quarter of them, the halo scene);
* ``tilted`` planes and ``smooth`` surfaces (continuous depth; per-pixel blur interpolated between
  pre-blurred copies).

Blur σ = ``step``·|z − k| for frame k (step drawn per stack), Gaussian or disk (pill-box of radius 2σ)
kernels; then per frame optional focus breathing (magnification), sensor noise (shot + read) and JPEG
compression. Frames are gray (the model reads luma).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mfif.errors import MfifError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class SceneBank:
    """All-in-focus gray photographs kept as uint8 in memory.

    Args:
        folder: Folder of images (searched recursively), or None with ``images`` given.
        images: Alternatively, a list of H×W uint8 or float [0, 1] arrays (tests).
        limit: Keep at most this many files (sorted by name).
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, *, images: Sequence[np.ndarray] | None = None,
                 limit: int | None = None) -> None:
        import cv2

        if images is not None:
            self.images = [self._u8(im) for im in images]
        else:
            if folder is None:
                raise MfifError("SceneBank: give a folder or images")
            root = Path(folder)
            if not root.is_dir():
                raise MfifError(f"{root}: not a folder of all-in-focus images")
            paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
            self.images = []
            for p in paths:
                im = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
                if im is not None and min(im.shape) >= 32:
                    self.images.append(im)
        if not self.images:
            raise MfifError(f"{folder}: no readable images of at least 32×32")

    @staticmethod
    def _u8(im: np.ndarray) -> np.ndarray:
        a = np.asarray(im)
        if a.ndim == 3:
            a = a[..., :3] @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
        if a.dtype != np.uint8:
            a = np.clip(np.rint(np.asarray(a, np.float64) * 255.0), 0, 255).astype(np.uint8)
        return a

    def __len__(self) -> int:
        return len(self.images)

    def crop(self, rng: np.random.Generator, size: int, *, scale: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
        """A random ``size``×``size`` crop, float32 [0, 1], of a random image rescaled by a random factor in
        ``scale`` (never below ``size``), randomly flipped/rotated."""
        import cv2

        im = self.images[int(rng.integers(len(self.images)))]
        h, w = im.shape
        f = float(rng.uniform(*scale))
        f = max(f, size / min(h, w))
        if abs(f - 1.0) > 1e-3:
            im = cv2.resize(im, (max(size, int(round(w * f))), max(size, int(round(h * f)))), interpolation=cv2.INTER_AREA)
            h, w = im.shape
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        c = im[y:y + size, x:x + size].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            c = c[:, ::-1]
        c = np.rot90(c, int(rng.integers(4)))
        return np.ascontiguousarray(c)


@dataclass
class StackSample:
    """One training stack (gray).

    Attributes:
        frames: n×H×W float32 [0, 1].
        truth: H×W float32 all-in-focus image.
        z: H×W float32 continuous depth in frame units.
        edges: H×W bool, depth-index changes (within 1 px).
    """

    frames: np.ndarray
    truth: np.ndarray
    z: np.ndarray
    edges: np.ndarray


def _blur(img: np.ndarray, sigma: float, kernel: str) -> np.ndarray:
    import cv2

    if sigma < 0.05:
        return img
    if kernel == "disk":
        from mfif.data.stacks import disk_kernel

        return cv2.filter2D(img, -1, disk_kernel(2.0 * sigma), borderType=cv2.BORDER_REFLECT)
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random foreground mask: a smooth blob, several small blobs, or thin strokes (float32 0/1)."""
    import cv2

    kind = rng.random()
    if kind < 0.6:
        f = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), size * rng.uniform(0.06, 0.2))
        cover = rng.uniform(0.15, 0.6)
        m = f > np.quantile(f, 1.0 - cover)
    elif kind < 0.8:
        f = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), size * rng.uniform(0.02, 0.05))
        m = f > np.quantile(f, 1.0 - rng.uniform(0.05, 0.2))
    else:
        m = np.zeros((size, size), np.uint8)
        for _ in range(int(rng.integers(1, 6))):
            p0 = tuple(int(v) for v in rng.integers(0, size, 2))
            p1 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(m, p0, p1, 1, int(rng.integers(1, 6)))
        m = m > 0
    if not m.any():
        m[size // 2 - 4:size // 2 + 4, size // 2 - 4:size // 2 + 4] = True
    return m.astype(np.float32)


def make_training_stack(
    bank: SceneBank,
    rng: np.random.Generator,
    *,
    n: int,
    size: int = 112,
    step: tuple[float, float] = (0.4, 2.0),
    noise: tuple[float, float] = (0.0, 0.02),
    jpeg_p: float = 0.3,
    breathing_p: float = 0.3,
    breathing: float = 0.02,
) -> StackSample:
    """One seeded synthetic focal stack built from ``bank``'s photographs (module docstring).

    Args:
        bank: The all-in-focus photographs.
        rng: Random generator (the sample is a function of its state).
        n: Number of frames (≥ 2).
        size: Crop side (pixels).
        step: Range of the blur σ per frame of defocus (pixels).
        noise: Range of the sensor-noise scale.
        jpeg_p: Probability that the stack's frames are JPEG-compressed (quality 60–95).
        breathing_p: Probability of focus breathing (magnification up to ``breathing`` over the sweep).
        breathing: Largest total magnification change.

    Returns:
        :class:`StackSample`.
    """
    import cv2

    from mfif.data.stacks import _index_edges

    if n < 2:
        raise MfifError(f"n: a stack needs at least two frames, got {n}")
    s = float(rng.uniform(*step))
    kernel = "disk" if rng.random() < 0.5 else "gaussian"
    kind = rng.random()
    # the depths need not span the whole sweep: some frames may be in focus nowhere
    lo = float(rng.uniform(0, 0.3 * (n - 1)))
    hi = float(rng.uniform(lo + 0.5 * (n - 1 - lo), n - 1)) if n > 2 else n - 1.0
    frames = np.zeros((n, size, size), np.float32)
    if kind < 0.55:
        n_layers = int(min(n, rng.integers(2, 5)))
        zs = np.sort(rng.choice(np.arange(n), size=n_layers, replace=False)).astype(np.float32)
        if rng.random() < 0.5:
            zs = zs[::-1].copy()  # zs[0] is the far (background) layer
        bright = rng.random() < 0.25
        tex = [bank.crop(rng, size) for _ in range(n_layers)]
        if bright:
            tex = [0.72 + 0.25 * t if i == 0 else 0.05 + 0.5 * t for i, t in enumerate(tex)]
        masks = [np.ones((size, size), np.float32)] + [_mask(rng, size) for _ in range(n_layers - 1)]
        truth = tex[0].copy()
        z = np.full((size, size), zs[0], np.float32)
        for li in range(1, n_layers):
            sel = masks[li] > 0.5
            truth[sel] = tex[li][sel]
            z[sel] = zs[li]
        for k in range(n):
            f = _blur(tex[0], s * abs(zs[0] - k), kernel)
            for li in range(1, n_layers):
                sig = s * abs(zs[li] - k)
                a = _blur(masks[li], sig, kernel)
                f = a * _blur(tex[li], sig, kernel) + (1.0 - a) * f
            frames[k] = f
    else:
        truth = bank.crop(rng, size)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        if kind < 0.78:
            ang = rng.uniform(0, 2 * np.pi)
            p = np.cos(ang) * xx + np.sin(ang) * yy
        else:
            p = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), size / rng.uniform(3, 8))
        z = (lo + (p - p.min()) / (p.max() - p.min() + 1e-12) * (hi - lo)).astype(np.float32)
        smax = s * (n - 1) + 1e-6
        levels = np.arange(0.0, min(4.0, smax) + 1e-9, 0.25)
        if smax > 4.0:
            levels = np.concatenate([levels, np.geomspace(4.0, smax, int(np.ceil(np.log(smax / 4.0) / np.log(1.1))) + 1)[1:]])
        if len(levels) < 2:
            levels = np.array([0.0, max(smax, 0.25)])
        blurred = np.stack([_blur(truth, float(v), kernel) for v in levels])
        for k in range(n):
            sig = s * np.abs(z - k)
            j = np.clip(np.searchsorted(levels, sig, side="right") - 1, 0, len(levels) - 2)
            lo_s, hi_s = levels[j], levels[j + 1]
            t = np.clip((sig - lo_s) / (hi_s - lo_s), 0.0, 1.0).astype(np.float32)
            b0 = np.take_along_axis(blurred, j[None], axis=0)[0]
            b1 = np.take_along_axis(blurred, (j + 1)[None], axis=0)[0]
            frames[k] = (1 - t) * b0 + t * b1
    depth = np.clip(np.rint(z), 0, n - 1).astype(np.int32)
    if rng.random() < breathing_p:
        total = float(rng.uniform(-breathing, breathing))
        c = (size - 1) / 2.0
        for k in range(1, n):
            sc = 1.0 + total * k / (n - 1)
            m = np.array([[sc, 0, c * (1 - sc)], [0, sc, c * (1 - sc)]], np.float64)
            frames[k] = cv2.warpAffine(frames[k], m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    nz = float(rng.uniform(*noise))
    if nz > 0:
        frames = frames + nz * np.sqrt(0.2 + 0.8 * np.clip(frames, 0, 1)) * rng.standard_normal(frames.shape).astype(np.float32)
    frames = np.clip(frames, 0.0, 1.0).astype(np.float32)
    if rng.random() < jpeg_p:
        q = int(rng.integers(60, 96))
        for k in range(n):
            ok, buf = cv2.imencode(".jpg", np.rint(frames[k] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, q])
            frames[k] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    return StackSample(frames=frames, truth=np.clip(truth, 0, 1).astype(np.float32), z=z, edges=_index_edges(depth))
