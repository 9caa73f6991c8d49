"""Metric values derived by hand / in closed form (independent of the implementation).

Each test states the derivation. Inputs are tiny seeded arrays (always run, no ../shared needed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfif.metrics import evaluate


def _textured(rng: np.random.Generator, h: int = 24, w: int = 24) -> np.ndarray:
    # Random 8-bit texture spanning 0..255 (so normalize1 is the identity).
    x = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    x[0, 0], x[0, 1] = 0, 255
    return x


def test_identical_images_closed_form(rng: np.random.Generator) -> None:
    x = _textured(rng)
    r = evaluate(x, x, x, metrics=["MI", "QG", "QM", "SF", "QY", "QCB"])
    # MI: I(x;x) = H(x) so each term is H/(2H) = 1/2 -> MI = 2 * (1/2 + 1/2) = 2.
    assert r["MI"] == pytest.approx(2.0, rel=1e-12)
    # QG: G_XF = gX'/gF' = 1 and A_XF = ||0| - pi/2| * 2/pi = 1 everywhere, so
    # Q = 1/(1+exp(-10*0.5)) * 1/(1+exp(-20*0.25)) = (1+e^-5)^-2 at every pixel; weighted mean = Q.
    assert r["QG"] == pytest.approx((1.0 + math.exp(-5.0)) ** -2, rel=1e-12)
    # QM: EP = 3*exp(0) = 3 for both sources -> Q_s = 3 at both levels -> QM = 3^(2/3) * 3^(1/3) = 3.
    assert r["QM"] == pytest.approx(3.0, rel=1e-12)
    # SF: the reference uses max(|dA|, |dB|) = |dF| -> SF_F = SF_R -> SF = 0.
    assert r["SF"] == pytest.approx(0.0, abs=1e-12)
    # QY: SSIM(x, x) = 1 in every window (luminance and structure terms are both 1).
    assert r["QY"] == pytest.approx(1.0, rel=1e-9)
    # QCB: CP_A = CP_B = CP_F -> Q_AF = Q_BF = 1 and lambda_A + lambda_B = 1 -> QCB = 1.
    assert r["QCB"] == pytest.approx(1.0, rel=1e-12)


def test_ncie_identical_is_nan(rng: np.random.Generator) -> None:
    # R = all-ones matrix (NCC(x,x) = H(x)/8 is 1 only for H = 8 bits, so use a uniform histogram):
    # a 16x16 image holding each of the 256 levels once has H = 8 bits -> R = ones(3,3) with
    # eigenvalues (3, 0, 0); 0*log2(0) is NaN in MATLAB -> NaN (spec §3).
    x = rng.permutation(256).astype(np.uint8).reshape(16, 16)
    with pytest.warns(UserWarning):
        r = evaluate(x, x, x, metrics=["NCIE"])
    assert math.isnan(r["NCIE"])


def test_te_two_level_closed_form() -> None:
    # Two-level image, half 0 and half 255: p = diag(1/2, 1/2) on levels (0, 255), marginals 1/2.
    # Swapped D[i,j] = py[i] px[j]; on the diagonal D = 1/4, so S = 2 * (1/2)^q / (1/4)^(q-1),
    # T = (1 - S)/(1 - q) for every pair (x, x); H = 1 bit.  TE = 2T / (1^q + 1^q + T).
    q = 0.43137
    x = np.zeros((16, 16), np.uint8)
    x[:, 8:] = 255
    s = 2 * 0.5**q / 0.25 ** (q - 1)
    t = (1 - s) / (1 - q)
    r = evaluate(x, x, x, metrics=["TE"])
    assert r["TE"] == pytest.approx(2 * t / (2 + t), rel=1e-12)


def test_sf_half_contrast() -> None:
    # B constant (all zero) -> the reference gradient is |dA|; F = A/2 halves every difference,
    # so SF_F = SF_R / 2 and SF = (SF_R/2 - SF_R)/SF_R = -0.5 exactly.
    rng = np.random.default_rng(7)
    a = rng.integers(0, 128, size=(20, 20)).astype(np.float64) * 2.0 / 255.0  # even levels
    b = np.zeros_like(a)
    f = a / 2.0
    with pytest.warns(UserWarning):  # B is constant
        r = evaluate(a, b, f, metrics=["SF"])
    assert r["SF"] == pytest.approx(-0.5, rel=1e-12)


def test_noref_closed_form() -> None:
    # Horizontal ramp F[i, j] = 3 j (gray levels): vertical differences 0, horizontal 3.
    f = np.tile(np.arange(20, dtype=np.uint8) * 3, (20, 1))
    a = b = f
    r = evaluate(a, b, f, metrics=["AG", "GLD"])
    # GLD = mean(|dx| + |dy|) = 3 (0..255 scale).
    assert r["GLD"] == pytest.approx(3.0, rel=1e-12)
    # AG = mean sqrt((0^2 + 3^2)/2) = 3/sqrt(2) (0..255 scale).
    assert r["AG"] == pytest.approx(3.0 / math.sqrt(2.0), rel=1e-12)
    # MSD: half 0, half 255 -> F/255 is 0 or 1 with equal counts -> variance 1/4.
    g = np.zeros((10, 10), np.uint8)
    g[:, 5:] = 255
    assert evaluate(g, g, g, metrics=["MSD"])["MSD"] == pytest.approx(0.25, rel=1e-12)
    # LIF (Pal-King, mu = sin(pi/2 (1 - F/255))): F = 0 -> mu = 1 -> min(mu, 1-mu) = 0 -> LIF = 0;
    # F = 170 = 2/3 * 255 -> mu = sin(pi/6) = 1/2 -> LIF = 2 * 1/2 = 1.
    z = np.zeros((12, 12), np.uint8)
    with pytest.warns(UserWarning):
        assert evaluate(z, z, z, metrics=["LIF"])["LIF"] == pytest.approx(0.0, abs=1e-15)
        c = np.full((12, 12), 170, np.uint8)
        assert evaluate(c, c, c, metrics=["LIF"])["LIF"] == pytest.approx(1.0, rel=1e-12)


def test_noref_rgb_closed_form() -> None:
    # Colour image with constant channels R = 0, G = 170, B = 0 except a ramp of step 3 in R.
    h = w = 12
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 1] = 170
    # LIF (mean over channels of Pal-King LIF): R = 0 -> 0, G = 170 -> 1, B = 0 -> 0 => 1/3.
    with pytest.warns(UserWarning):  # A/B/F constant in gray
        assert evaluate(f, f, f, metrics=["LIF"])["LIF"] == pytest.approx(1.0 / 3.0, rel=1e-12)
    # MSD (variance of all R, G, B samples of F/255 pooled): values are 0 (2/3 of samples) and
    # 170/255 = 2/3 (1/3 of samples) -> var = p (1 - p) (2/3)^2 with p = 1/3 -> 2/9 * 4/9 = 8/81.
    with pytest.warns(UserWarning):
        assert evaluate(f, f, f, metrics=["MSD"])["MSD"] == pytest.approx(8.0 / 81.0, rel=1e-12)
    # GLD (mean over channels of mean |dx| + |dy|): ramp 3 j in R, G and B constant -> (3 + 0 + 0)/3 = 1.
    g = f.copy()
    g[..., 0] = np.arange(w, dtype=np.uint8)[None, :] * 3
    assert evaluate(g, g, g, metrics=["GLD"])["GLD"] == pytest.approx(1.0, rel=1e-12)
