"""Trainer: iterations, resume bit-for-bit, gradient penalty, ablation switches, bad input."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfif.errors import MfifError
from mfif.training.checkpoint import load_checkpoint
from mfif.training.losses import gradient_penalty
from mfif.training.trainer import BatchPlan, Trainer

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _helpers import ArraySource  # noqa: E402



def _batch(tr: Trainer, step: int = 0) -> dict:
    items = [tr.train_set[i] for i in tr.plan.items(step)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- basic runs


def test_two_iterations_losses_finite(tiny_cfg, source, tmp_path):
    tr = Trainer(tiny_cfg("n_critic=1"), tmp_path / "run", source=source, log=lambda s: None)
    for s in range(2):
        out = tr.iteration(_batch(tr, s))
        assert set(out) == {"loss_d", "gp", "loss_g", "adv_g", "rec"}
        assert all(math.isfinite(v) for v in out.values())
    assert tr.step == 2 and tr.g_updates == 2


def test_train_writes_log_checkpoint_and_fp16_export(tiny_cfg, source, tmp_path):
    from mfif.models.weights import load_generator, read_state

    run = tmp_path / "run"
    summary = Trainer(tiny_cfg(), run, source=source, log=lambda s: None).train()
    assert summary["step"] == 4 and summary["g_updates"] == 2  # n_critic = 2 in tiny.yaml
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,g_updates") and len(rows) == 1 + 4  # log_every = 1
    for key in ("iou", "map_l1", "psnr", "psnr_band"):
        assert math.isfinite(summary["val"][key])
    # the true-mask reference must beat a random-init network's pick
    assert summary["val"]["ref_psnr"] > summary["val"]["psnr"]
    assert (run / "checkpoints" / "last" / "config.yaml").is_file()
    state, meta = read_state(run / "best")
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    g = load_generator(run / "final")
    tr2 = Trainer(tiny_cfg(), tmp_path / "other", source=source, resume=run, log=lambda s: None)
    for k, v in g.state_dict().items():  # export = EMA weights rounded to fp16
        ref = tr2.G_ema.state_dict()[k]
        if v.is_floating_point():
            torch.testing.assert_close(v, ref.half().float(), rtol=0, atol=0)


def test_resume_is_bit_for_bit(tiny_cfg, source, tmp_path):
    cfg = tiny_cfg("n_critic=2", "val_every=100")
    full = Trainer(cfg, tmp_path / "a", source=source, log=lambda s: None)
    full.train()
    part = Trainer(cfg, tmp_path / "b", source=source, log=lambda s: None)
    part.train(until=2)
    assert part.step == 2
    resumed = Trainer(cfg, tmp_path / "b", source=source, resume=tmp_path / "b", log=lambda s: None)
    assert resumed.step == 2 and resumed.g_updates == 1
    resumed.train()
    ta, ma = full.state()
    tb, mb = resumed.state()
    assert set(ta) == set(tb)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert ma["optimizers"] == mb["optimizers"] and ma["step"] == mb["step"] == 4
    # and a resumed run differs from a fresh one started at the same config (the test can fail)
    fresh = Trainer(cfg, tmp_path / "c", source=source, log=lambda s: None)
    fresh.train(until=2)
    assert not torch.equal(fresh.state()[0]["G.decoder.net.6.weight"], tb["G.decoder.net.6.weight"])


# ----------------------------------------------------------------------------- gradient penalty


def test_gradient_penalty_matches_finite_differences():
    from mfif.models.critic import Critic

    torch.manual_seed(0)
    critic = Critic(width=2, paper=False).double()
    n, h, w = 2, 8, 8
    a = torch.rand(n, 3, h, w, dtype=torch.float64)
    b = torch.rand(n, 3, h, w, dtype=torch.float64)
    real = (torch.rand(n, 1, h, w, dtype=torch.float64) > 0.5).double()
    fake = torch.rand(n, 1, h, w, dtype=torch.float64)
    alpha = torch.tensor([0.3, 0.8], dtype=torch.float64)
    gp = gradient_penalty(critic, a, b, real, fake, alpha)
    gp_value = float(gp.detach())
    # independent computation: central differences of sum(D) w.r.t. every map pixel
    x = alpha.view(n, 1, 1, 1) * real + (1 - alpha.view(n, 1, 1, 1)) * fake
    eps = 1e-6
    norms = []
    with torch.no_grad():
        for i in range(n):
            g = torch.zeros(h * w, dtype=torch.float64)
            for j in range(h * w):
                xp, xm = x.clone(), x.clone()
                xp[i].view(-1)[j] += eps
                xm[i].view(-1)[j] -= eps
                g[j] = (critic(a, b, xp).sum() - critic(a, b, xm).sum()) / (2 * eps)
            norms.append(g.norm())
    expected = torch.stack([(v - 1) ** 2 for v in norms]).mean()
    assert abs(gp_value - float(expected)) < 1e-6 * max(1.0, float(expected))
    assert float(expected) > 1e-3  # non-trivial penalty
    # it has a graph to the critic parameters (the penalty trains the critic)
    gp.backward()
    assert critic.net[0].weight.grad is not None and critic.net[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_uses_one_alpha_per_sample():
    torch.manual_seed(1)
    calls = []

    def critic(a, b, m):
        calls.append(m.detach().clone())
        return (m * 3.0).sum(dim=(1, 2, 3), keepdim=True)  # ‖∇‖ = 3·sqrt(H·W) for every sample

    real = torch.ones(3, 1, 4, 4)
    fake = torch.zeros(3, 1, 4, 4)
    gp = gradient_penalty(critic, None, None, real, fake)
    assert abs(float(gp) - (3.0 * 4 - 1) ** 2) < 1e-4
    x = calls[0]
    for i in range(3):  # constant within a sample (one α each), different across samples
        assert torch.all(x[i] == x[i].flatten()[0])
    assert len({round(float(x[i].flatten()[0]), 6) for i in range(3)}) == 3


# ----------------------------------------------------------------------------- ablation switches


def test_switch_no_se(tiny_cfg, source, tmp_path):
    from mfif.models.generator import SELayer

    with_se = Trainer(tiny_cfg(), tmp_path / "a", source=source)
    no_se = Trainer(tiny_cfg("se=false"), tmp_path / "b", source=source)
    assert any(isinstance(m, SELayer) for m in with_se.G.modules())
    assert not any(isinstance(m, SELayer) for m in no_se.G.modules())


def test_switch_gray_two_branch_ignores_chroma(tiny_cfg, source, tmp_path):
    color = Trainer(tiny_cfg(), tmp_path / "a", source=source).G.eval()
    gray = Trainer(tiny_cfg("input_mode=gray"), tmp_path / "b", source=source).G.eval()
    torch.manual_seed(0)
    a, b = torch.rand(1, 3, 16, 16) * 0.5 + 0.25, torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    # a colour change orthogonal to the luma weights keeps the luma (up to rounding)
    lw = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103])
    d = torch.tensor([1.0, 0.0, 0.0]) - lw * (lw[0] / lw.dot(lw))
    a2 = a + 0.2 * d.view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(gray(a, b), gray(a2, b), atol=1e-5)
        assert not torch.allclose(color(a, b), color(a2, b), atol=1e-5)


def test_switch_conventional_data(tiny_cfg, source, tmp_path):
    alpha = Trainer(tiny_cfg(), tmp_path / "a", source=source)
    conv = Trainer(tiny_cfg("synthesis=conventional"), tmp_path / "b", source=source)
    ia, ic = alpha.train_set[0], conv.train_set[0]
    assert torch.equal(ia["a"], ic["a"]) and torch.equal(ia["mask"], ic["mask"])
    # B differs only where the α-matte spreads the blurred foreground (near the boundary)
    diff = (ia["b"] - ic["b"]).abs().amax(0)
    assert diff.max() > 1e-3
    from mfif.metrics.reference import boundary_band

    far = ~torch.from_numpy(boundary_band(ia["mask"][0].numpy(), 3.0))
    assert diff[far].max() < 1e-6


@pytest.mark.parametrize("recon", ["l1", "bce"])
def test_switch_reconstruction(tiny_cfg, source, tmp_path, recon):
    tr = Trainer(tiny_cfg("gan=none", f"recon={recon}"), tmp_path / "r", source=source)
    batch = _batch(tr)
    a, b, mask, _ = tr._prepare(batch)
    with torch.no_grad():
        logits = tr.G(a, b, logits=True)
    if recon == "l1":
        expected = (torch.sigmoid(logits) - mask).abs().mean()
    else:
        p = torch.sigmoid(logits.double())
        expected = -(mask * torch.log(p) + (1 - mask) * torch.log(1 - p)).mean()
    out = tr.iteration(batch)
    assert abs(out["rec"] - float(expected)) < 1e-5
    assert out["adv_g"] == 0.0 and "loss_d" not in out  # gan = none: no critic at all
    assert tr.D is None and tr.opt_d is None and tr.g_updates == 1


@pytest.mark.parametrize("variant", ["wgan-gp", "no-gp", "lsgan"])
def test_switch_critic_loss(tiny_cfg, source, tmp_path, variant):
    sets = {"wgan-gp": [], "no-gp": ["gp_weight=0"], "lsgan": ["gan=lsgan"]}[variant]
    tr = Trainer(tiny_cfg(*sets), tmp_path / "r", source=source)
    batch = _batch(tr)
    a, b, mask, _ = tr._prepare(batch)
    with torch.no_grad():
        fake = tr.G(a, b)
        d_real, d_fake = tr.D(a, b, mask), tr.D(a, b, fake)
    out = tr.critic_step(a, b, mask)
    if variant == "lsgan":
        expected = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
    else:
        expected = -d_real.mean() + d_fake.mean()
    if variant == "wgan-gp":
        assert out["gp"] > 0
        assert abs(out["loss_d"] - (float(expected) + 10.0 * out["gp"])) < 1e-5
    else:
        assert out["gp"] == 0.0
        assert abs(out["loss_d"] - float(expected)) < 1e-6


def test_paper_quirks_and_cleaned_default(tiny_cfg, source, tmp_path):
    paper = Trainer(tiny_cfg("critic_paper=true", "target_range=pm1"), tmp_path / "p", source=source)
    clean = Trainer(tiny_cfg(), tmp_path / "c", source=source)
    has = lambda m, t: any(isinstance(x, t) for x in m.modules())  # noqa: E731
    assert has(paper.D, torch.nn.BatchNorm2d) and has(paper.D, torch.nn.Sigmoid)
    assert not has(clean.D, torch.nn.BatchNorm2d) and not has(clean.D, torch.nn.Sigmoid)
    m = torch.tensor([0.0, 1.0])
    assert paper.target_of(m).tolist() == [-1.0, 1.0] and clean.target_of(m).tolist() == [0.0, 1.0]
    # the full paper path (BN critic + GP double backward, [-1, 1] target, six branch calls) runs
    full = Trainer(tiny_cfg("critic_paper=true", "target_range=pm1", "batched_branches=false", "n_critic=1"),
                   tmp_path / "f", source=source)
    out = full.iteration(_batch(full))
    assert all(math.isfinite(v) for v in out.values()) and out["gp"] > 0
    # L1 against a [-1, 1] target: the background error of a sigmoid map is at least 1
    assert out["rec"] > 0.4


# ----------------------------------------------------------------------------- schedule and data plan


def test_lr_schedule_linear_decay(tiny_cfg, source, tmp_path):
    tr = Trainer(tiny_cfg("steps=100", "decay_start=0.6"), tmp_path / "r", source=source)
    assert tr.lr_factor(0) == 1.0 and tr.lr_factor(60) == 1.0
    assert tr.lr_factor(80) == pytest.approx(0.5) and tr.lr_factor(100) == 0.0
    tr2 = Trainer(tiny_cfg("steps=120000", "decay_start=110000"), tmp_path / "s", source=source)
    assert tr2.lr_factor(110000) == 1.0 and tr2.lr_factor(115000) == pytest.approx(0.5)
    tr3 = Trainer(tiny_cfg("steps=1000", "decay_start=0.5", "max_minutes=10"), tmp_path / "t", source=source)
    assert tr3.lr_factor(10, elapsed_s=450) == pytest.approx(0.5)  # the clock is further along


def test_batch_plan_epochs_and_ranks():
    p = BatchPlan(10, 4, seed=3)
    seen = [i % 10 for s in range(5) for i in p.items(s)]  # 20 samples = 2 epochs
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]
    r0, r1 = BatchPlan(10, 4, 3, rank=0, world=2), BatchPlan(10, 4, 3, rank=1, world=2)
    assert r0.items(2) + r1.items(2) == p.items(2)


# ----------------------------------------------------------------------------- bad input


def test_corrupt_checkpoint_is_clear_error_and_nothing_overwritten(tiny_cfg, source, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_cfg("steps=2"), run, source=source, log=lambda s: None).train()
    (run / "checkpoints" / "last" / "state.safetensors").write_bytes(b"not a safetensors file at all")
    before = _snapshot(run)
    with pytest.raises(MfifError, match="state.safetensors"):
        Trainer(tiny_cfg("steps=4"), run, source=source, resume=run)
    assert _snapshot(run) == before
    (run / "checkpoints" / "last" / "state.json").write_text("{broken")
    before = _snapshot(run)
    with pytest.raises(MfifError, match="state.json"):
        Trainer(tiny_cfg("steps=4"), run, source=source, resume=run)
    assert _snapshot(run) == before


def test_mismatched_checkpoint_is_clear_error(tiny_cfg, source, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_cfg("steps=2"), run, source=source, log=lambda s: None).train()
    before = _snapshot(run)
    with pytest.raises(MfifError, match="width"):
        Trainer(tiny_cfg("width=8"), run, source=source, resume=run)
    # same config keys but tensors that do not fit (checkpoint edited by hand)
    tensors, meta, where = load_checkpoint(run)
    from mfif.training.checkpoint import save_checkpoint

    tensors["G.decoder.net.6.weight"] = torch.zeros(1, 2, 3, 3)
    save_checkpoint(tmp_path / "bad", tensors, {k: v for k, v in meta.items() if k != "format"}, config_yaml="")
    with pytest.raises(MfifError, match="wrong shape"):
        Trainer(tiny_cfg("steps=4"), tmp_path / "new", source=source, resume=tmp_path / "bad")
    assert not (tmp_path / "new").exists()
    with pytest.raises(MfifError, match="already holds a training run"):
        Trainer(tiny_cfg(), run, source=source)
    assert _snapshot(run) == before


def test_bad_pack_and_config(tiny_cfg, tmp_path):
    from mfif.training.config import load_config

    not_a_pack = tmp_path / "nopack"
    not_a_pack.mkdir()
    with pytest.raises(MfifError, match="not a pack"):
        Trainer(tiny_cfg(f"pack={not_a_pack}"), tmp_path / "out")
    with pytest.raises(MfifError, match="no training pack"):
        Trainer(tiny_cfg(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    class NoVal(ArraySource):
        def indices(self, split):
            return [] if split == "val" else super().indices(split)

    with pytest.raises(MfifError, match="no 'val' items"):
        Trainer(tiny_cfg(), tmp_path / "out", source=NoVal())
    assert Trainer(tiny_cfg("val_count=0"), tmp_path / "out", source=NoVal()).val_batches == []
    assert not (tmp_path / "out").exists()
    with pytest.raises(MfifError, match="unknown config key"):
        load_config("tiny", ["widht=3"])
    with pytest.raises(MfifError, match="crop"):
        load_config("tiny", ["crop=30"])
    with pytest.raises(MfifError, match="gan"):
        load_config("tiny", ["gan=hinge"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: [1, 2\n")
    with pytest.raises(MfifError, match="bad.yaml"):
        load_config(bad)


def test_cli_train_and_resume(tiny_pack, tmp_path, capsys):
    from mfif.cli.main import main

    out = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--pack", str(tiny_pack), "--out", str(out), "--steps", "2"]) == 0
    assert (out / "best" / "mfif-gan-tiny.safetensors").is_file()
    assert main(["train", "--config", "tiny", "--pack", str(tiny_pack), "--out", str(out)]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--out", str(out), "--steps", "4"]) == 0
    lines = (out / "log.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ["1", "2", "3", "4"]
    assert main(["train", "--config", "tiny", "--pack", str(tmp_path), "--out", str(tmp_path / "x")]) == 2


def test_shipped_configs_valid():
    from mfif.training.config import PACKAGE_CONFIGS, load_config

    # pair-model configs (configs with a `kind:` train other models and are checked in their trainers' tests)
    names = sorted(p.stem for p in PACKAGE_CONFIGS.glob("*.yaml") if "\nkind: " not in "\n" + p.read_text())
    assert set(names) >= {"paper", "fast", "lite", "tiny", "gpu9min"} and "stack" not in names
    for name in names:
        assert load_config(name) == load_config(PACKAGE_CONFIGS / f"{name}.yaml"), name
    paper = load_config("paper")
    assert (paper.gan, paper.n_critic, paper.gp_weight, paper.recon_weight) == ("wgan-gp", 5, 10.0, 10.0)
    assert (paper.lr_g, paper.lr_d, paper.beta1, paper.beta2) == (1e-4, 1e-4, 0.5, 0.999)
    assert paper.critic_paper and paper.target_range == "pm1"
    assert load_config("lite").gan == "none"
    assert os.path.isdir(PACKAGE_CONFIGS)
    assert np.isfinite(load_config("fast").lr_g)


def test_paper_size_export_is_sharded_fp16(tiny_cfg, source, tmp_path):
    from mfif.models.weights import load_generator

    tr = Trainer(tiny_cfg("width=64", "n_blocks=9", "se_reduction=16", "gan=none", "val_count=0"),
                 tmp_path / "r", source=source)
    files = tr.export(tmp_path / "exp")
    assert len(files) == 2  # 13.7 M parameters × 2 bytes = 26 MiB
    assert all(f.stat().st_size <= 15 * 1024 * 1024 for f in files)
    g = load_generator(tmp_path / "exp")
    assert sum(p.numel() for p in g.parameters()) == 13_700_928  # authors' count (reference doc §1.1)


def test_warmup_steps_train_generator_alone_then_critic(tmp_path, source):
    """During warm-up the critic is untouched and the generator updates every iteration."""
    from mfif.training.config import load_config

    cfg = load_config("tiny", ["device=cpu", "n_critic=5", "val_count=0", "warmup_steps=3"])
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    d0 = {k: v.clone() for k, v in tr.D.state_dict().items()}
    for s in range(3):
        out = tr.iteration(_batch(tr, s))
        assert "loss_d" not in out and out["adv_g"] == 0.0
    assert tr.g_updates == 3
    assert all(torch.equal(d0[k], v) for k, v in tr.D.state_dict().items())
    out = tr.iteration(_batch(tr, 3))
    assert "loss_d" in out
    assert any(not torch.equal(d0[k], v) for k, v in tr.D.state_dict().items())


def test_warmup_minutes_end_the_warmup_before_warmup_steps(tmp_path, source):
    """warmup_minutes ends the L1-only phase by wall time even when warmup_steps is not reached."""
    from mfif.training.config import load_config

    cfg = load_config("tiny",
                      ["device=cpu", "val_count=0", "warmup_steps=1000", "warmup_minutes=0.5"])
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    tr.elapsed = 29.0
    assert tr.in_warmup()
    out = tr.iteration(_batch(tr, 0))
    assert "loss_d" not in out
    tr.elapsed = 30.0  # 0.5 min: the warm-up is over although step 1 < 1000
    assert not tr.in_warmup()
    out = tr.iteration(_batch(tr, 1))
    assert "loss_d" in out
    with pytest.raises(MfifError, match="warmup_minutes"):
        load_config("tiny", ["warmup_minutes=-1"])


def test_boundary_weights_band_and_normalisation():
    from mfif.training.losses import boundary_weights, reconstruction

    t = torch.zeros(1, 1, 20, 20)
    t[..., :10] = 1.0
    w = boundary_weights(t, radius=2, weight=3.0)
    assert torch.allclose(w.mean(), torch.tensor(1.0))
    # columns 8..11 touch the boundary (within 2 px): weight ratio 1 + 3 = 4 against the rest
    ratio = w[0, 0, 5, 9] / w[0, 0, 5, 0]
    assert torch.isclose(ratio, torch.tensor(4.0))
    assert torch.equal(w[0, 0, :, 0], w[0, 0, :, 19])
    # an error only at the boundary costs more with the weights than without
    logits = torch.full_like(t, 10.0) * (2 * t - 1)
    logits[..., 9] = -10.0
    assert reconstruction("l1", logits, t, w) > reconstruction("l1", logits, t)


def test_image_reconstruction_weights_pixels_by_source_difference():
    from mfif.training.losses import image_reconstruction

    # Hand-made 1×1×1×2 case: pixel 0 the sources differ by 0.5 (A is the truth), pixel 1 they agree.
    a = torch.tensor([[[[1.0, 0.3]]]])
    b = torch.tensor([[[[0.5, 0.3]]]])
    truth = a.clone()
    right = torch.tensor([[[[1.0, 0.0]]]])  # picks A at pixel 0; pixel 1 does not matter
    wrong = torch.tensor([[[[0.0, 1.0]]]])
    assert image_reconstruction(right, a, b, truth) == 0.0
    # wrong pick at pixel 0 costs |A − B| = 0.5, averaged over the two pixels → 0.25
    assert torch.isclose(image_reconstruction(wrong, a, b, truth), torch.tensor(0.25))
    # a soft map costs in proportion: 0.5 at pixel 0 → 0.125
    half = torch.tensor([[[[0.5, 0.5]]]])
    assert torch.isclose(image_reconstruction(half, a, b, truth), torch.tensor(0.125))
    w = torch.tensor([[[[2.0, 0.0]]]])
    assert torch.isclose(image_reconstruction(wrong, a, b, truth, w), torch.tensor(0.5))


def test_image_weight_adds_image_loss_to_generator_step(tmp_path, source):
    from mfif.training.config import load_config

    cfg = load_config("tiny", ["device=cpu", "val_count=0", "gan=none", "image_weight=5"])
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    out = tr.iteration(_batch(tr, 0))
    assert out["img"] > 0 and out["loss_g"] > out["rec"]
    assert abs(out["loss_g"] - (cfg.recon_weight * out["rec"] + 5 * out["img"])) < 1e-5
    with pytest.raises(MfifError):
        load_config("tiny", ["image_weight=-1"])


def test_init_weights_fine_tunes_with_a_new_refine_head(tmp_path, source):
    """init_weights loads an exported generator; a new refinement head starts at zero (same maps)."""
    from mfif.models.weights import load_generator
    from mfif.training.config import load_config

    base = ["device=cpu", "val_count=0", "gan=none", "steps=2"]
    run = tmp_path / "base"
    Trainer(load_config("tiny", base), run, source=source, log=lambda s: None).train()
    exported = load_generator(run / "final")
    cfg = load_config("tiny",
                      base + [f"init_weights={run / 'final'}", "refine_width=4", "refine_layers=2"])
    lines: list[str] = []
    tr = Trainer(cfg, tmp_path / "ft", source=source, log=lines.append)
    assert any("new tensors" in s for s in lines)
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        # fp16 export: the loaded trunk equals the exported one exactly, the head adds nothing yet
        torch.testing.assert_close(tr.G.eval()(a, b), exported(a, b), rtol=0, atol=0)
    # a file that does not fit (other width) is a clear config error, and nothing is written
    bad = load_config("tiny", base + [f"init_weights={run / 'final'}", "width=8"])
    with pytest.raises(MfifError, match="init_weights"):
        Trainer(bad, tmp_path / "bad", source=source, log=lambda s: None)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(MfifError, match="refine_layers"):
        load_config("tiny", ["refine_layers=1"])


def test_train_only_the_context_pathway_keeps_everything_else_as_loaded(tmp_path, source):
    """A fresh context pathway fine-tuned alone: branch and decoder weights *and* BatchNorm statistics stay
    bit-exact, the pathway's weights move; bad part names are config errors."""
    from mfif.training.config import load_config

    base = ["device=cpu", "val_count=0", "gan=none", "steps=2"]
    run = tmp_path / "base"
    Trainer(load_config("tiny", base), run, source=source, log=lambda s: None).train()
    cfg = load_config("tiny", base + [f"init_weights={run / 'final'}", "context_width=4", "context_blocks=1",
                                      "train_only=[context]", "steps=3", "ema_decay=0"])
    tr = Trainer(cfg, tmp_path / "ft", source=source, log=lambda s: None)
    before = {k: v.clone() for k, v in tr.G.state_dict().items()}
    tr.train()
    after = tr.G.state_dict()
    frozen = [k for k in before if not k.startswith("context.")]
    assert frozen and any("running_mean" in k for k in frozen)
    for k in frozen:
        torch.testing.assert_close(after[k], before[k], rtol=0, atol=0, msg=k)
    assert float((after["context.out.weight"] - before["context.out.weight"]).abs().max()) > 0
    with pytest.raises(MfifError, match="train_only"):
        load_config("tiny", ["train_only=[trunk]"])
    with pytest.raises(MfifError, match="no 'context'"):
        Trainer(load_config("tiny", base + ["train_only=[context]"]), tmp_path / "none", source=source,
                log=lambda s: None)


