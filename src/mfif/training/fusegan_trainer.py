"""Training FuseGAN (:mod:`mfif.models.fusegan`) on synthetic pairs from a pack.

``mfif train --config fusegan --out runs/fusegan [--set pack=packs/mf-voc] [--max-minutes 45]``

Data: pairs synthesised on the fly from the pack's photographs and masks
(:class:`mfif.data.dataset.SyntheticPairDataset`) as FuseGAN synthesised them from PASCAL VOC 2012:
the foreground and background are separated by the mask and each is blurred with a normalised disk
PSF in the other source (``synthesis: conventional``, ``disk_p: 1`` — a pill-box of radius 2σ), σ
drawn per item; A and B are swapped with probability ``swap_p`` (the mask inverted).

Objective (least-squares GAN + content loss on the map), per step::

    D:  ½·mean (D(A, B, M) − 1)² + ½·mean D(A, B, G(A, B))²
    G:  adv_weight · ½·mean (D(A, B, G(A, B)) − 1)² + content_weight · mean |G(A, B) − M|

with the discriminator :class:`mfif.models.critic.Critic` (plain form) on gray sources. Adam for both
networks, linear decay of the learning rates over the last 40 % (of steps or of the wall-clock budget),
an EMA of the generator's weights. Validation on the pack's held-out ``val`` items (synthetic, centre
crops, one fixed σ; :mod:`mfif.training.validation`) selects the exported EMA weights by PSNR of the
hard-picked fusion against the all-in-focus truth. Training runs with ``threads`` torch threads and
restores the caller's setting afterwards.
"""

from __future__ import annotations

import copy
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
from mfif.models.critic import Critic
from mfif.models.fusegan import FuseGANConfig, FuseGANGenerator, parameter_count, save_fusegan, to_luma
from mfif.training.losses import critic_adversarial, generator_adversarial, reconstruction


@dataclass
class FuseGANTrainConfig:
    """Settings of a FuseGAN run (``src/mfif/configs/fusegan.yaml``)."""

    kind: str = "fusegan"
    name: str = "fusegan"
    export_name: str = "fusegan"
    pack: str = "packs/mf-voc"
    width: int = 12
    n_enc: int = 2
    n_dec: int = 2
    d_width: int = 16
    synthesis: str = "conventional"
    sigma: list = field(default_factory=lambda: [0.8, 2.0])
    disk_p: float = 1.0
    swap_p: float = 0.5
    crop: int = 96
    batch_size: int = 8
    lr_g: float = 5e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    adv_weight: float = 1.0
    content_weight: float = 100.0
    ema_decay: float = 0.999
    steps: int = 20000
    max_minutes: float | None = None
    decay_start: float = 0.6
    val_every: int = 250
    val_count: int = 32
    val_crop: int = 192
    val_sigma: float = 1.0
    val_batch: int = 8
    log_every: int = 50
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "FuseGANTrainConfig":
        if self.kind != "fusegan":
            raise MfifError(f"kind: expected 'fusegan', got {self.kind!r}")
        if self.synthesis not in ("conventional", "alpha"):
            raise MfifError(f"synthesis: expected 'conventional' or 'alpha', got {self.synthesis!r}")
        if isinstance(self.sigma, (int, float)):
            self.sigma = [float(self.sigma), float(self.sigma)]
        if len(self.sigma) != 2 or not 0 <= float(self.sigma[0]) <= float(self.sigma[1]):
            raise MfifError(f"sigma: expected [lo, hi] with 0 <= lo <= hi, got {self.sigma}")
        for k in ("batch_size", "steps", "val_every", "val_count", "val_batch", "log_every", "width", "d_width",
                  "crop", "val_crop"):
            if int(getattr(self, k)) < 1:
                raise MfifError(f"{k}: expected a positive integer, got {getattr(self, k)}")
        if self.crop < 16 or self.val_crop < 16:
            raise MfifError(f"crop, val_crop: at least 16 px, got {self.crop}, {self.val_crop}")
        for k in ("disk_p", "swap_p"):
            if not 0 <= float(getattr(self, k)) <= 1:
                raise MfifError(f"{k}: expected a probability in [0, 1], got {getattr(self, k)}")
        if self.threads < 0:
            raise MfifError(f"threads: expected >= 0 (0 = leave torch's setting), got {self.threads}")
        return self

    def net_config(self) -> FuseGANConfig:
        return FuseGANConfig(width=self.width, n_enc=self.n_enc, n_dec=self.n_dec)


