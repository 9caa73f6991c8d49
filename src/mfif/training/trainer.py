"""The MFIF-GAN trainer (authors' recipe, ablation switches, fast paths). See docs/training.md.

One *iteration* draws one batch and makes one critic step; the generator is updated on the same batch
every ``n_critic``-th iteration (authors: 5), or every iteration when ``gan == "none"`` (L1-only).

Determinism: everything random about batch ``s`` is a function of (seed, s) — the sample order is a
seeded permutation per epoch and each sample's crop/flips/σ come from the dataset's per-item seed —
and the torch RNG state is saved in checkpoints, so a resumed run continues bit-for-bit (same device,
same thread count).

Multi-GPU: started under ``torchrun`` (``WORLD_SIZE`` > 1) every process takes ``batch_size /
world_size`` samples of each global batch and the gradients are averaged with an all-reduce before
every optimizer step (what DistributedDataParallel does; done by hand because DDP does not support
the double backward of the gradient penalty). Only rank 0 validates, logs and writes files.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from mfif.errors import MfifError
from mfif.io import write_atomic
from mfif.models.critic import Critic
from mfif.models.generator import Generator
from mfif.models.runtime import resolve_amp
from mfif.training import checkpoint as ck
from mfif.training.config import ARCH_KEYS, TrainConfig, dump_yaml, from_dict
from mfif.training.losses import (
    boundary_weights,
    critic_adversarial,
    generator_adversarial,
    gradient_penalty,
    image_reconstruction,
    reconstruction,
)
from mfif.training.runlog import VAL_REFERENCE, RunLog, export_generator, val_columns, val_line, write_val_reference
from mfif.training.validation import build_val_batches, evaluate_generator

_VIRTUAL_EPOCHS = 1_000_000


class BatchPlan:
    """Which dataset items make global batch ``s`` (stateless, seeded)."""

    def __init__(self, n_items: int, batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch, self.seed, self.rank, self.world = n_items, batch, seed, rank, world
        self.local = batch // world
        self._perm: tuple[int, np.ndarray] | None = None

    def _perm_of(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, 7919, epoch]).permutation(self.n))
        return self._perm[1]

    def items(self, step: int) -> list[int]:
        out = []
        for k in range(self.local):
            g = step * self.batch + self.rank * self.local + k
            e, p = divmod(g, self.n)
            out.append(e * self.n + int(self._perm_of(e)[p]))
        return out


class _StepBatches(torch.utils.data.Sampler):
    def __init__(self, plan: BatchPlan, start: int, stop: int) -> None:
        self.plan, self.start, self.stop = plan, start, stop

    def __iter__(self) -> Iterator[list[int]]:
        for s in range(self.start, self.stop):
            yield self.plan.items(s)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _autocast(device: torch.device, enabled: bool):  # noqa: ANN202
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


class Trainer:
    """Builds models, data and optimizers from a :class:`TrainConfig`; :meth:`train` runs it.

    Args:
        config: The validated config.
        out_dir: Run folder (created on the first write; log.csv, checkpoints/, best/, final/).
        source: A data source with ``__len__``, ``load_image(i)``, ``load_mask(i)`` and
            ``indices(split)`` (a :class:`mfif.data.pack.Pack`); default = ``Pack(config.pack)``.
        resume: Checkpoint folder or run folder to continue from.
        log: Function receiving human-readable progress lines.

    Raises:
        MfifError: bad pack, bad/mismatched checkpoint, or an output folder that already holds a run.
        Nothing is written before all inputs have been checked.
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | os.PathLike[str],
        *,
        source: Any = None,
        resume: str | os.PathLike[str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = config.validate()
        self.out = Path(out_dir)
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self._setup_device()
        self.ckpt = self._read_resume(resume)  # read and checked before anything is written
        self._setup_data(source)
        self._setup_models()

    # ------------------------------------------------------------------ set-up
    def _setup_device(self) -> None:
        """Process rank and world size, the device, threads, bf16 autocast and memory format."""
        cfg = self.cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if cfg.device == "auto":
            dev = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        else:
            dev = cfg.device
        try:
            self.device = torch.device(dev)
        except RuntimeError:
            raise MfifError(f"config device: unknown device {cfg.device!r}") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise MfifError(f"config device: {cfg.device!r} requested but CUDA is not available")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if cfg.batch_size % self.world:
            raise MfifError(f"config batch_size: {cfg.batch_size} not divisible by {self.world} processes")
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
        cuda = self.device.type == "cuda"
        # "auto": bf16 autocast where the hardware computes bf16 natively (CUDA GPUs with bf16, CPUs with
        # AVX512-BF16 / AMX-BF16 / Arm BF16) — the inference policy of mfif.models.runtime.resolve_amp
        self.amp = resolve_amp(cfg.amp, self.device)  # cfg.amp is True, False or "auto" (validated)
        self.channels_last = cuda if cfg.channels_last == "auto" else bool(cfg.channels_last)
        pair_augs = cfg.disk_p > 0 or cfg.ring_p > 0 or cfg.jpeg_p > 0 or cfg.swap_p > 0 or cfg.exposure_p > 0  # CPU synthesis only
        self.gpu_synthesis = (cuda and not pair_augs) if cfg.gpu_synthesis == "auto" else bool(cfg.gpu_synthesis)
        if self.gpu_synthesis and pair_augs:
            raise MfifError("config gpu_synthesis: disk_p, ring_p, jpeg_p, swap_p and exposure_p need the pairs synthesised by the "
                            "data loader (set gpu_synthesis=auto or false)")
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format

    def _read_resume(self, resume: str | os.PathLike[str] | None) -> tuple[Any, Any, Path] | None:
        """The checkpoint to resume from (tensors, meta, folder), checked against the config; or None."""
        cfg = self.cfg
        if resume is None:
            if (self.out / "checkpoints" / "last").exists():
                raise MfifError(
                    f"{self.out}: already holds a training run; use --resume {self.out} to continue or another --out"
                )
            return None
        tensors, meta, where = ck.load_checkpoint(resume)
        saved = meta["config"]
        defaults = TrainConfig()  # keys newer than the checkpoint hold their defaults there
        diffs = [k for k in ARCH_KEYS if saved.get(k, getattr(defaults, k)) != getattr(cfg, k)]
        if diffs:
            k = diffs[0]
            raise MfifError(
                f"{where}: checkpoint does not match the config ({k}: checkpoint {saved.get(k)!r}, "
                f"config {getattr(cfg, k)!r})"
            )
        return tensors, meta, where

    def _setup_data(self, source: Any) -> None:
        """The source, the training set and batch plan, and the validation batches (rank 0)."""
        cfg = self.cfg
        if source is None:
            if not cfg.pack:
                raise MfifError("config pack: no training pack given (set pack=PATH or --pack PATH)")
            from mfif.data.pack import Pack

            source = Pack(cfg.pack)
        self.source = source
        train_idx = list(source.indices("train"))
        if not train_idx:
            raise MfifError(f"{cfg.pack or 'source'}: no 'train' items in the pack")
        val_idx = list(source.indices("val"))[: cfg.val_count]
        if cfg.val_count > 0 and not val_idx:
            raise MfifError(f"{cfg.pack or 'source'}: no 'val' items in the pack (set val_count=0 to skip validation)")
        items = getattr(source, "items", None)
        if isinstance(items, list) and items and "height" in items[0]:
            for what, c in (("crop", cfg.crop), ("val_crop", cfg.val_crop)):
                small = sum(1 for it in items if min(it["height"], it["width"]) < c)
                if small:
                    self.log(f"note: {small} of {len(items)} pack images are smaller than {what}={c}; "
                             "they are padded by mirror reflection")
        from mfif.data.dataset import SyntheticPairDataset

        fixed_sigma = extra_maps = None
        if cfg.distill:
            train_idx, fixed_sigma, extra_maps = self._teacher(cfg.distill, train_idx, items)
        lo, hi = cfg.sigma_range()
        self.train_set = SyntheticPairDataset(
            source, crop=cfg.crop, model=cfg.synthesis, sigma=(lo, hi), augment=cfg.augment, seed=cfg.seed,
            indices=train_idx, length=len(train_idx) * _VIRTUAL_EPOCHS, synthesize=not self.gpu_synthesis,
            literal=cfg.literal, fixed_sigma=fixed_sigma, extra_maps=extra_maps, **cfg.augmentation_kwargs(),
        )
        self.plan = BatchPlan(len(train_idx), cfg.batch_size, cfg.seed, self.rank, self.world)
        self.val_batches: list[dict[str, torch.Tensor]] = []
        if val_idx and self.rank == 0:
            self.val_batches = build_val_batches(
                source, val_idx, crop=cfg.val_crop, model=cfg.synthesis,
                sigma=cfg.val_sigma if cfg.val_sigma is not None else 0.5 * (lo + hi),
                seed=cfg.seed, literal=cfg.literal, batch=cfg.val_batch,
            )

    def _setup_models(self) -> None:
        """Generator, critic, EMA copy and optimizers (identical init on every rank), resumed state."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        self.G = Generator(cfg.generator_config())
        if cfg.init_weights and self.ckpt is None:
            self._init_from(cfg.init_weights)
        self.G = self.G.to(self.device, memory_format=self.memory_format)
        self.D = None
        if cfg.gan != "none":
            self.D = Critic(width=cfg.critic_width, paper=cfg.critic_paper, in_channels=7).to(
                self.device, memory_format=self.memory_format
            )
        if cfg.train_only:
            names = {n for n, _ in self.G.named_children()}
            missing = [p for p in cfg.train_only if p not in names]
            if missing:
                raise MfifError(f"config train_only: the generator has no {missing[0]!r} (it has {', '.join(sorted(names))})")
            for n, p in self.G.named_parameters():
                p.requires_grad_(n.split(".", 1)[0] in cfg.train_only)
        self.G_ema = None
        if cfg.ema_decay > 0:
            self.G_ema = copy.deepcopy(self.G).eval()
            for p in self.G_ema.parameters():
                p.requires_grad_(False)
        opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = opt_cls([p for p in self.G.parameters() if p.requires_grad], lr=cfg.lr_g, betas=betas, weight_decay=cfg.weight_decay)
        self.opt_d = (
            opt_cls(self.D.parameters(), lr=cfg.lr_d, betas=betas, weight_decay=cfg.weight_decay) if self.D else None
        )
        self.step = 0
        self.g_updates = 0
        self.elapsed = 0.0
        self.best: float | None = None
        torch.manual_seed(cfg.seed * 1000 + 17 + self.rank)
        if self.ckpt is not None:
            self._restore(*self.ckpt)
        self.G_run = torch.compile(self.G) if cfg.compile else self.G

    # ------------------------------------------------------------------ state
    def _teacher(
        self, path: str, train_idx: list[int], items: Any
    ) -> tuple[list[int], dict[int, float], dict[int, np.ndarray]]:
        """Teacher maps for distillation: (train items that have one, their σ, their maps)."""
        from mfif.training.distill import load_teacher

        teacher = load_teacher(path)
        kept = [j for j in train_idx if j in teacher]
        if not kept:
            raise MfifError(f"config distill: {path}: none of the {len(train_idx)} train items has a teacher map")
        if isinstance(items, list) and items and "height" in items[0]:
            for j in kept:
                want = (items[j]["height"], items[j]["width"])
                if teacher[j][1].shape != want:
                    raise MfifError(f"config distill: {path}: the map of pack item {j} is "
                                    f"{teacher[j][1].shape[0]}x{teacher[j][1].shape[1]}, the image {want[0]}x{want[1]}")
        outside = len(teacher) - len(kept)
        note = f"; {outside} maps of other items ignored" if outside else ""
        self.log(f"distill: teacher maps for {len(kept)} of {len(train_idx)} train items ({path}); training on "
                 f"those only, each at the teacher's σ{note}")
        return kept, {j: teacher[j][0] for j in kept}, {j: teacher[j][1] for j in kept}

    def _init_from(self, path: str) -> None:
        """Load generator weights for fine-tuning; only parameters new to the config may be absent."""
        from mfif.models.weights import read_state, state_mismatch

        state, _ = read_state(path)
        own = self.G.state_dict()
        missing, unexpected, wrong = state_mismatch(own, state)
        absent = [k for k in missing if not k.startswith(("refine.", "context."))]  # only new parts may be missing
        if unexpected or wrong or absent:
            ex = (unexpected or wrong or absent)[0]
            raise MfifError(
                f"config init_weights: {path} does not fit the configured generator ({len(missing)} missing, "
                f"{len(unexpected)} unexpected, {len(wrong)} of wrong shape, e.g. {ex})"
            )
        self.G.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
        self.log(f"initialised the generator from {path}" + (f" ({len(missing)} new tensors)" if missing else ""))

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], where: Path) -> None:
        parts = [("G", self.G), ("D", self.D), ("G_ema", self.G_ema)]
        for prefix, mod in parts:
            st = ck.unprefixed(tensors, prefix)
            if mod is None:
                if st:
                    raise MfifError(f"{where}: checkpoint has {prefix} weights but the config has none")
                continue
            if not st and prefix == "G_ema":
                self.G_ema.load_state_dict(self.G.state_dict())
                continue
            ck.check_module_state(mod, st, where=str(where), what=prefix)
            mod.load_state_dict(st)
        try:
            self.opt_g.load_state_dict(ck.unflatten_optimizer("optG", tensors, meta["optimizers"]["optG"]))
            if self.opt_d is not None:
                self.opt_d.load_state_dict(ck.unflatten_optimizer("optD", tensors, meta["optimizers"]["optD"]))
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise MfifError(f"{where}: optimizer state does not fit the config ({type(exc).__name__}: {exc})") from None
        # the optimizer hyper-parameters come from the (possibly overridden) config, not the checkpoint
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            if opt is None:
                continue
            for g in opt.param_groups:
                g["betas"] = (self.cfg.beta1, self.cfg.beta2)
                g["weight_decay"] = self.cfg.weight_decay
        self.step = int(meta["step"])
        extra = meta.get("extra", {})
        self.g_updates = int(extra.get("g_updates", 0))
        self.elapsed = float(extra.get("elapsed_s", 0.0))
        self.best = extra.get("best")
        if "rng/torch" in tensors and self.rank == 0:
            torch.set_rng_state(tensors["rng/torch"])
        elif self.rank:
            torch.manual_seed(self.cfg.seed * 1000 + 17 + self.rank + 7 * self.step)
        if self.device.type == "cuda" and "rng/cuda" in tensors and self.rank == 0:
            torch.cuda.set_rng_state(tensors["rng/cuda"], self.device)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to resume: (tensors, JSON-able meta)."""
        tensors: dict[str, torch.Tensor] = {}
        tensors.update(ck.prefixed(self.G.state_dict(), "G"))
        if self.D is not None:
            tensors.update(ck.prefixed(self.D.state_dict(), "D"))
        if self.G_ema is not None:
            tensors.update(ck.prefixed(self.G_ema.state_dict(), "G_ema"))
        opt_meta = {}
        for name, opt in (("optG", self.opt_g), ("optD", self.opt_d)):
            if opt is None:
                continue
            t, m = ck.flatten_optimizer(name, opt.state_dict())
            tensors.update(t)
            opt_meta[name] = m
        tensors["rng/torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "optimizers": opt_meta,
            "extra": {"g_updates": self.g_updates, "elapsed_s": self.elapsed, "best": self.best,
                      "world_size": self.world, "torch": torch.__version__},
        }
        return tensors, meta

    # ------------------------------------------------------------------ schedule
    def lr_factor(self, step: int, elapsed_s: float = 0.0) -> float:
        """Linear decay from ``decay_start`` to 0 at ``steps`` (and/or at ``max_minutes``)."""
        cfg = self.cfg
        frac = step / cfg.steps
        if cfg.max_minutes:
            frac = max(frac, elapsed_s / (60.0 * cfg.max_minutes))
        start = min(cfg.decay_start_step() / cfg.steps, 1.0)
        if frac <= start or start >= 1.0:
            return 1.0
        return max(0.0, (1.0 - frac) / (1.0 - start))

    def _set_lr(self, f: float) -> tuple[float, float]:
        for g in self.opt_g.param_groups:
            g["lr"] = self.cfg.lr_g * f
        if self.opt_d is not None:
            for g in self.opt_d.param_groups:
                g["lr"] = self.cfg.lr_d * f
        return self.cfg.lr_g * f, (self.cfg.lr_d * f if self.opt_d else float("nan"))

    # ------------------------------------------------------------------ one iteration
    def _prepare(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        nb = self.device.type == "cuda"
        truth = batch["truth"].to(self.device, non_blocking=nb)
        mask = batch["mask"].to(self.device, non_blocking=nb)
        if self.gpu_synthesis:
            from mfif.data.synthesis import synthesize_batch_torch

            a, b = synthesize_batch_torch(
                truth, mask, batch["sigma"].tolist(), model=self.cfg.synthesis, literal=self.cfg.literal
            )
        else:
            a = batch["a"].to(self.device, non_blocking=nb)
            b = batch["b"].to(self.device, non_blocking=nb)
        if self.channels_last:
            a = a.contiguous(memory_format=torch.channels_last)
            b = b.contiguous(memory_format=torch.channels_last)
        return a, b, mask, truth

    def _network_inputs(self, batch: dict[str, torch.Tensor], a: torch.Tensor,
                        b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's (A, B): the JPEG-compressed sources when the loader made them, else ``a``/``b``."""
        if "a_in" not in batch:
            return a, b
        nb = self.device.type == "cuda"
        ia = batch["a_in"].to(self.device, non_blocking=nb)
        ib = batch["b_in"].to(self.device, non_blocking=nb)
        if self.channels_last:
            ia = ia.contiguous(memory_format=torch.channels_last)
            ib = ib.contiguous(memory_format=torch.channels_last)
        return ia, ib

    def _teacher_batch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The batch's teacher maps on the device (like the mask), or None without distillation."""
        if not self.cfg.distill:
            return None
        if "teacher" not in batch:
            raise MfifError("config distill: the batch has no teacher maps")
        return batch["teacher"].to(self.device, non_blocking=self.device.type == "cuda")

    def add_noise(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sensor-noise augmentation of the network's inputs (config ``noise``; off = returned as is).

        Each sample gets a standard deviation drawn uniformly from the ``noise`` range, and A and B get
        independent Gaussian noise of that size per pixel and channel, clipped to [0, 1]. The draws depend
        only on (seed, step), so a resumed run continues with the same noise.
        """
        lo, hi = self.cfg.noise_range()
        if hi <= 0:
            return a, b
        g = torch.Generator(device=a.device)
        g.manual_seed(int(self.cfg.seed) * 1_000_003 + self.step)
        n = a.shape[0]
        std = lo + (hi - lo) * torch.rand((n, 1, 1, 1), generator=g, device=a.device, dtype=a.dtype)
        na = (a + std * torch.randn(a.shape, generator=g, device=a.device, dtype=a.dtype)).clamp_(0, 1)
        nb = (b + std * torch.randn(b.shape, generator=g, device=b.device, dtype=b.dtype)).clamp_(0, 1)
        return na, nb

    def target_of(self, mask: torch.Tensor) -> torch.Tensor:
        return mask * 2.0 - 1.0 if self.cfg.target_range == "pm1" else mask

    def _allreduce(self, module: torch.nn.Module) -> None:
        if self.world <= 1:
            return
        import torch.distributed as dist

        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        o = 0
        for g in grads:
            g.copy_(flat[o : o + g.numel()].view_as(g))
            o += g.numel()

    def critic_step(self, a: torch.Tensor, b: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """One critic update; returns its loss terms."""
        cfg = self.cfg
        with torch.no_grad(), _autocast(self.device, self.amp):
            fake = self.G_run(a, b)
        fake = fake.float()
        with _autocast(self.device, self.amp):
            d_real = self.D(a, b, target)
            d_fake = self.D(a, b, fake)
        loss = critic_adversarial(cfg.gan, d_real, d_fake)
        gp = torch.zeros((), device=self.device)
        if cfg.gan == "wgan-gp" and cfg.gp_weight > 0:
            gp = gradient_penalty(self.D, a, b, target, fake)  # fp32, outside autocast
            loss = loss + cfg.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self._allreduce(self.D)
        self.opt_d.step()
        return {"loss_d": float(loss.detach()), "gp": float(gp.detach())}

    def generator_step(
        self, a: torch.Tensor, b: torch.Tensor, target: torch.Tensor, *, adversarial: bool = True,
        truth: torch.Tensor | None = None, clean: tuple[torch.Tensor, torch.Tensor] | None = None,
        teacher: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """One generator update (+ EMA); returns its loss terms. ``adversarial=False``: L1/BCE only.
        ``truth`` (the all-in-focus image) is needed when ``image_weight`` > 0. ``clean``: the
        noise-free (A, B) when ``a``/``b`` carry augmentation noise; the image loss composes those.
        ``teacher`` (N×1×H×W soft maps in [0, 1]) is needed when ``distill`` is set: the distillation
        term is ``distill_weight`` · mean |sigmoid(logits) − teacher|, with the map loss's boundary weights."""
        cfg = self.cfg
        with _autocast(self.device, self.amp):
            logits = self.G_run(a, b, logits=True)
        wmap = (
            boundary_weights(target, radius=cfg.boundary_radius, weight=cfg.boundary_weight)
            if cfg.boundary_weight > 0 else None
        )
        rec = reconstruction(cfg.recon, logits, target, wmap)
        loss = cfg.recon_weight * rec
        img = torch.zeros((), device=self.device)
        if cfg.image_weight > 0:
            if truth is None:
                raise ValueError("image_weight > 0 needs the truth image")
            ca, cb = clean if clean is not None else (a, b)
            img = image_reconstruction(torch.sigmoid(logits.float()), ca, cb, truth, wmap)
            loss = loss + cfg.image_weight * img
        dist = None
        if cfg.distill:
            if teacher is None:
                raise ValueError("distill needs the teacher maps")
            dist = reconstruction("l1", logits, teacher, wmap)  # the same weighted L1 as the map loss
            loss = loss + cfg.distill_weight * dist
        adv = torch.zeros((), device=self.device)
        use_d = self.D is not None and adversarial
        if use_d:
            for p in self.D.parameters():
                p.requires_grad_(False)
            with _autocast(self.device, self.amp):
                d_fake = self.D(a, b, torch.sigmoid(logits.float()))
            adv = generator_adversarial(cfg.gan, d_fake)
            loss = loss + cfg.adv_weight * adv
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if use_d:
            for p in self.D.parameters():
                p.requires_grad_(True)
        self._allreduce(self.G)
        self.opt_g.step()
        self.g_updates += 1
        self._update_ema()
        out = {"loss_g": float(loss.detach()), "adv_g": float(adv.detach()), "rec": float(rec.detach())}
        if cfg.image_weight > 0:
            out["img"] = float(img.detach())
        if dist is not None:
            out["distill"] = float(dist.detach())
        return out

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.G_ema is None:
            return
        n = self.g_updates
        d = min(self.cfg.ema_decay, (1.0 + n) / (10.0 + n))
        if not hasattr(self, "_ema_pairs"):
            src = self.G.state_dict()
            pairs = [(e, src[k]) for k, e in self.G_ema.state_dict().items()]
            self._ema_pairs = (
                [e for e, v in pairs if e.is_floating_point()], [v for e, v in pairs if e.is_floating_point()],
                [(e, v) for e, v in pairs if not e.is_floating_point()],
            )
        ema_f, src_f, ints = self._ema_pairs
        torch._foreach_lerp_(ema_f, src_f, 1.0 - d)
        for e, v in ints:
            e.copy_(v)

    def in_warmup(self) -> bool:
        """Whether this iteration is in the L1-only warm-up (``warmup_steps`` / ``warmup_minutes``)."""
        cfg = self.cfg
        if self.step >= cfg.warmup_steps:
            return False
        return cfg.warmup_minutes is None or self.elapsed < 60.0 * cfg.warmup_minutes

    def iteration(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One iteration at ``self.step``: critic step, and a generator step when due."""
        a, b, mask, truth = self._prepare(batch)
        teacher = self._teacher_batch(batch)
        target = self.target_of(mask)
        ia, ib = self._network_inputs(batch, a, b)
        na, nb = self.add_noise(ia, ib)
        self.G.train()
        if self.cfg.train_only:  # frozen parts keep their BatchNorm statistics
            for n, m in self.G.named_children():
                if n not in self.cfg.train_only:
                    m.eval()
        out: dict[str, float] = {}
        warm = self.in_warmup()
        if self.D is not None and not warm:
            self.D.train()
            out.update(self.critic_step(na, nb, target))
        if warm or self.D is None or (self.step + 1) % self.cfg.n_critic == 0:
            out.update(self.generator_step(na, nb, target, adversarial=not warm, truth=truth,
                                           clean=None if na is a else (a, b), teacher=teacher))
        self.step += 1
        return out

    # ------------------------------------------------------------------ validation / export
    @property
    def eval_model(self) -> Generator:
        return self.G_ema if self.G_ema is not None else self.G

    def validate(self) -> dict[str, float]:
        if not self.val_batches:
            return {}
        return evaluate_generator(
            self.eval_model, self.val_batches, device=self.device, amp=self.amp, channels_last=self.channels_last
        )

    def export(self, folder: Path, metrics: dict[str, float] | None = None) -> list[Path]:
        """fp16 safetensors of the evaluation generator (EMA), shards ≤ export_shard_mib, + config."""
        return export_generator(self.eval_model, folder, self.cfg, step=self.step, ema=self.G_ema is not None,
                                metrics=metrics)

    def save(self) -> Path:
        tensors, meta = self.state()
        return ck.save_checkpoint(self.out / "checkpoints" / "last", tensors, meta, config_yaml=dump_yaml(self.cfg))

    # ------------------------------------------------------------------ loop
    def _better(self, v: float) -> bool:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return False
        if self.best is None:
            return True
        return v < self.best if self.cfg.select_metric == "map_l1" else v > self.best

    def _select(self, metrics: dict[str, float]) -> bool:
        """Export ``best/`` when ``metrics`` beat the best so far (config ``select_metric``)."""
        if not self._better(metrics[self.cfg.select_metric]):
            return False
        self.best = metrics[self.cfg.select_metric]
        self.export(self.out / "best", metrics)
        return True

    def _start(self, stop: int) -> torch.utils.data.DataLoader:
        """Process group (several processes), run folder and config (rank 0), the batch loader."""
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            write_atomic(self.out / "config.yaml", dump_yaml(self.cfg))
        return torch.utils.data.DataLoader(
            self.train_set, batch_sampler=_StepBatches(self.plan, self.step, stop), num_workers=self.cfg.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.cfg.seed),  # keep the global RNG untouched
        )

    def _time_up(self) -> bool:
        """Whether ``max_minutes`` is spent (rank 0 decides for every process)."""
        cfg = self.cfg
        time_up = bool(cfg.max_minutes) and self.elapsed >= 60.0 * cfg.max_minutes
        if self.world > 1 and cfg.max_minutes:
            import torch.distributed as dist

            flag = torch.tensor([float(time_up)], device=self.device)
            dist.broadcast(flag, 0)
            time_up = bool(flag.item())
        return time_up

    def _finish(self, last_val: dict[str, float]) -> dict[str, float]:
        """Rank 0 at the end: last checkpoint, a last validation if none ran, ``final/``."""
        self.save()
        if self.val_batches and not last_val:
            last_val = self.validate()
            if self._select(last_val):
                self.save()
        self.export(self.out / "final", last_val)
        return last_val

    def train(self, until: int | None = None) -> dict[str, Any]:
        """Run iterations ``self.step .. until`` (default ``config.steps``), stopping early after
        ``max_minutes``. Validates, logs, checkpoints and exports (rank 0). Returns a summary dict."""
        cfg = self.cfg
        stop = min(until if until is not None else cfg.steps, cfg.steps)
        main = self.rank == 0
        loader = self._start(stop)
        runlog = RunLog(self.out / "log.csv", self.step, batch_size=cfg.batch_size) if main else None
        from tqdm import tqdm

        bar = tqdm(total=stop, initial=self.step, disable=(None if cfg.progress else True) if main else True,
                   desc=cfg.name, dynamic_ncols=True, file=sys.stderr)
        t0 = time.time() - self.elapsed
        last_val: dict[str, float] = {}
        reason = "steps"
        ref_logged = (self.out / VAL_REFERENCE).exists() if main else True
        try:
            for batch in loader:
                lr_g, lr_d = self._set_lr(self.lr_factor(self.step, time.time() - t0))
                losses = self.iteration(batch)
                self.elapsed = time.time() - t0
                time_up = self._time_up()
                if not main:
                    if time_up:
                        reason = "max_minutes"
                        break
                    continue
                runlog.add(losses)
                bar.update(1)
                bar.set_postfix(runlog.means(), refresh=False)
                last = self.step == stop or time_up
                do_val = bool(self.val_batches) and (self.step % cfg.val_every == 0 or last)
                row: dict[str, Any] = {}
                if do_val:
                    last_val = vm = self.validate()
                    row.update(val_columns(vm))
                    if not ref_logged:
                        write_val_reference(self.out, vm, self.log)
                        ref_logged = True
                    if self._select(vm):
                        row["best"] = 1
                    self.log(val_line(self.step, vm, best=bool(row.get("best"))))
                if self.step % cfg.log_every == 0 or do_val or last:
                    line = runlog.write(row, step=self.step, g_updates=self.g_updates, elapsed=self.elapsed,
                                        lr_g=lr_g, lr_d=lr_d)
                    if bar.disable:
                        self.log(f"step {self.step}/{stop} " + line)
                if self.step % cfg.ckpt_every == 0 and not last:
                    self.save()
                if time_up:
                    reason = "max_minutes"
                    break
        except (KeyboardInterrupt, MfifError) as exc:
            # Ctrl-C, or bad data met mid-run (e.g. an unreadable pack image): keep the progress
            if main and self.step > 0:
                self.save()
                what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped by an error"
                self.log(f"{what} at step {self.step}; checkpoint saved to {self.out / 'checkpoints' / 'last'}")
            raise
        finally:
            bar.close()
            if runlog is not None:
                runlog.close()
        if main:
            last_val = self._finish(last_val)
        return {"step": self.step, "g_updates": self.g_updates, "elapsed_s": self.elapsed, "stopped": reason,
                "val": last_val, "best": self.best, "out": str(self.out)}


def config_from_checkpoint(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """The config stored in a checkpoint, with ``key=value`` overrides applied."""
    from mfif.training.config import apply_overrides

    _, meta, where = ck.load_checkpoint(path)
    return from_dict(apply_overrides(dict(meta["config"]), overrides), where=str(where / ck.STATE_JSON))
