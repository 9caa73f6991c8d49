"""Training the CNN of Liu et al. 2017 (``cnn``, :class:`mfif.models.cnn_liu.CnnLiu`) as the paper did.

``mfif train --config cnn --out runs/cnn [--set pack=packs/mf-voc] [--max-minutes 45]``

Data (paper §3.2, with the pack's all-in-focus photographs in place of ImageNet): gray 16×16 patches
cut at random from the pack's ``train`` images; each patch and a Gaussian-blurred copy of it (blur
level k ∈ 1..``blur_levels`` drawn per pair, each level the 7×7, σ = 2 Gaussian applied to the previous
one, computed on a margin around the patch so the patch has no border effect) form a pair, shown in
both orders: (sharp, blurred) with label 1 and (blurred, sharp) with label 0. Patches whose standard
deviation is below ``min_std`` (flat sky, walls: no focus information either way) are drawn again.
Objective: softmax cross-entropy; SGD with momentum 0.9 and weight decay 5e-4 (paper), learning rate
``lr`` with a linear warm-up over ``warmup`` steps and a cosine decay to 0 over ``steps`` or the
wall-clock budget ``max_minutes``, whichever is further along. Validation: a fixed seeded set of
``val_pairs`` patch pairs from the pack's held-out ``val`` images (accuracy and loss); the weights of the
lowest validation cross-entropy are exported (``best/<export_name>.safetensors``, with fc2 ∘ fc1 folded
into one convolution — the same function, 1.7 MB in float32 instead of 17.5 MB in fp16; the loss rather
than the accuracy, which saturates near 1 on this easy task). Lytro, MFFW and the
grayscale set are never used for any choice.

One torch thread by default (``threads: 1``); the caller's thread count is restored afterwards.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mfif.errors import MfifError
from mfif.training.config import load_kind_config
from mfif.models.cnn_liu import (
    PATCH,
    CnnLiu,
    CnnLiuConfig,
    fold_head,
    parameter_count,
    save_cnn_liu,
)

VAL_SEED = 20_260_417


@dataclass
class CnnTrainConfig:
    """Settings of a ``cnn`` run (``src/mfif/configs/cnn.yaml``)."""

    kind: str = "cnn"
    name: str = "cnn"
    export_name: str = "cnn"
    pack: str = "packs/mf-voc"
    c1: int = 64
    c2: int = 128
    c3: int = 256
    fc: int = 256
    max_images: int = 0
    blur_levels: int = 5
    blur_sigma: float = 2.0
    blur_size: int = 7
    min_std: float = 0.0
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: int = 100
    steps: int = 100000
    max_minutes: float | None = None
    val_every: int = 250
    val_pairs: int = 4096
    log_every: int = 50
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> CnnTrainConfig:
        if self.kind != "cnn":
            raise MfifError(f"kind: expected 'cnn', got {self.kind!r}")
        for k in ("c1", "c2", "c3", "fc", "blur_levels", "batch_size", "steps", "val_every", "val_pairs",
                  "log_every"):
            if int(getattr(self, k)) < 1:
                raise MfifError(f"{k}: expected a positive integer, got {getattr(self, k)}")
        if self.blur_size < 1 or self.blur_size % 2 == 0:
            raise MfifError(f"blur_size: expected an odd positive integer, got {self.blur_size}")
        if not self.blur_sigma > 0:
            raise MfifError(f"blur_sigma: expected > 0, got {self.blur_sigma}")
        if not self.lr > 0:
            raise MfifError(f"lr: expected > 0, got {self.lr}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise MfifError(f"max_minutes: expected > 0, got {self.max_minutes}")
        return self

    def net_config(self) -> CnnLiuConfig:
        return CnnLiuConfig(c1=self.c1, c2=self.c2, c3=self.c3, fc=self.fc)


def load_cnn_config(d: dict[str, Any], overrides: Sequence[str] = (), *, where: str = "config") -> CnnTrainConfig:
    """A :class:`CnnTrainConfig` from a parsed YAML mapping and ``key=value`` overrides.

    Raises:
        MfifError: an unknown key, a malformed override or a value out of range (naming ``where``).
    """
    return load_kind_config(CnnTrainConfig, d, overrides, where=where, what="cnn")


class PatchSource:
    """Gray uint8 images of one pack split, and the paper's blurred patch pairs drawn from them.

    Args:
        pack: Pack folder.
        split: ``"train"`` or ``"val"``.
        max_images: Use the first N images of the split (0 = all).
        cfg: Blur settings (``blur_levels``, ``blur_sigma``, ``blur_size``) and ``min_std``.
    """

    def __init__(self, pack: str | os.PathLike[str], split: str, *, max_images: int, cfg: CnnTrainConfig) -> None:
        import cv2

        from mfif.data.pack import Pack

        p = Pack(pack)
        idx = p.indices(split)
        if max_images:
            idx = idx[:max_images]
        if not idx:
            raise MfifError(f"{pack}: no {split!r} images")
        self.images: list[np.ndarray] = []
        for i in idx:
            img = p.load_image(i)
            g = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
            self.images.append(np.round(g * 255.0).astype(np.uint8))
        self.cfg = cfg
        self.margin = cfg.blur_levels * (cfg.blur_size // 2)

    def __len__(self) -> int:
        return len(self.images)

    def _patch(self, rng: np.random.Generator) -> tuple[np.ndarray, int, int, int]:
        for _ in range(50):
            k = int(rng.integers(len(self.images)))
            im = self.images[k]
            h, w = im.shape
            if h < PATCH or w < PATCH:
                continue
            y, x = int(rng.integers(h - PATCH + 1)), int(rng.integers(w - PATCH + 1))
            if self.cfg.min_std <= 0 or im[y: y + PATCH, x: x + PATCH].std() / 255.0 >= self.cfg.min_std:
                return im, y, x, k
        return im, y, x, k  # a flat patch after 50 draws: use it

    def pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` patch pairs: (first, second, label) with first/second n×1×16×16 float32 in [0, 1] and
        label int64 (1 = the first is the sharp one); orders alternate within the batch, shuffled."""
        import cv2

        c, m = self.cfg, self.margin
        first = np.empty((n, 1, PATCH, PATCH), np.float32)
        second = np.empty_like(first)
        label = np.zeros(n, np.int64)
        order = rng.permutation(n) % 2
        for j in range(n):
            im, y, x, _ = self._patch(rng)
            h, w = im.shape
            y0, x0 = max(0, y - m), max(0, x - m)
            y1, x1 = min(h, y + PATCH + m), min(w, x + PATCH + m)
            reg = im[y0:y1, x0:x1].astype(np.float32) / 255.0
            sharp = reg[y - y0: y - y0 + PATCH, x - x0: x - x0 + PATCH]
            blur = reg
            for _ in range(int(rng.integers(1, c.blur_levels + 1))):
                blur = cv2.GaussianBlur(blur, (c.blur_size, c.blur_size), c.blur_sigma,
                                        borderType=cv2.BORDER_REFLECT_101)
            blur = blur[y - y0: y - y0 + PATCH, x - x0: x - x0 + PATCH]
            if order[j]:
                first[j, 0], second[j, 0], label[j] = sharp, blur, 1
            else:
                first[j, 0], second[j, 0], label[j] = blur, sharp, 0
        return first, second, label


