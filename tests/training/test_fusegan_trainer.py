"""The FuseGAN trainer: config loading, a few-step run on tiny data, weights out, the CLI's kind table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from _helpers import ROOT, ArraySource  # tests/training is on sys.path (conftest)
from mfif.errors import MfifError
from mfif.training.fusegan_trainer import FuseGANTrainConfig, load_fusegan_config, train_fusegan

SHIPPED = ROOT / "src" / "mfif" / "configs" / "fusegan.yaml"
TINY = ["width=4", "n_enc=1", "n_dec=1", "d_width=4", "crop=32", "batch_size=2", "val_crop=32", "val_count=2",
        "val_batch=2", "val_every=2", "log_every=1", "max_minutes=null"]


def _cfg(*extra: str) -> FuseGANTrainConfig:
    return load_fusegan_config(yaml.safe_load(SHIPPED.read_text()), [*TINY, *extra], where=str(SHIPPED))


def test_shipped_config_is_the_documented_recipe() -> None:
    cfg = load_fusegan_config(yaml.safe_load(SHIPPED.read_text()), where=str(SHIPPED))
    assert cfg.kind == "fusegan" and cfg.export_name == "fusegan"
    assert cfg.threads == 1 and cfg.max_minutes is not None and cfg.max_minutes <= 45
    assert cfg.synthesis == "conventional" and cfg.disk_p == 1.0  # the paper's separated fg/bg, disk PSF
    assert isinstance(cfg.lr_g, float) and cfg.content_weight > cfg.adv_weight > 0


@pytest.mark.parametrize(("overrides", "match"), [
    (["nope=1"], "unknown config key"),
    (["width"], "expected key=value"),
    (["lr_g=fast"], "lr_g: expected a number"),
    (["synthesis=gaussian"], "synthesis"),
    (["sigma=[2, 1]"], "sigma"),
    (["swap_p=2"], "swap_p"),
    (["crop=8"], "crop"),
])
def test_config_errors_name_the_key(overrides: list[str], match: str) -> None:
    with pytest.raises(MfifError, match=match):
        load_fusegan_config({"kind": "fusegan"}, overrides)
    with pytest.raises(MfifError, match="unknown key"):
        load_fusegan_config({"kind": "fusegan", "bogus": 1}, where="x.yaml")


def test_short_run_writes_weights_log_and_restores_threads(tmp_path: Path) -> None:
    from mfif.models.fusegan import load_fusegan

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        summary = train_fusegan(_cfg("steps=3", "threads=1"), tmp_path / "run", source=ArraySource(), progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    json.dumps(summary)
    assert summary["steps"] == 3 and summary["best_step"] in (2, 3) and summary["parameters"] > 0
    run = tmp_path / "run"
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(float(r["content"]) > 0 for r in rows) and rows[1]["val_psnr"] != "nan"
    for sub in ("best", "last"):
        m = load_fusegan(run / sub / "fusegan.safetensors")
        assert m.config.width == 4
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    with pytest.raises(MfifError, match="already holds a run"):
        train_fusegan(_cfg("steps=1"), run, source=ArraySource(), progress=False)


def test_runs_are_seeded(tmp_path: Path) -> None:
    from mfif.models.weights import read_state

    states = []
    for k, seed in enumerate((0, 0, 1)):
        train_fusegan(_cfg("steps=2", f"seed={seed}"), tmp_path / f"r{k}", source=ArraySource(), progress=False)
        states.append(read_state(tmp_path / f"r{k}" / "last" / "fusegan.safetensors")[0])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_missing_pack_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(MfifError, match="not a data pack"):
        train_fusegan(_cfg("steps=1", f"pack={tmp_path / 'nopack'}"), tmp_path / "run", progress=False)


def test_cli_train_dispatches_the_fusegan_kind(tiny_pack: Path, tmp_path: Path, capsys) -> None:
    from mfif.cli.main import main

    cfg = tmp_path / "fg.yaml"
    cfg.write_text(SHIPPED.read_text())
    args = ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--steps", "2",
            "--set", f"pack={tiny_pack}", *[a for t in TINY for a in ("--set", t)]]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{\n"):])["steps"] == 2
    assert (tmp_path / "run" / "best" / "fusegan.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2