def load_fusegan_config(d: dict[str, Any], overrides: Sequence[str] = (), *, where: str = "config") -> FuseGANTrainConfig:
    """A :class:`FuseGANTrainConfig` from a parsed YAML mapping and ``key=value`` overrides.

    Raises:
        MfifError: an unknown key, a malformed override or a value out of range (naming ``where``).
    """
    return load_kind_config(FuseGANTrainConfig, d, overrides, where=where, what="fusegan")


def _source(cfg: FuseGANTrainConfig, source: Any) -> Any:
    if source is not None:
        return source
    from mfif.data.pack import Pack

    if not (Path(cfg.pack) / "manifest.json").is_file():
        raise MfifError(f"pack {cfg.pack}: not a data pack (build one with `mfif data pack`)")
    return Pack(Path(cfg.pack))


def _batches(cfg: FuseGANTrainConfig, src: Any) -> Any:
    """Endless iterator of training batches (dicts of tensors), one epoch of the dataset after another."""
    from mfif.data.dataset import SyntheticPairDataset

    ds = SyntheticPairDataset(src, crop=cfg.crop, model=cfg.synthesis, sigma=(float(cfg.sigma[0]), float(cfg.sigma[1])),
                              augment=True, seed=cfg.seed, indices=src.indices("train"), disk_p=cfg.disk_p,
                              swap_p=cfg.swap_p)
    epoch = 0
    while True:
        ds.set_epoch(epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(ds))
        for j in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
            items = [ds[int(i)] for i in order[j : j + cfg.batch_size]]
            yield {k: torch.stack([it[k] for it in items]) for k in ("a", "b", "mask")}
        epoch += 1


def _val_batches(cfg: FuseGANTrainConfig, src: Any) -> list[dict[str, torch.Tensor]]:
    from mfif.training.validation import build_val_batches

    idx = list(src.indices("val"))[: cfg.val_count]
    if not idx:
        raise MfifError("the pack has no val items to select a checkpoint on")
    return build_val_batches(src, idx, crop=cfg.val_crop, model=cfg.synthesis, sigma=cfg.val_sigma, seed=cfg.seed,
                             literal=False, batch=cfg.val_batch)


