"""Where and how networks run: device choice and the bf16 policy, shared by inference and training.

Imports nothing of mfif above :mod:`mfif.errors`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from mfif.errors import MfifError


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
