"""Registering a focus stack to its first source (OpenCV).

Focus stacks shot by hand or on a tripod with focus breathing differ by a shift, a small rotation and
a scale change of a few per cent between sources. Two estimators are offered:

``"ecc"``
    Enhanced correlation coefficient maximisation (:func:`cv2.findTransformECC`) with an affine
    motion (``MOTION_AFFINE``: shift, rotation, focus-breathing scale; ``MOTION_HOMOGRAPHY`` via
    :func:`estimate_ecc`), coarse to fine over a Gaussian pyramid of the gray images. ECC is invariant to brightness/contrast changes
    and tolerant of the blur differences between sources. Each level is first smoothed with
    ``gaussFiltSize = 5``.
``"homography"``
    SIFT key points (ORB when SIFT is unavailable), Lowe's ratio test and RANSAC: a similarity
    (shift, rotation, scale) unless a full homography (:func:`cv2.findHomography`) explains clearly
    more matches. Robust to large motions; needs texture.

Consecutive sources are most alike (their focus differs least), so each source is registered to its
predecessor and the transforms are chained into the first source's frame. Every source is warped
with bicubic interpolation into the first's size; pixels that fall outside a source are filled by
replicating its border (``cv2.BORDER_REPLICATE``).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from mfif.errors import MfifError

METHODS = ("ecc", "homography")


def _gray_u8(img: np.ndarray) -> np.ndarray:
    from mfif.io import to_gray

    g = to_gray(np.asarray(img, np.float32))
    return np.clip(np.round(g * 255.0), 0, 255).astype(np.uint8)


def _gray_f32(img: np.ndarray) -> np.ndarray:
    from mfif.io import to_gray

    return np.ascontiguousarray(to_gray(np.asarray(img, np.float32)), dtype=np.float32)


def _center_init(src_shape: tuple[int, int], ref_shape: tuple[int, int]) -> np.ndarray:
    """Homography mapping reference pixel coordinates to source coordinates, centres matched."""
    h = np.eye(3, dtype=np.float64)
    h[0, 2] = (src_shape[1] - ref_shape[1]) / 2.0
    h[1, 2] = (src_shape[0] - ref_shape[0]) / 2.0
    return h


def _scale_h(h: np.ndarray, s: float) -> np.ndarray:
    """Homography of the same motion on images resized by ``s``: S·H·S⁻¹.

    S is OpenCV's resize mapping of pixel centres, x' = s·(x + 0.5) − 0.5.
    """
    o = 0.5 * s - 0.5
    sm = np.array([[s, 0.0, o], [0.0, s, o], [0.0, 0.0, 1.0]])
    out = sm @ h @ np.linalg.inv(sm)
    return out / out[2, 2]


def estimate_ecc(ref: np.ndarray, src: np.ndarray, *, motion: str = "affine", min_size: int = 64,
                 max_size: int = 1024, iterations: int = 100, eps: float = 1e-5) -> np.ndarray:
    """Homography ``H`` (3×3) with ``src(H·x) ≈ ref(x)`` by pyramidal ECC.

    Args:
        ref, src: Images (H×W or H×W×3 float32 [0, 1]); sizes may differ.
        motion: ``"affine"`` (6 parameters: shift, rotation, scale, shear) or ``"homography"`` (8).
        min_size: Coarsest pyramid level's shorter side.
        max_size: Finest level's longer side (larger images are estimated on a reduced copy).
        iterations, eps: ECC stopping criteria per level.

    Returns:
        float64 3×3, mapping ``ref`` pixel coordinates to ``src`` pixel coordinates.

    Raises:
        MfifError: ECC did not converge at any level.
    """
    import cv2

    modes = {"affine": cv2.MOTION_AFFINE, "homography": cv2.MOTION_HOMOGRAPHY}
    if motion not in modes:
        raise MfifError(f"ECC motion {motion!r}: choose affine or homography")
    mode = modes[motion]
    g_ref, g_src = _gray_f32(ref), _gray_f32(src)
    # finest working scale
    top = min(1.0, max_size / max(g_ref.shape + g_src.shape))
    levels = []
    s = top
    while min(g_ref.shape[0], g_ref.shape[1]) * s >= min_size and len(levels) < 8:
        levels.append(s)
        s /= 2.0
    if not levels:
        levels = [top]
    levels = levels[::-1]  # coarse → fine
    h = _scale_h(_center_init(g_src.shape, g_ref.shape), levels[0])
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    done = False
    for li, s in enumerate(levels):
        if li > 0:
            h = _scale_h(h, s / levels[li - 1])
        r = cv2.resize(g_ref, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1 else g_ref
        q = cv2.resize(g_src, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1 else g_src
        warp = (h if mode == cv2.MOTION_HOMOGRAPHY else h[:2]).astype(np.float32)
        try:
            _, warp = cv2.findTransformECC(r, q, warp, mode, criteria, None, 5)
            h = warp.astype(np.float64) if mode == cv2.MOTION_HOMOGRAPHY else np.vstack([warp, [0, 0, 1]])
            done = True
        except cv2.error:
            continue  # keep the previous estimate and try the next (finer) level
    if not done:
        raise MfifError("--align ecc: the ECC registration did not converge (try --align homography)")
    return _scale_h(h, 1.0 / levels[-1])


def estimate_features(ref: np.ndarray, src: np.ndarray, *, max_features: int = 4000, max_size: int = 2048,
                      ratio: float = 0.8, ransac_px: float = 2.0, perspective_gain: float = 1.2) -> np.ndarray:
    """Homography ``H`` with ``src(H·x) ≈ ref(x)`` from SIFT/ORB matches and RANSAC.

    Both a similarity (:func:`cv2.estimateAffinePartial2D`) and a full homography
    (:func:`cv2.findHomography`) are fitted by RANSAC; the homography is used only when it has at
    least ``perspective_gain`` times as many inliers as the similarity.

    Key points are detected on copies reduced to at most ``max_size`` pixels on the longer side.

    Returns:
        float64 3×3 mapping ``ref`` pixel coordinates to ``src`` pixel coordinates.

    Raises:
        MfifError: too few matches for a homography.
    """
    import cv2

    g_ref, g_src = _gray_u8(ref), _gray_u8(src)
    scale = min(1.0, max_size / max(g_ref.shape + g_src.shape))  # large images: detect on a reduced copy
    if scale < 1.0:
        g_ref = cv2.resize(g_ref, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        g_src = cv2.resize(g_src, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if hasattr(cv2, "SIFT_create"):
        det = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=0.01)
        norm = cv2.NORM_L2
    else:  # pragma: no cover - very old OpenCV
        det = cv2.ORB_create(nfeatures=max_features)
        norm = cv2.NORM_HAMMING
    k1, d1 = det.detectAndCompute(g_ref, None)
    k2, d2 = det.detectAndCompute(g_src, None)
    if d1 is None or d2 is None or len(k1) < 8 or len(k2) < 8:
        raise MfifError("--align homography: too few key points (image without texture?); try --align ecc")
    matcher = cv2.BFMatcher(norm)
    good = []
    for pair in matcher.knnMatch(d1, d2, k=2):
        if len(pair) == 2 and pair[0].distance < ratio * pair[1].distance:
            good.append(pair[0])
    if len(good) < 8:
        raise MfifError(f"--align homography: only {len(good)} reliable matches; try --align ecc")
    p_ref = np.float32([k1[m.queryIdx].pt for m in good])
    p_src = np.float32([k2[m.trainIdx].pt for m in good])
    h, inl = cv2.findHomography(p_ref, p_src, cv2.RANSAC, ransac_px, maxIters=5000)
    sim, inl_s = cv2.estimateAffinePartial2D(p_ref, p_src, method=cv2.RANSAC, ransacReprojThreshold=ransac_px,
                                             maxIters=5000, refineIters=50)
    n_h = int(inl.sum()) if h is not None and inl is not None else 0
    n_s = int(inl_s.sum()) if sim is not None and inl_s is not None else 0
    if max(n_h, n_s) < 8:
        raise MfifError("--align homography: RANSAC found no consistent homography; try --align ecc")
    # Model selection: the 4-parameter similarity (shift, rotation, focus-breathing scale) unless the
    # full homography explains clearly more matches (real perspective change). Key points on blurred
    # sources are poorly localised, and the 8-parameter fit then drifts (measured on Lytro pairs).
    best = np.vstack([sim, [0.0, 0.0, 1.0]]) if n_s > 0 and n_h < perspective_gain * n_s else h
    return _scale_h(best.astype(np.float64), 1.0 / scale) if scale < 1.0 else best.astype(np.float64)


def warp_to(src: np.ndarray, h: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample ``src`` at ``H·x`` for every pixel x of an image of ``shape`` (H, W).

    Bicubic interpolation, border replicated, result clipped to [0, 1].
    """
    import cv2

    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    src = np.ascontiguousarray(src, np.float32)
    out = cv2.warpPerspective(src, h, (shape[1], shape[0]), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def estimate_stack(images: Sequence[np.ndarray], *, method: str = "ecc") -> list[np.ndarray]:
    """Homographies mapping the first source's pixel coordinates into each source.

    Each source is registered to its predecessor and the transforms are chained.

    Returns:
        N float64 3×3 matrices; the first is the identity.
    """
    if method not in METHODS:
        raise MfifError(f"--align {method!r}: choose none, ecc or homography")
    est = estimate_ecc if method == "ecc" else estimate_features
    hs = [np.eye(3)]
    for k in range(1, len(images)):
        step = est(images[k - 1], images[k])  # maps coords of k-1 → k
        h = step @ hs[-1]
        hs.append(h / h[2, 2])
    return hs


def align_stack(images: Sequence[np.ndarray], *, method: str = "ecc") -> list[np.ndarray]:
    """Register every source to the first.

    Args:
        images: N ≥ 1 sources, float32 [0, 1], H×W or H×W×3; sizes may differ.
        method: ``"ecc"`` (pyramidal ECC homography) or ``"homography"`` (SIFT + RANSAC).

    Returns:
        N float32 arrays in the first source's frame and size; the first is returned unchanged.
        Channels are kept per source (harmonise afterwards).

    Raises:
        MfifError: unknown method or a registration that failed.
    """
    imgs = [np.asarray(im, np.float32) for im in images]
    if method == "none" or len(imgs) < 2:
        return imgs
    hs = estimate_stack(imgs, method=method)
    ref_shape = imgs[0].shape[:2]
    out = [imgs[0]]
    for im, h in zip(imgs[1:], hs[1:]):
        s = np.sqrt(abs(np.linalg.det(h[:2, :2])))
        if not 0.5 < s < 2.0:
            warnings.warn(f"--align {method}: estimated scale change {s:.2f} is implausible for a focus stack",
                          stacklevel=2)
        out.append(warp_to(im, h, ref_shape))
    return out