def train_fusegan(cfg: FuseGANTrainConfig, out: str | os.PathLike[str], *, source: Any = None,
                  progress: bool = True) -> dict[str, Any]:
    """Run a FuseGAN training (module docstring).

    Args:
        cfg: The run's settings.
        out: Run folder (must not hold a run): ``config.json``, ``log.csv``, ``best/<export_name>.safetensors``
            (EMA weights with the best validation PSNR), ``last/`` and ``summary.json``.
        source: A pack-like data source (``load_image``, ``load_mask``, ``indices(split)``) instead of
            ``cfg.pack`` (tests).
        progress: Print a line per log row.

    Returns:
        JSON-able summary: steps, minutes, parameters, best step and its validation metrics, final metrics.
    """
    threads = torch.get_num_threads()
    try:
        return _train(cfg, out, source=source, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: FuseGANTrainConfig, out: str | os.PathLike[str], *, source: Any, progress: bool) -> dict[str, Any]:
    from mfif.training.validation import evaluate_generator

    out = Path(out)
    if (out / "log.csv").exists():
        raise MfifError(f"{out}: already holds a run (choose another --out)")
    src = _source(cfg, source)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = FuseGANGenerator(cfg.net_config())
    disc = Critic(width=cfg.d_width, paper=False, in_channels=3)
    ema = copy.deepcopy(gen).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    val = _val_batches(cfg, src)
    n_params = parameter_count(gen)
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "parameters": n_params,
                                                 "d_parameters": parameter_count(disc)}, indent=1))
    cols = ["step", "minutes", "lr_g", "d_loss", "g_adv", "content", "val_psnr", "val_psnr_band", "val_iou"]
    log_f = (out / "log.csv").open("w", newline="")
    log = csv.writer(log_f)
    log.writerow(cols)
    dev = torch.device("cpu")
    t0 = time.monotonic()
    best: tuple[float, int, dict[str, float]] = (-math.inf, 0, {})
    acc: dict[str, list[float]] = {}
    step = 0
    data = _batches(cfg, src)

    def export(folder: str, metrics: dict[str, float]) -> None:
        save_fusegan(ema, out / folder / f"{cfg.export_name}.safetensors",
                     metadata={"step": step, "val": json.dumps(metrics), "train_config": json.dumps(cfg.to_dict())})

    try:
        while step < cfg.steps:
            minutes = (time.monotonic() - t0) / 60.0
            if cfg.max_minutes is not None and minutes >= cfg.max_minutes:
                break
            frac = step / cfg.steps
            if cfg.max_minutes:
                frac = max(frac, minutes / cfg.max_minutes)
            scale = 1.0 if frac < cfg.decay_start else max(0.0, (1 - frac) / (1 - cfg.decay_start))
            for opt, lr in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
                for g in opt.param_groups:
                    g["lr"] = lr * scale
            bt = next(data)
            a, b, mask = to_luma(bt["a"]), to_luma(bt["b"]), bt["mask"]
            gen.train()
            logits = gen.logits(a, b)
            fake = torch.sigmoid(logits)
            # discriminator: real (A, B, true map) against (A, B, generated map)
            d_loss = critic_adversarial("lsgan", disc(a, b, mask), disc(a, b, fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            # generator: fool D + content loss on the map
            for p in disc.parameters():
                p.requires_grad_(False)
            g_adv = generator_adversarial("lsgan", disc(a, b, fake))
            content = reconstruction("l1", logits, mask)
            g_loss = cfg.adv_weight * g_adv + cfg.content_weight * content
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            for p in disc.parameters():
                p.requires_grad_(True)
            step += 1
            with torch.no_grad():
                dcy = min(cfg.ema_decay, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), gen.parameters()):
                    pe.mul_(dcy).add_(pm.detach(), alpha=1 - dcy)
                for be, bm in zip(ema.buffers(), gen.buffers()):
                    be.copy_(bm)
            for k, v in (("d_loss", d_loss), ("g_adv", g_adv), ("content", content)):
                acc.setdefault(k, []).append(float(v.detach()))
            row_val: dict[str, float] = {}
            if step % cfg.val_every == 0:
                row_val = evaluate_generator(ema, val, device=dev)
                if row_val["psnr"] > best[0]:
                    best = (row_val["psnr"], step, row_val)
                    export("best", row_val)
            if step % cfg.log_every == 0 or row_val:
                means = {k: float(np.mean(v)) for k, v in acc.items()}
                acc = {}
                mins = (time.monotonic() - t0) / 60
                log.writerow([step, f"{mins:.2f}", f"{cfg.lr_g * scale:.3g}",
                              *(f"{means.get(k, float('nan')):.5f}" for k in ("d_loss", "g_adv", "content")),
                              *(f"{row_val.get(k, float('nan')):.4f}" for k in ("psnr", "psnr_band", "iou"))])
                log_f.flush()
                if progress:
                    print(f"step {step} {mins:.1f} min d {means.get('d_loss', 0):.4f} g_adv {means.get('g_adv', 0):.4f} "
                          f"content {means.get('content', 0):.4f}"
                          + (f" val psnr {row_val['psnr']:.2f} band {row_val['psnr_band']:.2f} iou {row_val['iou']:.4f}"
                             if row_val else ""), flush=True)
    finally:
        log_f.close()
    final = evaluate_generator(ema, val, device=dev)
    if final["psnr"] > best[0]:
        best = (final["psnr"], step, final)
        export("best", final)
    export("last", final)
    summary = {"steps": step, "minutes": (time.monotonic() - t0) / 60.0, "parameters": n_params,
               "best_step": best[1], "best": best[2], "final": final}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