def test_noise_augmentation_perturbs_inputs_only(tmp_path, source):
    """noise=[lo, hi]: per-sample std in the range, independent noise on A and B, clipped to [0, 1],
    reproducible per (seed, step); the image loss composes the clean sources; off = inputs unchanged."""
    from mfif.training.config import load_config

    base = ["device=cpu", "val_count=0", "gan=none", "image_weight=5"]
    cfg = load_config("tiny", [*base, "noise=[0.02, 0.05]"])
    assert cfg.noise_range() == (0.02, 0.05)
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    a, b, _, _ = tr._prepare(_batch(tr, 0))
    na, nb = tr.add_noise(a, b)
    assert na.min() >= 0 and na.max() <= 1
    inner = (a > 0.2) & (a < 0.8) & (b > 0.2) & (b < 0.8)  # where clipping cannot act
    da, db = (na - a)[inner], (nb - b)[inner]
    assert 0.015 < float(da.std()) < 0.06 and 0.015 < float(db.std()) < 0.06
    assert abs(float(torch.corrcoef(torch.stack([da, db]))[0, 1])) < 0.2  # independent for A and B
    na2, _ = tr.add_noise(a, b)
    assert torch.equal(na, na2)  # same (seed, step) → same noise
    tr.step += 1
    assert not torch.equal(na, tr.add_noise(a, b)[0])
    # the generator step sees the noisy inputs but the image loss uses the clean sources
    seen = {}
    real = tr.generator_step

    def spy(x, y, target, **kw):
        seen["inputs"], seen["clean"] = (x, y), kw.get("clean")
        return real(x, y, target, **kw)

    tr.generator_step = spy
    tr.step = 0
    tr.iteration(_batch(tr, 0))
    assert torch.equal(seen["inputs"][0], na) and torch.equal(seen["clean"][0], a)
    off = Trainer(load_config("tiny", base), tmp_path / "off", source=source, log=lambda s: None)
    a0, b0, _, _ = off._prepare(_batch(off, 0))
    assert off.add_noise(a0, b0)[0] is a0
    for bad in ("noise=-0.1", "noise=[0.05, 0.01]", "noise=[0, 2]"):
        with pytest.raises(MfifError, match="noise"):
            load_config("tiny", [bad])


