"""The network call of the learned methods, shared by whole-image and tiled inference, on two engines.

numpy sources → 1×3×H×W arrays (gray replicated) → reflect-pad to multiples of 4 → the generator, once
or over test-time-augmented copies (flips, shifts; both source orders with ``symmetric``) → crop back;
with ``scales`` this runs on resized copies of the sources and the maps are resized back and averaged.
The engine is chosen once per call by :func:`mfif.models.runtime.choose_engine`: torch (tensors,
optional channels-last and bf16 autocast; GPUs, the paper model, ``amp=True``) or numpy
(:class:`~mfif.models.numpy_net.NumpyGenerator`, float32; small networks on a CPU), which loads
without importing torch. Both engines run the same steps in the same order.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from mfif.models.numpy_net import NumpyGenerator
from mfif.models.runtime import choose_engine, resolve_amp
from mfif.options import InferenceOptions

if TYPE_CHECKING:
    import torch


@functools.lru_cache(maxsize=8)
def _numpy_generator(name: str, path: str | None) -> NumpyGenerator:
    from mfif.models.weights import load_numpy_generator

    return load_numpy_generator(path, name=name)


@functools.lru_cache(maxsize=32)
def _parameter_count(name: str, path: str | None) -> int:
    from mfif.models.weights import parameter_count

    return parameter_count(path, name=name)


def numpy_generator_for(name: str, weights: str | None, inference: InferenceOptions) -> NumpyGenerator | None:
    """The cached numpy generator of weights set ``name`` (or file ``weights``) when
    :func:`~mfif.models.runtime.choose_engine` picks numpy for these options, else None (use torch).

    The parameter count is read from the safetensors header, so choosing costs no weights loading.
    """
    path = str(weights) if weights is not None else None
    n = _parameter_count(name, path)
    if choose_engine(device=inference.device, amp=inference.amp, n_parameters=n) != "numpy":
        return None
    return _numpy_generator(name, path)


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W or H×W×3 float32 [0, 1] → 1×3×H×W tensor (gray replicated)."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    if t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1)
    return t.to(device)


def to_array(img: np.ndarray) -> np.ndarray:
    """H×W or H×W×3 float32 [0, 1] → 1×3×H×W array (gray replicated), as :func:`to_tensor`."""
    x = np.asarray(img, dtype=np.float32)
    x = x[None, None] if x.ndim == 2 else x.transpose(2, 0, 1)[None]
    if x.shape[1] == 1:
        x = np.broadcast_to(x, (1, 3, *x.shape[2:]))
    return x


def _pad(x: Any, top: int, bottom: int, left: int, right: int, mode: str) -> Any:
    """Pad the last two axes of a tensor or an array: ``mode`` ``"reflect"`` or ``"replicate"``."""
    if isinstance(x, np.ndarray):
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="reflect" if mode == "reflect" else "edge")
    import torch.nn.functional as F

    return F.pad(x, (left, right, top, bottom), mode=mode)


def pad_to_multiple(x: Any, multiple: int = 4) -> tuple[Any, tuple[int, int]]:
    """Reflect-pad the bottom/right of N×C×H×W (tensor or array) so H and W are multiples of ``multiple``."""
    h, w = x.shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        x = _pad(x, 0, ph, 0, pw, mode)
    return x, (h, w)


def _is_channels_last(model: torch.nn.Module) -> bool:
    import torch

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


def scale_factors(scales: Any) -> tuple[float, ...]:
    """The factors of a ``scales`` setting (:func:`mfif.options.parse_scales`): None → ``(1.0,)``.

    Raises:
        MfifError: an invalid setting.
    """
    return InferenceOptions(scales=scales).scales


def exposure_matched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two sources scaled to their common mean brightness (``match_exposure``).

    Defocus blur keeps an image's mean, so two photos of one scene differ in mean only by exposure or
    gain. Each source is multiplied by ``m / m_k``, with ``m_k`` its mean over all pixels and channels
    and ``m = (m_A + m_B) / 2``, and clipped to [0, 1]. Symmetric in the sources. A source with mean
    ≤ 1e-6 (black) leaves both unchanged.

    Args:
        a, b: float32 [0, 1], H×W or H×W×3 (same shape).

    Returns:
        ``(a', b')`` float32 [0, 1], the shapes of ``a`` and ``b``.
    """
    ma, mb = float(np.mean(a, dtype=np.float64)), float(np.mean(b, dtype=np.float64))
    if min(ma, mb) <= 1e-6:
        return a, b
    m = 0.5 * (ma + mb)
    return (np.clip(a * np.float32(m / ma), 0.0, 1.0).astype(np.float32, copy=False),
            np.clip(b * np.float32(m / mb), 0.0, 1.0).astype(np.float32, copy=False))


def resize_sources(x: np.ndarray, s: float) -> np.ndarray:
    """N×C×H×W float32 sources in [0, 1] → N×C×h×w with h = round(s·H), w = round(s·W) (at least 1).

    OpenCV area interpolation when shrinking, bicubic when enlarging (clipped back to [0, 1]).
    """
    import cv2

    h, w = x.shape[2:]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    out = []
    for img in x:
        r = cv2.resize(np.ascontiguousarray(img.transpose(1, 2, 0), dtype=np.float32), size, interpolation=interp)
        out.append((r[..., None] if r.ndim == 2 else r).transpose(2, 0, 1))
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)


