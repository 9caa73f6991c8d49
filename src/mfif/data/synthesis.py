"""Synthesis of multi-focus training pairs from an all-in-focus image and a binary focus mask.

Two defocus models are implemented (MFIF-GAN paper, Sec. 4.1.1):

* **α-matte model** (defocus spread effect, DSE). The authors' MATLAB code (``data_generation.m``)
  composes, with ``BI = blur(I)`` and ``bM = blur(M)``::

      A = M·I + (1 − M)·BI            (near / foreground in focus)
      B = BI·bM + I·(1 − bM)          (far / background in focus; the blurred foreground spreads out)

  This is the default (``literal=False``). The paper's literal eqs. 10–11 instead blur *masked*
  images::

      A = M·I + (1 − M)·G⊗[(1 − M)·I]
      B = G⊗(M·I) + (1 − G⊗M)·[(1 − M)·I]

  Near the boundary the Gaussian weights that fall on the zeroed-out side are lost, so the blurred
  term no longer sums to one and a **dark fringe** appears (``literal=True`` reproduces it).

* **conventional model** (eqs. 12–13, no DSE)::

      A = M·I + (1 − M)·BI
      B = (1 − M)·I + M·BI

The blur is MATLAB ``imgaussfilt``: a normalised Gaussian of size ``2·ceil(2σ)+1`` with replicate
borders, applied per colour plane. Numpy functions take HxW or HxWx3 float32 in [0, 1] and a mask
HxW in {0, 1} (1 = A in focus); :func:`synthesize_batch_torch` does the same on N×C×H×W tensors.
"""

from __future__ import annotations

import numpy as np

from mfif.errors import MfifError
from mfif.filters import check_sigma, gaussian_blur, gaussian_kernel1d, imgaussfilt_radius

__all__ = [
    "alpha_matte_pair",
    "jpeg_roundtrip",
    "rescale_item",
    "add_small_regions",
    "BLUR_KERNELS",
    "conventional_pair",
    "synthesize_pair",
    "synthesize_batch_torch",
    "gaussian_blur_torch",
    "MODELS",
]

MODELS = ("alpha", "conventional")
#: Defocus kernels: MATLAB ``imgaussfilt`` Gaussian (the paper), a pill-box of radius 2σ (same second moment),
#: or the outer 1 px ring of that pill-box (a bright-rimmed lens blur that doubles thin lines).
BLUR_KERNELS = ("gaussian", "disk", "ring")


def _blur(x: np.ndarray, sigma: float, kernel: str) -> np.ndarray:
    if kernel == "gaussian":
        return gaussian_blur(x, sigma)
    if kernel not in ("disk", "ring"):
        raise MfifError(f"kernel: expected one of {', '.join(BLUR_KERNELS)}, got {kernel!r}")
    from mfif.data.stacks import defocus_blur  # numpy + scipy + cv2 only (no cycle)

    return defocus_blur(x, sigma, kernel=kernel)


def _prepare(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(image, dtype=np.float32)
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2 or m.shape != img.shape[:2]:
        raise MfifError(f"mask: shape {m.shape} does not match image {img.shape[:2]}")
    return img, m


def _expand(m: np.ndarray, img: np.ndarray) -> np.ndarray:
    return m[..., None] if img.ndim == 3 else m


def alpha_matte_pair(
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0, literal: bool = False, kernel: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray]:
    """α-matte (DSE) pair. A = near (foreground, ``mask == 1``) focused, B = far focused.

    Args:
        image: All-in-focus image, H×W or H×W×3 float32 in [0, 1].
        mask: Focus mask H×W, 1 = foreground (sharp in A). Binary expected.
        sigma: Gaussian σ of the defocus blur (``imgaussfilt`` semantics).
        literal: False (default) = the authors' code's composition (no fringe);
            True = the paper's literal eqs. 10–11 (dark fringe at the boundary).
        kernel: ``"gaussian"`` (the paper), ``"disk"`` (pill-box of radius 2σ, a lens's defocus) or
            ``"ring"`` (the pill-box's outer 1 px ring), used for both the image and the mask.

    Returns:
        ``(a, b)``, float32 with the shape of ``image``.
    """
    img, m = _prepare(image, mask)
    M = _expand(m, img)
    if not literal:
        bi = _blur(img, sigma, kernel)
        bm = _expand(_blur(m, sigma, kernel), img)
        a = M * img + (1.0 - M) * bi
        b = bi * bm + img * (1.0 - bm)
    else:
        bm = _expand(_blur(m, sigma, kernel), img)
        a = M * img + (1.0 - M) * _blur((1.0 - M) * img, sigma, kernel)
        b = _blur(M * img, sigma, kernel) + (1.0 - bm) * ((1.0 - M) * img)
    return a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)


