"""Pair synthesis: MATLAB-style blur, α-matte (authors' vs literal) and conventional models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfif.data.synthesis import alpha_matte_pair, conventional_pair, synthesize_batch_torch, synthesize_pair
from mfif.errors import MfifError
from mfif.filters import gaussian_blur, gaussian_kernel1d

# MATLAB fspecial('gaussian', [1 5], 1) = exp(-x^2/2) for x = -2..2, normalised (hand-computed:
# e^-2 = 0.135335, e^-0.5 = 0.606531, 1; sum = 2.483732).
K5 = np.array([0.135335, 0.606531, 1.0, 0.606531, 0.135335]) / 2.483732


def test_kernel_size_and_values() -> None:
    np.testing.assert_allclose(gaussian_kernel1d(1.0), K5, atol=1e-6)
    assert len(gaussian_kernel1d(0.5)) == 3  # 2*ceil(1)+1
    assert len(gaussian_kernel1d(2.0)) == 9  # 2*ceil(4)+1
    assert len(gaussian_kernel1d(1.3)) == 7  # 2*ceil(2.6)+1


def test_blur_impulse_and_replicate_border() -> None:
    img = np.zeros((9, 9), np.float32)
    img[4, 4] = 1.0
    np.testing.assert_allclose(gaussian_blur(img, 1.0)[2:7, 2:7], np.outer(K5, K5), atol=1e-6)
    # Replicate border: a left column of ones; at x=0 the two outside samples replicate the 1.
    step = np.zeros((5, 8), np.float32)
    step[:, 0] = 1.0
    out = gaussian_blur(step, 1.0)
    np.testing.assert_allclose(out[:, 0], K5[0] + K5[1] + K5[2], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], K5[0] + K5[1], atol=1e-6)  # only the sample at x=0 (K5[1]) and x=-1 (K5[0])
    np.testing.assert_allclose(out[:, 3], 0.0, atol=1e-7)  # beyond the 5-tap support
    # Colour planes are filtered independently and identically.
    rgb = np.stack([step, 2 * step, 0 * step], axis=2)
    o3 = gaussian_blur(rgb, 1.0)
    np.testing.assert_allclose(o3[..., 1], 2 * out, atol=1e-6)
    assert o3.dtype == np.float32 and o3.shape == rgb.shape


def _square(h: int = 32) -> np.ndarray:
    m = np.zeros((h, h), np.float32)
    m[8:24, 8:24] = 1.0
    return m


def test_authors_form_has_no_fringe_literal_has_one() -> None:
    img = np.full((32, 32, 3), 0.5, np.float32)  # flat image: any correct model leaves it unchanged
    m = _square()
    a, b = alpha_matte_pair(img, m, sigma=2.0)
    assert np.abs(a - 0.5).max() < 1e-6 and np.abs(b - 0.5).max() < 1e-6
    la, lb = alpha_matte_pair(img, m, sigma=2.0, literal=True)
    # Literal eqs. 10-11 lose the Gaussian weight falling on the zeroed side: darker near the edge.
    assert la.min() < 0.4 and lb.min() < 0.4  # measured: 0.30 (A) and 0.18 (B) at sigma 2
    assert np.abs(la[0, 0] - 0.5).max() < 1e-6 and np.abs(lb[16, 16] - 0.5).max() < 0.05  # far from the edge: fine


def test_conventional_and_alpha_relations(rng: np.random.Generator) -> None:
    img = rng.random((32, 32, 3)).astype(np.float32)
    m = _square()
    bi = gaussian_blur(img, 1.5)
    ca, cb = conventional_pair(img, m, sigma=1.5)
    np.testing.assert_allclose(ca + cb, img + bi, atol=1e-6)
    np.testing.assert_allclose(ca[m == 1], img[m == 1])
    np.testing.assert_allclose(cb[m == 0], img[m == 0])
    aa, ab = alpha_matte_pair(img, m, sigma=1.5)
    np.testing.assert_allclose(aa, ca, atol=1e-7)  # A is the same in both models
    # B differs only within the blur radius (ceil(3) = 3 px) of the mask edge: the defocus spread.
    from scipy.ndimage import binary_dilation, binary_erosion

    sq = np.ones((3, 3), bool)  # the 7x7 kernel reaches 3 px in the chessboard metric
    band = binary_dilation(m > 0, sq, iterations=3) & ~binary_erosion(m > 0, sq, iterations=3)
    np.testing.assert_allclose(ab[~band], cb[~band], atol=1e-6)
    assert np.abs(ab - cb)[band].max() > 0.05
    # Background pixels next to the object see the blurred foreground spread out over them.
    assert np.abs(ab[7, 8:24] - img[7, 8:24]).max() > 0.01


def test_torch_batch_matches_numpy(rng: np.random.Generator) -> None:
    imgs = rng.random((2, 20, 24, 3)).astype(np.float32)
    masks = np.zeros((2, 20, 24), np.float32)
    masks[0, 5:15, 4:12] = 1
    masks[1, :, 12:] = 1
    ti = torch.from_numpy(imgs.transpose(0, 3, 1, 2).copy())
    tm = torch.from_numpy(masks[:, None].copy())
    sig = [0.7, 2.0]
    for model, literal in (("alpha", False), ("alpha", True), ("conventional", False)):
        ta, tb = synthesize_batch_torch(ti, tm, torch.tensor(sig), model=model, literal=literal)
        for n in range(2):
            a, b = synthesize_pair(imgs[n], masks[n], sigma=sig[n], model=model, literal=literal)
            np.testing.assert_allclose(ta[n].numpy().transpose(1, 2, 0), a, atol=1e-5)
            np.testing.assert_allclose(tb[n].numpy().transpose(1, 2, 0), b, atol=1e-5)


def test_bad_arguments() -> None:
    img = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(MfifError, match="mask"):
        alpha_matte_pair(img, np.zeros((4, 4)))
    with pytest.raises(MfifError, match="sigma"):
        gaussian_blur(img, -1)
    with pytest.raises(MfifError, match="model"):
        synthesize_pair(img, np.zeros((8, 8)), model="nope")
