"""The engine rule (numpy for small networks on a CPU, torch otherwise), both engines giving the same
fusion through every inference path, and the fast start it exists for: ``mfif fuse`` with the default
method on a CPU-only machine never imports torch (nor scipy.ndimage / scikit-image, nor the other
subcommands' modules)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.models import runtime
from mfif.models.runtime import NUMPY_MAX_PARAMETERS, choose_engine
from mfif.models.weights import installed_weights

LITE = pytest.mark.skipif(not installed_weights("mfif-gan-lite"), reason="mfif-gan-lite weights not installed")


@pytest.mark.parametrize(
    "device, amp, n, expected",
    [("cpu", False, 104_168, "numpy"), ("cpu", "auto", 104_168, "numpy"), ("cpu", np.bool_(False), 10, "numpy"),
     ("cpu", True, 104_168, "torch"), ("cpu", np.bool_(True), 10, "torch"),
     ("cpu", False, NUMPY_MAX_PARAMETERS, "numpy"), ("cpu", False, NUMPY_MAX_PARAMETERS + 1, "torch"),
     ("cpu", False, 13_700_928, "torch")],
)
def test_engine_rule(monkeypatch, device, amp, n, expected):
    monkeypatch.delenv(runtime.ENGINE_ENV, raising=False)
    assert choose_engine(device=device, amp=amp, n_parameters=n) == expected


def test_engine_rule_on_a_gpu_and_the_override(monkeypatch):
    monkeypatch.delenv(runtime.ENGINE_ENV, raising=False)
    monkeypatch.setattr(runtime, "device_type", lambda device: "cuda")
    assert choose_engine(device="auto", amp=False, n_parameters=10) == "torch"
    monkeypatch.setenv(runtime.ENGINE_ENV, "numpy")
    with pytest.raises(MfifError, match="CPU only"):
        choose_engine(device="auto", amp=False, n_parameters=10)
    monkeypatch.setattr(runtime, "device_type", lambda device: "cpu")
    assert choose_engine(device="cpu", amp=True, n_parameters=10**9) == "numpy"
    monkeypatch.setenv(runtime.ENGINE_ENV, "torch")
    assert choose_engine(device="cpu", amp=False, n_parameters=10) == "torch"
    monkeypatch.setenv(runtime.ENGINE_ENV, "jax")
    with pytest.raises(MfifError, match="MFIF_ENGINE"):
        choose_engine(device="cpu", amp=False, n_parameters=10)


def test_cuda_possible_without_importing_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # restored after the test
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime.os.path, "exists", lambda p: False)
    assert not runtime.cuda_possible()
    assert runtime.device_type("auto") == "cpu" and runtime.device_type("cpu") == "cpu"
    with pytest.raises(MfifError, match="no CUDA GPU"):
        runtime.device_type("cuda:0")
    assert "torch" not in sys.modules
    monkeypatch.setattr(runtime.os.path, "exists", lambda p: p == "/dev/nvidiactl")
    assert runtime.cuda_possible()
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert not runtime.cuda_possible()
    monkeypatch.setattr(runtime.sys, "platform", "win32")
    assert runtime.cuda_possible()


def _rings(n: int, gray: bool) -> list[np.ndarray]:
    """n seeded 44×52 sources, source k sharp in the k-th ring (curved, uncertain boundaries)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(11)
    h, w = 44, 52
    truth = gaussian_filter(rng.random((h, w, 3)), sigma=(0.8, 0.8, 0)).astype(np.float32)
    blurred = gaussian_filter(truth, sigma=(1.2, 1.2, 0)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 19.5, xx - 29.0)
    edges = np.quantile(r, np.linspace(0, 1, n + 1))
    edges[-1] += 1
    out = []
    for k in range(n):
        m = ((r >= edges[k]) & (r < edges[k + 1])).astype(np.float32)[..., None]
        im = truth * m + blurred * (1 - m)
        out.append(im.mean(axis=2).astype(np.float32) if gray else im)
    return out


