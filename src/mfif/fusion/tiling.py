"""Tiled network inference for large images (memory-bounded).

The image is cut into a grid of ``tile × tile`` *cores*. Each core is run through the generator
inside a *window* that adds ``overlap`` context pixels on every side (clipped at the image border),
and only the core of the window's output is written into the full-resolution map. At any time only
one window's tensors and feature maps exist, so memory is bounded by the tile size, not the image
size: the full-resolution state is the two numpy sources and the float32 H×W output map.

Windows start on multiples of 4 (the generator's two stride-2 convolutions), so every window sees
the same down-sampling phase as the untiled network, and windows that touch the image border see
the same zero padding as the untiled network. The one thing tiling cannot reproduce exactly is the
squeeze-and-excitation global average pool in each residual block: each window pools over itself
rather than over the whole image. With BatchNorm in eval mode nothing else depends on the batch
or the image extent.

Default overlap: the generator's theoretical receptive-field radius, measured as the support of the
gradient of one output pixel (SE disabled) and maximised over the four stride phases, is
``15 + 8·n_blocks`` pixels (39 for the 3-block lite model, 87 for the paper's 9 blocks), plus one per
3×3 convolution of a refinement head. The default overlap is that radius rounded up to a multiple of
4 (:func:`default_overlap`), so a tiled map differs from the untiled one only through the SE pooling;
measured differences are in docs/stacking.md §Tiling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mfif.errors import MfifError
from mfif.fusion.inference import predict_focus_map_array, predict_focus_map_tensor, to_array, to_tensor
from mfif.models.numpy_net import NumpyGenerator
from mfif.models.runtime import resolve_device
from mfif.options import InferenceOptions

if TYPE_CHECKING:
    import torch

#: Context pixels when the model's depth is unknown (covers the paper's 9-block generator).
DEFAULT_OVERLAP = 88
#: Default tile core size in pixels.
DEFAULT_TILE = 512


def _round4(x: int) -> int:
    return int(-(-int(x) // 4) * 4)


def receptive_radius(model: Any) -> int | None:
    """Theoretical receptive-field radius in pixels of a :class:`~mfif.models.generator.Generator`.

    ``15 + 8·n_blocks`` (measured as the gradient support of one output pixel with SE off, the
    largest over the four stride-4 phases: 39 px for 3 blocks, 87 px for 9), plus ``refine_layers``
    with a refinement head, plus the context pathway's reach (``28 + 32·context_blocks``: its two
    stride-2 convs, the H/16 blocks and the upsampling). None for models without a ``config.n_blocks``.
    """
    cfg = getattr(model, "config", None)
    nb = getattr(cfg, "n_blocks", None)
    if nb is None:
        return None
    head = int(getattr(cfg, "refine_layers", 0)) if getattr(cfg, "refine_width", 0) else 0
    ctx = 0
    if getattr(cfg, "context_width", 0):  # 3×3/2 at H/4 (4 px) and H/8 (8), 3×3 convs at H/16 (16 each),
        ctx = 4 + 8 + 16 + 32 * int(getattr(cfg, "context_blocks", 0))  # bilinear upsampling from H/16 (16)
    return 15 + 8 * int(nb) + head + ctx  # each 3×3 conv of a refinement head adds one pixel


def default_overlap(model: Any) -> int:
    """Receptive-field radius rounded up to a multiple of 4, else :data:`DEFAULT_OVERLAP`."""
    r = receptive_radius(model)
    return DEFAULT_OVERLAP if r is None else _round4(r)


def tile_grid(h: int, w: int, tile: int, overlap: int) -> list[tuple[slice, slice, slice, slice]]:
    """Windows and cores of the tiling of an H×W image.

    Args:
        h, w: Image size.
        tile: Core size (rounded up to a multiple of 4).
        overlap: Context on each side (rounded up to a multiple of 4).

    Returns:
        A list of ``(win_y, win_x, core_y, core_x)``: slices of the window in image coordinates and
        of the core in window coordinates.
    """
    tile, overlap = _round4(tile), _round4(overlap)
    out = []
    for y0 in range(0, h, tile):
        y1 = min(h, y0 + tile)
        wy0, wy1 = max(0, y0 - overlap), min(h, y1 + overlap)
        for x0 in range(0, w, tile):
            x1 = min(w, x0 + tile)
            wx0, wx1 = max(0, x0 - overlap), min(w, x1 + overlap)
            out.append(
                (slice(wy0, wy1), slice(wx0, wx1), slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0))
            )
    return out


def predict_focus_map_tiled(
    model: torch.nn.Module | NumpyGenerator,
    a: np.ndarray,
    b: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    device: str | torch.device = "cpu",
    amp: bool | str = False,
    channels_last: bool = False,
    symmetric: bool = False,
) -> np.ndarray:
    """Soft focus map of a pair, computed tile by tile.

    Args:
        model: A generator in eval mode (already on ``device``), or a
            :class:`~mfif.models.numpy_net.NumpyGenerator` (CPU, float32; ``device``, ``amp`` and
            ``channels_last`` do not apply).
        a, b: Sources, float32 [0, 1], H×W or H×W×3, same shape.
        tile: Core size in pixels (rounded up to a multiple of 4; ≥ 16).
        overlap: Context pixels around each core (rounded up to a multiple of 4); None =
            :func:`default_overlap` (the model's receptive-field radius).
        device: Torch device (``auto`` / ``cpu`` / ``cuda`` strings are resolved).
        amp: bf16 autocast (True, False or ``"auto"``, :func:`mfif.models.runtime.resolve_amp`).
        channels_last: Channels-last memory format.
        symmetric: Both source orders per window (:func:`mfif.fusion.inference.predict_focus_map_tensor`).

    Returns:
        float32 H×W in [0, 1], 1 = A in focus.

    Raises:
        MfifError: tile or overlap out of range, or sources of different shapes.
    """
    if not tile:
        raise MfifError(f"--tile {tile}: use a tile size of at least 16 pixels")
    InferenceOptions(tile=tile, tile_overlap=overlap)  # the declared checks of both
    overlap = default_overlap(model) if overlap is None else int(overlap)
    if a.shape != b.shape:
        raise MfifError(f"tiled inference: source shapes differ ({a.shape} vs {b.shape})")
    h, w = a.shape[:2]
    out = np.empty((h, w), np.float32)
    if isinstance(model, NumpyGenerator):
        for wy, wx, cy, cx in tile_grid(h, w, int(tile), overlap):
            m = predict_focus_map_array(model, to_array(a[wy, wx]), to_array(b[wy, wx]), symmetric=symmetric)
            out[wy.start + cy.start : wy.start + cy.stop, wx.start + cx.start : wx.start + cx.stop] = m[0, 0, cy, cx]
        return out
    dev = resolve_device(device)
    for wy, wx, cy, cx in tile_grid(h, w, int(tile), overlap):
        ta = to_tensor(a[wy, wx], dev)
        tb = to_tensor(b[wy, wx], dev)
        m = predict_focus_map_tensor(model, ta, tb, amp=amp, channels_last=channels_last, symmetric=symmetric)
        out[wy.start + cy.start : wy.start + cy.stop, wx.start + cx.start : wx.start + cx.stop] = (
            m[0, 0, cy, cx].cpu().numpy()
        )
        del ta, tb, m
    return out