def conventional_pair(
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0, kernel: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray]:
    """Conventional pair (eqs. 12–13, no DSE): A = M·I + (1−M)·blur(I), B = (1−M)·I + M·blur(I).

    Args:
        image: All-in-focus image, H×W or H×W×3 float32 in [0, 1].
        mask: Focus mask H×W, 1 = sharp in A.
        sigma: Gaussian σ (``imgaussfilt`` semantics).
        kernel: ``"gaussian"`` or ``"disk"`` (pill-box of radius 2σ).

    Returns:
        ``(a, b)``, float32 with the shape of ``image``.
    """
    img, m = _prepare(image, mask)
    M = _expand(m, img)
    bi = _blur(img, sigma, kernel)
    a = M * img + (1.0 - M) * bi
    b = (1.0 - M) * img + M * bi
    return a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)


def synthesize_pair(
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0, model: str = "alpha", literal: bool = False,
    kernel: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to :func:`alpha_matte_pair` (``model="alpha"``) or :func:`conventional_pair`."""
    if model == "alpha":
        return alpha_matte_pair(image, mask, sigma=sigma, literal=literal, kernel=kernel)
    if model == "conventional":
        return conventional_pair(image, mask, sigma=sigma, kernel=kernel)
    raise MfifError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")


# ------------------------------------------------------------------------------- augmentation


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-encode and decode an image (IJG tables via Pillow, 4:2:0 chroma for colour).

    Args:
        image: H×W or H×W×3 float32 in [0, 1].
        quality: JPEG quality 1–100.

    Returns:
        float32 array of ``image``'s shape in [0, 1] (8-bit levels ÷ 255).
    """
    import io

    from PIL import Image

    q = int(quality)
    if not 1 <= q <= 100:
        raise MfifError(f"quality: expected 1..100, got {quality}")
    arr = np.asarray(image, dtype=np.float32)
    u8 = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=q)
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert("RGB" if arr.ndim == 3 else "L"), dtype=np.float32) / 255.0
    return out.reshape(arr.shape)


