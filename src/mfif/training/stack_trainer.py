"""Training the stack model (``mfif-stack``, :class:`mfif.models.stack_net.StackNet`) on synthetic focal stacks.

``mfif train --config stack --out runs/stack [--set scenes=FOLDER] [--max-minutes 60]``

Data: seeded synthetic focal stacks made on the fly from all-in-focus photographs
(:mod:`mfif.data.stack_training`). Objective, per stack (B stacks of n frames per batch, n drawn per
batch from ``n_frames``): the softmax fusion ``Σ_k softmax_k(z)·frame_k`` against the all-in-focus truth
(L1, ×``image_weight``, ×(1 + ``boundary_weight``) within ``boundary_radius`` px of a depth-index change,
renormalised) plus ``ce_weight`` × a cross-entropy of the softmax against a soft depth target
(a Gaussian of σ ``ce_sigma`` frames around the true depth), weighted by how much the choice matters at
the pixel (how far the worst frame is from the truth), plus ``halo_weight`` × the mean absolute low-pass
(Gaussian σ 2 px) error of the fusion within ``halo_radius`` px of a depth edge. With ``depth_head`` the model's second decoder
is trained on ``depth_weight`` × a cross-entropy of its own softmax against a Gaussian target of σ
``depth_sigma`` frames, weighted 0.2 + 0.8 × the same "matters" weight (every pixel counts, the
informative ones most) — or, with ``depth_loss: window``, on the bench's own criterion: minus the log of
its softmax mass within ±1 frame of the true index (any split among those frames costs nothing); ``depth_detach`` stops its gradient at the branch (the branch learns from the
fusion objective alone); ``freeze_fusion`` keeps the branch and the fusion decoder (weights and
BatchNorm statistics) as loaded, so the fused image stays exactly that of the starting weights and only
the depth map is learnt; ``freeze_branch`` keeps the branch alone as loaded (the decoders learn, and a
depth head trained on that branch stays valid). The branch starts from the pair model's weights
(``init_from``; a stack model's weights file continues from all of it). AdamW, linear decay over the last 40 % (of steps or of the wall-clock budget), an EMA
of the weights; validation on seeded noise-texture stacks (:func:`mfif.data.stacks.focal_stack`, seeds
from 10,000 — disjoint from ``mfif bench stacks``) selects the exported EMA weights by PSNR
(``select_by: psnr``) or by depth accuracy (``select_by: depth_acc``).
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
import torch.nn.functional as F

from mfif.errors import MfifError
from mfif.training.config import load_kind_config
from mfif.models.stack_net import StackNet, StackNetConfig, stack_softmax_fusion

VAL_SEED0 = 10_000
DEFAULT_SCENES = "../shared/data/train/mf-voc/groundtruth"


@dataclass
class StackTrainConfig:
    """Settings of a stack-model run (``src/mfif/configs/stack.yaml``)."""

    kind: str = "stack"
    name: str = "stack"
    export_name: str = "mfif-stack"
    width: int = 8
    n_blocks: int = 3
    scenes: str = DEFAULT_SCENES
    init_from: str | None = "mfif-gan-lite"
    n_frames: list = field(default_factory=lambda: [3, 8])
    crop: int = 112
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.999
    steps: int = 20000
    max_minutes: float | None = None
    decay_start: float = 0.6
    image_weight: float = 10.0
    ce_weight: float = 0.1
    ce_sigma: float = 0.2
    boundary_weight: float = 4.0
    boundary_radius: int = 8
    blur_step: list = field(default_factory=lambda: [0.4, 2.0])
    noise: list = field(default_factory=lambda: [0.0, 0.02])
    jpeg_p: float = 0.3
    breathing_p: float = 0.3
    halo_weight: float = 0.0
    halo_radius: int = 10
    depth_head: bool = False
    freeze_fusion: bool = False
    freeze_branch: bool = False
    depth_detach: bool = False
    depth_weight: float = 1.0
    depth_sigma: float = 0.5
    depth_loss: str = "gauss"
    select_by: str = "psnr"
    val_every: int = 250
    val_count: int = 12
    val_size: int = 128
    val_n: int = 6
    log_every: int = 50
    seed: int = 0
    threads: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "StackTrainConfig":
        if self.kind != "stack":
            raise MfifError(f"kind: expected 'stack', got {self.kind!r}")
        lo, hi = (int(v) for v in self.n_frames)
        if not 2 <= lo <= hi:
            raise MfifError(f"n_frames: expected [lo, hi] with 2 <= lo <= hi, got {self.n_frames}")
        if self.crop % 4 or self.crop < 32:
            raise MfifError(f"crop: expected a multiple of 4, at least 32, got {self.crop}")
        if self.select_by not in ("psnr", "depth_acc"):
            raise MfifError(f"select_by: expected 'psnr' or 'depth_acc', got {self.select_by!r}")
        if self.depth_loss not in ("gauss", "window"):
            raise MfifError(f"depth_loss: expected 'gauss' or 'window', got {self.depth_loss!r}")
        if self.freeze_fusion and not self.depth_head:
            raise MfifError("freeze_fusion: needs depth_head (nothing would be trained)")
        for k in ("batch_size", "steps", "val_every", "val_count", "log_every", "width", "n_blocks"):
            if int(getattr(self, k)) < 1:
                raise MfifError(f"{k}: expected a positive integer, got {getattr(self, k)}")
        return self

    def net_config(self) -> StackNetConfig:
        return StackNetConfig(width=self.width, n_blocks=self.n_blocks, depth_head=bool(self.depth_head))


def load_stack_config(d: dict[str, Any], overrides: Sequence[str] = (), *, where: str = "config") -> StackTrainConfig:
    """A :class:`StackTrainConfig` from a parsed YAML mapping and ``key=value`` overrides."""
    return load_kind_config(StackTrainConfig, d, overrides, where=where, what="stack")


def _soft_target(z: torch.Tensor, n: int, sigma: float) -> torch.Tensor:
    """B×H×W continuous depth → B×n×H×W target distribution (Gaussian of ``sigma`` frames)."""
    k = torch.arange(n, dtype=z.dtype, device=z.device)[None, :, None, None]
    t = torch.exp(-0.5 * ((k - z[:, None]) / sigma) ** 2)
    return t / t.sum(dim=1, keepdim=True)


def _window_mask(z: torch.Tensor, n: int) -> torch.Tensor:
    """B×H×W continuous depth → B×n×H×W bool: frames within ±1 of the true index ``rint(z)``."""
    k = torch.arange(n, device=z.device)[None, :, None, None]
    idx = torch.round(z).clamp(0, n - 1).long()[:, None]
    return (k - idx).abs() <= 1


def _depth_ce(d_logits: torch.Tensor, z: torch.Tensor, cfg: "StackTrainConfig") -> torch.Tensor:
    """B×n×H×W depth logits → B×1×H×W per-pixel loss (``depth_loss``: gauss or window)."""
    n = d_logits.shape[1]
    logp = torch.log_softmax(d_logits, dim=1)
    if cfg.depth_loss == "window":
        inside = logp.masked_fill(~_window_mask(z, n), float("-inf"))
        return -torch.logsumexp(inside, dim=1, keepdim=True)
    return -(_soft_target(z, n, cfg.depth_sigma) * logp).sum(dim=1, keepdim=True)


def _boundary_weights(edges: torch.Tensor, radius: int, weight: float) -> torch.Tensor:
    """B×H×W bool edges → B×1×H×W weights 1 + weight within ``radius`` px, renormalised to mean 1."""
    e = edges[:, None].float()
    near = F.max_pool2d(e, 2 * radius + 1, 1, radius) > 0
    w = 1.0 + weight * near.float()
    return w / w.mean(dim=(2, 3), keepdim=True)


def _halo_loss(fused: torch.Tensor, truth: torch.Tensor, edges: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean |Gaussian(σ 2 px) * (fused − truth)| within ``radius`` px of a depth edge: the low-pass over- and
    undershoot next to depth edges (the halo of ``mfif bench stacks``), 0 without edges.

    Args:
        fused: B×1×H×W; truth: B×H×W; edges: B×H×W bool.
    """
    k = torch.arange(-6, 7, dtype=fused.dtype)
    g = torch.exp(-0.5 * (k / 2.0) ** 2)
    g = g / g.sum()
    d = fused - truth[:, None]
    d = F.conv2d(F.pad(d, (6, 6, 0, 0), mode="reflect"), g.view(1, 1, 1, -1))
    d = F.conv2d(F.pad(d, (0, 0, 6, 6), mode="reflect"), g.view(1, 1, -1, 1))
    near = F.max_pool2d(edges[:, None].float(), 2 * radius + 1, 1, radius)
    return (near * d.abs()).sum() / near.sum().clamp(min=1.0)


