"""The network call of the learned methods, shared by whole-image and tiled inference.

numpy sources → 1×3×H×W tensors (gray replicated) → reflect-pad to multiples of 4 → optional
channels-last and bf16 autocast → the generator, once or over test-time-augmented copies → crop back.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from mfif.options import InferenceOptions
from mfif.models.runtime import resolve_amp


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W or H×W×3 float32 [0, 1] → 1×3×H×W tensor (gray replicated)."""
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    if t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1)
    return t.to(device)


def pad_to_multiple(x: torch.Tensor, multiple: int = 4) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of N×C×H×W so H and W are multiples of ``multiple``."""
    h, w = x.shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _is_channels_last(model: torch.nn.Module) -> bool:
    for p in model.parameters():
        if p.ndim == 4:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


# flipped dims of each TTA copy (N×C×H×W: 2 = rows, 3 = columns)
TTA_FLIPS: dict[int, list[tuple[int, ...]]] = {2: [(), (3,)], 4: [(), (3,), (2,), (2, 3)]}


def tta_copies(tta: bool | int) -> int:
    """Number of network passes of a ``tta`` setting: False/0/1 → 1, 2 → the image and its mirror image,
    True/4 → the 4 flips, 16 → flips × shifts.

    Raises:
        MfifError: any other value.
    """
    return InferenceOptions(tta=tta).tta


def _net(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor, symmetric: bool) -> torch.Tensor:
    """One network call; ``symmetric``: ``0.5 + 0.5·(f(A, B) − f(B, A))`` from one batch of both orders.

    Swapping the sources negates the difference exactly, so the map of (B, A) is the complement of the
    map of (A, B) and its decisions (map > 0.5) are exactly the complementary ones.
    """
    if not symmetric:
        return model(a, b)
    n = a.shape[0]
    m = model(torch.cat([a, b]), torch.cat([b, a])).float()
    return 0.5 + 0.5 * (m[:n] - m[n:])


@torch.inference_mode()
def predict_focus_map_tensor(
    model: torch.nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    amp: bool | str = False,
    channels_last: bool | None = None,
    tta: bool | int = False,
    symmetric: bool = False,
) -> torch.Tensor:
    """Network focus map for N×3×H×W sources in [0, 1] (any H, W) → N×1×H×W float32 in [0, 1].

    ``tta``: test-time augmentation, see :func:`tta_copies`: False / 1 = none, 2 = average with the
    left-right mirrored copy (chosen over the 180° rotation on training-split pairs), True / 4 = average
    over the four horizontal/vertical flips, 16 = the four flips of the sources shifted by (0 or 2, 0 or
    2) px.

    ``amp``: bf16 autocast: True, False or ``"auto"`` (:func:`resolve_amp`).

    ``symmetric``: every network call sees both source orders in one batch and returns
    ``0.5 + 0.5·(f(A, B) − f(B, A))`` (:func:`_net`): the map no longer depends on which source is
    first (2× compute).
    """
    amp = resolve_amp(amp, a.device)
    n_copies = tta_copies(tta)
    if n_copies == 16:
        # the generator sees the sources through 1/4-resolution features: shifting them by half a
        # feature cell moves that grid against the image, so the four shifts average phase errors
        h, w = a.shape[2:]
        ms = []
        for dy, dx in ((0, 0), (0, 2), (2, 0), (2, 2)):
            sa, sb = a, b
            if dy or dx:
                mode = "reflect" if min(h, w) > 2 else "replicate"
                sa = F.pad(a, (dx, 0, dy, 0), mode=mode)
                sb = F.pad(b, (dx, 0, dy, 0), mode=mode)
            m = predict_focus_map_tensor(model, sa, sb, amp=amp, channels_last=channels_last, tta=4,
                                         symmetric=symmetric)
            ms.append(m[:, :, dy : dy + h, dx : dx + w])
        return torch.stack(ms).mean(dim=0)
    a, (h, w) = pad_to_multiple(a)
    b, _ = pad_to_multiple(b)
    if channels_last is None:
        channels_last = _is_channels_last(model)
    if channels_last:
        a = a.contiguous(memory_format=torch.channels_last)
        b = b.contiguous(memory_format=torch.channels_last)
    ctx = (
        torch.autocast(device_type=a.device.type, dtype=torch.bfloat16)
        if amp
        else contextlib.nullcontext()
    )
    with ctx:
        if n_copies in (2, 4):
            # flips are exact symmetries of the task: average the maps of the flipped copies
            flips = TTA_FLIPS[n_copies]
            ms = []
            for dims in flips:
                fa = a.flip(dims) if dims else a
                fb = b.flip(dims) if dims else b
                mm = _net(model, fa, fb, symmetric)
                ms.append(mm.flip(dims) if dims else mm)
            m = torch.stack(ms).float().mean(dim=0)
        else:
            m = _net(model, a, b, symmetric)
    return m[:, :, :h, :w].float()
