"""The twelve metrics, computed from a shared :class:`Triple` of prepared images.

Implements ``../shared/docs/metrics-spec.md`` (the MATLAB toolbox ``zhengliu6699/imageFusionMetrics``
as run under Octave, quirks included) in numpy/scipy. Section numbers (§) refer to that spec.
Intermediate results (gray images, normalised images, joint histograms, Sobel gradients, QY filter
maps, contrast maps) are computed once per triple and shared across metrics.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from mfif.metrics._prep import normalize1

LOG2_256 = 8.0
TE_Q = 0.43137  # §2, fusionAssess.m / Nava's normalisation (metricMI(..., 3))
TE_CVEJIC_Q = 1.85  # §2 variant (metricMI(..., 2))


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _entropy(p: np.ndarray) -> float:
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum())


class _Joint:
    """Joint 256 x 256 histogram of two normalised images with marginals and entropies (§0.2)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        h = np.bincount((x * 256 + y).ravel(), minlength=65536).astype(np.float64)
        self.p = (h / h.sum()).reshape(256, 256)
        self.px = self.p.sum(axis=1)  # distribution of x (row marginal)
        self.py = self.p.sum(axis=0)  # distribution of y (column marginal)
        self.hx = _entropy(self.px)
        self.hy = _entropy(self.py)
        self.hxy = _entropy(self.p)
        self.mi = self.hx + self.hy - self.hxy

    def tsallis(self, q: float) -> float:
        """Tsallis 'mutual information' with the toolbox's swapped marginals (§2)."""
        i, j = np.nonzero(self.p)
        pv = self.p[i, j]
        d = self.py[i] * self.px[j]  # !!! swapped w.r.t. p[i, j], as tsallis.m does
        keep = d != 0
        s = float((pv[keep] ** q / d[keep] ** (q - 1.0)).sum())
        return (1.0 - s) / (1.0 - q)


def _sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses by correlation with zero padding (MATLAB ``filter2(S, X, 'same')``).

    ``Sx = [[-1,0,1],[-2,0,2],[-1,0,1]]`` (derivative along columns), ``Sy = Sx.T``; computed
    separably on a zero-padded copy (exact for integer-valued images).
    """
    p = np.pad(x, 1)
    s = p[:-2] + 2.0 * p[1:-1] + p[2:]  # vertical smoothing, (M) x (N+2)
    gx = s[:, 2:] - s[:, :-2]
    d = p[2:] - p[:-2]  # vertical derivative
    gy = d[:, :-2] + 2.0 * d[:, 1:-1] + d[:, 2:]
    return gx, gy


def _haar(x: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One level of the orthonormal 2x2 Haar transform of buildWpyr (odd row/col dropped) (§5)."""
    m, n = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    a, b, c, d = x[0:m:2, 0:n:2], x[0:m:2, 1:n:2], x[1:m:2, 0:n:2], x[1:m:2, 1:n:2]
    ll = (a + b + c + d) / 2.0
    d1 = (-a - b + c + d) / 2.0
    d2 = (-a + b - c + d) / 2.0
    d3 = (a - b - c + d) / 2.0
    return ll, (d1, d2, d3)


@lru_cache(maxsize=8)
def _yang_window() -> np.ndarray:
    u = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2 * 1.5**2))
    return g / g.sum()


@lru_cache(maxsize=8)
def _yang_window_1d() -> np.ndarray:
    u = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(u**2) / (2 * 1.5**2))
    return g / g.sum()


@lru_cache(maxsize=16)
def _csf(m: int, n: int) -> np.ndarray:
    """Mannos-Sakrison-like CSF of metricChenBlum on the (unshifted) rfft2 grid (§9.1)."""
    u = sfft.rfftfreq(n) * n / 15.0  # (k - floor(N/2)) / 15 after ifftshift
    v = sfft.fftfreq(m) * m / 15.0
    r = np.sqrt(u[None, :] ** 2 + v[:, None] ** 2)
    return np.exp(-((r / 15.3870) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))


def _gauss31(sigma: float) -> np.ndarray:
    u = np.arange(-15, 16, dtype=np.float64)
    return np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)


@lru_cache(maxsize=16)
def _gauss31_fft(m: int, n: int) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """rfft2 of the two 31x31 Gaussians (sigma 2, 4), centred at index (0, 0) of a grid of at least
    (m + 15) x (n + 15) (and 31 x 31, so the kernel does not wrap onto itself), so that circular
    convolution of the zero-padded image equals the zero-padded 'same' correlation on the first
    m x n samples (the kernels are symmetric)."""
    shape = (sfft.next_fast_len(max(m + 15, 31), real=True), sfft.next_fast_len(max(n + 15, 31), real=True))
    out = []
    for sigma in (2.0, 4.0):
        k = np.zeros(shape)
        g = _gauss31(sigma)
        idx_r = np.arange(-15, 16) % shape[0]
        idx_c = np.arange(-15, 16) % shape[1]
        k[np.ix_(idx_r, idx_c)] = g
        out.append(sfft.rfft2(k).real.copy())  # symmetric kernel: real spectrum (imag ~1e-18)
    return shape, out[0], out[1]


