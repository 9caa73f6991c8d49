"""SyntheticPairDataset: shapes, ranges, determinism, epochs, GPU-style synthesis path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfif.data.dataset import SyntheticPairDataset
from mfif.data.synthesis import synthesize_batch_torch
from mfif.errors import MfifError


@pytest.fixture
def arrays(rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    imgs = [rng.random((40, 48, 3)).astype(np.float32) for _ in range(3)]
    masks = []
    for k in range(3):
        m = np.zeros((40, 48), np.float32)
        m[5 + k : 25, 10 : 30 + k] = 1
        masks.append(m)
    return imgs, masks


def test_item_shapes_and_ranges(arrays) -> None:  # noqa: ANN001
    ds = SyntheticPairDataset.from_arrays(*arrays, crop=32, sigma=(0.5, 2.0), seed=3)
    assert len(ds) == 3
    it = ds[0]
    assert it["a"].shape == it["b"].shape == it["truth"].shape == (3, 32, 32)
    assert it["mask"].shape == (1, 32, 32)
    assert all(v.dtype == torch.float32 for v in it.values())
    assert set(torch.unique(it["mask"]).tolist()) <= {0.0, 1.0}
    assert 0.5 <= float(it["sigma"]) <= 2.0
    # A equals truth where mask = 1 (sharp), B equals truth far inside the background.
    m = it["mask"][0] > 0.5
    assert torch.allclose(it["a"][:, m], it["truth"][:, m], atol=1e-6)


def test_determinism_and_epochs(arrays) -> None:  # noqa: ANN001
    kw = dict(crop=24, sigma=(0.5, 3.0), seed=7, length=6)
    d1 = SyntheticPairDataset.from_arrays(*arrays, **kw)
    d2 = SyntheticPairDataset.from_arrays(*arrays, **kw)
    # Same (seed, epoch, index) -> identical item, whatever the access order (as in DataLoader workers).
    for i in (5, 0, 3):
        x, y = d1[i], d2[i]
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert len(d1) == 6
    assert not torch.equal(d1[0]["a"], d1[3]["a"])  # same image (0 = 3 mod 3), different draw
    before = d1[1]
    d1.set_epoch(1)
    after = d1[1]
    assert not torch.equal(before["truth"], after["truth"]) or float(before["sigma"]) != float(after["sigma"])
    d3 = SyntheticPairDataset.from_arrays(*arrays, **{**kw, "seed": 8})
    assert float(d3[1]["sigma"]) != float(d2[1]["sigma"])


def test_fixed_sigma_no_augment_centre_crop(arrays) -> None:  # noqa: ANN001
    ds = SyntheticPairDataset.from_arrays(*arrays, crop=32, sigma=1.0, augment=False, model="conventional")
    it = ds[2]
    img = torch.from_numpy(arrays[0][2][4:36, 8:40].transpose(2, 0, 1).copy())
    assert torch.equal(it["truth"], img)
    assert float(it["sigma"]) == 1.0
    # conventional: A + B = truth + blur(truth) everywhere
    from mfif.filters import gaussian_blur

    bl = gaussian_blur(arrays[0][2], 1.0)[4:36, 8:40].transpose(2, 0, 1)
    np.testing.assert_allclose((it["a"] + it["b"]).numpy(), it["truth"].numpy() + bl, atol=1e-5)


def test_unsynthesized_path_with_batch_synthesis(arrays) -> None:  # noqa: ANN001
    ds = SyntheticPairDataset.from_arrays(*arrays, crop=None, sigma=(0.5, 2), synthesize=False, augment=False)
    it = ds[0]
    assert set(it) == {"truth", "mask", "sigma"}
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    a, b = synthesize_batch_torch(batch["truth"], batch["mask"], batch["sigma"], model="alpha")
    full = SyntheticPairDataset.from_arrays(*arrays, crop=None, sigma=(0.5, 2), augment=False)
    for n in range(3):
        np.testing.assert_allclose(a[n].numpy(), full[n]["a"].numpy(), atol=1e-5)
        np.testing.assert_allclose(b[n].numpy(), full[n]["b"].numpy(), atol=1e-5)


def test_small_images_are_padded_and_bad_args(arrays) -> None:  # noqa: ANN001
    ds = SyntheticPairDataset.from_arrays(*arrays, crop=64)
    assert ds[0]["a"].shape == (3, 64, 64)
    with pytest.raises(MfifError):
        SyntheticPairDataset.from_arrays(*arrays, model="x")
    with pytest.raises(MfifError):
        SyntheticPairDataset.from_arrays(arrays[0], arrays[1][:2])
    with pytest.raises(MfifError):
        SyntheticPairDataset.from_arrays(*arrays, sigma=(2.0, 1.0))


def test_dataloader_workers_reproducible(arrays) -> None:  # noqa: ANN001
    ds = SyntheticPairDataset.from_arrays(*arrays, crop=16, sigma=(0.5, 2), seed=5, length=8)
    ref = [ds[i]["a"] for i in range(8)]
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    got = [x for batch in loader for x in batch["a"]]
    assert all(torch.equal(r, g) for r, g in zip(ref, got))


def test_extra_maps_follow_the_mask_and_fixed_sigma(arrays) -> None:  # noqa: ANN001
    """extra_maps are cropped/flipped/rotated like the mask ("teacher"); fixed_sigma replaces the drawn σ
    of its items only, and the crops/flips of every item stay those of a dataset without the options."""
    imgs, masks = arrays
    kw = dict(crop=24, sigma=(0.5, 3.0), seed=11, length=12, augment=True)
    plain = SyntheticPairDataset.from_arrays(imgs, masks, **kw)
    fixed = {0: 1.75, 2: 0.6}
    ds = SyntheticPairDataset.from_arrays(imgs, masks, **kw, fixed_sigma=fixed,
                                          extra_maps={k: masks[k] for k in range(3)})
    # a ramp-like map (the red channel) shows any mismatch of crop, flip or rotation, not only of the mask
    ramp = SyntheticPairDataset.from_arrays(imgs, masks, **kw, extra_maps={k: imgs[k][..., 0] for k in range(3)},
                                            synthesize=False)
    rotated = 0
    for i in range(12):
        it, ref, r = ds[i], plain[i], ramp[i]
        assert it["teacher"].dtype == torch.float32 and it["teacher"].shape == (1, 24, 24)
        assert torch.equal(it["teacher"], it["mask"])
        assert torch.equal(r["teacher"][0], r["truth"][0])
        assert torch.equal(it["truth"], ref["truth"]) and torch.equal(it["mask"], ref["mask"])
        s = ds.sample(i)
        if s["index"] in fixed:
            assert s["sigma"] == fixed[s["index"]] and float(it["sigma"]) == pytest.approx(fixed[s["index"]])
            assert s["sigma"] != plain.sample(i)["sigma"]
        else:
            assert s["sigma"] == plain.sample(i)["sigma"]
            assert torch.equal(it["a"], ref["a"])
        rotated += int(not torch.equal(it["mask"], torch.from_numpy(masks[s["index"]][None, :24, :24])))
    assert rotated > 0  # the augmentation did move things
    # the fixed σ is the one synthesised with (whole image, no augmentation: compare with synthesize_pair)
    from mfif.data.synthesis import synthesize_pair

    whole = SyntheticPairDataset.from_arrays(imgs, masks, crop=None, sigma=(0.5, 3.0), augment=False,
                                             fixed_sigma={1: 2.25}, extra_maps={k: masks[k] for k in range(3)})
    a, _ = synthesize_pair(imgs[1], masks[1], sigma=2.25, model="alpha")
    np.testing.assert_allclose(whole[1]["a"].numpy(), a.transpose(2, 0, 1), atol=1e-6)
    # padded items (crop larger than the image) pad the extra map like the mask
    big = SyntheticPairDataset.from_arrays(imgs, masks, crop=44, extra_maps={k: masks[k] for k in range(3)})
    assert torch.equal(big[1]["teacher"], big[1]["mask"])


def test_extra_maps_bad_input(arrays) -> None:  # noqa: ANN001
    imgs, masks = arrays
    with pytest.raises(MfifError, match="no map for 1 of 3 items"):
        SyntheticPairDataset.from_arrays(imgs, masks, extra_maps={0: masks[0], 1: masks[1]})
    ds = SyntheticPairDataset.from_arrays(imgs, masks, extra_maps={k: masks[k][:, :40] for k in range(3)})
    with pytest.raises(MfifError, match="does not match the mask"):
        ds[0]
    with pytest.raises(MfifError, match="fixed_sigma"):
        SyntheticPairDataset.from_arrays(imgs, masks, fixed_sigma={2: -1.0})
