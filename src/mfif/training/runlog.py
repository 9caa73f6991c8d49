"""What a training run writes besides checkpoints: ``log.csv``, progress lines, the validation
reference, and the exported generator (``best/``, ``final/``).

Only rank 0 writes. Every file is written atomically (temporary file or folder, then rename), and
``log.csv`` is first rewritten to the rows up to the resumed step, so a resumed run's log continues
where its checkpoint stood.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from mfif.io import write_atomic
from mfif.training import checkpoint as ck
from mfif.training.config import TrainConfig, dump_yaml

LOG_COLUMNS = [
    "step", "g_updates", "elapsed_s", "samples_per_s", "lr_g", "lr_d",
    "loss_d", "gp", "loss_g", "adv_g", "rec", "img", "distill",
    "val_iou", "val_map_l1", "val_psnr", "val_psnr_band", "val_ref_psnr", "val_ref_psnr_band", "best",
]
VAL_REFERENCE = "val_reference.json"


class RunLog:
    """``log.csv`` of a run plus the window of loss values since the last row.

    Args:
        path: The ``log.csv`` file; rows after ``step`` (from a run that went further than its last
            checkpoint) are dropped, the rest kept.
        step: The step the run starts (or resumes) at.
        batch_size: Global batch size (for ``samples_per_s``).
    """

    def __init__(self, path: Path, step: int, *, batch_size: int) -> None:
        rows: list[dict[str, str]] = []
        if path.exists():
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if r.get("step") and int(float(r["step"])) <= step]
        buf = io.StringIO()
        w = csv.DictWriter(buf, LOG_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in LOG_COLUMNS})
        write_atomic(path, buf.getvalue())
        self._fh = open(path, "a", newline="")
        self._writer = csv.DictWriter(self._fh, LOG_COLUMNS)
        self.batch_size = batch_size
        self.window: dict[str, list[float]] = {}
        self._start, self._steps = time.time(), 0

    def add(self, losses: dict[str, float]) -> None:
        """Record one iteration's loss terms."""
        self._steps += 1
        for k, v in losses.items():
            self.window.setdefault(k, []).append(v)

    def means(self, fmt: str = ".4g") -> dict[str, str]:
        """Window means, formatted (the progress bar's postfix)."""
        return {k: f"{np.mean(v):{fmt}}" for k, v in self.window.items()}

    def write(self, row: dict[str, Any], *, step: int, g_updates: int, elapsed: float, lr_g: float, lr_d: float) -> str:
        """Append a row (``row`` holds the validation columns, if any) and start a new window.

        Returns:
            The progress line of the window (for a log without a progress bar).
        """
        dt = time.time() - self._start
        row.update({
            "step": step, "g_updates": g_updates, "elapsed_s": f"{elapsed:.1f}",
            "samples_per_s": f"{self._steps * self.batch_size / max(dt, 1e-9):.3f}",
            "lr_g": f"{lr_g:.4g}", "lr_d": f"{lr_d:.4g}",
            **self.means(".6g"),
        })
        self._writer.writerow(row)
        self._fh.flush()
        line = " ".join(f"{k} {np.mean(v):.4g}" for k, v in self.window.items())
        self.window, self._start, self._steps = {}, time.time(), 0
        return line

    def close(self) -> None:
        self._fh.close()


def val_columns(metrics: dict[str, float]) -> dict[str, str]:
    """Validation metrics as ``log.csv`` columns (``val_<name>``)."""
    return {f"val_{k}": f"{v:.6g}" for k, v in metrics.items()}


def val_line(step: int, metrics: dict[str, float], *, best: bool) -> str:
    """The progress line of one validation."""
    return (f"[val step {step}] iou {metrics['iou']:.4f} map_l1 {metrics['map_l1']:.4f} "
            f"psnr {metrics['psnr']:.2f} band {metrics['psnr_band']:.2f}" + (" *best*" if best else ""))


def write_val_reference(out: Path, metrics: dict[str, float], log: Callable[[str], None]) -> None:
    """Write ``val_reference.json``: the fused PSNR of the hard pick with the true mask (once per run)."""
    write_atomic(out / VAL_REFERENCE, json.dumps(
        {"ref_psnr": metrics["ref_psnr"], "ref_psnr_band": metrics["ref_psnr_band"],
         "note": "fused PSNR of the hard pick with the TRUE mask (ceiling of a hard pick)"},
        indent=1))
    log(f"[val reference] true-mask hard pick: PSNR {metrics['ref_psnr']:.2f} dB, "
        f"boundary band {metrics['ref_psnr_band']:.2f} dB")


def export_generator(
    model: torch.nn.Module,
    folder: Path,
    cfg: TrainConfig,
    *,
    step: int,
    ema: bool,
    metrics: dict[str, float] | None = None,
) -> list[Path]:
    """fp16 safetensors of ``model`` (shards ≤ ``export_shard_mib``) + ``config.yaml`` + ``metrics.json``.

    The folder is assembled beside ``folder`` and swapped in, so an interrupted export leaves the
    previous one intact.

    Returns:
        The weight files, as they lie in ``folder``.
    """
    from mfif.models.weights import save_generator

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        meta = {"step": step, "train_config": json.dumps(cfg.to_dict()),
                "val": json.dumps(metrics or {}), "ema": str(ema)}
        model = copy.deepcopy(model).cpu().float().to(memory_format=torch.contiguous_format)
        files = save_generator(model, tmp / f"{cfg.export_name}.safetensors", dtype=torch.float16,
                               shard_mib=cfg.export_shard_mib, metadata=meta)
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        (tmp / "metrics.json").write_text(json.dumps({"step": step, **(metrics or {})}, indent=1))
        ck._swap_in(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [folder / f.name for f in files]
