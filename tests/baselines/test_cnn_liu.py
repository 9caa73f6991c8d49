"""The ``cnn`` method (Liu et al. 2017): network, score accumulation, post-processing, weights files.

Everything runs on tiny seeded networks (widths 4) and tiny images; no ../shared, no pack. The one test
of the shipped weights checks behaviour on a seeded synthetic pair (a loose bound, not a golden value).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from mfif.baselines.cnn_liu import (
    GF_EPS,
    GF_RADIUS,
    cnn_fuse,
    get_model,
    patch_scores,
    postprocess_map,
)
from mfif.errors import MfifError
from mfif.models.cnn_liu import (
    CnnLiu,
    CnnLiuConfig,
    load_cnn_liu,
    load_liu_mat,
    save_cnn_liu,
    save_liu_mat,
    score_shape,
    scores_to_focus_map,
)
from mfif.registry import get_method

TINY = CnnLiuConfig(c1=4, c2=4, c3=4, fc=4)


def _tiny(seed: int = 0, config: CnnLiuConfig = TINY) -> CnnLiu:
    torch.manual_seed(seed)
    m = CnnLiu(config).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(3.0)  # scores spread away from 0.5
    return m


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    return save_cnn_liu(_tiny(), tmp_path / "tiny.safetensors", dtype=torch.float32)


def _pair(h: int = 48, w: int = 56, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    sharp = r.random((h, w)).astype(np.float32)
    blur = gaussian_filter(sharp, 2.0).astype(np.float32)
    mask = np.zeros((h, w), bool)
    mask[:, : w // 2] = True
    return np.where(mask, sharp, blur), np.where(mask, blur, sharp), mask


def test_registered_as_a_learned_pair_method() -> None:
    info = get_method("cnn")
    assert info.needs_weights and info.max_inputs == 2 and "Liu" in info.citation
    assert {"weights", "device", "amp", "postprocess"} <= info.options


def test_listing_methods_does_not_import_torch() -> None:
    code = ("import sys; from mfif.registry import list_methods; "
            "assert 'cnn' in [m.name for m in list_methods()]; print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("h,w", [(16, 16), (17, 23), (40, 33)])
def test_score_map_size_and_accumulation_match_the_released_loops(h: int, w: int) -> None:
    m = _tiny()
    r = np.random.default_rng(h * w)
    a, b = r.random((2, h, w)).astype(np.float32)
    s = patch_scores(m, a, b)
    assert s.shape == score_shape(h, w) == (math.ceil(h / 2) - 7, math.ceil(w / 2) - 7)
    # the authors' accumulation, written as their loops: patch (i, j) covers rows 2i..2i+15 clipped
    acc, cnt = np.zeros((h, w)), np.zeros((h, w))
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            acc[2 * i: 2 * i + 16, 2 * j: 2 * j + 16] += s[i, j]
            cnt[2 * i: 2 * i + 16, 2 * j: 2 * j + 16] += 1
    np.testing.assert_allclose(scores_to_focus_map(s, (h, w)), acc / cnt, atol=1e-6)


def test_strips_and_the_composed_head_give_the_network_scores() -> None:
    m = _tiny(1)
    a, b, _ = _pair(61, 40, seed=1)
    with torch.no_grad():
        ref = m.score(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0].numpy()
    one = patch_scores(m, a, b)
    strips = patch_scores(m, a, b, strip_pixels=200)  # 8 score rows per strip
    np.testing.assert_allclose(one, ref, atol=1e-5)
    np.testing.assert_allclose(strips, one, atol=1e-6)
    mr = _tiny(1, CnnLiuConfig(c1=4, c2=4, c3=4, fc=4, fc_relu=True, fc_bias=True))
    with torch.no_grad():
        ref = mr.score(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0].numpy()
    np.testing.assert_allclose(patch_scores(mr, a, b, strip_pixels=200), ref, atol=1e-5)


def test_paper_postprocess_removes_regions_below_one_percent_then_guided_filter() -> None:
    h, w = 60, 80  # P = ceil(0.01 * 4800) = 48 px
    focus = np.zeros((h, w), np.float32)
    focus[:, :40] = 0.9
    focus[10:16, 60:67] = 0.8  # 42 px island of A in B: removed
    focus[30:38, 60:67] = 0.8  # 56 px island: kept
    focus[40:46, 10:17] = 0.1  # 42 px hole in A: filled
    r = np.random.default_rng(0)
    ga, gb = r.random((2, h, w))
    dec, wt = postprocess_map(focus, ga, gb, mode="paper")
    assert dec[12, 62] == 0 and dec[33, 62] == 1 and dec[42, 12] == 1
    assert set(np.unique(dec)) == {0.0, 1.0} and dec.dtype == np.float32
    from mfif.filters import guided_filter

    guide = ga * dec + gb * (1 - dec)
    np.testing.assert_allclose(wt, guided_filter(guide, dec.astype(np.float64), GF_RADIUS, GF_EPS), atol=1e-6)
    assert not np.array_equal(wt, dec)
    # MFIF-GAN's post-processing: threshold 0.001*H*W = 4.8 px, no guided filter
    dec2, wt2 = postprocess_map(focus, ga, gb, mode="mfif-gan")
    assert dec2[12, 62] == 1 and dec2[42, 12] == 0 and np.array_equal(dec2, wt2)
    focus[50, 50] = 0.9  # one pixel: below 4.8 px
    assert postprocess_map(focus, ga, gb, mode="mfif-gan")[0][50, 50] == 0
    assert postprocess_map(focus, ga, gb, mode="none")[0][50, 50] == 1


def test_fuse_gray_and_colour(tiny_weights: Path) -> None:
    a, b, _ = _pair()
    for imgs in ([a, b], [np.repeat(a[..., None], 3, 2), np.repeat(b[..., None], 3, 2)]):
        for pp in ("paper", "mfif-gan", "none", True, False):
            r = cnn_fuse(imgs, weights=str(tiny_weights), device="cpu", postprocess=pp)
            assert r.fused.shape == imgs[0].shape and r.fused.dtype == np.float32
            assert 0 <= r.fused.min() and r.fused.max() <= 1
            assert r.focus_map.shape == a.shape and 0 <= r.focus_map.min() and r.focus_map.max() <= 1
            assert set(np.unique(r.decision_map)) <= {0.0, 1.0}
    # the decision picks the source per pixel: with postprocess none the fused image is A or B exactly
    r = cnn_fuse([a, b], weights=str(tiny_weights), device="cpu", postprocess="none")
    np.testing.assert_array_equal(r.fused, np.where(r.decision_map > 0, a, b))
    np.testing.assert_array_equal(r.decision_map, (r.focus_map > 0.5).astype(np.float32))


def test_bad_input_is_one_error(tiny_weights: Path, tmp_path: Path) -> None:
    a, b, _ = _pair()
    w = str(tiny_weights)
    with pytest.raises(MfifError, match="at least two"):
        cnn_fuse([a], weights=w)
    with pytest.raises(MfifError, match="at most 2"):
        cnn_fuse([a, b, a], weights=w)
    with pytest.raises(MfifError, match="smaller than the network's 16x16"):
        cnn_fuse([a[:15], b[:15]], weights=w)
    with pytest.raises(MfifError, match="postprocess"):
        cnn_fuse([a, b], weights=w, postprocess="guided")
    with pytest.raises(MfifError, match="not found"):
        cnn_fuse([a, b], weights=str(tmp_path / "nope.safetensors"))
    from safetensors.torch import save_file

    from mfif.models.stack_net import StackNet, StackNetConfig

    other = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in StackNet(StackNetConfig(width=2, n_blocks=1)).state_dict().items()},
              str(other), metadata={"format": "mfif-stacknet-v1"})
    with pytest.raises(MfifError, match="not a cnn weights file"):
        cnn_fuse([a, b], weights=str(other))
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all")
    with pytest.raises(MfifError, match="junk.mat"):
        cnn_fuse([a, b], weights=str(junk))


def test_safetensors_round_trip_fp16(tmp_path: Path) -> None:
    m = _tiny(2)
    p = save_cnn_liu(m, tmp_path / "cnn.safetensors", metadata={"step": 3})
    back = load_cnn_liu(p)
    assert back.config == m.config
    for (k, v), (k2, v2) in zip(m.state_dict().items(), back.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(v2, v.half().float())
    assert get_model(str(p), "cpu") is get_model(str(p), "cpu")  # cached per (path, device)


def test_authors_mat_layout_round_trip_and_matlab_semantics(tmp_path: Path) -> None:
    import scipy.io

    m = _tiny(3)
    p = save_liu_mat(m, tmp_path / "cnnmodel.mat")
    mat = scipy.io.loadmat(str(p))
    assert mat["weights_b1_1"].shape == (9, 4) and mat["weights_b1_2"].shape == (4, 9, 4)
    assert mat["weights_feature"].shape == (8, 64, 4) and mat["weights_output"].shape == (4, 1, 2)
    back = load_liu_mat(p)
    a, b, _ = _pair(33, 35, seed=3)
    np.testing.assert_allclose(patch_scores(back, a, b), patch_scores(m, a, b), atol=1e-6)
    # MATLAB semantics of one conv1 output: conv2(img, rot90(reshape(w(:, k), 3, 3), 2), 'same') + bias
    k, y, x = 2, 10, 12
    kern = mat["weights_b1_1"][:, k].reshape(3, 3, order="F")
    expect = max(0.0, float((a[y - 1: y + 2, x - 1: x + 2] * kern).sum() + mat["biases_b1_1"].ravel()[k]))
    with torch.no_grad():
        got = torch.relu(back.conv1(torch.from_numpy(a)[None, None]))[0, k, y, x].item()
    assert got == pytest.approx(expect, abs=1e-5)
    # the full-width file of the paper (64/128/256/256) loads with the paper's shapes
    r = np.random.default_rng(0)
    shapes = {"weights_b1_1": (9, 64), "biases_b1_1": (64, 1), "weights_b1_2": (64, 9, 128), "biases_b1_2": (128, 1),
              "weights_b1_3": (128, 9, 256), "biases_b1_3": (256, 1), "weights_feature": (512, 64, 256),
              "weights_output": (256, 1, 2)}
    full = tmp_path / "full.mat"
    scipy.io.savemat(str(full), {k: r.standard_normal(s).astype(np.float32) * 0.01 for k, s in shapes.items()})
    assert load_liu_mat(full).config == CnnLiuConfig()
    scipy.io.savemat(str(tmp_path / "part.mat"), {"weights_b1_1": np.zeros((9, 64))})
    with pytest.raises(MfifError, match="missing"):
        load_liu_mat(tmp_path / "part.mat")
    bad = dict(mat)
    bad["weights_b1_2"] = np.zeros((4, 8, 4))
    scipy.io.savemat(str(tmp_path / "bad.mat"), {k: v for k, v in bad.items() if not k.startswith("__")})
    with pytest.raises(MfifError, match="weights_b1_2"):
        load_liu_mat(tmp_path / "bad.mat")


def test_shipped_weights_pick_the_sharp_side() -> None:
    from mfif.models.weights import installed_weights

    if not installed_weights("cnn"):
        pytest.skip("no shipped cnn weights")
    a, b, mask = _pair(96, 96, seed=7)
    r = cnn_fuse([a, b], device="cpu", postprocess="none")
    interior = np.ones(mask.shape, bool)
    interior[:, 40:56] = False
    assert (r.decision_map.astype(bool) == mask)[interior].mean() > 0.95


def test_folded_head_is_the_same_network(tmp_path: Path) -> None:
    from mfif.models.cnn_liu import fold_head, parameter_count

    m = _tiny(5)
    f = fold_head(m)
    assert f.config.folded and f.fc2 is None
    assert parameter_count(f) == parameter_count(m) - 8 * 4 * 64 - 4 * 2 + 8 * 2 * 64 + 2  # fc1, fc2 → folded
    a, b, _ = _pair(40, 36, seed=5)
    with torch.no_grad():
        ref = m.score(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0].numpy()
        got = f.score(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)
    p = save_cnn_liu(f, tmp_path / "folded.safetensors", dtype=torch.float32)
    np.testing.assert_allclose(patch_scores(load_cnn_liu(p), a, b), ref, atol=1e-5)
    with pytest.raises(MfifError, match="cannot be folded"):
        fold_head(_tiny(5, CnnLiuConfig(c1=4, c2=4, c3=4, fc=4, fc_relu=True)))
    with pytest.raises(MfifError, match="mat layout"):
        save_liu_mat(f, tmp_path / "f.mat")
