"""CSR baseline (Liu et al. 2016) with sporco: shipped dictionary, behaviour on a tiny pair, options."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.baselines.csr import DICT_FILE, csr, load_dictionary
from mfif.errors import MfifError
from mfif.registry import get_method


def test_registered():
    assert get_method("csr").fn is csr


@pytest.mark.parametrize("name", ["learned", "sporco"])
def test_dictionary(name):
    d = load_dictionary(name)
    assert d.shape == (8, 8, 32) and d.dtype == np.float32  # paper: 32 filters of 8x8
    np.testing.assert_allclose(np.sqrt((d.astype(np.float64) ** 2).sum(axis=(0, 1))), 1.0, atol=1e-5)


def test_shipped_dictionary_is_safetensors():
    assert DICT_FILE.suffix == ".safetensors" and DICT_FILE.is_file()
    assert DICT_FILE.stat().st_size < 64 * 1024


def test_picks_sharp_half_gray(textured_pair):
    a, b, truth, mask = textured_pair
    ga, gb, gt = a[..., 0], b[..., 0], truth[..., 0]
    res = csr([ga, gb])
    assert res.fused.shape == ga.shape and res.fused.dtype == np.float32
    assert 0.0 <= res.fused.min() and res.fused.max() <= 1.0
    dm = res.decision_map
    assert dm[:, :20].mean() > 0.95 and dm[:, 44:].mean() < 0.05
    err = lambda x: float(np.mean((x - gt) ** 2))  # noqa: E731
    assert err(res.fused) < 0.3 * min(err(ga), err(gb))
    assert all(1 <= k <= 500 for k in res.extras["iterations"])


def test_colour_and_three_inputs(textured_pair):
    a, b, _, mask = textured_pair
    res = csr([a[:40, :40], b[:40, :40], b[:40, :40]], max_iter=30, dictionary="sporco")
    assert res.fused.shape == (40, 40, 3)
    assert res.depth_map is not None and res.depth_map.shape == (40, 40)
    assert np.mean(res.depth_map[:, :12] == 0) > 0.9


def test_dictionary_file_option(tmp_path, textured_pair):
    a, b, _, _ = textured_pair
    p = tmp_path / "d.npy"
    np.save(p, load_dictionary("sporco")[:, :, :8])
    res = csr([a[:32, :32, 0], b[:32, :32, 0]], dictionary=str(p), max_iter=20)
    assert res.fused.shape == (32, 32)
    with pytest.raises(MfifError):
        csr([a, b], dictionary=str(tmp_path / "missing.npy"))


@pytest.mark.parametrize("opts", [{"lmbda": 0}, {"radius": -1}, {"max_iter": 0}, {"npad": 1.5}, {"rel_stop_tol": -1}])
def test_bad_options(textured_pair, opts):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        csr([a, b], **opts)


def test_bad_inputs(textured_pair):
    a, _, _, _ = textured_pair
    with pytest.raises(MfifError):
        csr([a])
