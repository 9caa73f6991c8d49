"""scripts/bench_candidates.py: a candidate is the lite method with given weights and default options."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import mfif
from mfif import registry
from mfif.models.weights import installed_weights

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_candidates.py"


@pytest.fixture
def bench_candidates(monkeypatch):
    """The script as a module; candidates it registers are dropped from the registry afterwards."""
    registry.list_methods()  # load every method module first, so only the candidates are new
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    spec = importlib.util.spec_from_file_location("bench_candidates", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not installed_weights("mfif-gan-lite"), reason="mfif-gan-lite weights not installed")
def test_candidate_with_options_fuses_as_the_lite_method_with_them(bench_candidates) -> None:
    bench_candidates.register("cand-ms", "", {"scales": [1.0, 0.7]})
    rng = np.random.default_rng(0)
    a = rng.random((24, 32, 3), dtype=np.float32)
    b = np.ascontiguousarray(a[:, ::-1])
    got = mfif.fuse([a, b], method="cand-ms", device="cpu")
    want = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", scales=(1.0, 0.7))
    plain = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu")
    assert np.array_equal(got.focus_map, want.focus_map) and np.array_equal(got.fused, want.fused)
    assert not np.array_equal(got.focus_map, plain.focus_map)
    # an option given to the call overrides the candidate's default
    again = mfif.fuse([a, b], method="cand-ms", device="cpu", scales=1.0)
    assert np.array_equal(again.focus_map, plain.focus_map)


def test_bad_candidate_options_are_one_error(bench_candidates) -> None:
    with pytest.raises(SystemExit, match="--candidate-options x: .*--scales"):
        bench_candidates.register("x", "", {"scales": 0})
    with pytest.raises(SystemExit, match="does not take foo"):
        bench_candidates.register("x", "", {"foo": 1})
    with pytest.raises(SystemExit, match="no such weights"):
        bench_candidates.register("x", "no/such/file.safetensors")
    with pytest.raises(SystemExit) as e:
        bench_candidates.main(["--candidate-options", "y={}", "--candidate", "x=", "--", "--help"])
    assert e.value.code == 2
