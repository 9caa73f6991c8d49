"""The Siamese patch classifier of Liu, Chen, Peng, Wang, "Multi-focus image fusion with a deep
convolutional neural network", Information Fusion 36:191-207 (2017), registered as ``cnn``.

Network (paper Fig. 2 and the released MATLAB forward pass, docs: ../shared/docs/baselines.md §3.6):

* one branch, weights shared by both sources, on a gray image in [0, 1] (no normalisation):
  conv 3×3 → 64, ReLU; conv 3×3 → 128, ReLU; 2×2 max-pool, stride 2 (odd sizes: the last row/column
  pooled alone, as zero padding of non-negative activations); conv 3×3 → 256, ReLU; all convolutions
  zero-padded to the same size;
* the two branches' features concatenated (512 channels) → "fc1", an 8×8 valid convolution to 256
  channels → "fc2", a 1×1 convolution to 2 channels → softmax. The released forward pass applies no bias
  and no ReLU after fc1 and fc2 (``fc_bias``/``fc_relu`` default False, so the authors' weights file
  loads as released).

Run fully convolutionally on an H×W pair, output pixel (i, j) (size ``ceil(H/2) − 7`` × ``ceil(W/2) − 7``)
is the probability that source A is the sharp one in the 16×16 patch at (2i, 2j) of the sources;
:func:`scores_to_focus_map` spreads the scores back over their patches. Tensors are N×C×H×W inside.

:func:`load_liu_mat` reads the authors' ``cnnmodel.mat`` (Caffe weights converted to MATLAB; not shipped,
research-only licence) if a user has it: variables ``weights_b1_1`` (9×64), ``weights_b1_2`` (64×9×128),
``weights_b1_3`` (128×9×256), ``weights_feature`` (512×64×256), ``weights_output`` (256×1×2) and the
biases ``biases_b1_{1,2,3}``; each kernel is stored column-major (MATLAB ``reshape``) and applied as a
correlation.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mfif.errors import MfifError

#: Side of the training patches = the receptive field of one output score (in source pixels).
PATCH = 16
#: Output stride in source pixels (one max-pool).
STRIDE = 2
#: safetensors metadata ``format`` of this model's weights files.
FORMAT = "mfif-cnn-liu-v1"


@dataclass(frozen=True)
class CnnLiuConfig:
    """Widths of the network (the paper: 64, 128, 256, 256) and the fc details.

    Attributes:
        c1, c2, c3: Output channels of the three branch convolutions.
        fc: Channels of fc1.
        fc_bias: Biases in fc1/fc2 (the released forward pass has none).
        fc_relu: ReLU after fc1 (the released forward pass has none).
        folded: fc2 ∘ fc1 stored as one 8×8 convolution to 2 channels with a bias (``fc1``; no ``fc2``):
            without a ReLU between them the same function, with 65,538 instead of 8.4 M head parameters
            (:func:`fold_head`; the shipped file is folded).
    """

    c1: int = 64
    c2: int = 128
    c3: int = 256
    fc: int = 256
    fc_bias: bool = False
    fc_relu: bool = False
    folded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CnnLiuConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(k for k in d if k not in names)
        if unknown:
            raise MfifError(f"cnn model config: unknown key(s) {', '.join(unknown)}")
        cfg = cls(**d)
        if cfg.folded and cfg.fc_relu:
            raise MfifError("cnn model config: a folded head has no ReLU (fc_relu must be false)")
        return cfg


class CnnLiu(nn.Module):
    """The Siamese network (module docstring). ``forward(a, b)`` takes N×1×H×W gray tensors in [0, 1]
    and returns N×2×h×w logits (class 1 = A is sharp); :meth:`score` the softmax of class 1."""

    def __init__(self, config: CnnLiuConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or CnnLiuConfig()
        self.conv1 = nn.Conv2d(1, cfg.c1, 3, padding=1)
        self.conv2 = nn.Conv2d(cfg.c1, cfg.c2, 3, padding=1)
        self.conv3 = nn.Conv2d(cfg.c2, cfg.c3, 3, padding=1)
        if cfg.folded:
            self.fc1 = nn.Conv2d(2 * cfg.c3, 2, PATCH // STRIDE, bias=True)
            self.fc2: nn.Module | None = None
        else:
            self.fc1 = nn.Conv2d(2 * cfg.c3, cfg.fc, PATCH // STRIDE, bias=cfg.fc_bias)
            self.fc2 = nn.Conv2d(cfg.fc, 2, 1, bias=cfg.fc_bias)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """N×1×H×W → N×c3×ceil(H/2)×ceil(W/2) features of one source."""
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # ReLU outputs ≥ 0: same as zero padding odd sizes
        return F.relu(self.conv3(x))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = a.shape[0]
        f = self.branch(torch.cat([a, b], dim=0))  # one pass of the shared branch for both sources
        z = self.fc1(torch.cat([f[:n], f[n:]], dim=1))
        if self.fc2 is None:
            return z
        if self.config.fc_relu:
            z = F.relu(z)
        return self.fc2(z)

    def linear_head(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """fc2 ∘ fc1 as one 8×8 convolution: ``(weight 2×2c3×8×8, bias 2)`` float32, composed in float64;
        None when a ReLU separates them (``fc_relu``)."""
        if self.fc2 is None:
            return self.fc1.weight.detach().float(), self.fc1.bias.detach().float()
        if self.config.fc_relu:
            return None
        w1 = self.fc1.weight.detach().double()  # fc × 2c3 × 8 × 8
        w2 = self.fc2.weight.detach().double()[:, :, 0, 0]  # 2 × fc
        w = torch.einsum("of,fikl->oikl", w2, w1)
        bias = torch.zeros(2, dtype=torch.float64, device=w.device)
        if self.fc1.bias is not None:
            bias = bias + w2 @ self.fc1.bias.detach().double()
        if self.fc2.bias is not None:
            bias = bias + self.fc2.bias.detach().double()
        return w.float(), bias.float()

    def score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """N×h×w probability that A is the sharp source of each 16×16 patch (stride 2)."""
        return torch.softmax(self.forward(a, b).float(), dim=1)[:, 1]


def fold_head(model: CnnLiu) -> CnnLiu:
    """The same network with fc2 ∘ fc1 folded into one convolution (:attr:`CnnLiuConfig.folded`), eval mode.

    Raises:
        MfifError: the head has a ReLU between fc1 and fc2 (not a linear map).
    """
    head = model.linear_head()
    if head is None:
        raise MfifError("cnn: fc1 and fc2 are separated by a ReLU; the head cannot be folded")
    cfg = CnnLiuConfig(**{**model.config.to_dict(), "fc_bias": False, "fc_relu": False, "folded": True})
    out = CnnLiu(cfg)
    state = {k: v for k, v in model.state_dict().items() if k.startswith("conv")}
    state["fc1.weight"], state["fc1.bias"] = head
    out.load_state_dict(state)
    return out.eval()


def parameter_count(model: nn.Module) -> int:
    """Number of learned parameters."""
    return sum(p.numel() for p in model.parameters())


def scores_to_focus_map(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Spread patch scores over their 16×16 patches and average (the authors' accumulation).

    Args:
        scores: h×w scores, (i, j) for the patch whose top-left pixel is (2i, 2j); patches running past
            the image are clipped to it.
        shape: (H, W) of the sources.

    Returns:
        float32 H×W focus map in [0, 1] (mean of the scores of the patches covering each pixel).
    """
    h, w = shape
    s = np.asarray(scores, np.float64)
    sh, sw = s.shape
    big = (STRIDE * (sh - 1) + PATCH, STRIDE * (sw - 1) + PATCH)
    acc = np.zeros(big)
    cnt = np.zeros(big)
    for dy in range(PATCH):
        for dx in range(PATCH):
            acc[dy: dy + STRIDE * sh: STRIDE, dx: dx + STRIDE * sw: STRIDE] += s
            cnt[dy: dy + STRIDE * sh: STRIDE, dx: dx + STRIDE * sw: STRIDE] += 1.0
    acc, cnt = acc[:h, :w], cnt[:h, :w]
    if acc.shape != (h, w) or not (cnt > 0).all():
        raise MfifError(f"cnn: a {sh}x{sw} score map does not cover a {h}x{w} image")
    return (acc / cnt).astype(np.float32)


