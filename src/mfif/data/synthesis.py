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
    "conventional_pair",
    "synthesize_pair",
    "synthesize_batch_torch",
    "gaussian_blur_torch",
    "MODELS",
]

MODELS = ("alpha", "conventional")


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
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0, literal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """α-matte (DSE) pair. A = near (foreground, ``mask == 1``) focused, B = far focused.

    Args:
        image: All-in-focus image, H×W or H×W×3 float32 in [0, 1].
        mask: Focus mask H×W, 1 = foreground (sharp in A). Binary expected.
        sigma: Gaussian σ of the defocus blur (``imgaussfilt`` semantics).
        literal: False (default) = the authors' code's composition (no fringe);
            True = the paper's literal eqs. 10–11 (dark fringe at the boundary).

    Returns:
        ``(a, b)``, float32 with the shape of ``image``.
    """
    img, m = _prepare(image, mask)
    M = _expand(m, img)
    if not literal:
        bi = gaussian_blur(img, sigma)
        bm = _expand(gaussian_blur(m, sigma), img)
        a = M * img + (1.0 - M) * bi
        b = bi * bm + img * (1.0 - bm)
    else:
        bm = _expand(gaussian_blur(m, sigma), img)
        a = M * img + (1.0 - M) * gaussian_blur((1.0 - M) * img, sigma)
        b = gaussian_blur(M * img, sigma) + (1.0 - bm) * ((1.0 - M) * img)
    return a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)


def conventional_pair(
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Conventional pair (eqs. 12–13, no DSE): A = M·I + (1−M)·blur(I), B = (1−M)·I + M·blur(I).

    Args:
        image: All-in-focus image, H×W or H×W×3 float32 in [0, 1].
        mask: Focus mask H×W, 1 = sharp in A.
        sigma: Gaussian σ (``imgaussfilt`` semantics).

    Returns:
        ``(a, b)``, float32 with the shape of ``image``.
    """
    img, m = _prepare(image, mask)
    M = _expand(m, img)
    bi = gaussian_blur(img, sigma)
    a = M * img + (1.0 - M) * bi
    b = (1.0 - M) * img + M * bi
    return a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)


def synthesize_pair(
    image: np.ndarray, mask: np.ndarray, *, sigma: float = 1.0, model: str = "alpha", literal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to :func:`alpha_matte_pair` (``model="alpha"``) or :func:`conventional_pair`."""
    if model == "alpha":
        return alpha_matte_pair(image, mask, sigma=sigma, literal=literal)
    if model == "conventional":
        return conventional_pair(image, mask, sigma=sigma)
    raise MfifError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")


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