def _box_count_zero(d: np.ndarray, h: int, w: int) -> np.ndarray:
    """True where the h x w window sums of the non-negative int array ``d`` are 0 (valid windows)."""
    c = np.zeros((d.shape[0] + 1, d.shape[1] + 1), np.int64)
    np.cumsum(np.cumsum(d, axis=0, dtype=np.int64), axis=1, out=c[1:, 1:])
    s = c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]
    return s == 0


def _flat7(x: np.ndarray) -> np.ndarray:
    """Valid 7x7 windows ((M-6) x (N-6)) in which ``x`` is exactly constant."""
    dh = (x[:, 1:] != x[:, :-1]).astype(np.int32)  # M x (N-1)
    dv = (x[1:, :] != x[:-1, :]).astype(np.int32)  # (M-1) x N
    return _box_count_zero(dh, 7, 6) & _box_count_zero(dv, 6, 7)


def contrast_maps(norm: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chen-Blum masked contrast CP of three normalised images (§9.1-9.2).

    The CSF filtering is circular (as MATLAB's fft2/ifft2); the two 31x31 Gaussians are applied as
    zero-padded 'same' correlations through a padded FFT. Thread-safe (used from a worker thread).
    """
    m, n = norm[0].shape
    x = np.stack([v.astype(np.float64) for v in norm])
    xc = sfft.irfft2(sfft.rfft2(x, axes=(1, 2)) * _csf(m, n), s=(m, n), axes=(1, 2))
    shape, g2, g4 = _gauss31_fft(m, n)
    xf = sfft.rfft2(xc, shape, axes=(1, 2))
    c2 = sfft.irfft2(xf * g2, shape, axes=(1, 2))[:, :m, :n]
    c4 = sfft.irfft2(xf * g4, shape, axes=(1, 2))[:, :m, :n]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.abs(c2 / c4 - 1.0)
        c2_ = c * c
        cp = c2_ * c / (c2_ + 1e-4)
    return cp[0], cp[1], cp[2]


# ---------------------------------------------------------------------------------------------


class Triple:
    """Prepared sources A, B and fused F (gray float64, 0..255) with lazily shared intermediates.

    Args:
        a, b, f: float64 H x W arrays on the 0..255 scale (see :func:`mfif.metrics._prep.to_gray255`).
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> None:
        self.a, self.b, self.f = a, b, f

    # -- normalize1 + histograms (MI, TE, NCIE) -------------------------------------------------
    @cached_property
    def norm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        n = tuple(normalize1(x) for x in (self.a, self.b, self.f))
        return None if any(x is None for x in n) else n  # type: ignore[return-value]

    @cached_property
    def joints(self) -> dict[str, _Joint] | None:
        if self.norm is None:
            return None
        na, nb, nf = self.norm
        return {"af": _Joint(na, nf), "bf": _Joint(nb, nf), "ab": _Joint(na, nb)}

    def mi(self) -> float:
        """§1: normalised MI (Hossny), ``2 * (I(a;f)/(H(a)+H(f)) + I(b;f)/(H(b)+H(f)))``."""
        j = self.joints
        if j is None:
            return float("nan")
        af, bf = j["af"], j["bf"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(2.0 * (np.float64(af.mi) / (af.hx + af.hy) + np.float64(bf.mi) / (bf.hx + bf.hy)))

    def te(self, q: float = TE_Q) -> float:
        """§2: Tsallis-entropy metric, Nava's normalisation (toolbox sw=3), swapped marginals."""
        j = self.joints
        if j is None:
            return float("nan")
        af, bf, ab = j["af"], j["bf"], j["ab"]
        num = af.tsallis(q) + bf.tsallis(q)
        den = ab.hx**q + ab.hy**q + ab.tsallis(q)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(num) / den)

    def te_cvejic(self) -> float:
        """§2 variant: Cvejic's TE (toolbox sw=2, q = 1.85), unnormalised."""
        j = self.joints
        if j is None:
            return float("nan")
        return j["af"].tsallis(TE_CVEJIC_Q) + j["bf"].tsallis(TE_CVEJIC_Q)

    def ncie(self) -> float:
        """§3: nonlinear correlation information entropy (Wang)."""
        j = self.joints
        if j is None:
            return float("nan")
        nab, naf, nbf = j["ab"].mi / LOG2_256, j["af"].mi / LOG2_256, j["bf"].mi / LOG2_256
        r = np.array([[1.0, nab, naf], [nab, 1.0, nbf], [naf, nbf, 1.0]])
        lam = np.linalg.eigvalsh(r)
        if np.any(lam <= 0):
            return float("nan")  # MATLAB: 0*log2(0) = NaN, negative -> complex
        hr = -float(np.sum((lam / 3.0) * np.log2(lam / 3.0))) / LOG2_256
        return 1.0 - hr

    # -- QG ------------------------------------------------------------------------------------
    @cached_property
    def sobel(self) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for x in (self.a, self.b, self.f):
            gx, gy = _sobel(x)
            g = np.sqrt(gx * gx + gy * gy)
            gx = np.where(gx == 0, gx + 1e-5, gx)
            out.append((g, np.arctan(gy / gx)))
        return out

    def qg(self) -> float:
        """§4: Xydeas-Petrovic Q^AB/F with the toolbox's constants, atan and per-pixel pooling."""
        (ga, aa), (gb, ab_), (gf, af) = self.sobel
        gf = gf.copy()
        qs, ws = [], []
        half_pi = np.pi / 2.0
        for gx_, ax in ((ga, aa), (gb, ab_)):
            bimap = gx_ > gf
            gxm = np.where(gx_ == 0, gx_ + 1e-5, gx_)
            r1 = gf / gxm
            gf = np.where(gf == 0, gf + 1e-5, gf)
            r2 = gxm / gf
            g_xf = np.where(bimap, r1, r2)
            a_xf = np.abs(np.abs(ax - af) - half_pi) * (2.0 / np.pi)
            q = 1.0 / (1.0 + np.exp(-10.0 * (g_xf - 0.5))) * (1.0 / (1.0 + np.exp(-20.0 * (a_xf - 0.75))))
            qs.append(q)
            ws.append(gxm)
        return float(np.mean((qs[0] * ws[0] + qs[1] * ws[1]) / (ws[0] + ws[1])))

    # -- QM ------------------------------------------------------------------------------------
    def qm(self, *, scale: float = 1.0) -> float:
        """§5: two-level Haar multiscale metric (P.-W. Wang & Liu) on the 0..255 scale.

        Args:
            scale: Multiplies the 0..255 images first (``1/255`` gives the [0, 1] variant).
        """
        xa, xb, xf = (self.a * scale, self.b * scale, self.f * scale) if scale != 1.0 else (self.a, self.b, self.f)
        qs = []
        for _level in range(2):
            if min(xa.shape) < 2:
                return float("nan")
            xa, da = _haar(xa)
            xb, db = _haar(xb)
            xf, df = _haar(xf)
            wa = da[0] ** 2 + da[1] ** 2 + da[2] ** 2
            wb = db[0] ** 2 + db[1] ** 2 + db[2] ** 2
            epa = sum(np.exp(-np.abs(da[k] - df[k])) for k in range(3))
            epb = sum(np.exp(-np.abs(db[k] - df[k])) for k in range(3))
            with np.errstate(divide="ignore", invalid="ignore"):
                qs.append(np.float64((epa * wa + epb * wb).sum()) / (wa + wb).sum())
        return float(qs[0] ** (2.0 / 3.0) * qs[1] ** (1.0 / 3.0))

    # -- SF ------------------------------------------------------------------------------------
    @staticmethod
    def _diffs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            x[:, :-1] - x[:, 1:],  # row frequency
            x[:-1, :] - x[1:, :],  # column frequency
            x[1:, 1:] - x[:-1, :-1],  # main diagonal
            x[1:, :-1] - x[:-1, 1:],  # secondary diagonal
        )

    def sf(self) -> float:
        """§6: (SF_F - SF_R) / SF_R with the max-gradient reference (Zheng, as modified by Liu)."""
        mn = self.f.size
        w = np.sqrt(2.0) / 2.0
        weights = (1.0, 1.0, w, w)
        sf_f = 0.0
        sf_r = 0.0
        for wk, df, da, db in zip(weights, self._diffs(self.f), self._diffs(self.a), self._diffs(self.b)):
            sf_f += wk * float(np.sum(df * df)) / mn
            m = np.maximum(np.abs(da), np.abs(db))
            sf_r += wk * float(np.sum(m * m)) / mn
        sf_f, sf_r = np.sqrt(sf_f), np.sqrt(sf_r)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float((np.float64(sf_f) - sf_r) / sf_r)

    # -- QY ------------------------------------------------------------------------------------
    def yang_maps(self, separable: bool = True) -> dict[str, np.ndarray]:
        """Valid-mode 7x7 Gaussian moments (§8) of A, B, F and their products.

        ``separable=True`` (fast, used by the stable mode) filters rows then columns;
        ``separable=False`` applies the full 7x7 kernel like MATLAB ``filter2``, whose rounding
        decides which windows come out exactly flat in the faithful mode.
        """
        key = "_yang_sep" if separable else "_yang_2d"
        if key in self.__dict__:
            return self.__dict__[key]
        m, n = self.a.shape
        w1, w2 = _yang_window_1d(), _yang_window()

        a, b, f = self.a, self.b, self.f
        stack = np.stack([a, b, f, a * a, b * b, f * f, a * b, a * f, b * f])
        if separable:
            y = ndimage.correlate1d(stack, w1, axis=1, mode="constant")[:, 3 : m - 3, :]
            y = ndimage.correlate1d(y, w1, axis=2, mode="constant")[:, :, 3 : n - 3]
        else:
            y = np.stack([ndimage.correlate(s_, w2, mode="constant")[3 : m - 3, 3 : n - 3] for s_ in stack])
        out = dict(zip(("mu_a", "mu_b", "mu_f", "aa", "bb", "ff", "ab", "af", "bf"), y))
        self.__dict__[key] = out
        return out

    @cached_property
    def flat(self) -> dict[str, np.ndarray]:
        """Per valid 7x7 window: True where the image is exactly constant in the window."""
        return {"a": _flat7(self.a), "b": _flat7(self.b), "f": _flat7(self.f)}

    def qy(self, *, mode: str = "stable") -> float:
        """§8: Yang's SSIM-based metric.

        Args:
            mode: ``"faithful"`` reproduces the toolbox (variances as E[X^2] - mu^2, NaN when a window
                is exactly flat in both sources, -inf below 11 x 11). ``"stable"`` sets the variance
                and covariance of exactly flat windows to exactly 0 (so SSIM there is the luminance
                term), clamps rounding-negative variances to 0, and uses lambda = 0.5 where
                sigma_A^2 + sigma_B^2 == 0; on windows with texture it equals the faithful value.
        """
        m, n = self.a.shape
        if m < 11 or n < 11:
            return float("-inf") if mode == "faithful" else float("nan")
        ym = self.yang_maps(separable=(mode != "faithful"))
        mua, mub, muf = ym["mu_a"], ym["mu_b"], ym["mu_f"]
        va, vb, vf = ym["aa"] - mua * mua, ym["bb"] - mub * mub, ym["ff"] - muf * muf
        cab, caf, cbf = ym["ab"] - mua * mub, ym["af"] - mua * muf, ym["bf"] - mub * muf
        if mode == "stable":
            fl = self.flat
            va = np.where(fl["a"], 0.0, np.maximum(va, 0.0))
            vb = np.where(fl["b"], 0.0, np.maximum(vb, 0.0))
            vf = np.where(fl["f"], 0.0, np.maximum(vf, 0.0))
            cab = np.where(fl["a"] | fl["b"], 0.0, cab)
            caf = np.where(fl["a"] | fl["f"], 0.0, caf)
            cbf = np.where(fl["b"] | fl["f"], 0.0, cbf)
        elif mode != "faithful":
            raise ValueError(f"qy mode must be 'stable' or 'faithful', got {mode!r}")
        c1 = c2 = 2e-16

        def ssim(mx, my, vx, vy, cxy):  # noqa: ANN001, ANN202
            return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))

        with np.errstate(divide="ignore", invalid="ignore"):
            s_ab = ssim(mua, mub, va, vb, cab)
            s_af = ssim(mua, muf, va, vf, caf)
            s_bf = ssim(mub, muf, vb, vf, cbf)
            lam = va / (va + vb)
            if mode == "stable":
                lam = np.where(va + vb == 0, 0.5, lam)
                q = np.where(s_ab >= 0.75, lam * s_af + (1 - lam) * s_bf, np.maximum(s_af, s_bf))
            else:
                binm = (s_ab >= 0.75).astype(np.float64)
                q = (lam * s_af + (1 - lam) * s_bf) * binm + np.maximum(s_af, s_bf) * (1 - binm)
        return float(np.mean(q))

    # -- QCB -----------------------------------------------------------------------------------
    @cached_property
    def contrast(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """CP maps of normalised A, B, F (§9.1-9.2)."""
        return None if self.norm is None else contrast_maps(self.norm)

    def qcb(self) -> float:
        """§9: Chen-Blum metric."""
        cps = self.contrast
        if cps is None:
            return float("nan")
        cpa, cpb, cpf = cps
        with np.errstate(divide="ignore", invalid="ignore"):
            qaf = np.where(cpa < cpf, cpa / cpf, cpf / cpa)
            qbf = np.where(cpb < cpf, cpb / cpf, cpf / cpb)
            a2, b2 = cpa * cpa, cpb * cpb
            s = a2 + b2
            return float(np.mean((a2 / s) * qaf + (b2 / s) * qbf))
