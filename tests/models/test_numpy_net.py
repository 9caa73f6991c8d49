"""The numpy generator (mfif.models.numpy_net) computes the torch generator's eval-mode function, with
both of its backends (the numpy layer functions, and the same folded layers on OpenCV's DNN module).

Tolerances: both engines compute in float32 but sum in different orders (BLAS products over shifted
taps, OpenCV's DNN kernels and filter2D here, oneDNN/ATen kernels in torch), so results differ by float rounding:
about 1e-7 relative per layer, growing with the depth and the number of summed terms. The single
layers are checked at 1e-5 relative to their output scale; whole generators at 1e-5 in the focus map
and 1e-4 relative to the logits' scale (measured: below 2e-7 and 3e-6 on these seeded models; the
shipped lite weights on a 520² pair: 2e-5 in the map).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfif.errors import MfifError
from mfif.models.generator import Generator, GeneratorConfig, count_parameters
from mfif.models.numpy_net import DEFAULT_INPUT_MODE, NumpyGenerator, conv2d, conv_transpose2d
from mfif.models.weights import installed_weights, load_numpy_generator, parameter_count, save_generator


def _cf(x: np.ndarray) -> np.ndarray:
    """N×C×H×W → C×N×H×W (the numpy engine's layout)."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))


@pytest.mark.parametrize(
    "cin, cout, k, stride, pad, h, w",
    [(3, 5, 3, 1, 1, 9, 11), (3, 5, 3, 2, 1, 9, 11), (3, 5, 3, 2, 1, 10, 12), (1, 8, 7, 1, 3, 12, 9),
     (16, 1, 7, 1, 3, 8, 8), (4, 4, 5, 2, 2, 13, 7), (3, 2, 3, 1, 0, 6, 7), (2, 3, 1, 1, 0, 5, 4)],
)
def test_conv2d_matches_torch(cin, cout, k, stride, pad, h, w):
    rng = np.random.default_rng(cin * 100 + cout * 10 + k)
    x = rng.standard_normal((2, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), stride=stride, padding=pad).numpy()
    got = conv2d(_cf(x), wt, b, stride=stride, padding=pad).transpose(1, 0, 2, 3)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("cin, cout, k, stride, pad, h, w",
                         [(6, 3, 4, 2, 1, 5, 7), (2, 3, 4, 2, 1, 1, 1), (2, 3, 3, 2, 1, 4, 4), (2, 3, 4, 2, 0, 3, 5)])
def test_conv_transpose2d_matches_torch(cin, cout, k, stride, pad, h, w):
    rng = np.random.default_rng(7 + cin + k)
    x = rng.standard_normal((2, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cin, cout, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), stride=stride,
                             padding=pad).numpy()
    got = conv_transpose2d(_cf(x), wt, b, stride=stride, padding=pad).transpose(1, 0, 2, 3)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def _random_generator(seed: int, **cfg) -> Generator:
    """A tiny generator with random weights and BatchNorm statistics, scaled so the logits spread over
    several units (a map that is not stuck at 0.5 or saturated)."""
    torch.manual_seed(seed)
    g = Generator(GeneratorConfig(**cfg))
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        if g.refine is not None:
            torch.nn.init.normal_(g.refine.net[-1].weight, std=0.1)
        if g.context is not None:
            torch.nn.init.normal_(g.context.out.weight, std=0.5)
        last = g.decoder.net[-1].weight
        g.eval()
        last.mul_(3.0 / float(g(torch.rand(2, 3, 20, 28), torch.rand(2, 3, 20, 28), logits=True).std()))
    return g.eval()


CONFIGS = [
    dict(width=4, n_blocks=2, input_mode="gray"),
    dict(width=4, n_blocks=1, input_mode="color"),
    dict(width=4, n_blocks=2, input_mode="gray", se=False),
    dict(width=4, n_blocks=1, input_mode="color", refine_width=4, refine_layers=3),
    dict(width=8, n_blocks=3, input_mode="gray", refine_width=6, refine_layers=2),
    dict(width=4, n_blocks=1, input_mode="gray", context_width=6, context_blocks=2),
    dict(width=4, n_blocks=2, input_mode="color", context_width=4, context_blocks=1),
]


@pytest.mark.parametrize("backend", ["numpy", "opencv"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_generator_matches_torch(cfg, backend):
    g = _random_generator(3, **cfg)
    ng = NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}, input_mode=cfg["input_mode"],
                        backend=backend)
    assert ng.backend == backend
    assert (ng.config.width, ng.config.n_blocks, ng.config.se) == (cfg["width"], cfg["n_blocks"], cfg.get("se", True))
    assert ng.config.refine_layers == cfg.get("refine_layers", 0) if cfg.get("refine_width") else ng.refine == []
    assert (ng.config.context_width, ng.config.context_blocks) == (
        (cfg["context_width"], cfg["context_blocks"]) if cfg.get("context_width") else (0, 0))
    from mfif.fusion.tiling import receptive_radius

    assert receptive_radius(ng) == receptive_radius(g)  # the tiler's overlap does not depend on the engine
    assert ng.n_parameters == count_parameters(g)
    rng = np.random.default_rng(5)
    for c in (3, 1):
        a = rng.random((2, c, 20, 28), dtype=np.float32)
        b = rng.random((2, c, 20, 28), dtype=np.float32)
        with torch.no_grad():
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            ref_z = g(ta, tb, logits=True).numpy()
            ref_m = g(ta, tb).numpy()
        z, m = ng(a, b, logits=True), ng(a, b)
        assert z.shape == ref_z.shape == (2, 1, 20, 28) and m.dtype == np.float32
        assert ref_z.std() > 0.3  # the test sees a map that varies
        assert np.abs(z - ref_z).max() <= 1e-4 * max(1.0, np.abs(ref_z).max())
        assert np.abs(m - ref_m).max() <= 1e-5


def test_the_default_backend_is_opencv_where_it_loads():
    g = _random_generator(0, width=4, n_blocks=1, input_mode="gray")
    assert NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}).backend == "opencv"
    with pytest.raises(MfifError, match="backend"):
        NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}, backend="tensorflow")