# ----------------------------------------------------------------------------- distillation


def _teacher_file(path: Path, source: ArraySource, items: list[int], sigma: list[float]) -> Path:
    """teacher-0.npz as scripts/gpu_eval.py writes it; the "teacher" map of item j is 1 − mask_j
    (quantised exactly: 0 or 32 of 32), so a mis-aligned crop/flip/rotation would show."""
    path.mkdir(parents=True, exist_ok=True)
    maps = np.stack([np.round((1.0 - source.load_mask(j)) * 32) for j in items]).astype(np.uint8)
    np.savez_compressed(path / "teacher-0.npz", maps=maps, sigma=np.asarray(sigma, np.float32),
                        index=np.asarray(items, np.int32), quant=np.int32(32), seed=np.int32(2026))
    return path


@pytest.mark.parametrize("gpu_synthesis", [False, True])
def test_distill_restricts_items_uses_teacher_sigma_and_logs(tmp_path, source, gpu_synthesis):
    from mfif.training.config import dump_yaml, from_dict, load_config

    import yaml

    teacher = _teacher_file(tmp_path / "t", source, [3, 1, 5], [1.5, 0.7, 1.1])  # 5 is a val item: ignored
    sig = {3: float(np.float32(1.5)), 1: float(np.float32(0.7))}
    cfg = load_config("tiny", ["device=cpu", "val_count=0", "gan=none", "sigma=[0.8, 2]",
                                                       f"distill={teacher}", "distill_weight=2",
                                                       f"gpu_synthesis={str(gpu_synthesis).lower()}"])
    assert cfg.distill == str(teacher) and cfg.distill_weight == 2.0
    assert from_dict(yaml.safe_load(dump_yaml(cfg))) == cfg  # round-trips through config.yaml
    lines: list[str] = []
    tr = Trainer(cfg, tmp_path / "run", source=source, log=lines.append)
    assert any("teacher maps for 2 of 4 train items" in s and "1 maps of other items ignored" in s for s in lines)
    assert tr.train_set.indices == [1, 3] and tr.plan.n == 2
    for step in range(3):
        batch = _batch(tr, step)
        assert ("a" in batch) != gpu_synthesis
        assert torch.equal(batch["teacher"], 1.0 - batch["mask"])  # aligned through crops/flips/rot90
        got = [tr.train_set.sample(i) for i in tr.plan.items(step)]
        assert all(s["sigma"] == sig[s["index"]] for s in got)
        torch.testing.assert_close(batch["sigma"], torch.tensor([sig[s["index"]] for s in got]))
    out = tr.iteration(_batch(tr, 0))
    assert set(out) == {"loss_g", "adv_g", "rec", "distill"}
    # teacher = 1 − mask: |p − m| + |p − (1 − m)| = 1 for m ∈ {0, 1}, so rec + distill = 1 (hand-derived)
    assert abs(out["rec"] + out["distill"] - 1.0) < 1e-5 and out["distill"] > 0
    assert abs(out["loss_g"] - (cfg.recon_weight * out["rec"] + 2 * out["distill"])) < 1e-5


