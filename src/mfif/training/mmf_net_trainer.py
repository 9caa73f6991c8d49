"""Training MMF-Net (:class:`mfif.models.mmf_net.MMFNet`) on the α-matte pairs of a data pack.

``mfif train --config mmf-net --out runs/mmf-net [--set pack=packs/mf-voc] [--max-minutes 45]``

Data: :class:`mfif.data.dataset.SyntheticPairDataset` over the pack's ``train`` items (α-matte
synthesis, σ drawn per item from ``sigma``, random crops, flips and rotations).

Targets: the fused image is the all-in-focus crop; the guidance map ``G`` is the mask (1 = A sharp)
except in the focused/defocused boundary band — pixels outside the mask where the blurred mask
``G_σ ⊗ M`` exceeds ``band_threshold``, i.e. where the far-focused source is mixed with the spread of
the blurred foreground and neither source is sharp — where it is 0.5.

Objective (the authors' ``mapEPE``): with ``EPE(x, y)`` the per-pixel L2 norm over channels,
``mean EPE(F, T) + mean (d / mean d)·EPE(F, T) + map_weight · mean EPE(G, G*)`` where
``d = 5 − 8·|G* − 0.5|`` weighs the boundary band 5×.

Schedule (CPU budget; the paper trains both sub-nets jointly throughout): the first
``stage1_fraction`` of the run (of ``steps`` or of ``max_minutes``, whichever is further along) trains
the initial-fusion sub-net alone on the same objective with the cascade's correction at zero (its
output head is zero-initialised), at ``lr_stage1`` and ``batch_stage1``; the rest trains the whole
cascade at ``lr``; ``warmup_steps`` > 0 ramps each stage's lr up linearly over its first steps (the
first Adam step of the whole cascade moves every weight by about ``lr``, which at 2e-4 threw the
output off by 0.2). ``init_from`` starts from an MMF-Net weights file (e.g. a stage-1 result, with
``stage1_fraction: 0`` to continue with stage 2 only). Adam (β 0.9, 0.999), weight decay ``weight_decay`` on conv weights, none on biases
(the reference's). One torch thread by default (``threads``), restored afterwards.

Selection: PSNR of the clipped cascade output against the truth on the pack's ``val`` items (centre
crops of ``val_size``, σ drawn per item from ``sigma`` with seed ``VAL_SEED``) — synthetic data only.
Validation runs at the end of stage 1, every ``val_every`` steps of stage 2 and at the end; the best is
written to ``best/<export_name>.safetensors`` (fp16), the last state to ``last/``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from mfif.errors import MfifError
from mfif.training.config import load_kind_config
from mfif.models.mmf_net import MMFNet, MMFNetConfig, parameter_count, save_mmf_net

VAL_SEED = 20_260
DEFAULT_PACK = "packs/mf-voc"


@dataclass
class MMFTrainConfig:
    """Settings of an MMF-Net run (``src/mfif/configs/mmf-net.yaml``)."""

    kind: str = "mmf-net"
    name: str = "mmf-net"
    export_name: str = "mmf-net"
    pack: str = DEFAULT_PACK
    width_a: int = 64
    blocks_a: int = 4
    width_b: int = 128
    blocks_b: int = 16
    crop: int = 64
    batch_size: int = 4
    batch_stage1: int = 8
    sigma: list = field(default_factory=lambda: [0.8, 2.0])
    band_threshold: float = 0.05
    map_weight: float = 0.2
    lr: float = 2e-4
    lr_stage1: float = 3e-4
    weight_decay: float = 4e-4
    stage1_fraction: float = 0.6
    warmup_steps: int = 0
    init_from: str | None = None
    steps: int = 100000
    max_minutes: float | None = 45.0
    val_every: int = 50
    val_count: int = 16
    val_size: int = 96
    log_every: int = 10
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def net_config(self) -> MMFNetConfig:
        return MMFNetConfig(width_a=self.width_a, blocks_a=self.blocks_a, width_b=self.width_b, blocks_b=self.blocks_b)

    def validate(self) -> "MMFTrainConfig":
        if self.kind != "mmf-net":
            raise MfifError(f"kind: expected 'mmf-net', got {self.kind!r}")
        for k in ("crop", "batch_size", "batch_stage1", "steps", "val_every", "val_count", "val_size", "log_every"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise MfifError(f"{k}: expected a positive integer, got {v!r}")
        if self.crop < 8 or self.val_size < 8:
            raise MfifError(f"crop, val_size: at least 8 pixels, got {self.crop}, {self.val_size}")
        try:
            lo, hi = (float(v) for v in self.sigma)
        except (TypeError, ValueError):
            raise MfifError(f"sigma: expected [lo, hi], got {self.sigma!r}") from None
        if not 0 < lo <= hi:
            raise MfifError(f"sigma: expected [lo, hi] with 0 < lo <= hi, got {self.sigma}")
        if not 0 <= self.stage1_fraction < 1:
            raise MfifError(f"stage1_fraction: expected a number in [0, 1), got {self.stage1_fraction}")
        if not 0 < self.band_threshold < 1:
            raise MfifError(f"band_threshold: expected a number in (0, 1), got {self.band_threshold}")
        for k in ("lr", "lr_stage1"):
            if not float(getattr(self, k)) > 0:
                raise MfifError(f"{k}: expected a positive number, got {getattr(self, k)}")
        if self.max_minutes is not None and not float(self.max_minutes) > 0:
            raise MfifError(f"max_minutes: expected a positive number or null, got {self.max_minutes}")
        if not isinstance(self.warmup_steps, int) or isinstance(self.warmup_steps, bool) or self.warmup_steps < 0:
            raise MfifError(f"warmup_steps: expected an integer >= 0, got {self.warmup_steps!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise MfifError(f"threads: expected an integer >= 0 (0 = leave torch's setting), got {self.threads!r}")
        self.net_config()  # checks widths and depths
        return self


def load_mmf_net_config(d: dict[str, Any], overrides: Sequence[str] = (), *, where: str = "config") -> MMFTrainConfig:
    """An :class:`MMFTrainConfig` from a parsed YAML mapping and ``key=value`` overrides (``--set``)."""
    return load_kind_config(MMFTrainConfig, d, overrides, where=where, what="mmf-net")


def guidance_target(mask: torch.Tensor, sigma: torch.Tensor, band_threshold: float) -> torch.Tensor:
    """The guidance-map target (module docstring).

    Args:
        mask: N×1×H×W in {0, 1} (1 = A sharp).
        sigma: N per-sample σ of the defocus blur.

    Returns:
        N×1×H×W: the mask, with 0.5 in the boundary band outside it.
    """
    from mfif.data.synthesis import gaussian_blur_torch

    blurred = gaussian_blur_torch(mask, sigma)
    band = (mask < 0.5) & (blurred > band_threshold)
    return torch.where(band, torch.full_like(mask, 0.5), mask)


def mmf_loss(g: torch.Tensor, fused: torch.Tensor, g_star: torch.Tensor, truth: torch.Tensor,
             map_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The authors' objective (module docstring); all tensors N×C×H×W.

    Returns:
        ``(loss, parts)`` with the parts ``epe_img``, ``epe_boundary`` and ``epe_map`` as floats.
    """
    err = torch.linalg.vector_norm(fused - truth, dim=1)
    d = 5 - 8 * (g_star[:, 0] - 0.5).abs()
    epe_img = err.mean()
    epe_bnd = (d / d.mean() * err).mean()
    epe_map = (g - g_star).abs()[:, 0].mean()  # the L2 norm over one channel is the absolute value
    loss = epe_img + epe_bnd + map_weight * epe_map
    return loss, {"loss": float(loss.detach()), "epe_img": float(epe_img.detach()),
                  "epe_boundary": float(epe_bnd.detach()), "epe_map": float(epe_map.detach())}


