"""MFIF-GAN inference for one pair (paper §3.3, §4.1.2).

Steps: sources → torch N×3×H×W → reflect-pad to multiples of 4 → generator → crop back → soft focus
map → threshold 0.5 → small-region removal (map and complement, 0.001·H·W, 4-connectivity) →
F = A·M + B·(1−M). Gray sources are replicated to three channels for the network; the fused image
stays gray.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mfif.errors import MfifError
from mfif.postprocess import boundary_band, postprocess_map
from mfif.registry import FusionResult


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU → MfifError."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MfifError(f"--device {device}: no CUDA GPU is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise MfifError(f"--device {device!r}: choose auto, cpu or cuda")
    return torch.device(device)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when this CPU computes bf16 natively (x86 AVX512-BF16 or AMX-BF16, Arm BF16) and PyTorch's
    oneDNN backend runs bf16 on it.

    CPUs without these instructions emulate bf16, which is usually slower than float32, so
    ``amp="auto"`` leaves them in float32. Only Linux's ``/proc/cpuinfo`` is read; elsewhere the
    answer is False (give ``amp=True`` to force bf16).

    Args:
        cpuinfo: Text of ``/proc/cpuinfo`` (tests); None = read it.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    words: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, val = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            words.update(val.split())
    native = bool(words & {"avx512_bf16", "amx_bf16", "bf16"})
    if not native:
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # builds without oneDNN
        return False


@functools.lru_cache(maxsize=1)
def _this_cpu_has_native_bf16() -> bool:
    # read /proc/cpuinfo once per process, not once per fused pair of a batch
    return cpu_has_native_bf16()


def resolve_amp(amp: bool | str, device: torch.device) -> bool:
    """Whether to run under bf16 autocast: ``True`` / ``False`` as given; ``"auto"`` = on CUDA GPUs
    with bf16 support and on CPUs with native bf16 (:func:`cpu_has_native_bf16`).

    Raises:
        MfifError: any other value.
    """
    if isinstance(amp, (bool, np.bool_)):
        return bool(amp)
    if amp == "auto":
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            return _this_cpu_has_native_bf16()
        return False
    raise MfifError(f"amp must be True, False or 'auto', got {amp!r}")


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
    if tta is True:
        return 4
    if tta is False or tta is None:
        return 1
    if isinstance(tta, (int, np.integer)) and int(tta) in (0, 1, 2, 4, 16):
        return max(1, int(tta))
    raise MfifError(f"tta must be False, True, 1, 2, 4 or 16, got {tta!r}")


@torch.inference_mode()
def predict_focus_map_tensor(
    model: torch.nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    amp: bool | str = False,
    channels_last: bool | None = None,
    tta: bool | int = False,
) -> torch.Tensor:
    """Network focus map for N×3×H×W sources in [0, 1] (any H, W) → N×1×H×W float32 in [0, 1].

    ``tta``: test-time augmentation, see :func:`tta_copies`: False / 1 = none, 2 = average with the
    left-right mirrored copy (chosen over the 180° rotation on training-split pairs), True / 4 = average
    over the four horizontal/vertical flips, 16 = the four flips of the sources shifted by (0 or 2, 0 or
    2) px.

    ``amp``: bf16 autocast: True, False or ``"auto"`` (:func:`resolve_amp`).
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
            m = predict_focus_map_tensor(model, sa, sb, amp=amp, channels_last=channels_last, tta=4)
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
                mm = model(fa, fb)
                ms.append(mm.flip(dims) if dims else mm)
            m = torch.stack(ms).float().mean(dim=0)
        else:
            m = model(a, b)
    return m[:, :, :h, :w].float()


def predict_focus_map(
    model: torch.nn.Module,
    a: np.ndarray,
    b: np.ndarray,
    *,
    device: str | torch.device = "auto",
    amp: bool | str = False,
    channels_last: bool | None = None,
    tile: int | None = None,
    tile_overlap: int | None = None,
    tta: bool | int = False,
) -> np.ndarray:
    """Soft focus map of a pair.

    Args:
        model: A generator in eval mode.
        a, b: Sources, float32 [0, 1], H×W or H×W×3 (same shape).
        device: ``auto``, ``cpu`` or ``cuda``.
        amp: bf16 autocast: True, False (default: float32, reproducible across machines) or ``"auto"``
            (on where the hardware computes bf16 natively, :func:`resolve_amp`; the CLI's default).
        channels_last: Feed channels-last tensors (None = when the model's weights are).
        tile: Tile size for large images (None = whole image); see :mod:`mfif.fusion.tiling`.
        tile_overlap: Context pixels around each tile (None = the generator's receptive-field radius).
        tta: Test-time augmentation (not combined with ``tile``): 2 = average the maps of the image and
            its left-right mirror, True / 4 = of the four flipped copies, 16 = of the flips of four
            2-px-shifted copies; see :func:`tta_copies`.

    Returns:
        float32 H×W in [0, 1], 1 = A in focus.
    """
    dev = resolve_device(device)
    amp = resolve_amp(amp, dev)
    model = model.to(dev)
    if tile and tta_copies(tta) > 1:
        raise MfifError("tta is not combined with tile: give one of them (tiles are for images too large for one pass)")
    if tile:
        from mfif.fusion.tiling import predict_focus_map_tiled

        return predict_focus_map_tiled(
            model, a, b, tile=tile, overlap=tile_overlap, device=dev, amp=amp, channels_last=channels_last
        )
    m = predict_focus_map_tensor(model, to_tensor(a, dev), to_tensor(b, dev), amp=amp, channels_last=channels_last, tta=tta)
    return m[0, 0].cpu().numpy().astype(np.float32)