@torch.no_grad()
def evaluate(model: CnnLiu, val: tuple[np.ndarray, np.ndarray, np.ndarray], *, chunk: int = 512) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on fixed validation pairs."""
    model.eval()
    a, b, y = (torch.from_numpy(v) for v in val)
    correct, loss = 0, 0.0
    for s in range(0, len(y), chunk):
        z = model(a[s: s + chunk], b[s: s + chunk])[:, :, 0, 0]
        loss += float(F.cross_entropy(z, y[s: s + chunk], reduction="sum"))
        correct += int((z.argmax(dim=1) == y[s: s + chunk]).sum())
    return {"acc": correct / len(y), "loss": loss / len(y)}


def _export(model: CnnLiu, path: Path, metadata: dict[str, Any]) -> None:
    """Write the weights as shipped: the linear head folded (:func:`mfif.models.cnn_liu.fold_head`), float32
    (1.7 MB); an unfoldable network (``fc_relu``) as fp16."""
    if model.linear_head() is None:
        save_cnn_liu(model, path, metadata=metadata)
    else:
        save_cnn_liu(fold_head(model), path, metadata=metadata, dtype=torch.float32)


def train_cnn(cfg: CnnTrainConfig, out: str | os.PathLike[str], *, progress: bool = True) -> dict[str, Any]:
    """Run a ``cnn`` training (module docstring). ``out`` receives ``config.json``, ``log.csv``,
    ``best/<export_name>.safetensors`` (lowest validation loss), ``last/`` and ``summary.json``.

    Returns:
        JSON-able summary: steps, minutes, parameters, best step and its validation metrics, final metrics.
    """
    threads = torch.get_num_threads()
    try:
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        return _train(cfg, Path(out), progress=progress)
    finally:
        torch.set_num_threads(threads)


def _lr_at(cfg: CnnTrainConfig, step: int, minutes: float) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = step / cfg.steps
    if cfg.max_minutes:
        frac = max(frac, minutes / cfg.max_minutes)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def _train(cfg: CnnTrainConfig, out: Path, *, progress: bool) -> dict[str, Any]:
    if (out / "log.csv").exists():
        raise MfifError(f"{out}: already holds a run (choose another --out)")
    train_src = PatchSource(cfg.pack, "train", max_images=cfg.max_images, cfg=cfg)
    val_src = PatchSource(cfg.pack, "val", max_images=0, cfg=cfg)
    val = val_src.pairs(cfg.val_pairs, np.random.default_rng(VAL_SEED))
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = CnnLiu(cfg.net_config())
    for mod in (model.conv1, model.conv2, model.conv3, model.fc1, model.fc2):
        torch.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
        if mod.bias is not None:
            torch.nn.init.zeros_(mod.bias)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    n_params = parameter_count(model)
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "parameters": n_params,
                                                 "train_images": len(train_src), "val_images": len(val_src)},
                                                indent=1))
    meta = {"train_config": cfg.to_dict(), "train_images": len(train_src), "val_images": len(val_src)}
    log_f = (out / "log.csv").open("w", newline="")
    log = csv.writer(log_f)
    log.writerow(["step", "minutes", "lr", "loss", "train_acc", "val_acc", "val_loss"])
    t0 = time.monotonic()
    best: tuple[float, int, dict[str, float]] = (math.inf, 0, {})
    losses: list[float] = []
    accs: list[float] = []
    step = 0
    try:
        while step < cfg.steps:
            minutes = (time.monotonic() - t0) / 60.0
            if cfg.max_minutes is not None and minutes >= cfg.max_minutes:
                break
            lr = _lr_at(cfg, step, minutes)
            for g in opt.param_groups:
                g["lr"] = lr
            a, b, y = (torch.from_numpy(v) for v in train_src.pairs(cfg.batch_size, rng))
            model.train()
            z = model(a, b)[:, :, 0, 0]
            loss = F.cross_entropy(z, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise MfifError(f"cnn training diverged at step {step} (loss {lv}); lower lr")
            losses.append(lv)
            accs.append(float((z.argmax(dim=1) == y).float().mean()))
            row_val: dict[str, float] = {}
            if step % cfg.val_every == 0:
                row_val = evaluate(model, val)
                if row_val["loss"] < best[0]:
                    best = (row_val["loss"], step, row_val)
                    _export(model, out / "best" / f"{cfg.export_name}.safetensors",
                            {**meta, "step": step, "val": row_val})
            if step % cfg.log_every == 0 or row_val:
                mins = (time.monotonic() - t0) / 60
                log.writerow([step, f"{mins:.2f}", f"{lr:.4g}", f"{np.mean(losses):.5f}", f"{np.mean(accs):.4f}",
                              f"{row_val.get('acc', float('nan')):.4f}", f"{row_val.get('loss', float('nan')):.5f}"])
                log_f.flush()
                if progress:
                    print(f"step {step} {mins:.1f} min lr {lr:.3g} loss {np.mean(losses):.4f} acc {np.mean(accs):.3f}"
                          + (f" val acc {row_val['acc']:.4f} loss {row_val['loss']:.4f}" if row_val else ""),
                          flush=True)
                losses, accs = [], []
    finally:
        log_f.close()
    final = evaluate(model, val)
    if final["loss"] < best[0]:
        best = (final["loss"], step, final)
        _export(model, out / "best" / f"{cfg.export_name}.safetensors", {**meta, "step": step, "val": final})
    _export(model, out / "last" / f"{cfg.export_name}.safetensors", {**meta, "step": step, "val": final})
    summary = {"steps": step, "minutes": (time.monotonic() - t0) / 60.0, "parameters": n_params,
               "train_images": len(train_src), "val_images": len(val_src), "best_step": best[1], "best": best[2],
               "final": final}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
