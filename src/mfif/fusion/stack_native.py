"""``mfif-stack``: stack-native fusion, one network pass per frame (:class:`mfif.models.stack_net.StackNet`).

Frames are read one at a time: each is scored (H×W logits z_k), and a running softmax keeps only the
running maximum logit m, the running sum s = Σ exp(z_k − m), the running weighted sum of the frames
and the running argmax. At the end::

    fused = Σ_k exp(z_k − m)·frame_k / s          depth = argmax_k z_k (small regions removed)

(with a depth head, depth = argmax_k d_k of the depth scores, kept as a running maximum and argmax too)

so time is linear in N and memory does not grow with N beyond the frames the caller holds: any
sequence of frames (a lazy one too) is read once, frame by frame, and frames may be uint8 or uint16
(scaled to [0, 1] one at a time; ``mfif fuse`` passes its frames as read, 8/16 bits kept).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mfif.errors import MfifError
from mfif.io import frame_to_float
from mfif.options import ComposeOptions
from mfif.registry import FusionResult, register_method

NAME = "mfif-stack"
#: Softmax temperature of the shipped weights' composition, chosen on the trainer's validation stacks
#: (``scripts/stack_select.py``; docs/model-card.md §mfif-stack).
DEFAULT_TEMPERATURE = 0.25


@lru_cache(maxsize=4)
def _cached(path: str | None, device: str) -> Any:
    return load_stack_net(path, device=device)


def load_stack_net(path: str | None = None, *, device: str = "cpu") -> Any:
    """Load a :class:`~mfif.models.stack_net.StackNet` from a safetensors file (default: the shipped
    ``mfif-stack`` weights), in eval mode on ``device``."""
    import json

    from mfif.models.stack_net import StackNet, StackNetConfig
    from mfif.models.weights import installed_weights, read_state

    files = [path] if path is not None else installed_weights(NAME)
    if not files:
        raise MfifError(f"{NAME}: no weights installed (src/mfif/weights/{NAME}.safetensors)")
    state, meta = read_state(files if path is None else path)
    if meta.get("format") != "mfif-stacknet-v1" or "mfif_config" not in meta:
        raise MfifError(f"{files[0]}: not a stack-model weights file (format {meta.get('format')!r})")
    model = StackNet(StackNetConfig.from_dict(json.loads(meta["mfif_config"])))
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise MfifError(f"{files[0]}: weights do not fit the stack model ({str(exc).splitlines()[0]})") from None
    return model.eval().to(device)


def _scores(model: Any, luma: np.ndarray, *, device: Any, amp: bool, channels_last: bool, tta: int) -> np.ndarray:
    """H×W float32 luma → C×H×W float32 score logits (C = 1, or 2 with a depth head; reflect-padded to
    multiples of 4, flips averaged)."""
    import torch
    import torch.nn.functional as F

    h, w = luma.shape
    x = torch.from_numpy(np.ascontiguousarray(luma))[None, None].to(device)
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    flips = {1: [()], 2: [(), (3,)], 4: [(), (3,), (2,), (2, 3)]}[tta]
    out = None
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for dims in flips:
            xi = torch.flip(x, dims) if dims else x
            if channels_last:
                xi = xi.contiguous(memory_format=torch.channels_last)
            z = model(xi).float()
            z = torch.flip(z, dims) if dims else z
            out = z if out is None else out + z
    return (out[0, :, :h, :w] / len(flips)).cpu().numpy()


def fuse_stack_native(
    model: Any,
    frames: Sequence[np.ndarray],
    *,
    device: str = "auto",
    amp: bool | str = False,
    channels_last: bool | None = None,
    tta: int = 1,
    temperature: float = DEFAULT_TEMPERATURE,
    score_sigma: float = 0.0,
    compose_options: ComposeOptions | None = None,
    names: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FusionResult:
    """Fuse N ≥ 2 frames with the stack model (module docstring).

    Args:
        model: A :class:`~mfif.models.stack_net.StackNet` in eval mode.
        frames: N frames of one size, H×W or H×W×3 (gray frames are replicated when others are colour),
            float [0, 1], uint8 or uint16; read once, in order (a lazy sequence works).
        device, amp, channels_last: As :class:`mfif.options.InferenceOptions`.
        tta: 1, 2 (mirror) or 4 (flips): score maps of flipped copies averaged.
        temperature: Softmax temperature of the weights (> 0; lower = closer to picking one frame).
        score_sigma: Gaussian smoothing (σ in pixels, 0 = none) of each frame's score map before the
            decision.
        compose_options: ``min_region_ratio``, ``connectivity`` and ``postprocess`` apply to the depth map.
        names: Frame names for error messages.
        progress: Called as ``progress(done, N)`` after each frame.

    Returns:
        FusionResult: ``fused`` (float32, the frames' shape), ``depth_map`` (int32 H×W frame index of the
        largest weight, or of the largest depth score with a depth head), ``decision_map`` (1 where frame 1 has the largest weight), ``focus_map`` = the
        weight of frame 1 (float32 H×W).
    """
    import torch

    from mfif.filters import luma as luma_of
    from mfif.models.runtime import resolve_amp, resolve_device

    comp = compose_options or ComposeOptions()
    n = len(frames)
    if n < 2:
        raise MfifError("fusion needs at least two source images")
    if tta not in (1, 2, 4):
        raise MfifError(f"tta: {NAME} takes 1, 2 or 4, got {tta}")
    if not temperature > 0:
        raise MfifError(f"temperature: expected > 0, got {temperature}")
    if not score_sigma >= 0:
        raise MfifError(f"score_sigma: expected >= 0, got {score_sigma}")
    names = list(names) if names is not None else [f"image {i + 1}" for i in range(n)]
    dev = resolve_device(device)
    use_amp = resolve_amp(amp, dev)
    model = model.to(dev)
    cl = bool(channels_last) if channels_last is not None else dev.type == "cpu"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    shape0: tuple[int, ...] | None = None
    color = False
    m = s = acc = idx = z0 = None
    dmax = didx = None  # running maximum and argmax of the depth head's scores
    for k in range(n):
        f = frame_to_float(frames[k], name=names[k])
        if shape0 is None:
            shape0 = f.shape[:2]
            if min(shape0) < 8:
                raise MfifError(f"{names[k]}: image is {f.shape[1]}x{f.shape[0]}, smaller than the 8x8 minimum")
        elif f.shape[:2] != shape0:
            raise MfifError(f"{names[k]}: size {f.shape[1]}x{f.shape[0]} differs from {names[0]} "
                            f"({shape0[1]}x{shape0[0]}) (use --align to register them)")
        zc = _scores(model, luma_of(f) if f.ndim == 3 else f, device=dev, amp=use_amp, channels_last=cl, tta=tta)
        z = zc[0]
        if zc.shape[0] > 1:
            d = zc[1]
            if dmax is None:
                dmax, didx = d.copy(), np.zeros(d.shape, np.int32)
            else:
                didx[d > dmax] = k
                np.maximum(dmax, d, out=dmax)
        del zc
        if score_sigma > 0:
            import cv2

            z = cv2.GaussianBlur(z, (0, 0), score_sigma, borderType=cv2.BORDER_REFLECT)
        z = z / np.float32(temperature)
        if f.ndim == 3 and not color:
            color = True
            if acc is not None:
                acc = np.repeat(acc[..., None], 3, axis=2)
        elif f.ndim == 2 and color:
            f = np.repeat(f[..., None], 3, axis=2)
        if m is None:
            m, s, acc, idx = z.copy(), np.ones_like(z), f.copy(), np.zeros(z.shape, np.int32)
            z0 = z
        else:
            # in place (f and z are this iteration's own arrays): a = exp(m − m'), b = exp(z − m')
            if didx is None:  # the fusion scores' argmax is the depth map only without a depth head
                idx[z > m] = k
            new = np.maximum(m, z)
            np.subtract(m, new, out=m)
            a = np.exp(m, out=m)
            np.subtract(z, new, out=z)
            b = np.exp(z, out=z)
            s *= a
            s += b
            acc *= a[..., None] if acc.ndim == 3 else a
            f *= b[..., None] if f.ndim == 3 else b
            acc += f
            m = new
        del f
        if progress is not None:
            progress(k + 1, n)
    fused = (acc / (s[..., None] if acc.ndim == 3 else s)).astype(np.float32)
    w0 = (np.exp(z0 - m) / s).astype(np.float32)
    depth = idx if didx is None else didx
    if comp.postprocess:
        from mfif.fusion.stack import clean_depth_map

        depth = clean_depth_map(depth, ratio=comp.min_region_ratio, connectivity=comp.connectivity)
    return FusionResult(fused=np.clip(fused, 0.0, 1.0), focus_map=w0, decision_map=(depth == 0).astype(np.float32),
                        depth_map=depth.astype(np.int32), extras={"frames": n, "network_passes": n * tta})


_DEFAULTS = ComposeOptions()


@register_method(
    NAME,
    description="MFIF-GAN-stack: one pass per frame of a weight-shared SE-ResNet branch, an N-way softmax "
    "decision (time linear in the frames, memory independent of them); trained on synthetic focal stacks",
    max_inputs=None,
    needs_weights=True,
    citation="this project",
    streams=True,
)
def mfif_stack(
    images: Sequence[np.ndarray],
    *,
    weights: str | None = None,
    device: str = "auto",
    amp: bool | str = False,
    channels_last: bool | None = None,
    tta: int = 1,
    temperature: float = DEFAULT_TEMPERATURE,
    min_region_ratio: float = _DEFAULTS.min_region_ratio,
    connectivity: int = _DEFAULTS.connectivity,
    postprocess: bool = _DEFAULTS.postprocess,
    progress: Callable[[int, int], None] | None = None,
) -> FusionResult:
    """The registry entry: options as :func:`fuse_stack_native` (``weights`` = a safetensors file)."""
    from mfif.models.runtime import resolve_device

    dev = resolve_device(device)
    model = _cached(str(weights) if weights is not None else None, str(dev))
    comp = ComposeOptions(min_region_ratio=min_region_ratio, connectivity=connectivity, postprocess=postprocess)
    return fuse_stack_native(model, images, device=str(dev), amp=amp, channels_last=channels_last, tta=tta,
                             temperature=temperature, compose_options=comp, names=getattr(images, "names", None),
                             progress=progress)


def is_stack_weights(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a stack-model weights file (its safetensors metadata says so); False for any
    other file, a folder of pair-model shards, or something unreadable (the loader reports those)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        return False
    try:
        with safe_open(str(p), framework="numpy") as fh:
            return (fh.metadata() or {}).get("format") == "mfif-stacknet-v1"
    except Exception:  # noqa: BLE001 - not a readable safetensors file: not a stack model
        return False


def has_stack_weights() -> bool:
    """True when the shipped ``mfif-stack`` weights are installed."""
    from mfif.models.weights import installed_weights

    return bool(installed_weights(NAME))
