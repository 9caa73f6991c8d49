"""Synthetic focus stacks with known ground truth (tests, stack-strategy measurements, ``mfif bench stacks``).

:func:`synthetic_stack`: Voronoi cells at N depths with hard boundaries (conventional model).
:func:`focal_stack`: deep focal sweeps (layers with the defocus spread effect, tilted planes, smooth
surfaces; Gaussian or disk kernels; sensor noise; focus breathing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from mfif.errors import MfifError
from mfif.filters import gaussian_blur


def synthetic_stack(
    n: int = 3,
    *,
    size: tuple[int, int] = (96, 96),
    blur_step: float = 1.5,
    regions: int = 6,
    color: bool = True,
    seed: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A synthetic focus stack with known ground truth (for tests and strategy measurements).

    The all-in-focus image is multi-scale filtered noise (a 1/f-like texture). The frame is split
    into ``regions`` Voronoi cells, each given a depth index in [0, n) (every index used when
    ``regions ≥ n``). Source k shows a cell of depth d blurred with a Gaussian of
    ``sigma = blur_step·|d − k|`` (conventional hard-boundary model), so source k is sharp exactly
    where the true depth map equals k.

    Args:
        n: Number of sources.
        size: (H, W).
        blur_step: Blur per depth step, in pixels.
        regions: Number of Voronoi cells.
        color: H×W×3 sources when True, else H×W.
        seed: Random seed.

    Returns:
        ``(sources, truth, depth)``: n float32 images, the all-in-focus float32 image and the int32
        H×W ground-truth depth map.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    shape = (h, w, 3) if color else (h, w)
    truth = np.zeros(shape, np.float64)
    for s, amp in ((0.6, 0.5), (1.5, 1.0), (4.0, 1.5), (10.0, 2.0)):
        noise = rng.standard_normal(shape)
        sig = (s, s, 0) if color else (s, s)
        f = ndimage.gaussian_filter(noise, sig)
        truth += amp * f / (f.std() + 1e-12)
    truth = (truth - truth.min()) / (truth.max() - truth.min())
    truth = truth.astype(np.float32)
    pts = rng.random((regions, 2)) * np.array([h, w])
    yy, xx = np.mgrid[0:h, 0:w]
    cell = np.argmin((yy[None] - pts[:, 0, None, None]) ** 2 + (xx[None] - pts[:, 1, None, None]) ** 2, axis=0)
    labels = np.concatenate([np.arange(n), rng.integers(0, n, max(0, regions - n))])[:regions]
    rng.shuffle(labels)
    depth = labels[cell].astype(np.int32)
    blurred: dict[int, np.ndarray] = {}
    sources = []
    for k in range(n):
        src = np.zeros(shape, np.float32)
        for d in range(n):
            step = abs(d - k)
            if step not in blurred:
                sig = blur_step * step
                blurred[step] = truth if step == 0 else ndimage.gaussian_filter(
                    truth, (sig, sig, 0) if color else (sig, sig), mode="reflect").astype(np.float32)
            sel = depth == d
            src[sel] = blurred[step][sel]
        sources.append(src)
    return sources, truth, depth


# ----------------------------------------------------------------------------------------------
# Deep focal stacks: layered, tilted and smooth depth, focus breathing and sensor noise
# ----------------------------------------------------------------------------------------------
DEPTH_TYPES = ("layers", "tilted", "smooth")
KERNELS = ("gaussian", "disk")


@dataclass
class FocalStack:
    """A synthetic focal sweep with known truth (:func:`focal_stack`).

    Attributes:
        frames: N float32 frames in [0, 1], H×W×3 (or H×W), frame k focused at depth k.
        truth: All-in-focus float32 image in [0, 1], in the geometry of frame 0.
        depth: int32 H×W true frame index (the frame that is sharpest at each pixel).
        z: float32 H×W continuous depth in frame units (layers: integer per layer).
        edges: bool H×W, pixels where the true index changes (layer boundaries for ``layers``).
        bright: True when the scene has a bright background behind darker layers (halo scenes).
        params: The generator's settings (for reports).
    """

    frames: list[np.ndarray]
    truth: np.ndarray
    depth: np.ndarray
    z: np.ndarray
    edges: np.ndarray
    bright: bool
    params: dict = field(default_factory=dict)


def _texture(rng: np.random.Generator, shape: tuple[int, ...], color: bool) -> np.ndarray:
    """Multi-scale filtered noise (1/f-like texture), float32 in [0, 1]."""
    tex = np.zeros(shape, np.float64)
    for s, amp in ((0.6, 0.5), (1.5, 1.0), (4.0, 1.5), (10.0, 2.0)):
        f = ndimage.gaussian_filter(rng.standard_normal(shape), (s, s, 0) if color else (s, s))
        tex += amp * f / (f.std() + 1e-12)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    return tex.astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised uniform disk (pill-box) of ``radius`` pixels, anti-aliased by 4×4 supersampling.

    Returns:
        float32 (2r+1)×(2r+1) kernel, r = ceil(radius), summing to 1 (a 1×1 one for radius < 0.5).
    """
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    r = int(np.ceil(radius))
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    x = np.arange(-r, r + 1)[:, None] + sub[None, :]
    xx = x.reshape(-1)
    inside = (xx[:, None] ** 2 + xx[None, :] ** 2) <= radius**2
    k = inside.reshape(2 * r + 1, 4, 2 * r + 1, 4).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def ring_kernel(radius: float, width: float = 1.0) -> np.ndarray:
    """Normalised thin ring (annulus between ``radius − width`` and ``radius``) anti-aliased by 4×4
    supersampling: the extreme of a lens whose defocused point has a bright rim ("soap-bubble" bokeh,
    over-corrected spherical aberration), which turns every thin line into two.

    Returns:
        float32 (2r+1)×(2r+1) kernel, r = ceil(radius), summing to 1 (the disk of ``radius`` when the
        ring would be empty, a 1×1 one for radius < 0.5).
    """
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    r = int(np.ceil(radius))
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    xx = (np.arange(-r, r + 1)[:, None] + sub[None, :]).reshape(-1)
    d2 = xx[:, None] ** 2 + xx[None, :] ** 2
    inside = (d2 <= radius**2) & (d2 > max(radius - width, 0.0) ** 2)
    k = inside.reshape(2 * r + 1, 4, 2 * r + 1, 4).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def defocus_blur(img: np.ndarray, sigma: float, *, kernel: str = "gaussian") -> np.ndarray:
    """Defocus blur of strength ``sigma``.

    Args:
        img: H×W or H×W×C float array.
        sigma: Standard deviation of the blur in pixels (≥ 0). ``gaussian``: MATLAB ``imgaussfilt``
            (:func:`mfif.filters.gaussian_blur`); ``disk``: a pill-box of radius 2σ (the same second
            moment), replicate borders; ``ring``: the outer 1 px of that disk (:func:`ring_kernel`).
        kernel: ``"gaussian"``, ``"disk"`` or ``"ring"``.

    Returns:
        float32 array of ``img``'s shape.
    """
    if kernel == "gaussian":
        return gaussian_blur(img, sigma)
    if kernel not in ("disk", "ring"):
        raise MfifError(f"kernel: expected one of {', '.join((*KERNELS, 'ring'))}, got {kernel!r}")
    arr = np.asarray(img, np.float32)
    if sigma <= 0:
        return arr.copy()
    import cv2

    k = disk_kernel(2.0 * float(sigma)) if kernel == "disk" else ring_kernel(2.0 * float(sigma))
    return cv2.filter2D(arr, -1, k, borderType=cv2.BORDER_REPLICATE).reshape(arr.shape)


