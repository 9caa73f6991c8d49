"""The ``cnn`` trainer: config loading, the paper's patch pairs, a 3-step run on a tiny pack (tiny widths)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mfif.errors import MfifError
from mfif.training.cnn_liu_trainer import (
    CnnTrainConfig,
    PatchSource,
    load_cnn_config,
    train_cnn,
)

TINY = ["c1=4", "c2=4", "c3=4", "fc=4", "batch_size=8", "val_pairs=16", "val_every=2", "log_every=1", "warmup=1"]


def test_config_loading_and_checks() -> None:
    from mfif.training.config import _parse_yaml_text, resolve_config_path

    p = resolve_config_path("cnn")
    cfg = load_cnn_config(_parse_yaml_text(p.read_text(), str(p)), where=str(p))
    assert (cfg.kind, cfg.export_name, cfg.c1, cfg.c2, cfg.c3, cfg.fc) == ("cnn", "cnn", 64, 128, 256, 256)
    assert (cfg.momentum, cfg.weight_decay, cfg.blur_levels, cfg.blur_sigma, cfg.blur_size) == (0.9, 5e-4, 5, 2.0, 7)
    assert cfg.threads == 1 and cfg.max_minutes is not None and cfg.max_minutes <= 45
    assert load_cnn_config({"kind": "cnn"}, ["weight_decay=5e-4"]).weight_decay == 5e-4  # YAML 1.1: a string
    with pytest.raises(MfifError, match="unknown config key"):
        load_cnn_config({"kind": "cnn"}, ["bogus=1"])
    with pytest.raises(MfifError, match=r"where.yaml: unknown key\(s\) extra"):
        load_cnn_config({"kind": "cnn", "extra": 1}, where="where.yaml")
    with pytest.raises(MfifError, match="lr: expected a number"):
        load_cnn_config({"kind": "cnn"}, ["lr=fast"])
    with pytest.raises(MfifError, match="blur_size"):
        load_cnn_config({"kind": "cnn"}, ["blur_size=6"])
    with pytest.raises(MfifError, match="kind"):
        load_cnn_config({"kind": "stack"})


def test_patch_pairs_are_sharp_and_blurred_in_both_orders(tiny_pack: Path) -> None:
    cfg = CnnTrainConfig(pack=str(tiny_pack))
    src = PatchSource(tiny_pack, "train", max_images=0, cfg=cfg)
    assert len(src) == 4
    a, b, y = src.pairs(64, np.random.default_rng(0))
    assert a.shape == b.shape == (64, 1, 16, 16) and a.dtype == np.float32 and y.dtype == np.int64
    assert 20 <= y.sum() <= 44  # both orders, half each
    grad = lambda x: np.abs(np.diff(x, axis=-1)).mean(axis=(1, 2, 3))
    sharper_first = grad(a) > grad(b)
    np.testing.assert_array_equal(sharper_first, y == 1)  # label 1 = the first is the sharp one
    a2, _, y2 = src.pairs(64, np.random.default_rng(0))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(y, y2)  # seeded


def test_a_three_step_run_exports_weights_that_fuse(tiny_pack: Path, tmp_path: Path) -> None:
    from mfif.baselines.cnn_liu import cnn_fuse
    from mfif.models.cnn_liu import load_cnn_liu

    threads = torch.get_num_threads()
    cfg = load_cnn_config({"kind": "cnn"}, [*TINY, f"pack={tiny_pack}", "steps=3", "threads=1"])
    summary = train_cnn(cfg, tmp_path / "run", progress=False)
    assert torch.get_num_threads() == threads  # restored
    json.dumps(summary)
    assert summary["steps"] == 3 and summary["train_images"] == 4 and summary["val_images"] == 2
    assert 0.0 <= summary["best"]["acc"] <= 1.0 and summary["best_step"] in (2, 3)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,minutes,lr,loss") and len(rows) == 4
    best = tmp_path / "run" / "best" / "cnn.safetensors"
    assert best.is_file() and (tmp_path / "run" / "last" / "cnn.safetensors").is_file()
    model = load_cnn_liu(best)
    assert model.config.c1 == 4 and model.config.folded  # exported as shipped: the linear head folded
    r = np.random.default_rng(0)
    a, b = r.random((2, 32, 40)).astype(np.float32)
    res = cnn_fuse([a, b], weights=str(best), device="cpu")
    assert res.fused.shape == (32, 40)
    with pytest.raises(MfifError, match="already holds a run"):
        train_cnn(cfg, tmp_path / "run", progress=False)


def test_no_pack_is_one_error(tmp_path: Path) -> None:
    cfg = load_cnn_config({"kind": "cnn"}, [*TINY, f"pack={tmp_path / 'none'}", "steps=1"])
    with pytest.raises(MfifError, match="not a pack"):
        train_cnn(cfg, tmp_path / "run", progress=False)


def test_cli_dispatches_a_cnn_config(tiny_pack: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kind: cnn\n" + "".join(f"{s.replace('=', ': ')}\n" for s in TINY))
    r = subprocess.run([sys.executable, "-m", "mfif", "train", "--config", str(cfg), "--out", str(tmp_path / "r"),
                        "--steps", "2", "--set", f"pack={tiny_pack}"], check=False, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout[r.stdout.index("{"):])["steps"] == 2
    r = subprocess.run([sys.executable, "-m", "mfif", "train", "--config", str(cfg), "--out", str(tmp_path / "r2"),
                        "--set", "bogus=1"], check=False, capture_output=True, text=True)
    assert r.returncode == 2 and "bogus" in r.stderr and "Traceback" not in r.stderr