@LITE
@pytest.mark.parametrize(
    "n, gray, opts",
    [(2, False, {}), (2, True, {}), (2, False, {"tta": 2}), (2, False, {"tta": 16}), (2, False, {"symmetric": True}),
     (2, False, {"tile": 16, "tile_overlap": 8}), (2, False, {"soft": True, "edge_guide": "auto"}),
     (2, False, {"order": "given"}), (3, False, {}), (3, True, {"stack_strategy": "sequential"})],
    ids=lambda v: str(v),
)
def test_both_engines_fuse_alike(monkeypatch, n, gray, opts):
    """Same decisions (and depth maps), focus maps within 1e-4 (float32 rounding; docs in test_numpy_net)."""
    import mfif

    srcs = _rings(n, gray)
    res = {}
    for engine in ("numpy", "torch"):
        monkeypatch.setenv(runtime.ENGINE_ENV, engine)
        res[engine] = mfif.fuse(srcs, method="mfif-gan-lite", device="cpu", **opts)
    a, b = res["numpy"], res["torch"]
    for key in ("decision_map", "depth_map"):
        if getattr(b, key) is not None:
            assert np.array_equal(getattr(a, key), getattr(b, key))
    if b.focus_map is not None:
        assert np.abs(a.focus_map - b.focus_map).max() <= 1e-4
    assert np.abs(a.fused - b.fused).max() <= 1e-4


@LITE
def test_default_engine_on_the_cpu_is_numpy(monkeypatch):
    from mfif.fusion import pair

    monkeypatch.delenv(runtime.ENGINE_ENV, raising=False)
    seen = []
    real = pair.predict_focus_map
    monkeypatch.setattr(pair, "predict_focus_map", lambda model, *a, **k: seen.append(type(model).__name__)
                        or real(model, *a, **k))
    import mfif

    mfif.fuse(_rings(2, False), method="mfif-gan-lite", device="cpu")
    mfif.fuse(_rings(2, False), method="mfif-gan-lite", device="cpu", amp=True)
    assert seen == ["NumpyGenerator", "Generator"]


_PROBE = """
import json, sys
from mfif.cli.main import main
rc = main(sys.argv[1:])
heavy = [m for m in ("torch", "scipy.ndimage", "skimage", "matplotlib", "mfif.cli.train", "mfif.cli.bench")
         if m in sys.modules]
print(json.dumps({"rc": rc, "heavy": heavy}))
"""


def _probe(args: list[str], env_engine: str | None) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != runtime.ENGINE_ENV}
    if env_engine:
        env[runtime.ENGINE_ENV] = env_engine
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _no_gpu_here() -> bool:
    """runtime.cuda_possible() as a fresh process sees it (this one has imported torch)."""
    import os

    linux = sys.platform.startswith("linux")
    return sys.platform == "darwin" or (linux and not any(os.path.exists(p) for p in runtime.GPU_DEVICE_FILES))


@LITE
@pytest.mark.skipif(not _no_gpu_here(), reason="a GPU may exist here: the default path asks torch (by design)")
def test_mfif_fuse_default_method_does_not_import_torch(tmp_path):
    from mfif.io import write_image

    a, b = _rings(2, False)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    args = ["fuse", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "f.png")]
    fast = _probe(args, None)
    assert fast == {"rc": 0, "heavy": []}
    assert (tmp_path / "f.png").is_file()
    # the probe can see torch: forcing the torch engine loads it
    assert "torch" in _probe(args + ["--map", str(tmp_path / "m.png")], "torch")["heavy"]


def test_the_parser_of_one_subcommand():
    from mfif.cli.main import SUBCOMMAND_MODULES, build_parser

    full = build_parser()
    one = build_parser("fuse")
    sub = lambda p: next(a for a in p._actions if a.dest == "command").choices  # noqa: E731
    assert list(sub(full)) == list(SUBCOMMAND_MODULES)
    assert list(sub(one)) == ["fuse"]
    args = one.parse_args(["fuse", "a.png", "b.png", "-o", "f.png"])
    assert args.inputs == ["a.png", "b.png"] and callable(args.func)