def _multiscale(fn: Any, a: np.ndarray, b: np.ndarray, scales: tuple[float, ...]) -> np.ndarray:
    """Mean of ``fn(a_s, b_s)`` (N×1×h×w maps) over the factors, each map resized back to H×W (bilinear)."""
    import cv2

    h, w = a.shape[2:]
    maps = []
    for s in scales:
        if s == 1.0:
            maps.append(fn(a, b))
            continue
        m = fn(resize_sources(a, s), resize_sources(b, s))
        maps.append(np.stack([cv2.resize(np.ascontiguousarray(mm[0]), (w, h), interpolation=cv2.INTER_LINEAR)
                              for mm in m])[:, None])
    return np.stack(maps).mean(axis=0, dtype=np.float32)


def _net(model: Any, a: Any, b: Any, symmetric: bool) -> Any:
    """One network call; ``symmetric``: ``0.5 + 0.5·(f(A, B) − f(B, A))`` from one batch of both orders.

    Swapping the sources negates the difference exactly, so the map of (B, A) is the complement of the
    map of (A, B) and its decisions (map > 0.5) are exactly the complementary ones.
    """
    if not symmetric:
        return model(a, b)
    n = a.shape[0]
    if isinstance(a, np.ndarray):
        m = model(np.concatenate([a, b]), np.concatenate([b, a]))
        return np.float32(0.5) + np.float32(0.5) * (m[:n] - m[n:])
    import torch

    m = model(torch.cat([a, b]), torch.cat([b, a])).float()
    return 0.5 + 0.5 * (m[:n] - m[n:])


def _flip(x: Any, dims: tuple[int, ...]) -> Any:
    if not dims:
        return x
    return np.flip(x, dims) if isinstance(x, np.ndarray) else x.flip(dims)


def predict_focus_map_array(
    model: NumpyGenerator,
    a: np.ndarray,
    b: np.ndarray,
    *,
    tta: bool | int = False,
    symmetric: bool = False,
    scales: Any = (1.0,),
) -> np.ndarray:
    """:func:`predict_focus_map_tensor` on the numpy engine: N×3×H×W float32 arrays in [0, 1] (any H, W)
    → N×1×H×W float32 in [0, 1]; ``tta``, ``symmetric`` and ``scales`` as there (float32 only, no amp)."""
    factors = scale_factors(scales)
    if factors != (1.0,):
        a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        return _multiscale(lambda sa, sb: predict_focus_map_array(model, sa, sb, tta=tta, symmetric=symmetric),
                           a, b, factors)
    n_copies = tta_copies(tta)
    if n_copies == 16:
        h, w = a.shape[2:]
        ms = []
        for dy, dx in ((0, 0), (0, 2), (2, 0), (2, 2)):
            sa, sb = a, b
            if dy or dx:
                mode = "reflect" if min(h, w) > 2 else "replicate"
                sa, sb = _pad(a, dy, 0, dx, 0, mode), _pad(b, dy, 0, dx, 0, mode)
            m = predict_focus_map_array(model, sa, sb, tta=4, symmetric=symmetric)
            ms.append(m[:, :, dy : dy + h, dx : dx + w])
        return np.stack(ms).mean(axis=0, dtype=np.float32)
    a, (h, w) = pad_to_multiple(a)
    b, _ = pad_to_multiple(b)
    if n_copies in (2, 4):
        ms = [_flip(_net(model, _flip(a, dims), _flip(b, dims), symmetric), dims) for dims in TTA_FLIPS[n_copies]]
        m = np.stack(ms).mean(axis=0, dtype=np.float32)
    else:
        m = _net(model, a, b, symmetric)
    return np.ascontiguousarray(m[:, :, :h, :w], dtype=np.float32)


def predict_focus_map_tensor(
    model: torch.nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    amp: bool | str = False,
    channels_last: bool | None = None,
    tta: bool | int = False,
    symmetric: bool = False,
    scales: Any = (1.0,),
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

    ``scales``: multi-scale inference (:func:`scale_factors`): the maps of the sources resized by each
    factor (:func:`resize_sources`, on the CPU), resized back to H×W (bilinear) and averaged; ``(1.0,)``
    (the default) = one pass at the sources' own size, unchanged.
    """
    import torch

    factors = scale_factors(scales)
    with torch.inference_mode():
        if factors != (1.0,):
            dev = a.device

            def fn(sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
                m = _predict_tensor(model, torch.from_numpy(sa).to(dev), torch.from_numpy(sb).to(dev), amp=amp,
                                    channels_last=channels_last, tta=tta, symmetric=symmetric)
                return m.cpu().numpy().astype(np.float32)

            m = _multiscale(fn, a.float().cpu().numpy(), b.float().cpu().numpy(), factors)
            return torch.from_numpy(m).to(dev)
        return _predict_tensor(model, a, b, amp=amp, channels_last=channels_last, tta=tta, symmetric=symmetric)


def _predict_tensor(
    model: torch.nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    amp: bool | str,
    channels_last: bool | None,
    tta: bool | int,
    symmetric: bool,
) -> torch.Tensor:
    import torch

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
                sa = _pad(a, dy, 0, dx, 0, mode)
                sb = _pad(b, dy, 0, dx, 0, mode)
            m = _predict_tensor(model, sa, sb, amp=amp, channels_last=channels_last, tta=4, symmetric=symmetric)
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