def test_distill_weight_zero_contributes_nothing_and_is_logged(tmp_path, source):
    from mfif.training.config import load_config

    teacher = _teacher_file(tmp_path / "t", source, [0, 1, 2, 3], [1.0] * 4)  # σ = the config's 1.0
    base = ["device=cpu", "val_count=0", "gan=none"]

    def make(name: str, *extra: str) -> Trainer:
        cfg = load_config("tiny", [*base, *extra])
        return Trainer(cfg, tmp_path / name, source=source, log=lambda s: None)

    plain, zero, one = make("p"), make("z", f"distill={teacher}", "distill_weight=0"), make("o", f"distill={teacher}")
    batch = _batch(zero, 0)
    ref = _batch(plain, 0)  # all items have maps and σ = 1 either way: the same batch
    assert all(torch.equal(batch[k], ref[k]) for k in ref)
    outs = {n: t.iteration(dict(batch)) for n, t in (("p", plain), ("z", zero), ("o", one))}
    assert "distill" not in outs["p"] and outs["z"]["distill"] == outs["o"]["distill"] > 0
    assert outs["z"]["loss_g"] == outs["p"]["loss_g"]
    assert outs["o"]["loss_g"] > outs["p"]["loss_g"]
    sp, sz, so = (t.G.state_dict() for t in (plain, zero, one))
    assert all(torch.equal(sp[k], sz[k]) for k in sp)
    assert not all(torch.equal(sp[k], so[k]) for k in sp)
    # the CSV log gets a distill column
    run = tmp_path / "log"
    Trainer(load_config("tiny", [*base, f"distill={teacher}", "steps=2"]), run,
            source=source, log=lambda s: None).train()
    import csv

    rows = list(csv.DictReader(open(run / "log.csv")))
    assert len(rows) == 2 and all(float(r["distill"]) > 0 for r in rows)


