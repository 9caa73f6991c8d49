"""FuseGAN: the generator, the convolutional CRF, weights I/O and the registered method ``fusegan``.

Tiny seeded networks (width 4) written to a temporary file stand in for the shipped weights, so these
tests need neither the pack nor ../shared; the shipped file is checked when it is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import mfif
from mfif.errors import MfifError
from mfif.models.fusegan import (
    FORMAT,
    FuseGANConfig,
    FuseGANGenerator,
    conv_crf,
    load_fusegan,
    parameter_count,
    save_fusegan,
)
from mfif.registry import get_method

TINY = FuseGANConfig(width=4, n_enc=1, n_dec=1)


def _tiny_model(seed: int = 0) -> FuseGANGenerator:
    torch.manual_seed(seed)
    m = FuseGANGenerator(TINY)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode is not an identity
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_fusegan(_tiny_model(), tmp_path_factory.mktemp("fg") / "tiny.safetensors", metadata={"note": "test"})


def _pair(h: int = 37, w: int = 42, seed: int = 0, colour: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.ndimage import gaussian_filter

    from mfif.data.synthesis import conventional_pair

    r = np.random.default_rng(seed)
    truth = gaussian_filter(r.random((h, w, 3)), (0.7, 0.7, 0)).astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1
    a, b = conventional_pair(truth, mask, sigma=1.5, kernel="disk")
    if not colour:
        a, b = a.mean(axis=2), b.mean(axis=2)
    return a.astype(np.float32), b.astype(np.float32), mask


# ------------------------------------------------------------------------------------------ model


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (1, 3, 17, 23), (1, 1, 5, 2)])
def test_generator_map_shape_and_range(shape: tuple[int, ...]) -> None:
    m = _tiny_model()
    r = torch.Generator().manual_seed(1)
    a, b = torch.rand(shape, generator=r), torch.rand(shape, generator=r)
    with torch.no_grad():
        p = m(a, b)
        lg = m.logits(a, b)
    assert p.shape == (shape[0], 1, *shape[2:])
    assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0
    torch.testing.assert_close(p, torch.sigmoid(lg))


def test_generator_encoder_is_shared_and_order_matters() -> None:
    """One encoder serves both sources (Siamese); the decoder sees them in order, so swapping changes the map."""
    m = _tiny_model(3)
    assert sum(1 for mod in m.modules() if mod.__class__.__name__ == "Encoder") == 1
    r = torch.Generator().manual_seed(2)
    a, b = torch.rand(1, 1, 24, 24, generator=r), torch.rand(1, 1, 24, 24, generator=r)
    with torch.no_grad():
        assert not torch.allclose(m(a, b), m(b, a))


def test_generator_rejects_two_channel_sources() -> None:
    with pytest.raises(MfifError, match="1 or 3 channels"):
        _tiny_model()(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8))


def test_parameter_count_grows_with_width() -> None:
    small = parameter_count(FuseGANGenerator(FuseGANConfig(width=4, n_enc=1, n_dec=1)))
    big = parameter_count(FuseGANGenerator(FuseGANConfig(width=8, n_enc=1, n_dec=1)))
    assert 0 < small < big


# ------------------------------------------------------------------------------------------ CRF


def test_crf_zero_iterations_is_the_clipped_input() -> None:
    p = torch.tensor([[[[0.0, 0.3], [0.7, 1.0]]]])
    out = conv_crf(p, torch.zeros_like(p), iterations=0, eps=1e-3)
    torch.testing.assert_close(out, p.clamp(1e-3, 1 - 1e-3))


def test_crf_flips_an_isolated_pixel_and_keeps_a_confident_region() -> None:
    p = torch.full((1, 1, 21, 21), 0.8)
    p[0, 0, 10, 10] = 0.4  # a weakly wrong pixel in a confident A-region
    q = conv_crf(p, torch.full_like(p, 0.5))
    assert float(q[0, 0, 10, 10]) > 0.5
    assert float(q.min()) > 0.5
    assert float(q[0, 0, 0, 0]) > float(p[0, 0, 0, 0])  # agreeing neighbours make it more confident


def test_crf_bilateral_term_follows_the_guide_edge() -> None:
    """An uncertain column next to an intensity edge joins the side it matches in the guide."""
    h, w = 15, 20
    p = torch.full((1, 1, h, w), 0.9)
    p[..., 10:] = 0.1
    p[..., 9] = 0.45  # uncertain, slightly towards B, but on A's side of the image edge
    guide = torch.zeros(1, 1, h, w)
    guide[..., 10:] = 1.0
    q = conv_crf(p, guide, w_smooth=0.0)
    assert float(q[0, 0, 7, 9]) > 0.5
    flat = conv_crf(p, torch.zeros_like(guide), w_smooth=0.0)  # without the edge: both sides pull equally
    assert float(q[0, 0, 7, 9]) > float(flat[0, 0, 7, 9])


@pytest.mark.parametrize("kw", [{"window": 4}, {"window": 0}, {"iterations": -1}])
def test_crf_bad_settings(kw: dict) -> None:
    with pytest.raises(MfifError, match="conv_crf"):
        conv_crf(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), **kw)


# ------------------------------------------------------------------------------------------ weights


def test_weights_round_trip_fp16(tmp_path: Path) -> None:
    m = _tiny_model(5)
    p = save_fusegan(m, tmp_path / "w.safetensors", metadata={"step": 7})
    back = load_fusegan(p)
    assert back.config == m.config and not back.training
    ref = FuseGANGenerator(TINY).eval()
    ref.load_state_dict({k: (v.half().float() if v.is_floating_point() else v) for k, v in m.state_dict().items()})
    r = torch.Generator().manual_seed(4)
    a, b = torch.rand(1, 3, 19, 21, generator=r), torch.rand(1, 3, 19, 21, generator=r)
    with torch.no_grad():
        torch.testing.assert_close(back(a, b), ref(a, b))
    from mfif.models.weights import read_state

    _, meta = read_state(p)
    assert meta["format"] == FORMAT and meta["step"] == "7"
    assert not list(tmp_path.glob(".tmp-*"))


def test_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(MfifError, match="not found"):
        load_fusegan(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(MfifError, match="junk.safetensors"):
        load_fusegan(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(other), metadata={"format": "something-else"})
    with pytest.raises(MfifError, match="not a FuseGAN weights file"):
        load_fusegan(other)
    wrong = tmp_path / "wrong.safetensors"
    save_fusegan(_tiny_model(), wrong)
    from mfif.models.weights import read_state

    state, meta = read_state(wrong)
    meta["mfif_config"] = '{"width": 6, "n_enc": 1, "n_dec": 1}'
    save_file({k: v.contiguous() for k, v in state.items()}, str(wrong), metadata=meta)
    with pytest.raises(MfifError, match="do not fit"):
        load_fusegan(wrong)


# ------------------------------------------------------------------------------------------ method


def test_registered_as_a_pair_method_with_its_options() -> None:
    info = get_method("fusegan")
    assert info.needs_weights and info.max_inputs == 2
    assert {"weights", "device", "crf"} <= info.options
    assert "FuseGAN" in info.citation and "2019" in info.citation
    assert not info.accepts("tta") and not info.accepts("soft")


@pytest.mark.parametrize("colour", [True, False])
def test_method_pair_outputs(tiny_weights: Path, colour: bool) -> None:
    from mfif.baselines.fusegan import fusegan

    a, b, _ = _pair(colour=colour)
    res = fusegan([a, b], weights=str(tiny_weights), device="cpu")
    assert res.fused.shape == a.shape and res.fused.dtype == np.float32
    for m in (res.focus_map, res.decision_map, res.extras["crf_map"]):
        assert m.shape == a.shape[:2] and m.dtype == np.float32
        assert m.min() >= 0 and m.max() <= 1
    assert set(np.unique(res.decision_map)) <= {0.0, 1.0}
    np.testing.assert_array_equal(res.decision_map, (res.extras["crf_map"] > 0.5).astype(np.float32))
    d = res.decision_map[..., None] if colour else res.decision_map
    np.testing.assert_allclose(res.fused, a * d + b * (1 - d), atol=1e-6)
    raw = fusegan([a, b], weights=str(tiny_weights), device="cpu", crf=False)
    np.testing.assert_array_equal(raw.focus_map, res.focus_map)
    np.testing.assert_array_equal(raw.decision_map, (raw.focus_map > 0.5).astype(np.float32))
    assert "crf_map" not in raw.extras


def test_method_through_the_api_pair_and_stack(tiny_weights: Path) -> None:
    a, b, _ = _pair(24, 26, seed=2)
    res = mfif.fuse([a, b], method="fusegan", weights=str(tiny_weights), device="cpu")
    assert res.fused.shape == a.shape
    c = (0.5 * (a + b)).astype(np.float32)
    st = mfif.fuse([a, b, c], method="fusegan", weights=str(tiny_weights), device="cpu")
    assert st.fused.shape == a.shape and st.depth_map is not None and st.depth_map.max() <= 2


def test_method_bad_input(tiny_weights: Path, tmp_path: Path) -> None:
    from mfif.baselines.fusegan import fusegan

    a, b, _ = _pair(20, 20)
    with pytest.raises(MfifError, match="at most 2"):
        fusegan([a, b, a], weights=str(tiny_weights))
    with pytest.raises(MfifError, match="shape"):
        fusegan([a, b[:10]], weights=str(tiny_weights))
    with pytest.raises(MfifError, match="crf"):
        fusegan([a, b], weights=str(tiny_weights), crf="yes")
    with pytest.raises(MfifError, match="not found"):
        fusegan([a, b], weights=str(tmp_path / "none.safetensors"))
    with pytest.raises(MfifError, match="does not take tta"):
        mfif.fuse([a, b], method="fusegan", weights=str(tiny_weights), tta=4)


def test_cli_fuse_with_weights_and_a_bad_weights_file(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    from mfif.cli.main import main
    from mfif.io import write_image

    a, b, _ = _pair(24, 30, seed=3)
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    write_image(pa, a)
    write_image(pb, b)
    out = tmp_path / "f.png"
    assert main(["fuse", str(pa), str(pb), "-o", str(out), "--method", "fusegan", "--weights", str(tiny_weights),
                 "--device", "cpu"]) == 0
    assert out.is_file()
    capsys.readouterr()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    out2 = tmp_path / "g.png"
    code = main(["fuse", str(pa), str(pb), "-o", str(out2), "--method", "fusegan", "--weights", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.safetensors" in err and "Traceback" not in err and not out2.exists()
    errors = [ln for ln in err.strip().splitlines() if ln.startswith("mfif: error:")]
    assert len(errors) == 1 and "bad.safetensors" in errors[0]


def test_shipped_weights_find_the_focused_half() -> None:
    """The installed weights (trained on the pack) pick the sharp half of a seeded disk-blur pair."""
    from mfif.models.weights import installed_weights

    if not installed_weights("fusegan"):
        pytest.skip("fusegan weights not installed")
    from mfif.baselines.fusegan import fusegan

    a, b, mask = _pair(96, 96, seed=7)
    res = fusegan([a, b], device="cpu")
    assert float((res.decision_map == mask).mean()) > 0.9