# Soft composition (``fuse_pair(soft=True)``): chosen on 48 *training-split* pack pairs (docs/results.md).
SOFT_CENTER = 0.7
SOFT_GAIN = 2.0


def soft_weights(focus_map: np.ndarray, *, center: float = SOFT_CENTER, gain: float = SOFT_GAIN) -> np.ndarray:
    """Composition weights from a soft focus map: ``clip(gain·(m − center) + 0.5, 0, 1)``.

    A centre above 0.5 leans uncertain pixels towards source B. Under the defocus-spread image model
    the two wrong picks at the focus boundary do not cost the same: just outside the near object,
    A is fully blurred there while B is only partly mixed with the blurred object, so picking A by
    mistake costs more than picking B by mistake just inside it.

    Args:
        focus_map: H×W float32 in [0, 1] (1 = A in focus).
        center: Map value that gets weight 0.5.
        gain: Slope (1 = the map itself shifted; larger = closer to a hard pick).

    Returns:
        H×W float32 weights of source A in [0, 1].
    """
    return np.clip(gain * (focus_map.astype(np.float32) - center) + 0.5, 0.0, 1.0).astype(np.float32)


def compose(a: np.ndarray, b: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """F = A·M + B·(1−M) with M H×W in [0, 1] (hard or soft)."""
    m = decision.astype(np.float32)
    if a.ndim == 3:
        m = m[..., None]
    return (a * m + b * (1.0 - m)).astype(np.float32)


def fuse_pair(
    model: torch.nn.Module,
    a: np.ndarray,
    b: np.ndarray,
    *,
    device: str | torch.device = "auto",
    threshold: float = 0.5,
    min_region_ratio: float = 0.001,
    connectivity: int = 1,
    postprocess: bool = True,
    amp: bool | str = False,
    channels_last: bool | None = None,
    tile: int | None = None,
    tile_overlap: int | None = None,
    spread_correction: bool | float = False,
    tta: bool | int = False,
    soft_boundary: float = 0,
    soft: bool = False,
    soft_center: float = SOFT_CENTER,
    soft_gain: float = SOFT_GAIN,
    edge_guide: str | None = None,
    **unused: Any,
) -> FusionResult:
    """The paper's test-time pipeline for one pair. See module docstring; returns a FusionResult.

    ``spread_correction``: False (paper), True (unmix the defocus spread outside the A-region with an
    estimated blur σ, see :mod:`mfif.postprocess.spread`) or a σ value.

    ``soft_boundary`` (px, 0 = off, the paper): within this distance of the post-processed decision
    map's boundary, compose with the network's soft focus map instead of the hard decision, so
    uncertain boundary pixels are blended rather than picked (``decision_map`` stays hard).

    ``soft`` (off = the paper): compose with :func:`soft_weights` of the network's map everywhere
    (``soft_center``, ``soft_gain``); the small-region removal then only shapes ``decision_map``
    (letting it override the weights cost 0.17 dB band PSNR on 48 training-split pairs, see
    docs/results.md). Not combined with ``soft_boundary``.

    ``edge_guide`` (None = off, the paper): ``"a"`` or ``"b"`` names the *near-focus* source (the one
    whose in-focus object has sharp edges); the network's map is guided-filtered with it
    (:func:`mfif.postprocess.edges.snap_to_edges`, 3×3 windows) before thresholding and composition,
    which moves the boundary onto that object's edge. ``focus_map`` is then the filtered map.
    """
    if unused:
        raise MfifError(f"unknown option(s) for mfif-gan: {', '.join(sorted(unused))}")
    if soft and soft_boundary > 0:
        raise MfifError("soft and soft_boundary are alternatives: give one of them")
    if soft and not soft_gain > 0:
        raise MfifError(f"soft_gain must be > 0, got {soft_gain}")
    if edge_guide not in (None, "a", "b"):
        raise MfifError(f"edge_guide must be None, 'a' or 'b' (the near-focus source), got {edge_guide!r}")
    fm = predict_focus_map(
        model, a, b, device=device, amp=amp, channels_last=channels_last, tile=tile, tile_overlap=tile_overlap,
        tta=tta,
    )
    if edge_guide is not None:
        from mfif.postprocess.edges import snap_to_edges

        fm = snap_to_edges(fm, a if edge_guide == "a" else b)
    dm = postprocess_map(fm, threshold=threshold, ratio=min_region_ratio, connectivity=connectivity, enabled=postprocess)
    if soft:
        w = soft_weights(fm, center=soft_center, gain=soft_gain)
    elif soft_boundary > 0:
        w = np.where(boundary_band(dm, soft_boundary), fm, dm)
    else:
        w = dm
    fused = compose(a, b, w)
    extras: dict[str, Any] = {}
    if spread_correction is not False and spread_correction is not None:
        from mfif.postprocess.spread import correct_spread

        sigma = None if spread_correction is True else float(spread_correction)
        fused, extras["spread_sigma"] = correct_spread(a, b, dm, fused, sigma=sigma)
    return FusionResult(fused=fused, focus_map=fm, decision_map=dm, extras=extras)
