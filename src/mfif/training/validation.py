"""Validation metrics on held-out synthetic pairs.

For each validation item (centre crop, fixed σ, no augmentation):

* ``iou``: intersection over union of the thresholded map (> 0.5) with the true mask, foreground
  (A-in-focus) class; pooled over the whole validation set (Σ intersection / Σ union).
* ``map_l1``: mean |soft map − mask|.
* ``psnr``: PSNR (peak 1) of the fused image ``A·M̂ + B·(1 − M̂)`` with the hard map M̂ against the
  all-in-focus ``truth``; the MSE is pooled over all pixels of all items before taking the log.
* ``psnr_band``: the same restricted to pixels within 8 px (Euclidean) of the mask boundary.
* ``ref_psnr`` / ``ref_psnr_band``: the same two numbers for the true mask as M̂ (the ceiling of a
  hard pick; below ∞ because the α-matte spreads A's blur into B across the boundary).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch

from mfif.metrics.reference import boundary_band, psnr_from_mse

BAND_PX = 8.0
MAX_DB = 100.0  # validation's PSNR ceiling (a perfect pick logs 100 dB, not inf)


def _psnr(sse: float, count: float) -> float:
    if count <= 0:
        return float("nan")
    return psnr_from_mse(sse / count, max_db=MAX_DB)


def build_val_batches(
    source: Any,
    indices: Sequence[int],
    *,
    crop: int,
    model: str,
    sigma: float,
    seed: int,
    literal: bool,
    batch: int,
) -> list[dict[str, torch.Tensor]]:
    """The fixed validation set, synthesised once: batches with keys a, b, mask, truth, band.

    Args:
        source: Pack-like source (``load_image``, ``load_mask``).
        indices: The validation items.
        crop: Centre-crop size (``val_crop``).
        model: Synthesis model (``alpha`` or ``conventional``).
        sigma: The one defocus σ of every item.
        seed: Dataset seed.
        literal: The paper's literal α-matte equations.
        batch: Items per batch (``val_batch``).

    Returns:
        Batches of N×3×H×W ``a``, ``b``, ``truth``, N×1×H×W ``mask`` and bool ``band`` (pixels within
        :data:`BAND_PX` of the mask boundary).
    """
    from mfif.data.dataset import SyntheticPairDataset

    vset = SyntheticPairDataset(
        source, crop=crop, model=model, sigma=sigma, augment=False, seed=seed,
        indices=list(indices), synthesize=True, literal=literal,
    )
    items = [vset[i] for i in range(len(vset))]
    out = []
    for j in range(0, len(items), batch):
        chunk = items[j : j + batch]
        bt = {k: torch.stack([it[k] for it in chunk]) for k in ("a", "b", "mask", "truth")}
        bt["band"] = torch.from_numpy(np.stack([boundary_band(it["mask"][0].numpy(), BAND_PX) for it in chunk]))[:, None]
        out.append(bt)
    return out


class ValAccumulator:
    """Accumulates pooled sums; ``result()`` gives the metric dict."""

    def __init__(self) -> None:
        self.inter = self.union = 0.0
        self.l1 = self.l1_n = 0.0
        self.sse = self.n = 0.0
        self.sse_band = self.n_band = 0.0
        self.ref_sse = self.ref_sse_band = 0.0

    def add(
        self,
        pred: torch.Tensor,
        mask: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        truth: torch.Tensor,
        band: torch.Tensor,
    ) -> None:
        """pred, mask: N×1×H×W; a, b, truth: N×3×H×W; band: N×1×H×W bool."""
        pred = pred.float()
        hard = (pred > 0.5).float()
        m = mask.float()
        self.inter += float((hard * m).sum())
        self.union += float(((hard + m) > 0).float().sum())
        self.l1 += float((pred - m).abs().sum())
        self.l1_n += float(m.numel())
        c = a.shape[1]
        fused = a * hard + b * (1 - hard)
        ref = a * m + b * (1 - m)
        err = ((fused - truth) ** 2).sum(dim=1, keepdim=True)
        rerr = ((ref - truth) ** 2).sum(dim=1, keepdim=True)
        bandf = band.float()
        self.sse += float(err.sum())
        self.ref_sse += float(rerr.sum())
        self.n += float(err.numel() * c)
        self.sse_band += float((err * bandf).sum())
        self.ref_sse_band += float((rerr * bandf).sum())
        self.n_band += float(bandf.sum() * c)

    def result(self) -> dict[str, float]:
        return {
            "iou": self.inter / self.union if self.union > 0 else 1.0,
            "map_l1": self.l1 / max(self.l1_n, 1.0),
            "psnr": _psnr(self.sse, self.n),
            "psnr_band": _psnr(self.sse_band, self.n_band),
            "ref_psnr": _psnr(self.ref_sse, self.n),
            "ref_psnr_band": _psnr(self.ref_sse_band, self.n_band),
        }


@torch.no_grad()
def evaluate_generator(
    model: torch.nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    device: torch.device,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Run ``model`` (in eval mode) over validation batches with keys a, b, mask, truth, band."""
    was_training = model.training
    model.eval()
    acc = ValAccumulator()
    try:
        for bt in batches:
            a = bt["a"].to(device)
            b = bt["b"].to(device)
            if channels_last:
                a = a.contiguous(memory_format=torch.channels_last)
                b = b.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                pred = model(a, b)
            acc.add(
                pred.float().cpu(), bt["mask"], bt["a"], bt["b"], bt["truth"], bt["band"]
            )
    finally:
        model.train(was_training)
    return acc.result()
