"""mmf-net: the MMF-Net cascade (src/mfif/models/mmf_net.py) and its registry entry.

Everything runs on tiny widths with seeded random weights written to a temporary file; the shipped
weights are only checked for their architecture (the paper's widths and depths) when installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mfif.errors import MfifError
from mfif.models.mmf_net import FORMAT, MMFNet, MMFNetConfig, load_mmf_net, save_mmf_net
from mfif.registry import get_method

TINY = MMFNetConfig(width_a=4, blocks_a=1, width_b=6, blocks_b=2, full_blocks=1)


def _tiny_model(seed: int = 0) -> MMFNet:
    torch.manual_seed(seed)
    m = MMFNet(TINY)
    with torch.no_grad():  # a trained model's output heads are not constant
        m.b_out.weight.normal_(0.0, 0.05)
        m.a_out.weight.normal_(0.0, 0.05)
    return m.eval()


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    return save_mmf_net(_tiny_model(), tmp_path / "tiny-mmf.safetensors", dtype=torch.float32)


def _pair(shape: tuple[int, ...], seed: int = 1) -> list[np.ndarray]:
    r = np.random.default_rng(seed)
    return [r.random(shape, dtype=np.float32), r.random(shape, dtype=np.float32)]


def test_registered_with_weights_and_pairs_only() -> None:
    info = get_method("mmf-net")
    assert info.needs_weights and info.max_inputs == 2
    assert {"weights", "device", "amp", "tile", "tile_overlap"} <= info.options
    assert "Ma" in info.citation


def test_paper_architecture_by_default() -> None:
    m = MMFNet()
    assert m.a_in.in_channels == 6 and m.a_in.out_channels == 64 and len(m.a_blocks) == 4
    assert m.a_out.out_channels == 1
    assert m.b_in.in_channels == 7 and m.b_in.out_channels == 128 and len(m.b_blocks) == 16
    assert m.b_out.out_channels == 3


def test_untrained_cascade_is_the_initial_fusion() -> None:
    torch.manual_seed(0)
    m = MMFNet(TINY).eval()
    x = torch.rand(2, 6, 20, 24)
    with torch.no_grad():
        g, f = m(x)
        assert g.shape == (2, 1, 20, 24) and f.shape == (2, 3, 20, 24)
        assert torch.equal(g, torch.full_like(g, 0.5))  # the map head starts at 0.5
        torch.testing.assert_close(f, 0.5 * (x[:, :3] + x[:, 3:]))
        m.a_out.weight.normal_(0.0, 0.05)  # any map: the correction head is still zero
        g, f = m(x)
        torch.testing.assert_close(f, g * x[:, :3] + (1 - g) * x[:, 3:])


def test_correction_acts_only_where_the_map_is_undecided() -> None:
    m = _tiny_model()
    x = torch.rand(1, 6, 16, 16)
    with torch.no_grad():
        m.a_out.weight.zero_()
        m.a_out.bias.fill_(1.0)  # map 1 everywhere: the boundary weight 1 - 2|G - 0.5| is 0
        g, f = m(x)
        assert torch.equal(g, torch.ones_like(g))
        torch.testing.assert_close(f, x[:, :3])
        m.a_out.bias.fill_(0.5)  # undecided: the correction is added in full
        g, f = m(x)
        assert not torch.allclose(f, 0.5 * (x[:, :3] + x[:, 3:]))


def test_receptive_field_radius() -> None:
    m = _tiny_model()
    r = TINY.radius()
    assert r == 3 + 2 * TINY.blocks_a + 3 + 2 * TINY.blocks_b
    size = 2 * r + 9
    x = torch.rand(1, 6, size, size)
    c = size // 2
    with torch.no_grad():
        _, f0 = m(x)
        far, near = x.clone(), x.clone()
        far[:, :, c, c + r + 1] += 0.5
        near[:, :, c, c + r] += 0.5
        _, f_far = m(far)
        _, f_near = m(near)
    assert torch.equal(f0[..., c, c], f_far[..., c, c])
    assert not torch.equal(f0[..., c, c], f_near[..., c, c])


def test_rejects_wrong_input_channels() -> None:
    with pytest.raises(MfifError, match="6"):
        MMFNet(TINY)(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("bad", [{"width_a": 0}, {"blocks_b": -1}, {"res_scale": 0.0}, {"full_blocks": -2}])
def test_config_checks(bad: dict) -> None:
    with pytest.raises(MfifError):
        MMFNetConfig(**bad)


def test_weights_round_trip(tmp_path: Path) -> None:
    m = _tiny_model(3)
    p = save_mmf_net(m, tmp_path / "w.safetensors", dtype=torch.float32, metadata={"step": 7})
    back = load_mmf_net(p)
    assert back.config == TINY
    x = torch.rand(1, 6, 12, 12)
    with torch.no_grad():
        for a, b in zip(m(x), back(x)):
            torch.testing.assert_close(a, b)
    half = load_mmf_net(save_mmf_net(m, tmp_path / "h.safetensors"))  # fp16 by default
    with torch.no_grad():
        torch.testing.assert_close(half(x)[1], m(x)[1], atol=5e-3, rtol=0)
    assert not list(tmp_path.glob(".tmp-*"))


def test_foreign_weights_file_is_one_error(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    p = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(p), metadata={"format": "something-else"})
    with pytest.raises(MfifError, match="not an MMF-Net weights file"):
        load_mmf_net(p)
    with pytest.raises(MfifError, match="not found"):
        load_mmf_net(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(MfifError, match="junk.safetensors"):
        load_mmf_net(tmp_path / "junk.safetensors")


def test_wrong_shapes_in_file_is_one_error(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    m = _tiny_model()
    state = {k: v.contiguous() for k, v in m.state_dict().items()}
    state["a_in.weight"] = torch.zeros(5, 6, 3, 3)
    p = tmp_path / "bad.safetensors"
    save_file(state, str(p), metadata={"format": FORMAT, "mfif_config": '{"width_a": 4, "blocks_a": 1, '
                                       '"width_b": 6, "blocks_b": 2, "full_blocks": 1, "res_scale": 0.1}'})
    with pytest.raises(MfifError, match="do not fit"):
        load_mmf_net(p)


def test_method_rgb(tiny_weights: Path) -> None:
    a, b = _pair((21, 27, 3))
    res = get_method("mmf-net").fn([a, b], weights=str(tiny_weights), device="cpu")
    assert res.fused.shape == (21, 27, 3) and res.fused.dtype == np.float32
    assert 0 <= res.fused.min() and res.fused.max() <= 1
    assert res.focus_map.shape == (21, 27) and 0 <= res.focus_map.min() and res.focus_map.max() <= 1
    np.testing.assert_array_equal(res.decision_map, (res.focus_map > 0.5).astype(np.float32))
    model = _tiny_model()
    with torch.no_grad():
        g, f = model(torch.from_numpy(np.concatenate([a, b], 2).transpose(2, 0, 1).copy())[None])
    np.testing.assert_allclose(res.fused, f[0].permute(1, 2, 0).clamp(0, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(res.focus_map, g[0, 0].clamp(0, 1).numpy(), atol=1e-5)
    assert res.extras["initial"].shape == (21, 27, 3)


def test_method_gray_returns_gray(tiny_weights: Path) -> None:
    a, b = _pair((18, 22))
    res = get_method("mmf-net").fn([a, b], weights=str(tiny_weights), device="cpu")
    assert res.fused.shape == (18, 22) and res.focus_map.shape == (18, 22)
    rgb = get_method("mmf-net").fn([np.repeat(a[..., None], 3, 2), np.repeat(b[..., None], 3, 2)],
                                   weights=str(tiny_weights), device="cpu")
    np.testing.assert_allclose(res.fused, rgb.fused.mean(axis=2), atol=1e-6)
    np.testing.assert_allclose(res.focus_map, rgb.focus_map, atol=1e-6)


def test_tiles_match_one_pass(tiny_weights: Path) -> None:
    a, b = _pair((45, 61, 3), seed=4)
    fn = get_method("mmf-net").fn
    one = fn([a, b], weights=str(tiny_weights), device="cpu")
    tiled = fn([a, b], weights=str(tiny_weights), device="cpu", tile=16)
    np.testing.assert_allclose(tiled.fused, one.fused, atol=1e-5)
    np.testing.assert_allclose(tiled.focus_map, one.focus_map, atol=1e-5)
    cut = fn([a, b], weights=str(tiny_weights), device="cpu", tile=16, tile_overlap=0)
    assert np.abs(cut.fused - one.fused).max() > 1e-4  # no context: tile seams differ


def test_through_fuse_api(tiny_weights: Path) -> None:
    import mfif

    a, b = _pair((20, 20, 3), seed=5)
    res = mfif.fuse([a, b], method="mmf-net", weights=str(tiny_weights), device="cpu", order="given")
    assert res.fused.shape == (20, 20, 3)


@pytest.mark.parametrize(
    "images, options, match",
    [
        (lambda: _pair((8, 8)) + _pair((8, 8))[:1], {}, "at most 2"),
        (lambda: [np.zeros((8, 8), np.float32), np.zeros((8, 9), np.float32)], {}, "shape"),
        (lambda: _pair((16, 16)), {"tile": 8}, "tile"),
        (lambda: _pair((16, 16)), {"tile_overlap": -1}, "tile_overlap"),
        (lambda: _pair((16, 16)), {"amp": "sometimes"}, "amp"),
    ],
)
def test_bad_input_is_one_error(tiny_weights: Path, images, options: dict, match: str) -> None:
    with pytest.raises(MfifError, match=match):
        get_method("mmf-net").fn(images(), weights=str(tiny_weights), device="cpu", **options)


def test_missing_weights_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(MfifError, match="nothere"):
        get_method("mmf-net").fn(_pair((8, 8)), weights=str(tmp_path / "nothere.safetensors"), device="cpu")


def test_shipped_weights_are_the_papers_architecture() -> None:
    from mfif.models.weights import installed_weights

    if not installed_weights("mmf-net"):
        pytest.skip("mmf-net weights not installed")
    m = load_mmf_net()
    assert m.config == MMFNetConfig()
    assert all(torch.isfinite(p).all() for p in m.parameters())