def _blob(rng: np.random.Generator, shape: tuple[int, int], cover: float) -> np.ndarray:
    """A smooth random blob mask covering about ``cover`` of the frame."""
    h, w = shape
    f = ndimage.gaussian_filter(rng.standard_normal(shape), max(h, w) / 10.0, mode="wrap")
    return f > np.quantile(f, 1.0 - cover)


def _index_edges(depth: np.ndarray) -> np.ndarray:
    e = np.zeros(depth.shape, bool)
    dy = depth[1:] != depth[:-1]
    dx = depth[:, 1:] != depth[:, :-1]
    e[1:] |= dy
    e[:-1] |= dy
    e[:, 1:] |= dx
    e[:, :-1] |= dx
    return e


def _magnify(img: np.ndarray, scale: float) -> np.ndarray:
    """Scale about the image centre (focus breathing), reflected borders, bicubic."""
    import cv2

    h, w = img.shape[:2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    m = np.array([[scale, 0, cx * (1 - scale)], [0, scale, cy * (1 - scale)]], np.float64)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out.reshape(img.shape), 0.0, 1.0)


def focal_stack(
    n: int,
    *,
    size: tuple[int, int] = (256, 256),
    depth_type: str = "layers",
    kernel: str = "gaussian",
    blur_step: float = 1.0,
    noise: float = 0.0,
    breathing: float = 0.0,
    bright: bool | None = None,
    color: bool = True,
    seed: int = 0,
) -> FocalStack:
    """A seeded synthetic focal sweep of ``n`` frames with known truth.

    Frame k is focused at depth k: a point at depth z is blurred with σ = ``blur_step``·|z − k|
    (``kernel`` Gaussian or disk, :func:`defocus_blur`).

    * ``layers``: 3–5 textured layers at distinct frame depths, painted far to near; each frame
      composes them with the α-matte model of :mod:`mfif.data.synthesis` generalised to N layers
      (``F ← blur(M)·blur(T) + (1 − blur(M))·F``), so a defocused near layer spreads over the sharp
      background (the defocus spread effect). With ``bright`` the far layer is a bright, low-contrast
      texture behind darker layers — the scene where halos show.
    * ``tilted``: a plane whose depth spans [0, N − 1] along a random direction.
    * ``smooth``: a smooth random surface spanning [0, N − 1].

    For continuous depths the per-pixel blur interpolates between pre-blurred copies of the
    all-in-focus image at σ levels 0.25 px apart (geometric above 4 px).

    Args:
        n: Number of frames (≥ 2).
        size: (H, W).
        depth_type: One of :data:`DEPTH_TYPES`.
        kernel: ``"gaussian"`` or ``"disk"``.
        blur_step: Blur σ per frame of defocus, in pixels.
        noise: Sensor noise scale: per-pixel σ = noise·sqrt(0.2 + 0.8·x) (shot + read noise), frames
            clipped to [0, 1]. 0 = none.
        breathing: Total magnification change over the sweep: frame k is scaled by
            1 + breathing·k/(n − 1) about the centre (0 = none). The truth is in frame 0's geometry.
        bright: Bright background (``layers`` only); None = True for ``layers``.
        color: H×W×3 frames when True, else H×W.
        seed: Random seed.

    Returns:
        :class:`FocalStack`.
    """
    if n < 2:
        raise MfifError(f"n: a stack needs at least two frames, got {n}")
    if depth_type not in DEPTH_TYPES:
        raise MfifError(f"depth_type: expected one of {', '.join(DEPTH_TYPES)}, got {depth_type!r}")
    if kernel not in KERNELS:
        raise MfifError(f"kernel: expected one of {', '.join(KERNELS)}, got {kernel!r}")
    rng = np.random.default_rng(seed)
    h, w = size
    shape = (h, w, 3) if color else (h, w)
    bright = (depth_type == "layers") if bright is None else bool(bright and depth_type == "layers")

    def exp(m: np.ndarray) -> np.ndarray:
        return m[..., None] if color else m

    frames: list[np.ndarray] = []
    if depth_type == "layers":
        n_layers = int(min(n, rng.integers(3, 6)))
        zs = np.sort(rng.choice(n, size=n_layers, replace=False))[::-1]  # far (large z) first
        if rng.random() < 0.5:  # the far layer need not be the last frame
            zs = zs[::-1].copy()
        textures, masks = [], []
        for li in range(n_layers):
            tex = _texture(rng, shape, color)
            if bright:
                tex = 0.72 + 0.25 * tex if li == 0 else 0.05 + 0.5 * tex
            textures.append(tex.astype(np.float32))
            masks.append(np.ones((h, w), bool) if li == 0 else _blob(rng, (h, w), 0.5 / li))
        truth = textures[0].copy()
        z = np.full((h, w), float(zs[0]), np.float32)
        for li in range(1, n_layers):
            truth[masks[li]] = textures[li][masks[li]]
            z[masks[li]] = zs[li]
        for k in range(n):
            sig0 = blur_step * abs(zs[0] - k)
            f = defocus_blur(textures[0], sig0, kernel=kernel)
            for li in range(1, n_layers):
                sig = blur_step * abs(zs[li] - k)
                a = exp(defocus_blur(masks[li].astype(np.float32), sig, kernel=kernel))
                f = a * defocus_blur(textures[li], sig, kernel=kernel) + (1.0 - a) * f
            frames.append(f.astype(np.float32))
    else:
        truth = _texture(rng, shape, color)
        if depth_type == "tilted":
            ang = rng.uniform(0, 2 * np.pi)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
            p = np.cos(ang) * xx + np.sin(ang) * yy
        else:
            p = ndimage.gaussian_filter(rng.standard_normal((h, w)), max(h, w) / 6.0, mode="reflect")
        z = ((p - p.min()) / (p.max() - p.min() + 1e-12) * (n - 1)).astype(np.float32)
        smax = blur_step * (n - 1)
        levels = np.arange(0.0, min(4.0, smax) + 1e-9, 0.25)
        if smax > 4.0:
            levels = np.concatenate([levels, np.geomspace(4.0, smax, int(np.ceil(np.log(smax / 4.0) / np.log(1.1))) + 1)[1:]])
        blurred = [defocus_blur(truth, s, kernel=kernel) for s in levels]
        for k in range(n):
            sig = blur_step * np.abs(z - k)
            j = np.clip(np.searchsorted(levels, sig, side="right") - 1, 0, len(levels) - 2) if len(levels) > 1 else np.zeros(sig.shape, int)
            if len(levels) == 1:
                frames.append(blurred[0].copy())
                continue
            lo, hi = levels[j], levels[j + 1]
            t = exp(np.clip((sig - lo) / (hi - lo), 0.0, 1.0).astype(np.float32))
            f = np.zeros(shape, np.float32)
            for jj in np.unique(j):
                sel = j == jj
                f[sel] = ((1 - t) * blurred[jj] + t * blurred[jj + 1])[sel]
            frames.append(f)
    depth = np.clip(np.rint(z), 0, n - 1).astype(np.int32)
    for k in range(n):
        f = frames[k]
        if breathing:
            f = _magnify(f, 1.0 + breathing * k / (n - 1))
        if noise:
            f = f + noise * np.sqrt(0.2 + 0.8 * np.clip(f, 0, 1)) * rng.standard_normal(f.shape)
        frames[k] = np.clip(f, 0.0, 1.0).astype(np.float32)
    params = dict(n=n, size=tuple(size), depth_type=depth_type, kernel=kernel, blur_step=blur_step, noise=noise,
                  breathing=breathing, bright=bright, seed=seed)
    return FocalStack(frames=frames, truth=np.clip(truth, 0, 1).astype(np.float32), depth=depth, z=z,
                      edges=_index_edges(depth), bright=bright, params=params)