def test_rejects_sizes_that_are_not_multiples_of_4():
    g = _random_generator(0, width=4, n_blocks=1, input_mode="gray")
    ng = NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}, input_mode="gray")
    with pytest.raises(MfifError, match="multiples of 4"):
        ng(np.zeros((1, 1, 10, 12), np.float32), np.zeros((1, 1, 10, 12), np.float32))


def test_default_input_mode_is_the_generator_config_default():
    assert DEFAULT_INPUT_MODE == GeneratorConfig().input_mode


def test_loads_saved_weights_and_counts_parameters_from_the_header(tmp_path):
    g = _random_generator(1, width=4, n_blocks=2, input_mode="gray")
    (path,) = save_generator(g, tmp_path / "w.safetensors")  # fp16 storage
    ng = load_numpy_generator(path)
    assert ng.config.input_mode == "gray"
    assert parameter_count(path) == count_parameters(g) == ng.n_parameters
    from mfif.models.weights import load_generator

    tg = load_generator(path)
    a = np.random.default_rng(2).random((1, 1, 16, 24), dtype=np.float32)
    with torch.no_grad():
        ref = tg(torch.from_numpy(a), torch.from_numpy(a[:, :, ::-1].copy())).numpy()
    assert np.abs(ng(a, a[:, :, ::-1].copy()) - ref).max() <= 1e-5


def test_weights_that_do_not_fit_are_one_clear_error(tmp_path):
    from safetensors.numpy import save_file

    g = _random_generator(1, width=4, n_blocks=1, input_mode="gray")
    state = {k: v.numpy() for k, v in g.state_dict().items()}
    bad = dict(state, **{"branch.net.3.weight": np.zeros((6, 4, 3, 3), np.float32)})
    save_file(bad, str(tmp_path / "shape.safetensors"), metadata={"mfif_config": '{"input_mode": "gray"}'})
    with pytest.raises(MfifError, match="shape.safetensors: weights do not fit"):
        load_numpy_generator(tmp_path / "shape.safetensors")
    bad = dict(state, **{"branch.net.9.conv1.weight": np.zeros((16, 16, 5, 5), np.float32)})
    save_file(bad, str(tmp_path / "shape2.safetensors"))
    with pytest.raises(MfifError, match="wrong shape"):
        load_numpy_generator(tmp_path / "shape2.safetensors")
    extra = dict(state, **{"critic.fc.weight": np.zeros(3, np.float32)})
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(MfifError, match="unexpected"):
        load_numpy_generator(tmp_path / "extra.safetensors")
    missing = {k: v for k, v in state.items() if not k.startswith("decoder.net.4")}
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(MfifError, match="missing"):
        load_numpy_generator(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(MfifError, match="not a valid safetensors"):
        load_numpy_generator(tmp_path / "junk.safetensors")


@pytest.mark.skipif(not installed_weights("mfif-gan-lite"), reason="mfif-gan-lite weights not installed")
def test_shipped_lite_weights_match_the_torch_forward(textured_pair):
    """The shipped weights (BatchNorm folded by both engines) on a seeded pair: the same map to 1e-4
    and the same decisions wherever the map is not within that of the threshold."""
    from mfif.fusion.inference import to_array
    from mfif.fusion.methods import get_generator

    a, b, _, _ = textured_pair
    tg = get_generator("mfif-gan-lite", None, "cpu")  # BN folded + channels-last, as inference runs it
    h, w = (s - s % 4 for s in a.shape[:2])
    xa, xb = to_array(a[:h, :w]), to_array(b[:h, :w])
    ta, tb = torch.from_numpy(np.ascontiguousarray(xa)), torch.from_numpy(np.ascontiguousarray(xb))
    with torch.no_grad():
        ref, ref_z = tg(ta, tb).numpy(), tg(ta, tb, logits=True).numpy()
    assert ref.std() > 0.2
    for backend in ("opencv", "numpy"):
        state, mode = _shipped_state()
        ng = NumpyGenerator(state, input_mode=mode, backend=backend)
        got = ng(xa, xb)
        assert np.abs(got - ref).max() <= 1e-4
        assert np.abs(ng(xa, xb, logits=True) - ref_z).max() <= 1e-4 * np.abs(ref_z).max()
        sure = np.abs(ref - 0.5) > 1e-4
        assert np.array_equal((got > 0.5)[sure], (ref > 0.5)[sure])


def _shipped_state() -> tuple[dict, str]:
    import json

    from mfif.models.weights import read_state_numpy

    state, meta = read_state_numpy(installed_weights("mfif-gan-lite"))
    return state, json.loads(meta["mfif_config"])["input_mode"]


def test_gray_input_mode_takes_the_luma_as_torch_does_bit_for_bit():
    from mfif.models.generator import _luma

    g = _random_generator(0, width=4, n_blocks=1, input_mode="gray")
    ng = NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}, input_mode="gray", backend="numpy")
    rng = np.random.default_rng(9)
    a = rng.random((2, 3, 12, 16), dtype=np.float32)
    b = rng.random((2, 3, 12, 16), dtype=np.float32)
    with torch.no_grad():
        ref = torch.cat([_luma(torch.from_numpy(a)), _luma(torch.from_numpy(b))], dim=1) * 2.0 - 1.0
    assert np.array_equal(ng.scaled(a, b), ref.numpy())


