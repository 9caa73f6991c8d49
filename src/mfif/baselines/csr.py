"""CSR: convolutional sparse representation fusion (Liu, Chen, Ward, Wang, IEEE SPL 23(12), 2016).

Written from the description in ``docs/baselines.md`` §3.4 with sporco (BSD-3) as the solver.

1. Base/detail split with the Tikhonov lowpass ``sporco.signal.tikhonov_filter(s, 5, 16)``.
2. Convolutional BPDN of each detail layer, λ = 0.01, ρ = 100λ + 0.5, at most 500 ADMM iterations,
   relative stopping tolerance 1e-3, ``HighMemSolve``.
3. Activity = Σ_m |x_m|, averaged over a (2r+1)² window (r = 9, zero padding); the decision picks the
   source with the larger activity.
4. Fused coefficient maps = the winner's maps at each pixel; detail = Σ_m d_m * x_m; base taken from
   the decision map (multi-focus rule); output = base + detail.

**Dictionary.** The authors' ``dict.mat`` (32 filters of 8x8 learned from 50 natural images) is
research-only. The default ``dictionary="learned"`` is our own dictionary of the same shape, learned with
sporco's convolutional dictionary learning on ten grayscale scikit-image sample images
(``scripts/learn_csr_dictionary.py``; shipped as ``data/csr_dict_8x8x32.safetensors``).
``dictionary="sporco"`` uses sporco's BSD ``G:8x8x32`` example dictionary instead.

**Differences from the original.** The ADMM runs in float32 (several times faster than float64 here; the stopping
tolerance 1e-3 dominates the error), and sporco's real FFTs go through ``scipy.fft`` instead of pyfftw
(see :func:`_fast_fft`). Colour
sources: the decision map is computed from the BT.601 gray images (full CSR fusion of the gray
image) and applied to every channel (``F = A·M + B·(1−M)``), as for the other decision-map methods;
gray sources get the paper's base + sparse-detail reconstruction.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mfif.baselines._common import apply_map, check_images, check_option, gray
from mfif.errors import MfifError
from mfif.filters import box_sum
from mfif.registry import FusionResult, register_method

__all__ = ["csr", "load_dictionary"]

_DATA = Path(__file__).resolve().parent / "data"
DICT_FILE = _DATA / "csr_dict_8x8x32.safetensors"


@lru_cache(maxsize=4)
def load_dictionary(name: str = "learned") -> np.ndarray:
    """The CSR dictionary, float32 8 x 8 x 32 (H x W x M), each filter of unit L2 norm.

    Args:
        name: ``"learned"`` (shipped, see module notes), ``"sporco"`` (sporco's ``G:8x8x32``) or a
            path to a ``.safetensors`` file with a tensor ``dictionary`` (h x w x M) or a ``.npy`` file.

    Raises:
        MfifError: unknown name or unreadable file.
    """
    if name == "sporco":
        from sporco import util

        d = np.asarray(util.convdicts()["G:8x8x32"], dtype=np.float32)
    else:
        path = DICT_FILE if name == "learned" else Path(name)
        if not path.is_file():
            raise MfifError(f"csr: dictionary file {str(path)!r} not found")
        try:
            if path.suffix == ".npy":
                d = np.load(path, allow_pickle=False)
            else:
                from safetensors.numpy import load_file

                d = load_file(str(path))["dictionary"]
        except Exception as exc:  # noqa: BLE001 - any read error is a user error here
            raise MfifError(f"csr: cannot read dictionary {str(path)!r}: {exc}") from None
        d = np.asarray(d, dtype=np.float32)
        if d.ndim != 3:
            raise MfifError(f"csr: dictionary {str(path)!r} must be h x w x M, got shape {d.shape}")
    n = np.sqrt(np.sum(d.astype(np.float64) ** 2, axis=(0, 1), keepdims=True))
    return (d / np.maximum(n, 1e-12)).astype(np.float32)


def _sp_rfftn(a: np.ndarray, s=None, axes=None) -> np.ndarray:  # noqa: ANN001
    import scipy.fft

    return scipy.fft.rfftn(a, s=s, axes=axes, workers=-1)


def _sp_irfftn(a: np.ndarray, s, axes=None) -> np.ndarray:  # noqa: ANN001
    import scipy.fft

    return scipy.fft.irfftn(a, s=s, axes=axes, workers=-1)


@contextmanager
def _fast_fft() -> Iterator[None]:
    """Route sporco's real FFTs to ``scipy.fft`` while a solver is built and run.

    sporco's default pyfftw back end plans with ``FFTW_MEASURE`` (tens of seconds per new shape) and,
    for its strided H x W x ... x M layout, ran 3x slower than ``scipy.fft`` here. The solver picks the
    functions up when it is constructed (``sporco.fft.fftn_func``), so the module attributes are
    swapped for the duration and restored afterwards.
    """
    import sporco.fft as sfft

    old = (sfft.rfftn, sfft.irfftn, sfft.pyfftw_planner_effort)
    sfft.rfftn, sfft.irfftn, sfft.pyfftw_planner_effort = _sp_rfftn, _sp_irfftn, "FFTW_ESTIMATE"
    try:
        yield
    finally:
        sfft.rfftn, sfft.irfftn, sfft.pyfftw_planner_effort = old


def _csr_gray(
    srcs: list[np.ndarray], d: np.ndarray, *, lmbda: float, tikhonov_lambda: float, npad: int, radius: int,
    max_iter: int, rel_stop_tol: float,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fuse gray sources (float64 H x W in [0, 1]); returns fused, winner index (int32 H x W), extras."""
    from sporco import signal
    from sporco.admm import cbpdn

    opt = cbpdn.ConvBPDN.Options({
        "Verbose": False, "MaxMainIter": int(max_iter), "RelStopTol": float(rel_stop_tol),
        "HighMemSolve": True, "rho": 100.0 * lmbda + 0.5, "DataType": "float32", "FastSolve": True,
    })
    bases, coefs, iters = [], [], []
    solver = None
    with _fast_fft():
        for s in srcs:
            sl, sh = signal.tikhonov_filter(s, tikhonov_lambda, npad)
            solver = cbpdn.ConvBPDN(d, sh.astype(np.float32), lmbda, opt, dimK=0)
            x = solver.solve()  # H x W x 1 x 1 x M (sporco layout)
            bases.append(sl)
            coefs.append(np.asarray(x))
            iters.append(int(solver.k))
        act = []
        win = (2 * radius + 1) ** 2
        for x in coefs:
            a = np.sum(np.abs(x), axis=tuple(range(2, x.ndim))).astype(np.float64)
            act.append(box_sum(a, radius) / win)
        if len(srcs) == 2:
            idx = np.where(act[0] > act[1], 0, 1).astype(np.int32)
        else:
            idx = np.argmax(np.stack(act), axis=0).astype(np.int32)
        sel = idx.reshape(idx.shape + (1,) * (coefs[0].ndim - 2))
        xf = np.zeros_like(coefs[0])
        base = np.zeros_like(bases[0])
        for k, (x, sl) in enumerate(zip(coefs, bases)):
            xf = np.where(sel == k, x, xf)
            base = np.where(idx == k, sl, base)
        detail = np.asarray(solver.reconstruct(xf)).reshape(base.shape)
    fused = base + detail
    return fused, idx, {"iterations": iters}


@register_method(
    "csr",
    description="CSR: convolutional sparse representation fusion (Liu et al. 2016), sporco ConvBPDN; slow",
    max_inputs=None,
    citation="Liu, Chen, Ward, Wang, Image fusion with convolutional sparse representation, IEEE SPL 23(12), 2016",
)
def csr(
    images: Sequence[np.ndarray],
    *,
    lmbda: float = 0.01,
    tikhonov_lambda: float = 5.0,
    npad: int = 16,
    radius: int = 9,
    max_iter: int = 500,
    rel_stop_tol: float = 1e-3,
    dictionary: str = "learned",
) -> FusionResult:
    """Fuse sources with convolutional sparse representation.

    Args:
        images: N >= 2 harmonised sources, H x W or H x W x 3 float32 in [0, 1] (N > 2: the
            activity argmax over all sources).
        lmbda: Sparsity weight of ConvBPDN (paper: 0.01).
        tikhonov_lambda: Tikhonov lowpass weight of the base/detail split (paper: 5).
        npad: Symmetric padding of the lowpass in pixels (paper: 16).
        radius: Activity averaging radius r, window (2r+1)² (multi-focus: 9).
        max_iter: ADMM iterations at most (paper: 500).
        rel_stop_tol: ADMM relative stopping tolerance (paper: 1e-3).
        dictionary: ``"learned"`` (default, shipped), ``"sporco"`` or a file path (see
            :func:`load_dictionary`).

    Returns:
        FusionResult: fused image, ``decision_map``/``focus_map`` (1 = first source) and, for N > 2,
        ``depth_map``; ``extras["iterations"]`` = ADMM iterations per source.
    """
    imgs = check_images(images, method="csr")
    num = (int, float)
    check_option("csr", "lmbda", lmbda, isinstance(lmbda, num) and lmbda > 0, "a number > 0")
    check_option("csr", "tikhonov_lambda", tikhonov_lambda, isinstance(tikhonov_lambda, num) and tikhonov_lambda > 0, "a number > 0")
    check_option("csr", "npad", npad, isinstance(npad, int) and npad >= 0, "an integer >= 0")
    check_option("csr", "radius", radius, isinstance(radius, int) and radius >= 0, "an integer >= 0")
    check_option("csr", "max_iter", max_iter, isinstance(max_iter, int) and max_iter >= 1, "an integer >= 1")
    check_option("csr", "rel_stop_tol", rel_stop_tol, isinstance(rel_stop_tol, num) and rel_stop_tol > 0, "a number > 0")
    check_option("csr", "dictionary", dictionary, isinstance(dictionary, str), "'learned', 'sporco' or a file path")
    d = load_dictionary(dictionary)
    fused_g, idx, extra = _csr_gray(
        [gray(im) for im in imgs], d, lmbda=lmbda, tikhonov_lambda=tikhonov_lambda, npad=npad, radius=radius,
        max_iter=max_iter, rel_stop_tol=rel_stop_tol,
    )
    if imgs[0].ndim == 2:
        fused = np.clip(fused_g, 0, 1).astype(np.float32)
    else:
        st = np.stack(imgs)
        fused = np.take_along_axis(st, idx[None, ..., None], axis=0)[0] if len(imgs) > 2 else apply_map(imgs, idx == 0)
    dec = (idx == 0).astype(np.float32) if len(imgs) == 2 else None
    return FusionResult(
        fused=np.clip(fused, 0, 1).astype(np.float32),
        focus_map=dec,
        decision_map=dec,
        depth_map=idx if len(imgs) > 2 else None,
        extras={"method": "csr", "dictionary": dictionary, **extra},
    )
