"""Multi-scale inference of the learned pair methods (``scales``, mfif.options / mfif.fusion.inference):
the default is the one pass at the sources' size, bit for bit; other factors resize the sources, resize
the maps back and average them, on both engines; invalid settings are one MfifError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mfif
from mfif.cli.main import main
from mfif.errors import MfifError
from mfif.fusion.inference import predict_focus_map_array, resize_sources, scale_factors, to_array
from mfif.fusion.pair import fuse_pair, predict_focus_map
from mfif.models import Generator
from mfif.models.numpy_net import NumpyGenerator
from mfif.models.weights import installed_weights
from mfif.options import InferenceOptions


def _tiny() -> Generator:
    torch.manual_seed(0)
    return Generator(width=4, n_blocks=1).eval()


def _numpy(g: Generator) -> NumpyGenerator:
    return NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()})


def _pair(h: int = 30, w: int = 37, *, gray: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded pair: left half of A sharp (noise), B its blurred copy there, and the other way round."""
    import cv2

    rng = np.random.default_rng(seed)
    shape = (h, w) if gray else (h, w, 3)
    sharp = rng.random(shape, dtype=np.float32)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 1.5)
    left = np.zeros((h, w), bool)
    left[:, : w // 2] = True
    if not gray:
        left = left[..., None]
    return np.where(left, sharp, blurred).astype(np.float32), np.where(left, blurred, sharp).astype(np.float32)


def test_scales_normalise_and_refuse() -> None:
    assert InferenceOptions().scales == (1.0,)
    assert InferenceOptions(scales=None).scales == (1.0,)
    assert InferenceOptions(scales=1.4).scales == (1.4,)
    assert InferenceOptions(scales=[1, 0.7]).scales == (1.0, 0.7)
    assert InferenceOptions(scales="1, 0.7").scales == (1.0, 0.7)
    assert InferenceOptions(scales=np.float32(1.25)).scales == (np.float32(1.25),)
    assert scale_factors(None) == (1.0,)
    for bad in ("", "x", "1,,2", [], 0, -1.0, 0.1, 5, float("nan"), float("inf"), True, [1.0, None], {"s": 1}):
        with pytest.raises(MfifError, match="--scales"):
            InferenceOptions(scales=bad)
    with pytest.raises(MfifError, match="--tile"):
        InferenceOptions(scales=1.4, tile=64)
    assert InferenceOptions(scales=1.0, tile=64).tile == 64  # the one pass at the own size combines with tiles


def test_resize_sources_sizes_range_and_interpolation() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 30, 37), dtype=np.float32)
    for s, (h, w) in ((1.4, (42, 52)), (0.7, (21, 26)), (1.25, (38, 46)), (0.25, (8, 9))):
        y = resize_sources(x, s)
        assert y.shape == (2, 3, h, w) and y.dtype == np.float32
        assert y.min() >= 0.0 and y.max() <= 1.0  # bicubic overshoot clipped
    flat = np.full((1, 3, 16, 16), 0.3, np.float32)
    assert np.allclose(resize_sources(flat, 0.5), 0.3) and np.allclose(resize_sources(flat, 1.5), 0.3)
    # area interpolation at 1/2 is the mean of each 2×2 block
    assert np.allclose(resize_sources(x[:, :, :30, :36], 0.5), x[:, :, :30, :36].reshape(2, 3, 15, 2, 18, 2).mean((3, 5)),
                       atol=1e-6)


def test_default_is_bit_identical_to_the_one_pass() -> None:
    g = _tiny()
    a, b = _pair()
    base = fuse_pair(g, a, b, device="cpu")
    same = fuse_pair(g, a, b, device="cpu", scales=(1.0,))
    assert np.array_equal(base.focus_map, same.focus_map) and np.array_equal(base.fused, same.fused)
    ng = _numpy(g)
    m0 = predict_focus_map_array(ng, to_array(a), to_array(b))
    assert np.array_equal(m0, predict_focus_map_array(ng, to_array(a), to_array(b), scales=1.0))


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("scales", [(1.25,), (1.4,), (1.0, 0.7)])
def test_other_scales_keep_the_shape_and_change_the_map(gray: bool, scales: tuple[float, ...]) -> None:
    g = _tiny()
    a, b = _pair(gray=gray)
    base = fuse_pair(g, a, b, device="cpu")
    res = fuse_pair(g, a, b, device="cpu", scales=scales)
    assert res.fused.shape == a.shape and res.focus_map.shape == a.shape[:2] == res.decision_map.shape
    assert res.focus_map.dtype == np.float32 and 0.0 <= res.focus_map.min() and res.focus_map.max() <= 1.0
    assert np.abs(res.focus_map - base.focus_map).max() > 1e-5  # the tiny random net's map varies ~1e-4 about 0.5


def test_several_scales_average_the_single_scale_maps_resized_back() -> None:
    import cv2

    g = _tiny()
    a, b = _pair(seed=2)
    m1 = predict_focus_map(g, a, b, device="cpu")
    m07 = predict_focus_map(g, a, b, device="cpu", scales=0.7)
    small = predict_focus_map(g, *(cv2.resize(x, (26, 21), interpolation=cv2.INTER_AREA) for x in (a, b)), device="cpu")
    assert np.abs(m07 - cv2.resize(small, (37, 30), interpolation=cv2.INTER_LINEAR)).max() < 1e-5
    both = predict_focus_map(g, a, b, device="cpu", scales=(1.0, 0.7))
    assert np.abs(both - (m1 + m07) / 2).max() < 1e-6
    # test-time augmentation runs at every scale
    tta = predict_focus_map(g, a, b, device="cpu", scales=(1.0, 0.7), tta=2)
    want = (predict_focus_map(g, a, b, device="cpu", tta=2) + predict_focus_map(g, a, b, device="cpu", tta=2,
                                                                                   scales=0.7)) / 2
    assert np.abs(tta - want).max() < 1e-6


def test_both_engines_give_the_same_multiscale_map() -> None:
    g = _tiny()
    a, b = _pair(seed=3)
    for scales in ((1.4,), (1.0, 0.7)):
        mt = predict_focus_map(g, a, b, device="cpu", scales=scales)
        mn = predict_focus_map(_numpy(g), a, b, scales=scales)
        assert np.abs(mt - mn).max() < 1e-4


def test_invalid_scales_are_one_error_in_the_api_and_the_cli(tmp_path, capsys) -> None:
    from mfif.io import write_image

    a, b = _pair(seed=4)
    with pytest.raises(MfifError, match="--scales"):
        mfif.fuse([a, b], method="mfif-gan-lite", scales=0)
    with pytest.raises(MfifError, match="scales"):
        mfif.fuse([a, b], method="gff", scales=1.4)  # a classical method takes no scales
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    write_image(pa, a)
    write_image(pb, b)
    out = tmp_path / "f.png"
    assert main(["fuse", str(pa), str(pb), "-o", str(out), "--method", "mfif-gan-lite", "--scales", "0,1"]) == 2
    err = capsys.readouterr().err
    assert "mfif: error:" in err and "--scales" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(not installed_weights("mfif-gan-lite"), reason="mfif-gan-lite weights not installed")
def test_shipped_lite_at_other_scales_still_splits_the_pair() -> None:
    a, b = _pair(48, 64, seed=5)
    truth = np.zeros((48, 64), bool)
    truth[:, :32] = True
    base = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", order="given")
    for scales in ((1.25,), (1.4,), (1.0, 0.7)):
        res = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", order="given", scales=scales)
        assert ((res.decision_map > 0.5) == truth).mean() > 0.9
        assert np.abs(res.focus_map - base.focus_map).max() > 0.01