def stack_loss(model: StackNet, frames: torch.Tensor, truth: torch.Tensor, z: torch.Tensor, edges: torch.Tensor,
               cfg: StackTrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective (module docstring).

    Args:
        frames: B×n×H×W gray frames in [0, 1].
        truth: B×H×W all-in-focus images; z: B×H×W depth in frame units; edges: B×H×W bool.

    Returns:
        ``(loss, parts)``.
    """
    b, n, h, w = frames.shape
    out = model(frames.reshape(b * n, 1, h, w))
    logits = out[:, 0].reshape(b, n, h, w)
    fused, wts = stack_softmax_fusion(logits, frames[:, :, None])
    bw = _boundary_weights(edges, cfg.boundary_radius, cfg.boundary_weight)
    l_img = (bw * (fused - truth[:, None]).abs()).mean()
    matter = (frames - truth[:, None]).abs().amax(dim=1, keepdim=True)
    matter = F.avg_pool2d(matter, 5, 1, 2).clamp(max=0.05) / 0.05
    target = _soft_target(z, n, cfg.ce_sigma)
    ce = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1, keepdim=True)
    l_ce = (matter * ce).sum() / matter.sum().clamp(min=1e-6)
    loss = cfg.image_weight * l_img + cfg.ce_weight * l_ce
    parts = {"l1_img": float(l_img.detach()), "ce": float(l_ce.detach())}
    if cfg.halo_weight > 0:
        l_halo = _halo_loss(fused, truth, edges, cfg.halo_radius)
        loss = loss + cfg.halo_weight * l_halo
        parts["halo"] = float(l_halo.detach())
    if out.shape[1] > 1:
        d_logits = out[:, 1].reshape(b, n, h, w)
        wd = 0.2 + 0.8 * matter
        d_ce = _depth_ce(d_logits, z, cfg)
        l_depth = (wd * d_ce).sum() / wd.sum()
        loss = loss + cfg.depth_weight * l_depth
        parts["depth_ce"] = float(l_depth.detach())
    return loss, {"loss": float(loss.detach()), **parts}


def validation_stacks(cfg: StackTrainConfig) -> list[Any]:
    """The seeded validation stacks (noise textures, colour; every depth type and kernel, some noise)."""
    from mfif.data.stacks import DEPTH_TYPES, focal_stack

    out = []
    for i in range(cfg.val_count):
        out.append(focal_stack(cfg.val_n, size=(cfg.val_size, cfg.val_size), depth_type=DEPTH_TYPES[i % 3],
                               kernel="disk" if (i // 3) % 2 else "gaussian", noise=0.01 if i % 4 == 3 else 0.0,
                               breathing=0.0, seed=VAL_SEED0 + i))
    return out


@torch.no_grad()
def evaluate(model: StackNet, stacks: Sequence[Any]) -> dict[str, float]:
    """Mean PSNR (dB) of the softmax fusion against the truth, and the share of pixels whose argmax (of the
    depth scores with a depth head) is within ±1 frame of the true index, over ``stacks``."""
    from mfif.metrics.reference import psnr

    model.eval()
    ps, acc = [], []
    for st in stacks:
        fr = torch.from_numpy(np.stack(st.frames)).permute(0, 3, 1, 2).float()  # n×3×H×W
        scores = model(fr)  # n×C×H×W
        logits = scores[:, 0]  # n×H×W
        fused, _ = stack_softmax_fusion(logits[None], fr[None])
        out = fused[0].permute(1, 2, 0).clamp(0, 1).numpy()
        ps.append(psnr(out, st.truth))
        idx = scores[:, -1].argmax(dim=0).numpy()
        acc.append(float((np.abs(idx - st.depth) <= 1).mean()))
    return {"psnr": float(np.mean(ps)), "depth_acc": float(np.mean(acc))}


def save_stack_net(model: StackNet, path: Path, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as one fp16 safetensors file (atomic), config in the ``mfif_config`` metadata."""
    from mfif.models.weights import save_model_file

    return save_model_file(model, path, fmt="mfif-stacknet-v1", metadata=metadata)


def merge_depth_head(fusion: str | os.PathLike[str], depth: str | os.PathLike[str],
                     out: str | os.PathLike[str]) -> Path:
    """Write one stack model from two trained on the same frozen branch: the branch and fusion decoder of
    ``fusion`` and the depth decoder of ``depth`` (a ``freeze_branch`` run and a ``freeze_fusion`` depth-head
    run from the same starting weights).

    Raises:
        MfifError: ``depth`` has no depth head, or the two branches differ (weights or BN statistics).
    """
    from mfif.fusion.stack_native import load_stack_net

    f, d = load_stack_net(str(fusion)), load_stack_net(str(depth))
    if d.depth_decoder is None:
        raise MfifError(f"{depth}: has no depth head")
    fs, ds = f.branch.state_dict(), d.branch.state_dict()
    if any(not torch.equal(fs[k], ds[k]) for k in fs):
        raise MfifError(f"{fusion} and {depth}: their branches differ (train both from the same weights "
                        "with the branch frozen)")
    merged = StackNet(StackNetConfig(**{**f.config.to_dict(), "depth_head": True}))
    merged.branch.load_state_dict(fs)
    merged.decoder.load_state_dict(f.decoder.state_dict())
    merged.depth_decoder.load_state_dict(d.depth_decoder.state_dict())
    return save_stack_net(merged.eval(), Path(out), metadata={
        "merged_from": json.dumps({"fusion": str(fusion), "depth": str(depth)})})


def _frozen_modules(model: StackNet, cfg: StackTrainConfig) -> list[Any]:
    """The modules kept as loaded: branch and fusion decoder (``freeze_fusion``), the branch
    (``freeze_branch``), or none."""
    if cfg.freeze_fusion:
        return list(model.fusion_modules())
    return [model.branch] if cfg.freeze_branch else []


def _init_branch(model: StackNet, source: str | None) -> str:
    if not source:
        return "random"
    from mfif.models.weights import installed_weights, read_state

    files = installed_weights(source) if not os.path.exists(source) else [Path(source)]
    if not files:
        raise MfifError(f"init_from {source!r}: no such weights set or file")
    state, meta = read_state(files)
    if meta.get("format") == "mfif-stacknet-v1":  # a stack model: continue from all of it
        tensors = {k: v.float() for k, v in state.items()}
        fresh_head = model.depth_decoder is not None and not any(k.startswith("depth_decoder.") for k in tensors)
        try:
            if fresh_head:  # a model without a depth head: the new head starts as a copy of its decoder
                missing, unexpected = model.load_state_dict(tensors, strict=False)
                if unexpected or any(not k.startswith("depth_decoder.") for k in missing):
                    raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
                model.init_depth_from_fusion()
            else:
                model.load_state_dict(tensors)
        except RuntimeError as exc:
            raise MfifError(f"init_from {source!r}: does not fit ({str(exc).splitlines()[0]})") from None
        return f"{source} (whole stack model{'; depth head from its decoder' if fresh_head else ''})"
    copied = model.load_branch_from({k: v.float() for k, v in state.items()})
    if copied == 0:
        raise MfifError(f"init_from {source!r}: no branch tensor of matching shape")
    return f"{source} ({copied} branch tensors)"


def train_stack(cfg: StackTrainConfig, out: str | os.PathLike[str], *, progress: bool = True) -> dict[str, Any]:
    """Run a stack-model training (module docstring); ``out`` receives ``log.csv``, ``config.json``,
    ``best/<export_name>.safetensors`` (the EMA weights with the best validation PSNR) and ``last/``.

    Returns:
        Summary: steps, minutes, best step and its validation metrics.
    """
    threads = torch.get_num_threads()
    try:
        return _train_stack(cfg, out, progress=progress)
    finally:  # ``threads`` is the run's setting, not the calling process's
        torch.set_num_threads(threads)


def _train_stack(cfg: StackTrainConfig, out: str | os.PathLike[str], *, progress: bool) -> dict[str, Any]:
    from mfif.data.stack_training import SceneBank, make_training_stack

    out = Path(out)
    if (out / "log.csv").exists():
        raise MfifError(f"{out}: already holds a run (choose another --out)")
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    bank = SceneBank(cfg.scenes)
    model = StackNet(cfg.net_config())
    init = _init_branch(model, cfg.init_from)
    model.detach_depth = bool(cfg.depth_detach)
    frozen = _frozen_modules(model, cfg)
    for mod in frozen:
        for p in mod.parameters():
            p.requires_grad_(False)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    val = validation_stacks(cfg)
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "init": init, "scene_count": len(bank)}, indent=1))
    log_f = (out / "log.csv").open("w", newline="")
    log = csv.writer(log_f)
    log.writerow(["step", "minutes", "lr", "loss", "l1_img", "ce", "depth_ce", "halo", "val_psnr", "val_depth_acc"])
    t0 = time.monotonic()
    best = (-math.inf, 0, {})
    acc: dict[str, list[float]] = {}
    step = 0
    lo, hi = (int(v) for v in cfg.n_frames)
    try:
        while step < cfg.steps:
            minutes = (time.monotonic() - t0) / 60.0
            if cfg.max_minutes is not None and minutes >= cfg.max_minutes:
                break
            frac = step / cfg.steps
            if cfg.max_minutes:
                frac = max(frac, minutes / cfg.max_minutes)
            lr = cfg.lr * (1.0 if frac < cfg.decay_start else max(0.0, (1 - frac) / (1 - cfg.decay_start)))
            for g in opt.param_groups:
                g["lr"] = lr
            n = int(rng.integers(lo, hi + 1))
            samples = [make_training_stack(bank, rng, n=n, size=cfg.crop, step=tuple(cfg.blur_step),
                                           noise=tuple(cfg.noise), jpeg_p=cfg.jpeg_p, breathing_p=cfg.breathing_p)
                       for _ in range(cfg.batch_size)]
            frames = torch.from_numpy(np.stack([s.frames for s in samples]))
            truth = torch.from_numpy(np.stack([s.truth for s in samples]))
            z = torch.from_numpy(np.stack([s.z for s in samples]))
            edges = torch.from_numpy(np.stack([s.edges for s in samples]))
            model.train()
            for mod in frozen:  # frozen modules keep their BatchNorm statistics too
                mod.eval()
            loss, parts = stack_loss(model, frames, truth, z, edges, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            with torch.no_grad():
                d = min(cfg.ema_decay, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    if pm.requires_grad:  # frozen ones stay bit-exact
                        pe.mul_(d).add_(pm.detach(), alpha=1 - d)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
            for k, v in parts.items():
                acc.setdefault(k, []).append(v)
            row_val: dict[str, float] = {}
            if step % cfg.val_every == 0:
                row_val = evaluate(ema, val)
                if row_val[cfg.select_by] > best[0]:
                    best = (row_val[cfg.select_by], step, row_val)
                    save_stack_net(ema, out / "best" / f"{cfg.export_name}.safetensors",
                                   metadata={"step": step, "val": json.dumps(row_val), "init": init,
                                             "train_config": json.dumps(cfg.to_dict())})
            if step % cfg.log_every == 0 or row_val:
                means = {k: float(np.mean(v)) for k, v in acc.items()}
                acc = {}
                log.writerow([step, f"{(time.monotonic() - t0) / 60:.2f}", f"{lr:.3g}",
                              *(f"{means.get(k, float('nan')):.5f}" for k in ("loss", "l1_img", "ce", "depth_ce", "halo")),
                              f"{row_val.get('psnr', float('nan')):.3f}", f"{row_val.get('depth_acc', float('nan')):.4f}"])
                log_f.flush()
                if progress:
                    print(f"step {step} {(time.monotonic() - t0) / 60:.1f} min lr {lr:.2g} loss {means.get('loss', 0):.4f}"
                          + (f" val psnr {row_val['psnr']:.2f} depth {row_val['depth_acc']:.3f}" if row_val else ""),
                          flush=True)
    finally:
        log_f.close()
    final = evaluate(ema, val)
    if final[cfg.select_by] > best[0]:
        best = (final[cfg.select_by], step, final)
        save_stack_net(ema, out / "best" / f"{cfg.export_name}.safetensors",
                       metadata={"step": step, "val": json.dumps(final), "init": init,
                                 "train_config": json.dumps(cfg.to_dict())})
    save_stack_net(ema, out / "last" / f"{cfg.export_name}.safetensors", metadata={"step": step, "val": json.dumps(final)})
    summary = {"steps": step, "minutes": (time.monotonic() - t0) / 60.0, "best_step": best[1], "best": best[2],
               "final": final, "init": init}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
