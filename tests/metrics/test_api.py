"""API behaviour of mfif.metrics: input types, errors, metadata, QY modes (tiny arrays)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.metrics import METRIC_NAMES, METRICS, evaluate


def _pair(rng: np.random.Generator, h: int = 24, w: int = 20):  # noqa: ANN202
    a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    b = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    f = ((a.astype(np.uint16) + b) // 2).astype(np.uint8)
    return a, b, f


def test_metadata() -> None:
    assert METRIC_NAMES == ("MI", "TE", "NCIE", "QG", "QM", "SF", "QY", "QCB", "LIF", "AG", "MSD", "GLD")
    assert tuple(METRICS) == METRIC_NAMES
    for name, info in METRICS.items():
        assert info.name == name and info.symbol and info.reference
        assert info.direction in {"higher", "lower", "zero"}
    assert METRICS["LIF"].direction == "lower" and METRICS["SF"].direction == "zero"


def test_dtypes_agree(rng: np.random.Generator) -> None:
    a, b, f = _pair(rng)
    r8 = evaluate(a, b, f)
    r16 = evaluate(*(x.astype(np.uint16) * 257 for x in (a, b, f)))  # 16-bit = 8-bit * 257
    rf = evaluate(*(x.astype(np.float32) / 255.0 for x in (a, b, f)))  # as mfif.io.read_image returns
    for k in METRIC_NAMES:
        assert r16[k] == pytest.approx(r8[k], rel=1e-12), k
        assert rf[k] == pytest.approx(r8[k], rel=1e-12), k


def test_gray_and_rgb_inputs(rng: np.random.Generator) -> None:
    a, b, f = _pair(rng)
    r = evaluate(a[..., 0], b, f)  # gray mixed with RGB is fine: each is converted to gray
    assert set(r) == set(METRIC_NAMES)
    assert all(isinstance(v, float) for v in r.values())


def test_continuous_float_input(rng: np.random.Generator) -> None:
    a, b, f = (x.astype(np.float64) / 255.0 + 0.0013 for x in _pair(rng))
    a, b, f = (np.clip(x, 0, 1) for x in (a, b, f))
    r = evaluate(a, b, f)
    assert all(np.isfinite(v) for v in r.values())


def test_subset_and_order(rng: np.random.Generator) -> None:
    a, b, f = _pair(rng)
    r = evaluate(a, b, f, metrics=["qcb", "MI"])
    assert list(r) == ["QCB", "MI"]
    assert r["MI"] == evaluate(a, b, f)["MI"]
    assert METRICS["QG"].fn(a, b, f) == evaluate(a, b, f)["QG"]


@pytest.mark.parametrize(
    "kwargs,match",
    [({"metrics": ["XX"]}, "unknown metric"), ({"qy_mode": "exact"}, "qy_mode")],
)
def test_bad_options(rng: np.random.Generator, kwargs: dict, match: str) -> None:
    a, b, f = _pair(rng)
    with pytest.raises(MfifError, match=match):
        evaluate(a, b, f, **kwargs)


def test_size_mismatch(rng: np.random.Generator) -> None:
    a, b, f = _pair(rng)
    with pytest.raises(MfifError, match="fused: size"):
        evaluate(a, b, f[:-1])
    with pytest.raises(MfifError, match="b: size"):
        evaluate(a, b[:, :-2], f)


def test_bad_values() -> None:
    x = np.full((16, 16), 0.5)
    with pytest.raises(MfifError, match=r"\[0, 1\]"):
        evaluate(x, x, x * 3)
    y = x.copy()
    y[0, 0] = np.nan
    with pytest.raises(MfifError, match="NaN"):
        evaluate(x, x, y)
    with pytest.raises(MfifError, match="shape"):
        z = np.zeros((16, 16, 5))
        evaluate(z, z, z)


def test_constant_images_nan_with_warning(rng: np.random.Generator) -> None:
    a, b, _ = _pair(rng)
    c = np.full(a.shape, 128, np.uint8)
    with pytest.warns(UserWarning, match="constant"):
        r = evaluate(a, b, c)
    for k in ("MI", "TE", "NCIE", "QCB"):
        assert math.isnan(r[k]), k  # normalize1 divides 0/0 in the toolbox
    assert all(isinstance(v, float) for v in r.values())
    with pytest.warns(UserWarning):
        r = evaluate(c, c, c)  # all constant: never a crash
    assert math.isnan(r["MI"])


def test_qy_modes_on_flat_windows(rng: np.random.Generator) -> None:
    # A and B share a flat (constant) 12x12 block: the toolbox's lambda is 0/0 there -> NaN for the
    # whole image in faithful mode; the stable mode gives a finite value in [0, 1].
    a, b, f = (x[..., 0].copy() for x in _pair(rng, 32, 32))
    for x in (a, b, f):
        x[4:16, 4:16] = 0  # exactly flat: E[X^2] - mu^2 is exactly 0 there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faithful = evaluate(a, b, f, metrics=["QY"], qy_mode="faithful")["QY"]
    stable = evaluate(a, b, f, metrics=["QY"])["QY"]
    assert math.isnan(faithful)
    assert 0.0 <= stable <= 1.0


def test_qy_small_image() -> None:
    rng = np.random.default_rng(3)
    a, b, f = (rng.integers(0, 256, size=(10, 10), dtype=np.uint8) for _ in range(3))
    # The toolbox returns -Inf below 11 x 11 (spec 8.1); the stable mode gives NaN.
    assert evaluate(a, b, f, metrics=["QY"], qy_mode="faithful")["QY"] == -math.inf
    with pytest.warns(UserWarning, match="QY"):
        assert math.isnan(evaluate(a, b, f, metrics=["QY"])["QY"])