def score_shape(h: int, w: int) -> tuple[int, int]:
    """Size of the score map of an H×W pair: ``ceil(H/2) − 7`` × ``ceil(W/2) − 7``."""
    k = PATCH // STRIDE - 1
    return math.ceil(h / 2) - k, math.ceil(w / 2) - k


def save_cnn_liu(model: CnnLiu, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None,
                 dtype: torch.dtype = torch.float16) -> Path:
    """Write ``model`` as one safetensors file (atomic; fp16 by default), config in ``mfif_config``."""
    from mfif.models.weights import save_model_file

    return save_model_file(model, path, fmt=FORMAT, metadata=metadata, dtype=dtype)


def load_cnn_liu(path: str | os.PathLike[str] | list[Path]) -> CnnLiu:
    """Load a :class:`CnnLiu` (float32, eval mode, CPU) from a safetensors file of :func:`save_cnn_liu`
    or from the authors' ``.mat`` file (:func:`load_liu_mat`).

    Raises:
        MfifError: unreadable file, another model's weights, or tensors that do not fit.
    """
    if not isinstance(path, list) and str(path).lower().endswith(".mat"):
        return load_liu_mat(path)
    from mfif.models.weights import read_state

    state, meta = read_state(path)
    name = path[0] if isinstance(path, list) else path
    if meta.get("format") != FORMAT or "mfif_config" not in meta:
        raise MfifError(f"{name}: not a cnn weights file (format {meta.get('format')!r})")
    model = CnnLiu(CnnLiuConfig.from_dict(json.loads(meta["mfif_config"])))
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise MfifError(f"{name}: weights do not fit the cnn model ({str(exc).splitlines()[0]})") from None
    return model.eval()


