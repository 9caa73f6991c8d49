"""The MMF-Net trainer (src/mfif/training/mmf_net_trainer.py): config, targets, loss, a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mfif.errors import MfifError
from mfif.training.mmf_net_trainer import (
    MMFTrainConfig,
    guidance_target,
    load_mmf_net_config,
    mmf_loss,
    train_mmf_net,
)

TINY = ["width_a=4", "blocks_a=1", "width_b=4", "blocks_b=2", "crop=24", "batch_size=2", "batch_stage1=2",
        "val_count=2", "val_size=24", "val_every=1", "log_every=1", "max_minutes=null"]


def _shipped() -> dict:
    from mfif.training.config import _parse_yaml_text, resolve_config_path

    p = resolve_config_path("mmf-net")
    return _parse_yaml_text(p.read_text(), str(p))


def test_shipped_config_is_the_papers_net_on_one_thread() -> None:
    cfg = load_mmf_net_config(_shipped(), where="mmf-net.yaml")
    assert cfg.kind == "mmf-net" and cfg.export_name == "mmf-net"
    assert (cfg.width_a, cfg.blocks_a, cfg.width_b, cfg.blocks_b) == (64, 4, 128, 16)
    assert cfg.threads == 1 and cfg.max_minutes is not None and cfg.max_minutes <= 45
    assert cfg.map_weight == pytest.approx(0.2)  # the authors' map-loss weight


def test_cli_dispatches_the_kind() -> None:
    from mfif.cli.train import KINDS

    module, loader, trainer = KINDS["mmf-net"]
    import importlib

    mod = importlib.import_module(module)
    assert getattr(mod, loader) is load_mmf_net_config and getattr(mod, trainer) is train_mmf_net


def test_overrides_and_numbers_as_strings() -> None:
    cfg = load_mmf_net_config({"kind": "mmf-net", "lr": "5e-4"}, ["crop=32", "sigma=[1, 2]"])
    assert cfg.lr == pytest.approx(5e-4) and isinstance(cfg.lr, float)
    assert cfg.crop == 32 and cfg.sigma == [1, 2]


@pytest.mark.parametrize(
    "d, overrides, match",
    [
        ({"kind": "mmf-net", "bogus": 1}, [], "bogus"),
        ({"kind": "mmf-net"}, ["nope=1"], "nope"),
        ({"kind": "mmf-net"}, ["crop"], "key=value"),
        ({"kind": "stack"}, [], "kind"),
        ({"kind": "mmf-net", "lr": "fast"}, [], "lr"),
        ({"kind": "mmf-net"}, ["sigma=[2, 1]"], "sigma"),
        ({"kind": "mmf-net"}, ["stage1_fraction=1"], "stage1_fraction"),
        ({"kind": "mmf-net"}, ["width_b=0"], "width_b"),
        ({"kind": "mmf-net"}, ["crop=0"], "crop"),
    ],
)
def test_bad_config_is_one_error(d: dict, overrides: list, match: str) -> None:
    with pytest.raises(MfifError, match=match):
        load_mmf_net_config(d, overrides)


def test_guidance_target_marks_the_band_outside_the_mask() -> None:
    m = torch.zeros(2, 1, 16, 30)
    m[..., :15] = 1
    t = guidance_target(m, torch.tensor([1.0, 2.0]), 0.05)
    assert torch.equal(t[..., :15], m[..., :15])  # inside the mask A is sharp: 1
    band = (t == 0.5)[:, 0].any(dim=1)  # columns holding band pixels
    assert band[0, 15] and not band[0, 14] and not band[0, 29]
    assert band[1].sum() > band[0].sum()  # a wider blur spreads further
    assert set(torch.unique(t).tolist()) == {0.0, 0.5, 1.0}


def test_loss_zero_at_truth_and_weighs_the_band() -> None:
    g_star = torch.zeros(1, 1, 8, 8)
    g_star[..., :4] = 1
    g_star[..., 4] = 0.5
    truth = torch.rand(1, 3, 8, 8)
    loss, parts = mmf_loss(g_star.clone(), truth.clone(), g_star, truth, 0.2)
    assert float(loss) == 0.0 and parts["epe_map"] == 0.0
    off_band, in_band = truth.clone(), truth.clone()
    off_band[..., 0, 7] += 0.1
    in_band[..., 0, 4] += 0.1
    l_off, p_off = mmf_loss(g_star, off_band, g_star, truth, 0.2)
    l_in, p_in = mmf_loss(g_star, in_band, g_star, truth, 0.2)
    assert p_off["epe_img"] == pytest.approx(p_in["epe_img"])
    assert p_in["epe_boundary"] == pytest.approx(5 * p_off["epe_boundary"], rel=1e-5)


def _cfg(pack: Path, *extra: str) -> MMFTrainConfig:
    return load_mmf_net_config({"kind": "mmf-net", "pack": str(pack)}, [*TINY, *extra])


def test_tiny_run_writes_weights_and_restores_threads(tiny_pack: Path, tmp_path: Path) -> None:
    from mfif.models.mmf_net import load_mmf_net

    before = torch.get_num_threads()
    out = tmp_path / "run"
    s = train_mmf_net(_cfg(tiny_pack, "steps=3", "stage1_fraction=0.34"), out, progress=False)
    assert torch.get_num_threads() == before
    assert (s["steps"], s["stage1_steps"], s["stage2_steps"]) == (3, 2, 1)
    assert json.loads((out / "summary.json").read_text())["steps"] == 3
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,stage") and len(rows) == 4
    for sub in ("best", "last"):
        m = load_mmf_net(out / sub / "mmf-net.safetensors")
        assert (m.config.width_a, m.config.blocks_b) == (4, 2)
    assert np.isfinite(s["final"]["psnr"]) and 0 <= s["final"]["map_acc"] <= 1
    with pytest.raises(MfifError, match="already holds a run"):
        train_mmf_net(_cfg(tiny_pack, "steps=1"), out, progress=False)


def test_stage_one_trains_only_the_initial_fusion_subnet(tiny_pack: Path, tmp_path: Path) -> None:
    from mfif.models.mmf_net import load_mmf_net

    out = tmp_path / "s1"
    s = train_mmf_net(_cfg(tiny_pack, "steps=2", "stage1_fraction=0.9"), out, progress=False)
    assert s["stage2_steps"] == 0
    m = load_mmf_net(out / "last" / "mmf-net.safetensors")
    assert float(m.b_out.weight.detach().abs().max()) == 0.0  # zero-initialised, untouched in stage 1
    torch.manual_seed(0)
    from mfif.models.mmf_net import MMFNet

    fresh = MMFNet(m.config)
    assert not torch.allclose(fresh.a_out.weight, m.a_out.weight, atol=0)  # the map sub-net moved


def test_run_is_seeded(tiny_pack: Path, tmp_path: Path) -> None:
    from mfif.models.mmf_net import load_mmf_net

    a = train_mmf_net(_cfg(tiny_pack, "steps=2", "stage1_fraction=0.5"), tmp_path / "a", progress=False)
    b = train_mmf_net(_cfg(tiny_pack, "steps=2", "stage1_fraction=0.5"), tmp_path / "b", progress=False)
    assert a["final"] == b["final"]
    wa = load_mmf_net(tmp_path / "a" / "last" / "mmf-net.safetensors").state_dict()
    wb = load_mmf_net(tmp_path / "b" / "last" / "mmf-net.safetensors").state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_missing_pack_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(MfifError, match="no such folder"):
        train_mmf_net(_cfg(tmp_path / "nopack", "steps=1"), tmp_path / "run", progress=False)


def test_init_from_and_warmup(tiny_pack: Path, tmp_path: Path) -> None:
    from mfif.models.mmf_net import load_mmf_net

    first = tmp_path / "first"
    train_mmf_net(_cfg(tiny_pack, "steps=2", "stage1_fraction=0.9"), first, progress=False)
    w = first / "last" / "mmf-net.safetensors"
    out = tmp_path / "second"
    s = train_mmf_net(_cfg(tiny_pack, "steps=1", "stage1_fraction=0", "warmup_steps=1000", f"init_from={w}"), out,
                      progress=False)
    assert s["stage1_steps"] == 0 and s["stage2_steps"] == 1
    a = load_mmf_net(w).state_dict()
    b = load_mmf_net(out / "last" / "mmf-net.safetensors").state_dict()
    # one step at lr / 1000: every tensor stays within about 2e-7 (Adam's first step is lr-sized) of the start
    assert all(float((a[k] - b[k]).abs().max()) < 1e-4 for k in a)
    assert any(not torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(MfifError, match="warmup_steps"):
        _cfg(tiny_pack, "warmup_steps=-1")
    with pytest.raises(MfifError, match="differs"):
        train_mmf_net(_cfg(tiny_pack, "steps=1", "width_a=6", f"init_from={w}"), tmp_path / "third", progress=False)