def rescale_item(
    image: np.ndarray, mask: np.ndarray, scale: float, *, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Resize an all-in-focus image and its mask by ``scale`` (< 1: finer detail per pixel).

    The image uses area averaging when shrinking (no aliasing) and bicubic interpolation when
    enlarging, clipped to [0, 1]; the mask is resized bilinearly and thresholded at 0.5; ``extra``
    (a soft H×W map) is resized like the image and clipped to [0, 1].

    Args:
        image: H×W×3 (or H×W) float32 in [0, 1].
        mask: H×W in {0, 1}.
        scale: Factor > 0 (output size ``round(H·scale)`` × ``round(W·scale)``, at least 1 px).
        extra: Optional H×W map.

    Returns:
        ``(image, mask, extra)`` resized (``extra`` None when not given).
    """
    import cv2

    if not scale > 0:
        raise MfifError(f"scale: must be > 0, got {scale}")
    h, w = mask.shape
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    if (nh, nw) == (h, w):
        return image, mask, extra
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    img = np.clip(cv2.resize(np.asarray(image, np.float32), (nw, nh), interpolation=interp), 0, 1)
    img = img.reshape((nh, nw) + np.asarray(image).shape[2:]).astype(np.float32, copy=False)
    m = cv2.resize(np.asarray(mask, np.float32), (nw, nh), interpolation=cv2.INTER_LINEAR)
    m = (m > 0.5).astype(np.float32)
    ex = None
    if extra is not None:
        ex = np.clip(cv2.resize(np.asarray(extra, np.float32), (nw, nh), interpolation=interp), 0, 1)
    return img, m, ex


def add_small_regions(
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    count: int,
    image: np.ndarray | None = None,
    radius: tuple[float, float] = (2.0, 8.0),
    stroke_width: tuple[int, int] = (1, 3),
    stroke_length: tuple[float, float] = (12.0, 48.0),
) -> np.ndarray:
    """Add small blobs and thin strokes to a focus mask, each the opposite class of its surroundings.

    Half of the shapes (on average) are ellipses with semi-axes in ``radius`` px, the others
    polylines of 2–3 segments, ``stroke_width`` px wide and ``stroke_length`` px long in all. A
    shape's value is the opposite of the mask at its centre: an in-focus island in the background,
    or a background hole in the foreground. Used with the α-matte composition of the same image, the
    islands are sharp in one source and blurred (with the spread) in the other, like twigs or wires.
    With ``image`` given, centres are drawn with probability proportional to the local texture
    energy (|I − blur(I)|², so islands are not placed where both sources would look alike).

    Args:
        mask: H×W in {0, 1} (1 = sharp in A); not modified.
        rng: Random generator (the only source of randomness).
        count: Number of shapes (≥ 0).
        image: Optional H×W×3 / H×W float32 all-in-focus image for texture-weighted placement.
        radius: Range of the ellipses' semi-axes in px.
        stroke_width: Range of the strokes' widths in px (inclusive).
        stroke_length: Range of the strokes' total lengths in px.

    Returns:
        A new float32 H×W mask in {0, 1}.
    """
    import cv2

    m = np.asarray(mask, np.float32)
    out = (m > 0.5).astype(np.uint8)
    h, w = out.shape
    if count <= 0 or h < 3 or w < 3:
        return out.astype(np.float32)
    if image is not None:
        g = np.asarray(image, np.float32)
        g = g.mean(axis=2) if g.ndim == 3 else g
        e = gaussian_blur((g - gaussian_blur(g, 1.5)) ** 2, 2.0).astype(np.float64).ravel()
        p = e / e.sum() if e.sum() > 0 else None
    else:
        p = None
    for _ in range(int(count)):
        idx = int(rng.choice(h * w, p=p))
        cy, cx = divmod(idx, w)
        value = 1 - int(out[cy, cx])
        shape = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            ax = (max(1, int(round(rng.uniform(*radius)))), max(1, int(round(rng.uniform(*radius)))))
            cv2.ellipse(shape, (cx, cy), ax, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)
        else:
            width = int(rng.integers(stroke_width[0], stroke_width[1] + 1))
            n_seg = int(rng.integers(2, 4))
            seg = rng.uniform(*stroke_length) / n_seg
            ang = rng.uniform(0, 2 * np.pi)
            pts = [(float(cx), float(cy))]
            for _s in range(n_seg):
                ang += rng.uniform(-0.8, 0.8)
                pts.append((pts[-1][0] + seg * np.cos(ang), pts[-1][1] + seg * np.sin(ang)))
            poly = np.rint(np.array(pts)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(shape, [poly], False, 1, thickness=width)
        out[shape > 0] = value
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------- torch


def gaussian_blur_torch(x, sigma):  # noqa: ANN001, ANN201
    """Batched ``imgaussfilt`` on a torch tensor.

    Args:
        x: Tensor N×C×H×W (float).
        sigma: A float, or a length-N sequence / tensor of per-sample σ (>= 0).

    Returns:
        Tensor like ``x``. Each sample uses its own kernel (size ``2·ceil(2σ)+1``, zero-padded to the
        largest kernel of the batch, which with replicate padding gives identical results).
    """
    import torch
    import torch.nn.functional as F

    if x.ndim != 4:
        raise MfifError(f"images: expected N x C x H x W tensor, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if isinstance(sigma, (int, float)):
        sig = [float(sigma)] * n
    else:
        sig = [float(s) for s in (sigma.detach().cpu().tolist() if hasattr(sigma, "detach") else sigma)]
        if len(sig) != n:
            raise MfifError(f"sigma: expected {n} values, got {len(sig)}")
    for s in sig:
        check_sigma(s)
    rmax = max((imgaussfilt_radius(s) for s in sig if s > 0), default=0)
    if rmax == 0:
        return x.clone()
    size = 2 * rmax + 1
    ker = np.zeros((n, size), np.float64)
    for i, s in enumerate(sig):
        if s == 0:
            ker[i, rmax] = 1.0
        else:
            k = gaussian_kernel1d(s)
            r = (len(k) - 1) // 2
            ker[i, rmax - r : rmax + r + 1] = k
    kt = torch.as_tensor(ker, dtype=x.dtype, device=x.device).repeat_interleave(c, dim=0)  # (N*C, size)
    y = x.reshape(1, n * c, h, w)
    # replicate padding requires pad < dim for reflect only; replicate works for any size.
    y = F.pad(y, (rmax, rmax, rmax, rmax), mode="replicate")
    y = F.conv2d(y, kt.view(n * c, 1, 1, size), groups=n * c)
    y = F.conv2d(y, kt.view(n * c, 1, size, 1), groups=n * c)
    return y.reshape(n, c, h, w)


def synthesize_batch_torch(images, masks, sigma, *, model: str = "alpha", literal: bool = False):  # noqa: ANN001, ANN201
    """Batched pair synthesis on torch tensors (CPU or GPU), same formulas as the numpy functions.

    Args:
        images: N×C×H×W float tensor in [0, 1] (all-in-focus).
        masks: N×1×H×W float tensor in {0, 1} (1 = sharp in A).
        sigma: float, or per-sample sequence / tensor of length N.
        model: ``"alpha"`` (α-matte, authors' form unless ``literal``) or ``"conventional"``.
        literal: Paper's literal eqs. 10–11 for the α-matte model.

    Returns:
        ``(a, b)``: two N×C×H×W tensors.
    """
    if model not in MODELS:
        raise MfifError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    if masks.ndim != 4 or masks.shape[1] != 1 or masks.shape[0] != images.shape[0] or masks.shape[2:] != images.shape[2:]:
        raise MfifError(f"masks: expected N x 1 x H x W matching images, got {tuple(masks.shape)}")
    M = masks.to(images.dtype)
    if model == "conventional":
        bi = gaussian_blur_torch(images, sigma)
        return M * images + (1 - M) * bi, (1 - M) * images + M * bi
    bm = gaussian_blur_torch(M, sigma)
    if not literal:
        bi = gaussian_blur_torch(images, sigma)
        return M * images + (1 - M) * bi, bi * bm + images * (1 - bm)
    a = M * images + (1 - M) * gaussian_blur_torch((1 - M) * images, sigma)
    b = gaussian_blur_torch(M * images, sigma) + (1 - bm) * ((1 - M) * images)
    return a, b

