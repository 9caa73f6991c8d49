"""The stack-model trainer (mfif.training.stack_trainer) and `mfif train --config stack`."""

from __future__ import annotations

import copy
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


def test_a_depth_head_run_keeps_the_fusion_path_bit_exact(tmp_path: Path) -> None:
    import torch

    from mfif.fusion.stack_native import load_stack_net
    from mfif.models.stack_net import StackNet, StackNetConfig
    from mfif.training.stack_trainer import save_stack_net

    torch.manual_seed(2)
    start = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, which training mode would move
        for mod in start.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    init = save_stack_net(start, tmp_path / "start.safetensors")
    scenes = _scenes(tmp_path / "scenes")
    out = tmp_path / "run"
    summary = train_stack(_cfg(scenes, init_from=str(init), depth_head=True, freeze_fusion=True,
                               select_by="depth_acc", lr=1e-2), out, progress=False)
    assert "depth head from its decoder" in summary["init"]
    assert (out / "log.csv").read_text().splitlines()[0].split(",")[6] == "depth_ce"
    before = load_stack_net(str(init)).state_dict()
    for which in ("best", "last"):
        after = load_stack_net(str(out / which / "mfif-stack.safetensors")).state_dict()
        for k, v in before.items():
            assert torch.equal(after[k], v), k  # branch, fusion decoder and their BN statistics
        moved = [k for k in after if k.startswith("depth_decoder.") and k.endswith("weight")
                 and not torch.equal(after[k], after[k.replace("depth_decoder.", "decoder.")])]
        assert which == "best" or moved  # the last EMA has learnt something


def test_a_frozen_branch_run_keeps_the_branch_and_trains_the_decoder(tmp_path: Path) -> None:
    import torch

    from mfif.fusion.stack_native import load_stack_net
    from mfif.models.stack_net import StackNet, StackNetConfig
    from mfif.training.stack_trainer import save_stack_net

    torch.manual_seed(3)
    start = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    init = save_stack_net(start, tmp_path / "start.safetensors")
    out = tmp_path / "run"
    train_stack(_cfg(_scenes(tmp_path / "scenes"), init_from=str(init), freeze_branch=True, halo_weight=5.0,
                     lr=1e-2), out, progress=False)
    before = load_stack_net(str(init)).state_dict()
    after = load_stack_net(str(out / "last" / "mfif-stack.safetensors")).state_dict()
    for k, v in before.items():
        if k.startswith("branch."):
            assert torch.equal(after[k], v), k  # weights and BatchNorm statistics
    assert any(not torch.equal(after[k], before[k]) for k in before if k.startswith("decoder."))
    assert "halo" in (out / "log.csv").read_text().splitlines()[0]


def test_merge_depth_head_takes_the_fusion_path_of_one_and_the_depth_head_of_the_other(tmp_path: Path) -> None:
    import torch

    from mfif.fusion.stack_native import load_stack_net
    from mfif.models.stack_net import StackNet, StackNetConfig
    from mfif.training.stack_trainer import merge_depth_head, save_stack_net

    torch.manual_seed(4)
    base = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    fusion = copy.deepcopy(base)
    depth = StackNet(StackNetConfig(width=2, n_blocks=1, depth_head=True)).eval()
    depth.branch.load_state_dict(base.branch.state_dict())
    with torch.no_grad():
        for p in list(fusion.decoder.parameters()) + list(depth.parameters()):
            p.add_(0.05)
    depth.branch.load_state_dict(base.branch.state_dict())  # the same branch, other decoders
    fp = save_stack_net(fusion, tmp_path / "f.safetensors")
    dp = save_stack_net(depth, tmp_path / "d.safetensors")
    out = merge_depth_head(fp, dp, tmp_path / "m.safetensors")
    m, f, d = (load_stack_net(str(p)) for p in (out, fp, dp))
    assert m.config.depth_head
    for k, v in m.state_dict().items():
        src = d if k.startswith("depth_decoder.") else f
        assert torch.equal(v, src.state_dict()[k]), k
    with torch.no_grad():
        x = torch.rand(3, 1, 16, 16)
        assert torch.equal(m(x)[:, :1], f(x)) and torch.equal(m(x)[:, 1:], d(x)[:, 1:])
    with torch.no_grad():
        next(depth.branch.parameters()).add_(0.5)
    other = save_stack_net(depth, tmp_path / "d2.safetensors")
    with pytest.raises(MfifError, match="branches differ"):
        merge_depth_head(fp, other, tmp_path / "m2.safetensors")
    with pytest.raises(MfifError, match="no depth head"):
        merge_depth_head(fp, fp, tmp_path / "m3.safetensors")
    assert not (tmp_path / "m2.safetensors").exists() and not (tmp_path / "m3.safetensors").exists()


