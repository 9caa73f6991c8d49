import numpy as np
import torch

from mfif.fusion.inference import pad_to_multiple
from mfif.fusion.pair import compose, fuse_pair, predict_focus_map
from mfif.models import Generator


def _tiny():
    torch.manual_seed(0)
    return Generator(width=4, n_blocks=1).eval()


def test_any_size_output_matches_input():
    g = _tiny()
    rng = np.random.default_rng(0)
    for h, w in [(17, 23), (32, 32), (9, 50)]:
        a = rng.random((h, w, 3), dtype=np.float32)
        b = rng.random((h, w, 3), dtype=np.float32)
        res = fuse_pair(g, a, b, device="cpu")
        assert res.fused.shape == (h, w, 3)
        assert res.focus_map.shape == (h, w)
        assert set(np.unique(res.decision_map)) <= {0.0, 1.0}


def test_gray_stays_gray():
    g = _tiny()
    rng = np.random.default_rng(1)
    a = rng.random((20, 20), dtype=np.float32)
    b = rng.random((20, 20), dtype=np.float32)
    res = fuse_pair(g, a, b, device="cpu")
    assert res.fused.shape == (20, 20)


def test_fusion_rule_picks_per_map():
    a = np.full((4, 4, 3), 0.2, np.float32)
    b = np.full((4, 4, 3), 0.8, np.float32)
    m = np.zeros((4, 4), np.float32)
    m[:, :2] = 1
    f = compose(a, b, m)
    assert np.allclose(f[:, :2], 0.2) and np.allclose(f[:, 2:], 0.8)


def test_padding_is_reflect_and_cropped_back():
    x = torch.arange(30.0).reshape(1, 1, 5, 6)
    y, (h, w) = pad_to_multiple(x)
    assert y.shape[2:] == (8, 8) and (h, w) == (5, 6)
    assert torch.equal(y[0, 0, 5, :6], x[0, 0, 3])  # reflect: row 5 mirrors row 3


def test_map_is_translation_consistent_with_padding():
    """A size that needs padding gives the same map in the interior as the unpadded crop region."""
    g = _tiny()
    rng = np.random.default_rng(2)
    a = rng.random((32, 32, 3), dtype=np.float32)
    b = rng.random((32, 32, 3), dtype=np.float32)
    m_full = predict_focus_map(g, a, b, device="cpu")
    m_crop = predict_focus_map(g, a[:31, :31], b[:31, :31], device="cpu")
    assert np.abs(m_full[:16, :16] - m_crop[:16, :16]).max() < 1e-4


def test_tta_is_mean_of_flipped_predictions():
    g = _tiny()
    rng = np.random.default_rng(3)
    a = rng.random((20, 24, 3), dtype=np.float32)
    b = rng.random((20, 24, 3), dtype=np.float32)
    maps = []
    for fl in (lambda x: x, lambda x: x[:, ::-1], lambda x: x[::-1], lambda x: x[::-1, ::-1]):
        m = predict_focus_map(g, np.ascontiguousarray(fl(a)), np.ascontiguousarray(fl(b)), device="cpu")
        maps.append(fl(m))
    expected = np.mean(maps, axis=0)
    got = predict_focus_map(g, a, b, device="cpu", tta=True)
    assert np.abs(got - expected).max() < 1e-5
    assert np.abs(got - maps[0]).max() > 1e-4  # a random net is not flip-invariant: TTA changed something
    got2 = predict_focus_map(g, a, b, device="cpu", tta=2)  # the image and its left-right mirror only
    assert np.abs(got2 - (maps[0] + maps[1]) / 2).max() < 1e-5


def test_soft_boundary_blends_only_near_the_decision_boundary():
    from mfif.metrics.reference import boundary_band

    g = _tiny()
    rng = np.random.default_rng(3)
    a = rng.random((40, 40, 3), dtype=np.float32)
    b = rng.random((40, 40, 3), dtype=np.float32)
    a[:, :20] = np.clip(a[:, :20] * 3, 0, 1)  # give the tiny model something to split on
    hard = fuse_pair(g, a, b, device="cpu", postprocess=False)
    soft = fuse_pair(g, a, b, device="cpu", postprocess=False, soft_boundary=2)
    assert np.array_equal(hard.decision_map, soft.decision_map)
    band = boundary_band(hard.decision_map, 2)
    if not band.any():  # untrained model gave one region: then nothing may change
        assert np.array_equal(hard.fused, soft.fused)
        return
    assert np.array_equal(hard.fused[~band], soft.fused[~band])
    want = compose(a, b, hard.focus_map)
    assert np.allclose(soft.fused[band], want[band], atol=1e-6)


def test_tta16_is_mean_of_flip_tta_over_four_shifts():
    g = _tiny()
    rng = np.random.default_rng(5)
    a = rng.random((21, 26, 3), dtype=np.float32)
    b = rng.random((21, 26, 3), dtype=np.float32)
    maps = []
    for dy, dx in ((0, 0), (0, 2), (2, 0), (2, 2)):
        pad = ((dy, 0), (dx, 0), (0, 0))
        sa, sb = np.pad(a, pad, mode="reflect"), np.pad(b, pad, mode="reflect")  # same reflection as torch
        maps.append(predict_focus_map(g, sa, sb, device="cpu", tta=True)[dy:, dx:])
    got = predict_focus_map(g, a, b, device="cpu", tta=16)
    assert got.shape == (21, 26)
    assert np.abs(got - np.mean(maps, axis=0)).max() < 1e-5
    assert np.abs(got - maps[0]).max() > 1e-4  # the shifts changed something (a random net is not shift-invariant)