def test_concurrent_calls_from_threads_give_each_caller_its_own_map():
    """The web app fuses in two worker threads with one cached model."""
    from concurrent.futures import ThreadPoolExecutor

    g = _random_generator(4, width=4, n_blocks=1, input_mode="gray")
    ng = NumpyGenerator({k: v.numpy() for k, v in g.state_dict().items()}, input_mode="gray")
    rng = np.random.default_rng(3)
    pairs = [(rng.random((1, 1, 16 + 4 * i, 20), dtype=np.float32), rng.random((1, 1, 16 + 4 * i, 20),
                                                                                dtype=np.float32)) for i in range(6)]
    alone = [ng(a, b) for a, b in pairs]
    with ThreadPoolExecutor(3) as ex:
        together = list(ex.map(lambda p: ng(*p), pairs * 3))
    for i, m in enumerate(together):
        assert np.array_equal(m, alone[i % len(pairs)])


def test_falls_back_to_numpy_where_opencv_cannot_run_the_graph(monkeypatch):
    import mfif.models.numpy_net as nn_

    def refuse(onnx: bytes) -> None:
        raise AttributeError("module 'cv2' has no attribute 'dnn'")

    monkeypatch.setattr(nn_, "_OpenCVNet", refuse)
    g = _random_generator(2, width=4, n_blocks=1, input_mode="gray")
    state = {k: v.numpy() for k, v in g.state_dict().items()}
    ng = NumpyGenerator(state, input_mode="gray")
    assert ng.backend == "numpy"
    a = np.random.default_rng(1).random((1, 1, 12, 16), dtype=np.float32)
    with torch.no_grad():
        ref = g(torch.from_numpy(a), torch.from_numpy(a[:, :, ::-1].copy())).numpy()
    assert np.abs(ng(a, a[:, :, ::-1].copy()) - ref).max() <= 1e-5
    with pytest.raises(MfifError, match="OpenCV's DNN module"):
        NumpyGenerator(state, input_mode="gray", backend="opencv")


def test_the_learned_method_runs_context_weights_as_torch_does(tmp_path):
    """Weights with a context pathway through ``mfif.fuse`` (the numpy engine on a CPU) give the torch
    generator's map (fp32 weights, so the same up to float rounding); the context changes the map."""
    import mfif
    from mfif.fusion.inference import numpy_generator_for
    from mfif.models.weights import save_generator
    from mfif.options import InferenceOptions

    g = _random_generator(4, width=4, n_blocks=1, input_mode="gray", context_width=8, context_blocks=1)
    path = save_generator(g, tmp_path / "ctx.safetensors", dtype=torch.float32)[0]
    ng = numpy_generator_for("mfif-gan-lite", str(path), InferenceOptions(device="cpu", amp=False))
    assert ng is not None and ng.context
    rng = np.random.default_rng(0)
    a, b = rng.random((40, 52), np.float32), rng.random((40, 52), np.float32)
    res = mfif.fuse([a, b], method="mfif-gan-lite", weights=str(path), order="given", postprocess=False,
                    device="cpu", amp=False)
    with torch.no_grad():
        m = g(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0, 0].numpy()
        g.context = None
        m0 = g(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(res.focus_map, m, atol=1e-5)
    assert np.abs(m - m0).max() > 1e-3
