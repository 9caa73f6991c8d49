"""MMF-Net (Ma, Liao, Zhang, Liu, Xue, IEEE TIP 2020) as a registered method: ``mmf-net``.

The cascade (:class:`mfif.models.mmf_net.MMFNet`): an initial-fusion sub-net predicts the guidance map
``G`` from the two RGB sources, a boundary-fusion sub-net corrects ``G·A + (1 − G)·B`` where ``G`` is
undecided; the fused image is the cascade's RGB output clipped to [0, 1], ``focus_map`` = ``G``
(1 = source A) and ``decision_map`` = ``G > 0.5``. Gray sources are replicated to three channels and the
result is returned gray (the channel mean). Weights: the shipped ``mmf-net.safetensors`` (trained on this
project's CPU, docs/comparisons/mmf-net.md) or ``weights=PATH``. Pairs only; stacks go through the
pair-wise stack extension. Large images can be run in tiles (``tile``) with the network's
receptive-field radius (46 px) as context, which gives the same result as one pass.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from mfif.baselines._common import check_images, check_option
from mfif.models.weights import weights_file
from mfif.registry import FusionResult, register_method

if TYPE_CHECKING:
    from mfif.models.mmf_net import MMFNet

NAME = "mmf-net"


@lru_cache(maxsize=4)
def _model(path: str, device: str) -> MMFNet:
    from mfif.models.mmf_net import load_mmf_net

    return load_mmf_net(path, device=device)


def _run(model: MMFNet, x: Any, amp: bool) -> tuple[Any, Any]:
    import torch

    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=amp):
        g, f = model(x)
    return g.float(), f.float()


def _tiles(n: int, core: int) -> list[tuple[int, int]]:
    return [(s, min(s + core, n)) for s in range(0, n, core)]


@register_method(
    NAME,
    description="MMF-Net (Ma et al. 2020): cascaded initial-fusion (guidance map) and boundary-fusion (RGB) "
    "sub-nets, alpha-matte training data (re-implemented at the paper's size, trained on CPU)",
    max_inputs=2,
    needs_weights=True,
    citation="Ma, Liao, Zhang, Liu, Xue, An alpha-matte boundary defocus model based cascaded network for "
    "multi-focus image fusion, IEEE Transactions on Image Processing 29, 2020",
    options=("weights", "device", "amp", "tile", "tile_overlap"),
)
def mmf_net(images: Sequence[np.ndarray], *, weights: str | None = None, device: Any = "auto",
            amp: bool | str = False, tile: int | None = None, tile_overlap: int | None = None) -> FusionResult:
    """Fuse a pair with MMF-Net.

    Args:
        images: Two sources, H×W or H×W×3 float32 in [0, 1], same shape.
        weights: Weights file (None = the installed ``mmf-net.safetensors``).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        amp: bf16 autocast (True, False or ``"auto"``: :func:`mfif.models.runtime.resolve_amp`).
        tile: Tile core size in pixels (None or 0 = one pass; ≥ 16); memory is bounded by the tile.
        tile_overlap: Context pixels around each tile (None = the receptive-field radius, exact).

    Returns:
        FusionResult: ``fused`` (the cascade's output clipped to [0, 1], H×W for gray sources),
        ``focus_map`` = the guidance map (H×W in [0, 1], 1 = A), ``decision_map`` = map > 0.5, and
        ``extras["initial"]`` = the initial fusion ``G·A + (1 − G)·B`` (shape of ``fused``).

    Raises:
        MfifError: not exactly two sources, mismatched shapes, a bad option, missing or unfitting weights.
    """
    imgs = check_images(images, method=NAME, max_inputs=2)
    if tile is not None and tile:
        check_option(NAME, "tile", tile, isinstance(tile, (int, np.integer)) and int(tile) >= 16, "an integer >= 16")
    if tile_overlap is not None:
        check_option(NAME, "tile_overlap", tile_overlap,
                     isinstance(tile_overlap, (int, np.integer)) and int(tile_overlap) >= 0, "an integer >= 0")
    import torch

    from mfif.models.runtime import resolve_amp, resolve_device

    dev = resolve_device(device)
    use_amp = resolve_amp(amp, dev)
    model = _model(weights_file(NAME, weights), str(dev))
    is_gray = imgs[0].ndim == 2
    rgb = [np.repeat(im[..., None], 3, axis=2) if is_gray else im for im in imgs]
    h, w = rgb[0].shape[:2]
    x = torch.from_numpy(np.concatenate(rgb, axis=2).transpose(2, 0, 1).copy())[None]  # 1×6×H×W
    g = np.empty((h, w), np.float32)
    f = np.empty((h, w, 3), np.float32)
    with torch.inference_mode():
        if not tile:
            gt, ft = _run(model, x.to(dev), use_amp)
            g[:] = gt[0, 0].cpu().numpy()
            f[:] = ft[0].permute(1, 2, 0).cpu().numpy()
        else:
            pad = model.config.radius() if tile_overlap is None else int(tile_overlap)
            for y0, y1 in _tiles(h, int(tile)):
                for x0, x1 in _tiles(w, int(tile)):
                    ya, yb, xa, xb = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
                    gt, ft = _run(model, x[:, :, ya:yb, xa:xb].to(dev), use_amp)
                    g[y0:y1, x0:x1] = gt[0, 0, y0 - ya:y1 - ya, x0 - xa:x1 - xa].cpu().numpy()
                    f[y0:y1, x0:x1] = ft[0, :, y0 - ya:y1 - ya, x0 - xa:x1 - xa].permute(1, 2, 0).cpu().numpy()
    a, b = rgb
    initial = g[..., None] * a + (1 - g[..., None]) * b
    fused = np.clip(f, 0.0, 1.0)
    if is_gray:
        fused, initial = fused.mean(axis=2), initial.mean(axis=2)
    return FusionResult(fused=fused.astype(np.float32), focus_map=np.clip(g, 0.0, 1.0),
                        decision_map=(g > 0.5).astype(np.float32),
                        extras={"initial": initial.astype(np.float32)})