def test_distill_loss_uses_the_boundary_weights(tmp_path, source):
    """Golden numbers by hand: 1×1×8×8 target, left half (columns 0-3) = 1; boundary_radius 1 → the band
    is columns 3 and 4 (their 3×3 neighbourhood holds both classes). boundary_weight 3 → weights 4 in the
    band and 1 elsewhere, mean (2·4 + 6·1)/8 = 1.75, normalised 16/7 and 4/7. Logits 0 → p = 0.5; the
    teacher is 1 in the band and 0.5 elsewhere, so |p − t| = 0.5 on 2 of 8 columns:
    distill = (2/8)·(16/7)·0.5 = 2/7 (unweighted it would be 1/8); rec = mean(w)·0.5 = 0.5;
    loss_g = recon_weight·0.5 + distill_weight·2/7."""
    from mfif.training.config import load_config

    teacher = _teacher_file(tmp_path / "t", source, [0, 1, 2, 3], [1.0] * 4)
    for dw in (1.5, 0.0):
        cfg = load_config("tiny", ["device=cpu", "val_count=0", "gan=none",
                                                           f"distill={teacher}", f"distill_weight={dw}",
                                                           "boundary_weight=3", "boundary_radius=1"])
        tr = Trainer(cfg, tmp_path / f"run{dw}", source=source, log=lambda s: None)
        logits = torch.zeros(1, 1, 8, 8, requires_grad=True)
        tr.G_run = lambda a, b, logits_=logits, **kw: logits_ * 1.0  # noqa: E731  stub generator
        target = torch.zeros(1, 1, 8, 8)
        target[..., :4] = 1
        t = torch.full((1, 1, 8, 8), 0.5)
        t[..., 3:5] = 1.0
        x = torch.zeros(1, 3, 8, 8)
        out = tr.generator_step(x, x, target, adversarial=False, teacher=t)
        assert out["distill"] == pytest.approx(2 / 7, abs=1e-6)
        assert out["rec"] == pytest.approx(0.5, abs=1e-6)
        assert out["loss_g"] == pytest.approx(cfg.recon_weight * 0.5 + dw * 2 / 7, abs=1e-5)
    with pytest.raises(ValueError, match="teacher"):
        tr.generator_step(x, x, target, adversarial=False)


def test_distill_bad_teacher_is_a_clear_error(tmp_path, source):
    from mfif.training.config import load_config

    cfg = load_config("tiny", ["device=cpu", f"distill={tmp_path / 'nothing'}"])
    with pytest.raises(MfifError, match="teacher maps not found"):
        Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    val_only = _teacher_file(tmp_path / "v", source, [4, 5], [1.0, 1.0])
    cfg = load_config("tiny", ["device=cpu", f"distill={val_only}"])
    with pytest.raises(MfifError, match="none of the 4 train items has a teacher map"):
        Trainer(cfg, tmp_path / "run", source=source, log=lambda s: None)
    assert not (tmp_path / "run").exists()
    with pytest.raises(MfifError, match="distill_weight"):
        load_config("tiny", ["distill_weight=-0.5"])