def test_tta_rejects_other_values():
    import pytest

    from mfif.errors import MfifError
    from mfif.fusion.inference import tta_copies

    assert [tta_copies(v) for v in (False, True, 0, 1, 2, 4, 16)] == [1, 4, 1, 1, 2, 4, 16]
    for bad in (3, 8, "flips", -4):
        with pytest.raises(MfifError, match="tta"):
            tta_copies(bad)


def test_soft_weights_formula():
    from mfif.fusion.pair import soft_weights

    m = np.array([[0.0, 0.45, 0.7, 0.95, 1.0]], np.float32)
    # hand-computed: clip(2·(m − 0.7) + 0.5, 0, 1)
    assert np.allclose(soft_weights(m), [[0.0, 0.0, 0.5, 1.0, 1.0]])
    assert np.allclose(soft_weights(m, center=0.5, gain=1.0), m)


def test_soft_composition_uses_soft_weights_everywhere():
    import pytest

    from mfif.errors import MfifError
    from mfif.fusion.pair import soft_weights

    g = _tiny()
    rng = np.random.default_rng(3)
    a = rng.random((40, 40, 3), dtype=np.float32)
    b = rng.random((40, 40, 3), dtype=np.float32)
    a[:, :20] = np.clip(a[:, :20] * 3, 0, 1)
    for pp in (False, True):
        res = fuse_pair(g, a, b, device="cpu", postprocess=pp, soft=True, min_region_ratio=0.05, near="a")
        assert np.allclose(res.fused, compose(a, b, soft_weights(res.focus_map)), atol=1e-6)
        hard = fuse_pair(g, a, b, device="cpu", postprocess=pp, min_region_ratio=0.05)
        assert np.array_equal(res.decision_map, hard.decision_map)  # the reported decision map is unchanged
    with pytest.raises(MfifError, match="alternatives"):
        fuse_pair(g, a, b, device="cpu", soft=True, soft_boundary=1)
    with pytest.raises(MfifError, match="soft_gain"):
        fuse_pair(g, a, b, device="cpu", soft=True, soft_gain=0)


def test_tta_with_tile_is_refused_not_ignored():
    import pytest

    from mfif.errors import MfifError

    g = _tiny()
    a = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(MfifError, match="tile"):
        predict_focus_map(g, a, a, device="cpu", tile=8, tta=16)


def test_cpu_native_bf16_detection_reads_the_cpu_flags():
    from mfif.models.runtime import cpu_has_native_bf16

    onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    # x86 without the bf16 extensions: AVX512 alone only emulates bf16 -> float32
    assert cpu_has_native_bf16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl\n") is False
    assert cpu_has_native_bf16("flags\t\t: fpu avx512f avx512_bf16\n") is onednn
    assert cpu_has_native_bf16("flags\t\t: fpu amx_tile amx_bf16\n") is onednn
    assert cpu_has_native_bf16("Features\t: fp asimd bf16 i8mm\n") is onednn  # aarch64 (Graviton 3, ...)
    assert cpu_has_native_bf16("Features\t: fp asimd\n") is False
    assert cpu_has_native_bf16("") is False
    assert isinstance(cpu_has_native_bf16(), bool)  # this machine, whatever it has


def test_resolve_amp_values():
    import pytest

    from mfif.errors import MfifError
    from mfif.models.runtime import cpu_has_native_bf16, resolve_amp

    cpu = torch.device("cpu")
    assert resolve_amp(True, cpu) is True and resolve_amp(False, cpu) is False
    assert resolve_amp("auto", cpu) is cpu_has_native_bf16()
    for bad in ("on", "bf16", 1, None):
        with pytest.raises(MfifError, match="amp"):
            resolve_amp(bad, cpu)


def test_amp_auto_gives_the_float32_or_the_bf16_map():
    from mfif.models.runtime import resolve_amp

    g = _tiny()
    rng = np.random.default_rng(3)
    a = rng.random((24, 20, 3), dtype=np.float32)
    b = rng.random((24, 20, 3), dtype=np.float32)
    m32 = predict_focus_map(g, a, b, device="cpu", amp=False)
    m16 = predict_focus_map(g, a, b, device="cpu", amp=True)
    auto = predict_focus_map(g, a, b, device="cpu", amp="auto")
    assert m16.dtype == np.float32 and np.abs(m16 - m32).max() < 0.05  # bf16: ~3 significant digits
    np.testing.assert_array_equal(auto, m16 if resolve_amp("auto", torch.device("cpu")) else m32)


def test_edge_guide_filters_the_map_with_the_named_source():
    import pytest

    from mfif.errors import MfifError
    from mfif.postprocess.edges import snap_to_edges

    g = _tiny()
    rng = np.random.default_rng(5)
    a = rng.random((20, 28, 3), dtype=np.float32)
    b = rng.random((20, 28, 3), dtype=np.float32)
    plain = fuse_pair(g, a, b, device="cpu")
    for name, src in (("a", a), ("b", b)):
        res = fuse_pair(g, a, b, device="cpu", edge_guide=name)
        np.testing.assert_array_equal(res.focus_map, snap_to_edges(plain.focus_map, src))
        assert np.abs(res.focus_map - plain.focus_map).max() > 1e-5  # it did filter (tiny net: a flat map)
    with pytest.raises(MfifError, match="edge.guide"):
        fuse_pair(g, a, b, device="cpu", edge_guide="near")