_MAT_KEYS = ("weights_b1_1", "biases_b1_1", "weights_b1_2", "biases_b1_2", "weights_b1_3", "biases_b1_3",
             "weights_feature", "weights_output")


def _mat_kernels(w: np.ndarray, cin: int, k: int, name: str) -> np.ndarray:
    """MATLAB (cin × k² × cout) (or k² × cout for cin = 1) → torch cout × cin × k × k, each k² column
    read column-major as MATLAB's ``reshape`` does."""
    w = np.asarray(w, np.float64)
    if cin == 1 and w.ndim == 2:
        w = w[None]
    if w.ndim == 2 and k == 1:
        w = w[:, None, :]
    if w.ndim != 3 or w.shape[0] != cin or w.shape[1] != k * k:
        raise MfifError(f"{name}: expected {cin}x{k * k}xN, got {'x'.join(map(str, np.shape(w)))}")
    cout = w.shape[2]
    # w[i, c*k + r, o] = kernel(r, c) of input i → output o
    return np.ascontiguousarray(w.reshape(cin, k, k, cout).transpose(3, 0, 2, 1))


def load_liu_mat(path: str | os.PathLike[str]) -> CnnLiu:
    """The authors' ``cnnmodel.mat`` (module docstring) as a :class:`CnnLiu` (float32, eval, CPU).

    Raises:
        MfifError: missing file, not a MATLAB file, missing variables or inconsistent shapes.
    """
    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise MfifError(f"{p}: weights file not found")
    try:
        mat = scipy.io.loadmat(str(p))
    except Exception as exc:  # scipy raises several types for non-MATLAB input
        raise MfifError(f"{p}: not a readable MATLAB .mat file ({type(exc).__name__})") from None
    missing = [k for k in _MAT_KEYS if k not in mat]
    if missing:
        raise MfifError(f"{p}: not the CNN model of Liu et al. (missing {', '.join(missing)})")
    w1 = np.asarray(mat["weights_b1_1"])
    c1 = w1.shape[-1]
    c2 = np.shape(mat["weights_b1_2"])[-1]
    c3 = np.shape(mat["weights_b1_3"])[-1]
    fc = np.shape(mat["weights_feature"])[-1]
    model = CnnLiu(CnnLiuConfig(c1=c1, c2=c2, c3=c3, fc=fc))
    k8 = PATCH // STRIDE
    tensors = {
        "conv1.weight": _mat_kernels(w1, 1, 3, f"{p}: weights_b1_1"),
        "conv2.weight": _mat_kernels(mat["weights_b1_2"], c1, 3, f"{p}: weights_b1_2"),
        "conv3.weight": _mat_kernels(mat["weights_b1_3"], c2, 3, f"{p}: weights_b1_3"),
        "fc1.weight": _mat_kernels(mat["weights_feature"], 2 * c3, k8, f"{p}: weights_feature"),
        "fc2.weight": _mat_kernels(np.reshape(mat["weights_output"], (fc, 1, -1)), fc, 1, f"{p}: weights_output"),
    }
    for i, c in ((1, c1), (2, c2), (3, c3)):
        b = np.asarray(mat[f"biases_b1_{i}"], np.float64).ravel()
        if b.size != c:
            raise MfifError(f"{p}: biases_b1_{i} has {b.size} values, expected {c}")
        tensors[f"conv{i}.bias"] = b
    if tensors["fc2.weight"].shape[0] != 2:
        raise MfifError(f"{p}: weights_output must have 2 outputs, got {tensors['fc2.weight'].shape[0]}")
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in tensors.items()})
    return model.eval()


def save_liu_mat(model: CnnLiu, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` in the layout of the authors' ``cnnmodel.mat`` (the inverse of
    :func:`load_liu_mat`; for tests and for running our weights in the released MATLAB code)."""
    import scipy.io

    if model.config.fc_bias or model.config.fc_relu or model.config.folded:
        raise MfifError("the .mat layout has fc1 and fc2 without biases and without a ReLU between them")

    def flat(w: torch.Tensor) -> np.ndarray:
        a = w.detach().cpu().double().numpy()  # cout × cin × k × k
        cout, cin, k, _ = a.shape
        return np.ascontiguousarray(a.transpose(1, 3, 2, 0).reshape(cin, k * k, cout))

    d = {
        "weights_b1_1": flat(model.conv1.weight)[0],
        "weights_b1_2": flat(model.conv2.weight),
        "weights_b1_3": flat(model.conv3.weight),
        "weights_feature": flat(model.fc1.weight),
        "weights_output": flat(model.fc2.weight),
    }
    for i in (1, 2, 3):
        d[f"biases_b1_{i}"] = getattr(model, f"conv{i}").bias.detach().double().numpy()[:, None]
    p = Path(path)
    scipy.io.savemat(str(p), d)
    return p
