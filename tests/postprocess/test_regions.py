import numpy as np

from mfif.postprocess import binarize, grow_shrink, postprocess_map, remove_small_regions


def test_threshold_is_strict():
    m = np.array([[0.5, 0.51], [0.49, 1.0]], np.float32)
    assert binarize(m).tolist() == [[False, True], [False, True]]


def test_small_islands_and_holes_removed_min_size_semantics():
    # 100x100 image, ratio 0.001 -> min_size 10: regions with area < 10 go, area == 10 stays.
    d = np.zeros((100, 100), bool)
    d[:, :50] = True
    d[10:13, 80:83] = True  # island of 9 px -> removed
    d[30, 70:80] = True  # island of exactly 10 px (1x10 line) -> kept (strictly smaller only)
    d[60:62, 20:24] = False  # hole of 8 px in the A region -> filled
    out = remove_small_regions(d, ratio=0.001)
    assert not out[10:13, 80:83].any()
    assert out[30, 70:80].all()
    assert out[60:62, 20:24].all()


def test_connectivity_matters():
    d = np.zeros((100, 100), bool)
    d[:, :50] = True
    # diagonal chain of 12 single pixels: 8-connected it is one region of 12 (kept),
    # 4-connected it is 12 regions of 1 (removed)
    for i in range(12):
        d[20 + i, 60 + i] = True
    assert not remove_small_regions(d, ratio=0.001, connectivity=1)[20:32, 60:72].any()
    assert remove_small_regions(d, ratio=0.001, connectivity=2)[20:32, 60:72].sum() == 12


def test_grow_shrink():
    d = np.zeros((21, 21), bool)
    d[10, 10] = True
    assert grow_shrink(d, 2).sum() == 13  # disk of radius 2
    big = np.zeros((21, 21), bool)
    big[5:16, 5:16] = True
    assert grow_shrink(big, -1).sum() == 81


def test_postprocess_disabled_keeps_islands():
    m = np.zeros((100, 100), np.float32)
    m[:, :50] = 1
    m[5, 90] = 1
    assert postprocess_map(m, enabled=False)[5, 90] == 1
    assert postprocess_map(m)[5, 90] == 0


def test_component_removal_equals_skimage_labelling_on_random_masks():
    """remove_small_components labels with OpenCV (connectedComponents); it must find the same components as skimage's label."""
    import numpy as np
    from skimage.measure import label

    from mfif.postprocess.regions import remove_small_components

    rng = np.random.default_rng(0)
    for _ in range(60):
        m = rng.random((40, 50)) > rng.uniform(0.3, 0.7)
        for conn in (1, 2):
            for min_size in (2, 5, 20):
                lab = label(m, connectivity=conn, background=0)
                small = np.bincount(lab.ravel()) < min_size
                small[0] = False
                assert np.array_equal(m & ~small[lab], remove_small_components(m, min_size, connectivity=conn))