def test_depth_head_config_checks() -> None:
    with pytest.raises(MfifError, match="freeze_fusion: needs depth_head"):
        load_stack_config({"kind": "stack"}, ["freeze_fusion=true"])
    with pytest.raises(MfifError, match="select_by"):
        load_stack_config({"kind": "stack"}, ["select_by=loss"])
    cfg = load_stack_config({"kind": "stack"}, ["depth_head=true", "select_by=depth_acc"])
    assert cfg.net_config().depth_head


def test_the_shipped_depth_head_config_is_the_stack_config_plus_the_head() -> None:
    import yaml

    from mfif.training.config import resolve_config_path

    def load(name: str) -> StackTrainConfig:
        return load_stack_config(yaml.safe_load(resolve_config_path(name).read_text()))

    base, depth = load("stack").to_dict(), load("stack-depth").to_dict()
    changed = {k for k in base if base[k] != depth[k]}
    # the head and its objective, the start (the shipped stack weights), a fixed step budget and the deeper stacks of the later
    # segments (docs/model-card.md §mfif-stack)
    assert changed == {"name", "init_from", "depth_head", "freeze_fusion", "select_by", "n_frames", "crop", "lr", "steps",
                       "val_n"}
    assert depth["init_from"] == "mfif-stack" and depth["freeze_fusion"] and depth["depth_head"]


def test_the_halo_term_measures_low_pass_error_next_to_depth_edges() -> None:
    import torch

    from mfif.training.stack_trainer import _halo_loss

    truth = torch.rand(2, 40, 48, generator=torch.Generator().manual_seed(0))
    edges = torch.zeros(2, 40, 48, dtype=torch.bool)
    edges[:, :, 24] = True
    assert float(_halo_loss(truth[:, None], truth, edges, 10)) == 0.0
    offset = truth[:, None] + 0.01  # a uniform overshoot is all low-pass: the term is its size
    assert abs(float(_halo_loss(offset, truth, edges, 10)) - 0.01) < 1e-6
    far = truth[:, None].clone()
    far[..., :, :8] += 0.5  # an error more than 10 px (plus the blur) from the edge does not count
    assert float(_halo_loss(far, truth, edges, 10)) < 1e-6
    assert float(_halo_loss(offset, truth, torch.zeros_like(edges), 10)) == 0.0
    # zero-mean high-frequency noise mostly averages out
    noise = truth[:, None] + 0.05 * torch.sign(torch.randn(2, 1, 40, 48, generator=torch.Generator().manual_seed(1)))
    assert float(_halo_loss(noise, truth, edges, 10)) < 0.01


def test_the_window_depth_loss_is_the_bench_criterion() -> None:
    """``depth_loss: window`` = −log of the softmax mass within ±1 frame of rint(z): zero when all the mass is
    there (however it is split), large when it is elsewhere; ``gauss`` penalises a split inside the window."""
    import math

    import torch

    from mfif.training.stack_trainer import _depth_ce

    n = 6
    z = torch.tensor([[[2.4, 0.0]]])  # two pixels: true index 2 and 0
    big = 30.0
    logits = torch.full((1, n, 1, 2), -big)
    logits[0, 1, 0, 0] = logits[0, 3, 0, 0] = big  # pixel 1: the mass on frames 1 and 3 (both within ±1 of 2)
    logits[0, 1, 0, 1] = big  # pixel 2: all on frame 1 (within ±1 of 0)
    win = _depth_ce(logits, z, load_stack_config({"kind": "stack"}, ["depth_loss=window"]))
    assert win.shape == (1, 1, 1, 2) and float(win.max()) < 1e-6
    gauss = _depth_ce(logits, z, load_stack_config({"kind": "stack"}))
    assert float(gauss[0, 0, 0, 0]) > 1.0
    far = torch.full((1, n, 1, 2), -big)
    far[0, 5] = big  # everything on frame 5: outside both windows
    assert float(_depth_ce(far, z, load_stack_config({"kind": "stack"}, ["depth_loss=window"])).min()) > big
    uniform = _depth_ce(torch.zeros(1, n, 1, 2), z, load_stack_config({"kind": "stack"}, ["depth_loss=window"]))
    torch.testing.assert_close(uniform[0, 0, 0], torch.tensor([-math.log(3 / 6), -math.log(2 / 6)]))
    with pytest.raises(MfifError, match="depth_loss"):
        load_stack_config({"kind": "stack"}, ["depth_loss=l2"])
