"""Real-photo augmentations of the training pairs: JPEG, disk blur, scale, small regions, source swap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfif.data.dataset import SyntheticPairDataset
from mfif.data.synthesis import add_small_regions, alpha_matte_pair, jpeg_roundtrip, rescale_item
from mfif.errors import MfifError
from mfif.training.config import load_config


@pytest.fixture
def arrays(rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    imgs = [rng.random((48, 56, 3)).astype(np.float32) for _ in range(3)]
    masks = []
    for k in range(3):
        m = np.zeros((48, 56), np.float32)
        m[6 + k : 30, 10 : 34 + k] = 1
        masks.append(m)
    return imgs, masks


def test_jpeg_roundtrip_changes_detail_more_at_low_quality(rng: np.random.Generator) -> None:
    img = rng.random((32, 40, 3)).astype(np.float32)
    lo, hi = jpeg_roundtrip(img, 20), jpeg_roundtrip(img, 95)
    assert lo.shape == hi.shape == img.shape and lo.dtype == np.float32
    assert 0 <= lo.min() and lo.max() <= 1
    err_lo, err_hi = np.abs(lo - img).mean(), np.abs(hi - img).mean()
    assert err_hi < err_lo and err_hi > 0
    gray = jpeg_roundtrip(img[..., 0], 50)
    assert gray.shape == (32, 40)
    flat = np.full((16, 16, 3), 0.5, np.float32)  # a flat image survives any quality (8-bit level 128)
    assert np.allclose(jpeg_roundtrip(flat, 10), 128 / 255, atol=1.5 / 255)
    with pytest.raises(MfifError, match="quality"):
        jpeg_roundtrip(img, 0)


def test_disk_kernel_pair_keeps_the_alpha_matte_relations(rng: np.random.Generator) -> None:
    img = rng.random((40, 40, 3)).astype(np.float32)
    m = np.zeros((40, 40), np.float32)
    m[10:30, 8:26] = 1
    a_g, b_g = alpha_matte_pair(img, m, sigma=1.5)
    a_d, b_d = alpha_matte_pair(img, m, sigma=1.5, kernel="disk")
    fg = m > 0.5
    assert np.allclose(a_d[fg], img[fg]) and np.allclose(a_g[fg], img[fg])  # A sharp on the mask
    assert np.allclose(b_d[0:3, 34:], img[0:3, 34:], atol=1e-6)  # B sharp far from the foreground
    assert not np.allclose(a_d, a_g, atol=1e-3)  # a different kernel, a different blur
    # the same second moment: a 2σ pill-box and the Gaussian blur a flat-mean image alike on average
    assert abs(float(a_d.mean()) - float(a_g.mean())) < 0.01
    with pytest.raises(MfifError, match="kernel"):
        alpha_matte_pair(img, m, sigma=1.0, kernel="box")


def test_rescale_item_sizes_and_binary_mask(rng: np.random.Generator) -> None:
    img = rng.random((50, 60, 3)).astype(np.float32)
    m = np.zeros((50, 60), np.float32)
    m[:, :30] = 1
    extra = np.full((50, 60), 0.25, np.float32)
    i2, m2, e2 = rescale_item(img, m, 0.5, extra=extra)
    assert i2.shape == (25, 30, 3) and m2.shape == e2.shape == (25, 30)
    assert set(np.unique(m2).tolist()) <= {0.0, 1.0} and m2[:, :14].all() and not m2[:, 16:].any()
    assert np.allclose(e2, 0.25, atol=1e-6)
    assert abs(float(i2.mean()) - float(img.mean())) < 0.01  # area averaging keeps the mean
    assert i2.std() < img.std()  # and averages noise away
    same = rescale_item(img, m, 1.0)
    assert same[0] is img and same[1] is m
    with pytest.raises(MfifError, match="scale"):
        rescale_item(img, m, 0.0)


def test_small_regions_are_small_and_of_the_opposite_class() -> None:
    m = np.zeros((64, 64), np.float32)
    m[:, 32:] = 1
    out = add_small_regions(m, np.random.default_rng(0), count=6)
    assert out.dtype == np.float32 and set(np.unique(out).tolist()) <= {0.0, 1.0}
    changed = out != m
    assert 0 < changed.sum() < 0.25 * m.size
    assert np.array_equal(m, np.where(np.arange(64)[None, :] >= 32, 1.0, 0.0) * np.ones((64, 1)))  # input kept
    same = add_small_regions(m, np.random.default_rng(0), count=6)
    assert np.array_equal(out, same)  # seeded
    assert np.array_equal(add_small_regions(m, np.random.default_rng(0), count=0), m)
    # texture-weighted placement: with texture only in the left half, every shape starts there
    img = np.zeros((64, 64), np.float32)
    img[:, :20] = np.random.default_rng(1).random((64, 20))
    out2 = add_small_regions(m, np.random.default_rng(2), count=8, image=img, radius=(1, 2), stroke_length=(2, 4))
    ys, xs = np.nonzero(out2 != m)
    assert xs.size and xs.max() < 20 + 8  # centres in the textured columns (shapes reach ≤ 4 px + blur)
    assert out2[ys, xs].min() == 1  # there the mask was 0: foreground islands


def test_dataset_defaults_unchanged_by_the_new_options(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=32, sigma=(0.5, 2.0), seed=3)
    d0 = SyntheticPairDataset.from_arrays(*arrays, **kw)
    d1 = SyntheticPairDataset.from_arrays(*arrays, **kw, scale=1.0, small_regions_p=0.0, disk_p=0.0, jpeg_p=0.0,
                                          swap_p=0.0)
    for i in range(3):
        x, y = d0[i], d1[i]
        assert set(x) == set(y) and "a_in" not in x
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_dataset_jpeg_gives_network_inputs_and_keeps_clean_sources(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=32, sigma=1.5, seed=5)
    plain = SyntheticPairDataset.from_arrays(*arrays, **kw)
    ds = SyntheticPairDataset.from_arrays(*arrays, **kw, jpeg_p=1.0, jpeg_quality=(30, 30))
    it, ref = ds[1], plain[1]
    assert torch.equal(it["a"], ref["a"]) and torch.equal(it["b"], ref["b"])  # clean sources unchanged
    assert it["a_in"].shape == it["a"].shape and not torch.allclose(it["a_in"], it["a"], atol=1e-3)
    s = ds.sample(1)
    assert s["jpeg_quality"] == 30
    never = SyntheticPairDataset.from_arrays(*arrays, **kw, jpeg_p=0.0)
    assert "a_in" not in never[1]


def test_dataset_swap_inverts_the_mask_and_swaps_sources(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=32, sigma=1.2, seed=2)
    plain = SyntheticPairDataset.from_arrays(*arrays, **kw)
    sw = SyntheticPairDataset.from_arrays(*arrays, **kw, swap_p=1.0)
    x, y = plain[0], sw[0]
    assert torch.equal(y["a"], x["b"]) and torch.equal(y["b"], x["a"])
    assert torch.equal(y["mask"], 1 - x["mask"]) and torch.equal(y["truth"], x["truth"])
    # still "A sharp where mask = 1" (beyond the defocus spread of the near object, 3 px at σ 1.2)
    from scipy.ndimage import binary_erosion

    m = torch.from_numpy(binary_erosion(y["mask"][0].numpy() > 0.5, iterations=4))
    assert m.any() and torch.allclose(y["a"][:, m], y["truth"][:, m], atol=1e-6)
    assert not torch.allclose(y["b"][:, m], y["truth"][:, m], atol=1e-3)


def test_dataset_scale_small_regions_and_disk_are_seeded_and_consistent(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=24, sigma=(0.8, 2.0), seed=9, length=6, scale=(0.5, 0.9), small_regions_p=1.0,
              small_regions_max=3, disk_p=0.5)
    d1 = SyntheticPairDataset.from_arrays(*arrays, **kw)
    d2 = SyntheticPairDataset.from_arrays(*arrays, **kw)
    kernels = set()
    for i in (4, 0, 2, 5):
        a, b = d1.sample(i), d2.sample(i)
        assert all(np.array_equal(a[k], b[k]) for k in ("a", "b", "mask", "truth"))
        kernels.add(a["kernel"])
        assert a["a"].shape == (24, 24, 3)
        m = a["mask"] > 0.5
        assert np.allclose(a["a"][m], a["truth"][m], atol=1e-6)  # the α-matte of the augmented mask
    assert kernels == {"gaussian", "disk"}
    plain = SyntheticPairDataset.from_arrays(*arrays, crop=24, sigma=(0.8, 2.0), seed=9, length=6)
    # the plain draws (σ) are those of the augmented dataset: each augmentation has its own generator
    assert [plain.sample(i)["sigma"] for i in range(6)] == [d1.sample(i)["sigma"] for i in range(6)]


def test_dataset_bad_augmentation_arguments(arrays) -> None:  # noqa: ANN001
    for kw, msg in ((dict(scale=(0.0, 1.0)), "scale"), (dict(jpeg_p=1.5), "jpeg_p"),
                    (dict(jpeg_quality=(90, 40)), "jpeg_quality"), (dict(small_regions_max=0), "small_regions_max"),
                    (dict(swap_p=0.5, synthesize=False), "synthesize"), (dict(exposure_p=-0.1), "exposure_p"),
                    (dict(exposure_gain=(1.1, 0.9)), "exposure_gain"), (dict(exposure_p=0.5, synthesize=False), "synthesize"),
                    (dict(ring_p=0.5, synthesize=False), "synthesize"), (dict(disk_p=0.6, ring_p=0.6), "disk_p \\+ ring_p")):
        with pytest.raises(MfifError, match=msg):
            SyntheticPairDataset.from_arrays(*arrays, crop=24, **kw)


def test_config_fields_and_the_lite_real_config() -> None:
    lite, real = load_config("lite"), load_config("lite-real")
    assert lite.augmentation_kwargs() == {"scale": (1.0, 1.0), "small_regions_p": 0.0, "small_regions_max": 4,
                                          "disk_p": 0.0, "ring_p": 0.0, "jpeg_p": 0.0, "jpeg_quality": (50, 95), "swap_p": 0.0,
                                          "exposure_p": 0.0, "exposure_gain": (0.85, 1.15)}
    # lite-real is lite plus the augmentations: every other field is the same
    skip = {"name", "scale", "small_regions_p", "small_regions_max", "disk_p", "jpeg_p", "jpeg_quality", "swap_p"}
    dl, dr = lite.to_dict(), real.to_dict()
    assert {k: v for k, v in dl.items() if k not in skip} == {k: v for k, v in dr.items() if k not in skip}
    assert real.jpeg_p > 0 and real.disk_p > 0 and real.small_regions_p > 0 and real.scale_range()[0] < 1
    for bad, msg in (("jpeg_p=2", "jpeg_p"), ("scale=[1.2, 0.5]", "scale"), ("jpeg_quality=[0, 50]", "jpeg_quality"),
                     ("swap_p=-0.1", "swap_p"), ("exposure_p=1.5", "exposure_p"),
                     ("exposure_gain=[1.2, 0.9]", "exposure_gain"), ("ring_p=-1", "ring_p"),
                     ("disk_p=0.6", "disk_p \\+ ring_p")):
        with pytest.raises(MfifError, match=msg):
            load_config("lite", [bad, "ring_p=0.5"] if "disk_p" in bad else [bad])


def test_dataset_exposure_scales_one_network_input_and_keeps_clean_sources(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=32, sigma=1.5, seed=5, length=8)
    plain = SyntheticPairDataset.from_arrays(*arrays, **kw)
    ds = SyntheticPairDataset.from_arrays(*arrays, **kw, exposure_p=1.0, exposure_gain=(0.8, 0.9))
    which = set()
    for i in range(8):
        s, ref = ds.sample(i), plain.sample(i)
        assert np.array_equal(s["a"], ref["a"]) and np.array_equal(s["b"], ref["b"])  # the draws of a plain run
        src, g = s["exposure"]
        assert 0.8 <= g <= 0.9
        which.add(src)
        other = "b" if src == "a" else "a"
        np.testing.assert_allclose(s[src + "_in"], np.clip(s[src] * np.float32(g), 0, 1), atol=1e-6)
        assert np.array_equal(s[other + "_in"], s[other])
    assert which == {"a", "b"}
    with_jpeg = SyntheticPairDataset.from_arrays(*arrays, **kw, exposure_p=1.0, jpeg_p=1.0, jpeg_quality=(90, 90))
    s = with_jpeg.sample(0)
    src, g = s["exposure"]
    np.testing.assert_array_equal(s[src + "_in"], jpeg_roundtrip(np.clip(s[src] * np.float32(g), 0, 1), 90))
    never = SyntheticPairDataset.from_arrays(*arrays, **kw, exposure_p=0.0)
    assert "a_in" not in never[0] and never.sample(0)["exposure"] is None


def test_the_ring_kernel_doubles_a_thin_line_and_the_dataset_draws_it(arrays) -> None:  # noqa: ANN001
    """A thin line blurred by the ring (outer 1 px of the 2σ pill-box) has two peaks about 2σ to each side
    and a dip on the line; the pill-box gives one flat plateau. ``ring_p`` draws it, seeded, with the
    Gaussian and the pill-box, and leaves the Gaussian-only stream unchanged when 0."""
    from mfif.data.stacks import defocus_blur, ring_kernel

    k = ring_kernel(4.0)
    assert k.shape == (9, 9) and k.sum() == pytest.approx(1, abs=1e-6) and k[4, 4] == 0 and k[4, 0] > 0
    line = np.zeros((41, 41), np.float32)
    line[:, 20] = 1
    prof = defocus_blur(line, 2.0, kernel="ring")[20]
    disk = defocus_blur(line, 2.0, kernel="disk")[20]
    assert prof[20] < 0.5 * prof[17] and prof[17] == pytest.approx(prof[23], abs=1e-6)
    assert disk[20] >= disk[17] > 0
    d = SyntheticPairDataset.from_arrays(*arrays, crop=24, sigma=(0.8, 2.0), seed=3, length=12, disk_p=0.3, ring_p=0.4)
    kinds = [d.sample(i)["kernel"] for i in range(12)]
    assert set(kinds) == {"gaussian", "disk", "ring"}
    assert kinds == [SyntheticPairDataset.from_arrays(*arrays, crop=24, sigma=(0.8, 2.0), seed=3, length=12, disk_p=0.3,
                                                      ring_p=0.4).sample(i)["kernel"] for i in range(12)]
    plain = SyntheticPairDataset.from_arrays(*arrays, crop=24, sigma=(0.8, 2.0), seed=3, length=12)
    off = SyntheticPairDataset.from_arrays(*arrays, crop=24, sigma=(0.8, 2.0), seed=3, length=12, ring_p=0.0)
    assert all(np.array_equal(plain.sample(i)["a"], off.sample(i)["a"]) for i in range(3))
