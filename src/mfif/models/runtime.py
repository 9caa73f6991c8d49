"""Where and how networks run: device choice, the bf16 policy and the engine (torch or numpy), shared by
inference and training.

Importing this module does not import torch, and neither do the answers that need no GPU: a CPU-only
machine (:func:`cuda_possible` is False) resolves ``device="auto"`` to the CPU without torch, and
small networks on a CPU run in numpy (:func:`choose_engine`), so ``mfif fuse`` with the lite default
never loads torch there (≈ 1.2 s of a 2-core CPU's start-up).

Imports nothing of mfif above :mod:`mfif.errors`.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, Literal

import numpy as np

from mfif.errors import MfifError

if TYPE_CHECKING:
    import torch

#: Device files of GPUs that PyTorch's ``torch.cuda`` can use on Linux: NVIDIA's driver, AMD ROCm's
#: kernel driver, and WSL 2's GPU bridge. Without any of them no CUDA device can exist.
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")

#: Networks with at most this many parameters run on a CPU in numpy (:mod:`mfif.models.numpy_net`,
#: float32) instead of torch, unless bf16 is asked for explicitly (``amp=True``). The lite model
#: (104,168) is far below it, the paper model (13.7 M) far above (:func:`choose_engine`).
NUMPY_MAX_PARAMETERS = 1_000_000

#: Environment variable that overrides :func:`choose_engine`: ``torch``, ``numpy`` or ``auto`` (the rule).
ENGINE_ENV = "MFIF_ENGINE"


def cuda_possible() -> bool:
    """False when this machine certainly has no GPU that ``torch.cuda`` could use, decided without
    importing torch: macOS (PyTorch ships no CUDA build for it; mfif has no MPS path) and Linux without
    any of :data:`GPU_DEVICE_FILES`. True otherwise (then torch answers), and whenever torch is
    imported already.
    """
    if "torch" in sys.modules:
        return True
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in GPU_DEVICE_FILES)
    return True


def cuda_available() -> bool:
    """``torch.cuda.is_available()``, without importing torch where :func:`cuda_possible` is False."""
    if not cuda_possible():
        return False
    import torch

    return bool(torch.cuda.is_available())


def device_type(device: str | torch.device = "auto") -> str:
    """``"cpu"`` or ``"cuda"``: the kind of device ``device`` resolves to (:func:`resolve_device`'s
    checks), importing torch only where a GPU may exist or ``"cuda"`` is named.

    Raises:
        MfifError: ``"cuda"`` without a GPU, or an unknown device name.
    """
    if not isinstance(device, str):
        return device.type
    if device == "cpu":
        return "cpu"
    if device == "auto" and not cuda_possible():
        return "cpu"
    if device.startswith("cuda") and not cuda_possible():
        raise MfifError(f"--device {device}: no CUDA GPU is available")
    return resolve_device(device).type


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU → MfifError."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if device.startswith("cuda") and not cuda_available():
        raise MfifError(f"--device {device}: no CUDA GPU is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise MfifError(f"--device {device!r}: choose auto, cpu or cuda")
    return torch.device(device)


def choose_engine(*, device: str | torch.device, amp: bool | str, n_parameters: int) -> Literal["numpy", "torch"]:
    """Which engine runs a network's inference: ``"numpy"`` (:mod:`mfif.models.numpy_net`) or ``"torch"``.

    The rule, declared once: numpy when the device resolves to the CPU, bf16 is not asked for
    explicitly (``amp`` False or ``"auto"``: numpy computes in float32) and the network has at most
    :data:`NUMPY_MAX_PARAMETERS` parameters; torch otherwise (GPUs, ``amp=True``, the paper model,
    training). The environment variable ``MFIF_ENGINE`` (``torch`` / ``numpy`` / ``auto``) overrides
    it (``numpy`` still needs a CPU device); benchmarks use it to time both engines.

    Raises:
        MfifError: an unknown ``MFIF_ENGINE`` value, or ``MFIF_ENGINE=numpy`` with a GPU device.
    """
    forced = os.environ.get(ENGINE_ENV, "auto").strip().lower() or "auto"
    if forced not in ("auto", "numpy", "torch"):
        raise MfifError(f"{ENGINE_ENV}={forced!r}: choose auto, numpy or torch")
    if forced == "torch":
        return "torch"
    cpu = device_type(device) == "cpu"
    if forced == "numpy":
        if not cpu:
            raise MfifError(f"{ENGINE_ENV}=numpy runs on the CPU only (device {device!r})")
        return "numpy"
    bf16_asked = isinstance(amp, (bool, np.bool_)) and bool(amp)
    return "numpy" if cpu and not bf16_asked and n_parameters <= NUMPY_MAX_PARAMETERS else "torch"


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
    import torch

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
            import torch

            return bool(torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            return _this_cpu_has_native_bf16()
        return False
    raise MfifError(f"amp must be True, False or 'auto', got {amp!r}")