def _batch(ds: Any, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    items = [ds[i] for i in idx]
    return {k: torch.stack([it[k] for it in items]) for k in ("a", "b", "truth", "mask", "sigma")}


def validation_set(cfg: MMFTrainConfig) -> list[dict[str, torch.Tensor]]:
    """The pack's ``val`` items as batches of one: centre crops of ``val_size``, σ seeded per item."""
    from mfif.data.dataset import SyntheticPairDataset

    ds = SyntheticPairDataset(cfg.pack, crop=cfg.val_size, model="alpha", sigma=tuple(cfg.sigma), augment=False,
                              seed=VAL_SEED, split="val")
    n = min(cfg.val_count, len(ds))
    return [_batch(ds, [i]) for i in range(n)]


@torch.no_grad()
def evaluate(model: MMFNet, val: Sequence[dict[str, torch.Tensor]], band_threshold: float) -> dict[str, float]:
    """Mean PSNR (dB) of the clipped cascade output and of the initial fusion against the truth, and the
    share of pixels whose thresholded map (> 0.5) picks the source the target map picks (band pixels,
    target 0.5, count as B), over ``val``."""
    from mfif.metrics.reference import psnr

    model.eval()
    ps, ps0, acc = [], [], []
    for b in val:
        x = torch.cat((b["a"], b["b"]), 1)
        g, fused = model(x)
        initial = g * b["a"] + (1 - g) * b["b"]
        truth = b["truth"][0].permute(1, 2, 0).numpy()
        ps.append(psnr(fused[0].clamp(0, 1).permute(1, 2, 0).numpy(), truth, max_db=100.0))
        ps0.append(psnr(initial[0].clamp(0, 1).permute(1, 2, 0).numpy(), truth, max_db=100.0))
        tgt = guidance_target(b["mask"], b["sigma"], band_threshold)
        acc.append(float(((g > 0.5) == (tgt > 0.5)).float().mean()))
    return {"psnr": float(np.mean(ps)), "psnr_initial": float(np.mean(ps0)), "map_acc": float(np.mean(acc))}


def _adam(params: Sequence[tuple[str, torch.nn.Parameter]], lr: float, wd: float) -> torch.optim.Adam:
    weights = [p for n, p in params if not n.endswith("bias")]
    biases = [p for n, p in params if n.endswith("bias")]
    return torch.optim.Adam([{"params": weights, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999))


def train_mmf_net(cfg: MMFTrainConfig, out: str | os.PathLike[str], *, progress: bool = True) -> dict[str, Any]:
    """Run an MMF-Net training (module docstring); ``out`` receives ``log.csv``, ``config.json``,
    ``best/<export_name>.safetensors``, ``last/<export_name>.safetensors`` and ``summary.json``.

    Returns:
        Summary: steps per stage, minutes, best step and its validation metrics, final metrics.
    """
    threads = torch.get_num_threads()
    try:
        return _train(cfg, out, progress=progress)
    finally:  # ``threads`` is the run's setting, not the calling process's
        torch.set_num_threads(threads)


def _train(cfg: MMFTrainConfig, out: str | os.PathLike[str], *, progress: bool) -> dict[str, Any]:
    from mfif.data.dataset import SyntheticPairDataset

    out = Path(out)
    if (out / "log.csv").exists():
        raise MfifError(f"{out}: already holds a run (choose another --out)")
    if not Path(cfg.pack).is_dir():
        raise MfifError(f"pack {cfg.pack!r}: no such folder (build it with `mfif data pack`)")
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_ds = SyntheticPairDataset(cfg.pack, crop=cfg.crop, model="alpha", sigma=tuple(cfg.sigma), augment=True,
                                    seed=cfg.seed, split="train", length=10**9)
    val = validation_set(cfg)
    model = MMFNet(cfg.net_config())
    if cfg.init_from:
        from mfif.models.mmf_net import load_mmf_net

        init = load_mmf_net(cfg.init_from)
        if init.config != model.config:
            raise MfifError(f"init_from {cfg.init_from}: config {init.config} differs from the run's {model.config}")
        model.load_state_dict(init.state_dict())
    n_params = parameter_count(model)
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "parameters": n_params,
                                                 "train_items": len(train_ds.indices), "val_items": len(val)}, indent=1))
    named = list(model.named_parameters())
    opt1 = _adam([(n, p) for n, p in named if n.startswith("a_")], cfg.lr_stage1, cfg.weight_decay)
    opt2 = _adam(named, cfg.lr, cfg.weight_decay)
    log_f = (out / "log.csv").open("w", newline="")
    log = csv.writer(log_f)
    log.writerow(["step", "stage", "minutes", "loss", "epe_img", "epe_boundary", "epe_map",
                  "val_psnr", "val_psnr_initial", "val_map_acc"])
    t0 = time.monotonic()
    best: tuple[float, int, dict[str, float]] = (-math.inf, 0, {})
    acc: dict[str, list[float]] = {}
    step, stage1_steps = 0, 0
    stage = 1 if cfg.stage1_fraction > 0 else 2

    def frac() -> float:
        f = step / cfg.steps
        if cfg.max_minutes:
            f = max(f, (time.monotonic() - t0) / 60.0 / cfg.max_minutes)
        return f

    def validate_and_keep() -> dict[str, float]:
        nonlocal best
        r = evaluate(model, val, cfg.band_threshold)
        if r["psnr"] > best[0]:
            best = (r["psnr"], step, r)
            save_mmf_net(model, out / "best" / f"{cfg.export_name}.safetensors",
                         metadata={"step": step, "val": json.dumps(r), "train_config": json.dumps(cfg.to_dict())})
        return r

    try:
        while step < cfg.steps and frac() < 1.0:
            row_val: dict[str, float] = {}
            if stage == 1 and frac() >= cfg.stage1_fraction:
                stage, stage1_steps = 2, step
                row_val = validate_and_keep()
            bs = cfg.batch_stage1 if stage == 1 else cfg.batch_size
            b = _batch(train_ds, [int(i) for i in rng.integers(0, len(train_ds), size=bs)])
            x = torch.cat((b["a"], b["b"]), 1)
            g_star = guidance_target(b["mask"], b["sigma"], cfg.band_threshold)
            model.train()
            if stage == 1:
                g = model.guidance(x)
                fused = g * b["a"] + (1 - g) * b["b"]
                opt, base_lr, k = opt1, cfg.lr_stage1, step
            else:
                g, fused = model(x)
                opt, base_lr, k = opt2, cfg.lr, step - stage1_steps
            loss, parts = mmf_loss(g, fused, g_star, b["truth"], cfg.map_weight)
            for group in opt.param_groups:  # linear warm-up at the start of each stage
                group["lr"] = base_lr * min(1.0, (k + 1) / cfg.warmup_steps) if cfg.warmup_steps else base_lr
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            for k, v in parts.items():
                acc.setdefault(k, []).append(v)
            if stage == 2 and (step - stage1_steps) % cfg.val_every == 0:
                row_val = validate_and_keep()
            if step % cfg.log_every == 0 or row_val:
                means = {k: float(np.mean(v)) for k, v in acc.items()}
                acc = {}
                minutes = (time.monotonic() - t0) / 60
                log.writerow([step, stage, f"{minutes:.2f}",
                              *(f"{means.get(k, float('nan')):.5f}" for k in ("loss", "epe_img", "epe_boundary", "epe_map")),
                              *(f"{row_val.get(k, float('nan')):.4f}" for k in ("psnr", "psnr_initial", "map_acc"))])
                log_f.flush()
                if progress:
                    print(f"step {step} stage {stage} {minutes:.1f} min loss {means.get('loss', 0):.4f}"
                          + (f" val psnr {row_val['psnr']:.2f} (initial {row_val['psnr_initial']:.2f}) "
                             f"map acc {row_val['map_acc']:.4f}" if row_val else ""), flush=True)
    finally:
        log_f.close()
    if stage == 1:
        stage1_steps = step
    final = validate_and_keep()
    save_mmf_net(model, out / "last" / f"{cfg.export_name}.safetensors",
                 metadata={"step": step, "val": json.dumps(final), "train_config": json.dumps(cfg.to_dict())})
    summary = {"steps": step, "stage1_steps": stage1_steps, "stage2_steps": step - stage1_steps,
               "minutes": (time.monotonic() - t0) / 60.0, "parameters": n_params, "best_step": best[1],
               "best": best[2], "final": final}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
