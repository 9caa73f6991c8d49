"""The learned/classical combination (mfif.fusion.hybrid) and the ten-line fuser laplacian-energy-15."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import mfif
from mfif.errors import MfifError
from mfif.fusion.hybrid import classical_decision, hybrid_decision, laplacian_energy_log_ratio
from mfif.postprocess.regions import remove_small_regions


def _pair(h: int = 40, w: int = 48, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A textured scene; A sharp in the left half, B sharp in the right half (each blurred elsewhere)."""
    rng = np.random.default_rng(seed)
    truth = rng.random((h, w, 3)).astype(np.float32)
    blur = gaussian_filter(truth, sigma=(2.0, 2.0, 0)).astype(np.float32)
    left = np.zeros((h, w, 1), np.float32)
    left[:, : w // 2] = 1
    return truth * left + blur * (1 - left), blur * left + truth * (1 - left)


def test_laplacian_energy_15_is_laplacian_argmax_with_its_sizes() -> None:
    a, b = _pair()
    r = mfif.fuse([a, b], method="laplacian-energy-15", order="given")
    ref = mfif.fuse([a, b], method="laplacian-argmax", window=15, median_size=11, order="given")
    np.testing.assert_array_equal(r.fused, ref.fused)
    np.testing.assert_array_equal(r.decision_map, ref.decision_map)


def test_classical_decision_finds_the_sharp_halves() -> None:
    a, b = _pair()
    d = classical_decision(laplacian_energy_log_ratio(a, b))
    assert d[:, :20].mean() > 0.95 and d[:, 28:].mean() < 0.05


def test_gate_extremes_give_the_network_or_the_classical_decision() -> None:
    a, b = _pair()
    rng = np.random.default_rng(0)
    fm = gaussian_filter(rng.random(a.shape[:2]), 3).astype(np.float32)
    net = remove_small_regions(fm > 0.5).astype(np.float32)
    np.testing.assert_array_equal(hybrid_decision(fm, a, b, gate=np.inf), net)
    cls = remove_small_regions(classical_decision(laplacian_energy_log_ratio(a, b))).astype(np.float32)
    np.testing.assert_array_equal(hybrid_decision(fm, a, b, gate=-1.0), cls)


def test_a_wrong_network_map_is_overruled_where_texture_decides() -> None:
    a, b = _pair()
    wrong = np.zeros(a.shape[:2], np.float32)  # "B everywhere"
    d = hybrid_decision(wrong, a, b)
    assert d[:, :18].mean() > 0.9  # A's sharp half recovered
    assert d[:, 30:].mean() < 0.1


def test_swapping_sources_complements_the_decision() -> None:
    a, b = _pair(seed=5)
    rng = np.random.default_rng(1)
    fm = gaussian_filter(rng.random(a.shape[:2]), 4).astype(np.float32)
    d_ab = hybrid_decision(fm, a, b)
    d_ba = hybrid_decision(1.0 - fm, b, a)
    assert ((d_ab + d_ba) == 1).mean() > 0.99  # exact except where the map sits exactly at 0.5


def test_registered_hybrid_fuses_pairs_and_refuses_soft_options() -> None:
    a, b = _pair()
    r = mfif.fuse([a, b], method="mfif-gan-lite-hybrid", device="cpu")
    assert r.fused.shape == a.shape and set(np.unique(r.decision_map)) <= {0.0, 1.0}
    m = r.decision_map[..., None]
    np.testing.assert_allclose(r.fused, a * m + b * (1 - m), atol=1e-6)
    assert r.decision_map[:, :18].mean() > 0.9 and r.decision_map[:, 30:].mean() < 0.1
    with pytest.raises(MfifError, match="soft"):
        mfif.fuse([a, b], method="mfif-gan-lite-hybrid", device="cpu", soft=True)


def test_hybrid_stacks_are_the_lite_stacks() -> None:
    a, b = _pair()
    c = (0.5 * (a + b)).astype(np.float32)
    r = mfif.fuse([a, b, c], method="mfif-gan-lite-hybrid", device="cpu")
    ref = mfif.fuse([a, b, c], method="mfif-gan-lite", device="cpu")
    np.testing.assert_array_equal(r.fused, ref.fused)


def test_protect_keeps_the_network_decision_near_its_boundary() -> None:
    from mfif.metrics.reference import boundary_band

    a, b = _pair()
    fm = np.zeros(a.shape[:2], np.float32)
    fm[:, :30] = 1.0  # the network's boundary 6 px right of the true one
    net = remove_small_regions(fm > 0.5).astype(np.float32)
    band = boundary_band(net, 8)
    d0 = hybrid_decision(fm, a, b, gate=0.5, protect=0)
    d8 = hybrid_decision(fm, a, b, gate=0.5, protect=8)
    assert (d0[band] != net[band]).any()  # unprotected: the classical measure moves the boundary
    np.testing.assert_array_equal(d8[band], net[band])
    np.testing.assert_array_equal(d8[~band], d0[~band])


def test_quadtree_band_decision_takes_quadtree_away_from_its_boundary_and_the_network_near_it() -> None:
    from mfif.baselines.quadtree import quadtree_fuse
    from mfif.fusion.hybrid import quadtree_band_decision
    from mfif.metrics.reference import boundary_band

    a, b = _pair(64, 64)
    labels = quadtree_fuse([a, b]).extras["labels"]
    qa = (labels == 0).astype(np.float32)
    assert qa[:, :24].mean() > 0.9 and qa[:, 40:].mean() < 0.1  # Quadtree finds the halves here
    wrong = np.zeros(a.shape[:2], np.float32)  # the network says "B everywhere"
    d0 = quadtree_band_decision(wrong, a, b, band=0)
    defined = labels >= 0
    np.testing.assert_array_equal(d0[defined], remove_small_regions(np.where(defined, qa > 0.5, False))[defined])
    d8 = quadtree_band_decision(wrong, a, b, band=8)
    band = boundary_band(qa, 8)
    assert band.any() and (d8[band] == 0).all()  # the network decides near Quadtree's boundary
    far = ~band & defined & (qa > 0.5)
    assert far.any() and (d8[far] == 1).all()  # Quadtree decides away from it


def test_registered_quadtree_combination_fuses_pairs_and_refuses_soft_options() -> None:
    a, b = _pair(64, 64)
    r = mfif.fuse([a, b], method="mfif-gan-lite-quadtree", device="cpu")
    assert r.fused.shape == a.shape and set(np.unique(r.decision_map)) <= {0.0, 1.0}
    m = r.decision_map[..., None]
    np.testing.assert_allclose(r.fused, a * m + b * (1 - m), atol=1e-6)
    assert r.decision_map[:, :20].mean() > 0.9 and r.decision_map[:, 44:].mean() < 0.1
    with pytest.raises(MfifError, match="mfif-gan-lite-quadtree.*soft"):
        mfif.fuse([a, b], method="mfif-gan-lite-quadtree", device="cpu", soft=True)
    c = (0.5 * (a + b)).astype(np.float32)
    np.testing.assert_array_equal(mfif.fuse([a, b, c], method="mfif-gan-lite-quadtree", device="cpu").fused,
                                  mfif.fuse([a, b, c], method="mfif-gan-lite", device="cpu").fused)
