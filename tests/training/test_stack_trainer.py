"""The stack-model trainer (mfif.training.stack_trainer) and `mfif train --config stack`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.training.stack_trainer import StackTrainConfig, load_stack_config, train_stack


def _scenes(d: Path) -> Path:
    import cv2

    rng = np.random.default_rng(0)
    d.mkdir()
    for i in range(3):
        cv2.imwrite(str(d / f"s{i}.png"), (rng.random((64, 64)) * 255).astype(np.uint8))
    return d


def _cfg(scenes: Path, **kw) -> StackTrainConfig:  # noqa: ANN003
    base = dict(width=2, n_blocks=1, scenes=str(scenes), init_from=None, n_frames=[2, 3], crop=32, batch_size=2,
                steps=4, val_every=2, val_count=2, val_size=32, val_n=3, log_every=1, threads=1)
    return StackTrainConfig(**{**base, **kw}).validate()


def test_a_tiny_run_exports_weights_that_fuse(tmp_path: Path) -> None:
    from mfif.fusion.stack_native import fuse_stack_native, load_stack_net
    from mfif.data.stacks import focal_stack

    import torch

    out = tmp_path / "run"
    before = torch.get_num_threads()  # 2 on the 2-core CI machine
    summary = train_stack(_cfg(_scenes(tmp_path / "scenes")), out, progress=False)  # threads=1 inside
    assert torch.get_num_threads() == before  # the run's thread setting does not outlive it
    assert summary["steps"] == 4
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 5
    w = out / "best" / "mfif-stack.safetensors"
    model = load_stack_net(str(w))
    st = focal_stack(3, size=(32, 32), seed=1)
    res = fuse_stack_native(model, st.frames, device="cpu")
    assert res.fused.shape == st.truth.shape and res.depth_map.max() <= 2
    with pytest.raises(MfifError, match="already holds a run"):
        train_stack(_cfg(tmp_path / "scenes"), out, progress=False)


def test_config_checks() -> None:
    with pytest.raises(MfifError, match="unknown key"):
        load_stack_config({"kind": "stack", "nope": 1})
    with pytest.raises(MfifError, match="n_frames"):
        load_stack_config({"kind": "stack"}, ["n_frames=[1, 3]"])
    with pytest.raises(MfifError, match="crop"):
        load_stack_config({"kind": "stack"}, ["crop=30"])
    assert load_stack_config({"kind": "stack"}, ["steps=7"]).steps == 7
    assert load_stack_config({"kind": "stack"}, ["lr=3e-4"]).lr == 3e-4  # YAML 1.1 reads this as a string
    with pytest.raises(MfifError, match="lr: expected a number"):
        load_stack_config({"kind": "stack"}, ["lr=fast"])


def test_cli_dispatches_a_stack_config(tmp_path: Path) -> None:
    import subprocess
    import sys

    scenes = _scenes(tmp_path / "scenes")
    cfg = tmp_path / "s.yaml"
    cfg.write_text("kind: stack\nwidth: 2\nn_blocks: 1\ninit_from: null\nn_frames: [2, 2]\ncrop: 32\nbatch_size: 1\n"
                   "val_every: 1\nval_count: 1\nval_size: 32\nval_n: 2\nthreads: 1\n")
    r = subprocess.run([sys.executable, "-m", "mfif", "train", "--config", str(cfg), "--out", str(tmp_path / "r"),
                        "--steps", "2", "--set", f"scenes={scenes}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout[r.stdout.index("{"):])["steps"] == 2
    r = subprocess.run([sys.executable, "-m", "mfif", "train", "--config", str(cfg), "--out", str(tmp_path / "r2"),
                        "--set", "bogus=1"], capture_output=True, text=True)
    assert r.returncode == 2 and "bogus" in r.stderr and "Traceback" not in r.stderr


def test_the_shipped_stack_config_loads() -> None:
    from mfif.training.config import _parse_yaml_text, resolve_config_path

    p = resolve_config_path("stack")
    cfg = load_stack_config(_parse_yaml_text(p.read_text(), str(p)), where=str(p))
    assert cfg.kind == "stack" and cfg.export_name == "mfif-stack" and cfg.init_from == "mfif-gan-lite"
