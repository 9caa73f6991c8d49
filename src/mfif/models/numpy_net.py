"""Torch-free forward pass of the MFIF-GAN generator: numpy + OpenCV, float32, eval mode.

The same function as :class:`mfif.models.generator.Generator` in ``eval()`` (tested to < 1e-4 in the
focus map against the torch forward), without importing torch: a one-pair ``mfif fuse`` on a CPU
spends about 1.2 s importing torch against about 0.1 s running the 104k-parameter lite network, so
small networks on a CPU run here (the rule: :func:`mfif.models.runtime.choose_engine`).

BatchNorm is folded into the preceding (transposed) convolution once, when the weights are loaded
(``y = γ·(x − μ)/√(σ² + ε) + β`` is an affine map per channel in eval mode). Two backends run the
folded layers:

* ``"opencv"`` (default): the 1 → w and 2w → 1 7×7 convolutions as OpenCV ``filter2D`` calls (one
  per image and channel pair), everything between them as two small ONNX graphs (written here as
  protobuf, no onnx package) on OpenCV's DNN module, whose convolution kernels are several times
  faster than the numpy products below. The branch mean and concatenation and the sigmoid are numpy.
* ``"numpy"``: the layer functions of this module, the reference and the fallback where OpenCV has no
  DNN module. Activations are channels-first (``C×N×H×W``) so every product is one BLAS call over all
  images and pixels. A convolution is one product of the ``Cout×(k²·Cin)`` weights with the ``k²``
  shifted copies of the zero-padded, flattened input (stride 2: of its four polyphase components),
  or ``filter2D`` calls when the channel pairs are few; a 4×4 / stride-2 transposed convolution is one
  product with the ``k²·Cout × Cin`` weights and, per output phase, four shifted adds;
  squeeze-and-excitation is a spatial mean, two small products and a sigmoid.

Which layers exist is read from the state dict (width, number of blocks, SE, refinement head, context
pathway — run on the numpy layers in both backends, it works at H/8 and H/16); only the
input mode (colour or gray) comes from the ``mfif_config`` metadata. The building blocks
(:func:`fold_branch` / :func:`run_branch` / :func:`branch_onnx`, the decoder's, :func:`conv2d`,
:func:`conv_transpose2d`, :func:`filter2d_nchw`) take a folded state dict, so other small nets with
the same branch or decoder layout can use them.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from mfif.errors import MfifError

#: Input mode when the weights' metadata names none (the default of ``GeneratorConfig``, tested).
DEFAULT_INPUT_MODE = "color"
#: BatchNorm2d's default ε (the generator never sets another).
BN_EPS = 1e-5
#: Luma weights of the gray input mode (``mfif.models.generator._luma``, MATLAB ``rgb2gray``).
LUMA = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103], np.float32)

#: A stride-1 'same' convolution with at most this many (input, output) channel pairs runs as OpenCV
#: ``filter2D`` calls (:func:`_conv_filter2d`); others as one matrix product (:func:`_conv_taps`).
FILTER2D_MAX_PAIRS = 16

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class NumpyNetConfig:
    """The architecture of a generator as read from its weights (the fields tiling and the engine rule use).

    Attributes:
        width: Channels of the first encoder conv.
        n_blocks: SE residual blocks of the branch.
        se: Squeeze-and-excitation in the blocks.
        input_mode: ``"color"`` (each channel through the branch, mean per source) or ``"gray"`` (luma).
        refine_width: Channels of the refinement head (0 = none).
        refine_layers: Convolutions of the refinement head (0 = none).
        context_width: Channels of the context pathway (0 = none).
        context_blocks: SE residual blocks of the context pathway.
    """

    width: int
    n_blocks: int
    se: bool
    input_mode: str
    refine_width: int = 0
    refine_layers: int = 0
    context_width: int = 0
    context_blocks: int = 0


# ---------------------------------------------------------------------------------------------- layers


def relu_(x: np.ndarray) -> np.ndarray:
    """In-place ReLU; returns ``x``."""
    return np.maximum(x, 0.0, out=x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function in float32 (overflow-safe: ``exp`` of non-positive numbers only)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def _pad(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Zero padding of the last two axes (faster than ``np.pad``)."""
    if not (top or bottom or left or right):
        return x
    c, n, h, w = x.shape
    out = np.zeros((c, n, h + top + bottom, w + left + right), np.float32)
    out[:, :, top : top + h, left : left + w] = x
    return out


def _taps_product(planes: dict[tuple[int, int], np.ndarray], taps: list[tuple[tuple[int, int], int, int]],
                  wmat: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray:
    """One matrix product over shifted copies of flattened planes.

    Every plane is ``C×(N·Gh·Gw)`` (a zero-padded image on a grid of ``Gh×Gw``); tap ``t`` reads plane
    ``planes[key]`` shifted by ``(dy, dx)`` grid cells, which in the flattened layout is a shift by
    ``dy·Gw + dx`` — one contiguous copy per channel row. Returns ``wmat @ cols`` as ``Cout×N×Gh×Gw``
    (cells whose taps run past their image's grid hold garbage; callers crop them).
    """
    n, gh, gw = grid
    length = n * gh * gw
    c = next(iter(planes.values())).shape[0]
    cols = np.empty((len(taps), c, length), np.float32)
    for t, (key, dy, dx) in enumerate(taps):
        off = dy * gw + dx
        src = planes[key]
        cols[t, :, : length - off] = src[:, off:]
        cols[t, :, length - off :] = 0.0
    out = wmat @ cols.reshape(len(taps) * c, length)
    return out.reshape(-1, n, gh, gw)


def _conv_taps(x: np.ndarray, weight: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Convolution with stride 1 or 2 as one product over the ``k²`` taps (:func:`_taps_product`).

    Stride 2 works on the four polyphase components of the padded input (even/odd rows × columns):
    tap ``(ky, kx)`` is component ``(ky mod 2, kx mod 2)`` shifted by ``(ky // 2, kx // 2)``.
    """
    cout, cin, k, _ = weight.shape
    _, n, h, w = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if stride == 1:
        xp = _pad(x, pad, pad, pad, pad)
        gh, gw = xp.shape[2:]
        planes = {(0, 0): xp.reshape(cin, -1)}
        taps = [((0, 0), i, j) for i in range(k) for j in range(k)]
    elif stride == 2:
        hp, wp = h + 2 * pad, w + 2 * pad
        gh, gw = -(-hp // 2), -(-wp // 2)
        xp = _pad(x, pad, 2 * gh - hp + pad, pad, 2 * gw - wp + pad)
        planes = {(py, px): np.ascontiguousarray(xp[:, :, py::2, px::2]).reshape(cin, -1)
                  for py in range(2) for px in range(2)}
        taps = [((i % 2, j % 2), i // 2, j // 2) for i in range(k) for j in range(k)]
    else:
        raise MfifError(f"conv2d: stride {stride} is not supported (1 or 2)")
    wmat = weight.transpose(0, 2, 3, 1).reshape(cout, k * k * cin)
    out = _taps_product(planes, taps, wmat, (n, gh, gw))
    return np.ascontiguousarray(out[:, :, :ho, :wo])


def _conv_filter2d(x: np.ndarray, weight: np.ndarray, pad: int) -> np.ndarray:
    """Stride-1 'same' convolution as one OpenCV ``filter2D`` per (input, output) channel pair and image:
    fastest when the channel pairs are few (the 1 → w and 2w → 1 7×7 convolutions)."""
    import cv2

    cout, cin = weight.shape[:2]
    _, n, h, w = x.shape
    out = np.zeros((cout, n, h, w), np.float32)
    for o in range(cout):
        for i in range(cin):
            ker = np.ascontiguousarray(weight[o, i])
            for m in range(n):
                out[o, m] += cv2.filter2D(x[i, m], cv2.CV_32F, ker, borderType=cv2.BORDER_CONSTANT)
    return out


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """2-D convolution (cross-correlation, zero padding) as ``torch.nn.functional.conv2d``.

    Args:
        x: ``Cin×N×H×W`` float32.
        weight: ``Cout×Cin×k×k`` float32 (square kernel).
        bias: ``Cout`` or None.
        stride: 1 or 2.
        padding: Zero padding on every side.

    Returns:
        ``Cout×N×Ho×Wo`` float32.
    """
    cout, cin, k, _ = weight.shape
    c = x.shape[0]
    if c != cin:
        raise MfifError(f"conv2d: input has {c} channels, weights expect {cin}")
    if stride == 1 and cin * cout <= FILTER2D_MAX_PAIRS and 2 * padding == k - 1 and k > 1:
        out = _conv_filter2d(x, weight, padding)
    else:
        out = _conv_taps(x, weight, stride, padding)
    if bias is not None:
        out += bias[:, None, None, None]
    return out


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, stride: int = 2,
                     padding: int = 1) -> np.ndarray:
    """Transposed 2-D convolution as ``torch.nn.functional.conv_transpose2d`` (no output padding).

    The generator's form (k = 4, stride 2, padding 1) runs as one product of the ``k²·Cout × Cin``
    weights with the input and, for each of the four output phases (even/odd rows × columns), the sum
    of its four taps' planes shifted by −1, 0 or +1 input cells; any other form scatters every tap.

    Args:
        x: ``Cin×N×H×W`` float32.
        weight: ``Cin×Cout×k×k`` float32 (torch's layout for transposed convs).
        bias: ``Cout`` or None.

    Returns:
        ``Cout×N×Ho×Wo`` float32 with ``Ho = (H − 1)·stride − 2·padding + k``.
    """
    cin, cout, k, _ = weight.shape
    c, n, h, w = x.shape
    if c != cin:
        raise MfifError(f"conv_transpose2d: input has {c} channels, weights expect {cin}")
    wt = weight.transpose(2, 3, 1, 0).reshape(k * k * cout, cin)
    if (k, stride, padding) == (4, 2, 1):
        xp = _pad(x, 1, 1, 1, 1)
        gh, gw = h + 2, w + 2
        length = n * gh * gw
        y = (wt @ xp.reshape(cin, length)).reshape(k, k, cout, length)
        out = np.empty((cout, n, h, 2, w, 2), np.float32)
        # output row 2m + p reads input row m + d through kernel row t: (t, d) per phase p
        rows = {0: ((1, 0), (3, -1)), 1: ((2, 0), (0, 1))}
        span = (n - 1) * gh * gw + (h - 1) * gw + w  # flat cells up to the last valid one
        for py in (0, 1):
            for px in (0, 1):
                acc = np.zeros((cout, n * gh * gw), np.float32)
                for ky, dy in rows[py]:
                    for kx, dx in rows[px]:
                        off = (1 + dy) * gw + (1 + dx)
                        acc[:, :span] += y[ky, kx, :, off : off + span]
                out[:, :, :, py, :, px] = acc.reshape(cout, n, gh, gw)[:, :, :h, :w]
        out = out.reshape(cout, n, 2 * h, 2 * w)
    else:
        y = (wt @ x.reshape(cin, n * h * w)).reshape(k, k, cout, n, h, w)
        full_h, full_w = (h - 1) * stride + k, (w - 1) * stride + k
        full = np.zeros((cout, n, full_h, full_w), np.float32)
        for i in range(k):
            for j in range(k):
                full[:, :, i : i + stride * (h - 1) + 1 : stride, j : j + stride * (w - 1) + 1 : stride] += y[i, j]
        ho, wo = full_h - 2 * padding, full_w - 2 * padding
        out = np.ascontiguousarray(full[:, :, padding : padding + ho, padding : padding + wo])
    if bias is not None:
        out += bias[:, None, None, None]
    return out


def squeeze_excite(x: np.ndarray, fc1: np.ndarray, fc2: np.ndarray) -> np.ndarray:
    """``x · sigmoid(fc2 · relu(fc1 · mean_hw(x)))`` per image and channel; ``x``: ``C×N×H×W`` (scaled in place)."""
    s = x.mean(axis=(2, 3), dtype=np.float32)  # C×N
    g = sigmoid(fc2 @ relu_(fc1 @ s))
    x *= g[:, :, None, None]
    return x


# ------------------------------------------------------------------------------------- weights, folding


def fold_batchnorm(state: Mapping[str, np.ndarray], conv: str, bn: str, *, transposed: bool = False,
                   eps: float = BN_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Weight and bias of the convolution ``conv`` (state-dict prefix) with the BatchNorm ``bn`` folded in.

    Computed in float32 as :func:`mfif.models.optimize.fold_batchnorm` does, so both engines run the
    same folded numbers.
    """
    f32 = np.float32
    scale = state[f"{bn}.weight"].astype(f32) / np.sqrt(state[f"{bn}.running_var"].astype(f32) + f32(eps))
    shift = state[f"{bn}.bias"].astype(f32) - state[f"{bn}.running_mean"].astype(f32) * scale
    w = state[f"{conv}.weight"].astype(f32)
    w = w * (scale[None, :, None, None] if transposed else scale[:, None, None, None])
    b = state.get(f"{conv}.bias")
    bias = shift if b is None else b.astype(f32) * scale + shift
    return np.ascontiguousarray(w, dtype=f32), bias.astype(f32)


def _count_blocks(state: Mapping[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}.net.{9 + n}.conv1.weight" in state:
        n += 1
    return n


def fold_branch(state: Mapping[str, np.ndarray], prefix: str = "branch") -> Params:
    """The folded parameters of a :class:`~mfif.models.generator.Branch` stored under ``prefix``.

    Layout (``Sequential`` indices): conv 0 + BN 1, conv 3 + BN 4, conv 6 + BN 7, SE blocks from 9.
    """
    p: Params = {}
    for conv, bn, name in ((0, 1, "c0"), (3, 4, "c1"), (6, 7, "c2")):
        p[f"{name}.w"], p[f"{name}.b"] = fold_batchnorm(state, f"{prefix}.net.{conv}", f"{prefix}.net.{bn}")
    for i in range(_count_blocks(state, prefix)):
        _fold_block(state, f"{prefix}.net.{9 + i}", f"b{i}", p)
    return p


def _fold_block(state: Mapping[str, np.ndarray], blk: str, name: str, p: Params) -> None:
    """Fold the :class:`~mfif.models.generator.SEBasicBlock` stored under ``blk`` into ``p`` as ``name.*``."""
    for c in ("1", "2"):
        p[f"{name}.conv{c}.w"], p[f"{name}.conv{c}.b"] = fold_batchnorm(state, f"{blk}.conv{c}", f"{blk}.bn{c}")
    if f"{blk}.se.fc.0.weight" in state:
        p[f"{name}.se1"] = state[f"{blk}.se.fc.0.weight"].astype(np.float32)
        p[f"{name}.se2"] = state[f"{blk}.se.fc.2.weight"].astype(np.float32)


def fold_decoder(state: Mapping[str, np.ndarray], prefix: str = "decoder") -> Params:
    """The folded parameters of a :class:`~mfif.models.generator.Decoder` under ``prefix``: transposed
    conv 0 + BN 1, transposed conv 3 + BN 4, conv 6 (no BN, no bias)."""
    p: Params = {}
    for conv, bn, name in ((0, 1, "t0"), (3, 4, "t1")):
        p[f"{name}.w"], p[f"{name}.b"] = fold_batchnorm(state, f"{prefix}.net.{conv}", f"{prefix}.net.{bn}",
                                                        transposed=True)
    p["out.w"] = state[f"{prefix}.net.6.weight"].astype(np.float32)
    b = state.get(f"{prefix}.net.6.bias")
    if b is not None:
        p["out.b"] = b.astype(np.float32)
    return p


def run_branch(p: Params, x: np.ndarray) -> np.ndarray:
    """Branch forward: ``1×N×H×W`` in [−1, 1] (H, W multiples of 4) → ``4w×N×H/4×W/4``."""
    x = relu_(conv2d(x, p["c0.w"], p["c0.b"], padding=p["c0.w"].shape[-1] // 2))
    x = relu_(conv2d(x, p["c1.w"], p["c1.b"], stride=2, padding=1))
    x = relu_(conv2d(x, p["c2.w"], p["c2.b"], stride=2, padding=1))
    return _run_blocks(p, x)


def _run_blocks(p: Params, x: np.ndarray) -> np.ndarray:
    """The SE residual blocks ``b0, b1, …`` of ``p`` on ``C×N×h×w`` features."""
    i = 0
    while f"b{i}.conv1.w" in p:
        out = relu_(conv2d(x, p[f"b{i}.conv1.w"], p[f"b{i}.conv1.b"], padding=1))
        out = conv2d(out, p[f"b{i}.conv2.w"], p[f"b{i}.conv2.b"], padding=1)
        if f"b{i}.se1" in p:
            out = squeeze_excite(out, p[f"b{i}.se1"], p[f"b{i}.se2"])
        out += x
        x = relu_(out)
        i += 1
    return x


def fold_context(state: Mapping[str, np.ndarray], prefix: str = "context") -> Params:
    """The folded parameters of a :class:`~mfif.models.generator.ContextPath` under ``prefix`` (empty
    when the weights have none): conv ``down.0`` + BN 1, conv 3 + BN 4, SE blocks from 6, 1×1 ``out``."""
    if f"{prefix}.out.weight" not in state:
        return {}
    p: Params = {}
    for conv, bn, name in ((0, 1, "c0"), (3, 4, "c1")):
        p[f"{name}.w"], p[f"{name}.b"] = fold_batchnorm(state, f"{prefix}.down.{conv}", f"{prefix}.down.{bn}")
    i = 0
    while f"{prefix}.down.{6 + i}.conv1.weight" in state:
        _fold_block(state, f"{prefix}.down.{6 + i}", f"b{i}", p)
        i += 1
    p["out.w"] = state[f"{prefix}.out.weight"].astype(np.float32)
    p["out.b"] = state[f"{prefix}.out.bias"].astype(np.float32)
    return p


def run_context(p: Params, f: np.ndarray) -> np.ndarray:
    """Context pathway: ``8w×N×h×w`` fused features → the same plus the upsampled H/16 context (bilinear,
    half-pixel centres: ``cv2.resize`` ``INTER_LINEAR`` = torch's ``align_corners=False``)."""
    import cv2

    x = relu_(conv2d(f, p["c0.w"], p["c0.b"], stride=2, padding=1))
    x = relu_(conv2d(x, p["c1.w"], p["c1.b"], stride=2, padding=1))
    c = conv2d(_run_blocks(p, x), p["out.w"], p["out.b"], padding=0)
    h, w = f.shape[2:]
    up = np.empty_like(f)
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            up[i, j] = cv2.resize(c[i, j], (w, h), interpolation=cv2.INTER_LINEAR)
    return f + up


def run_decoder(p: Params, x: np.ndarray) -> np.ndarray:
    """Decoder forward: ``8w×N×h×w`` features → ``1×N×4h×4w`` logits (no sigmoid)."""
    x = relu_(conv_transpose2d(x, p["t0.w"], p["t0.b"], stride=2, padding=1))
    x = relu_(conv_transpose2d(x, p["t1.w"], p["t1.b"], stride=2, padding=1))
    return conv2d(x, p["out.w"], p.get("out.b"), padding=p["out.w"].shape[-1] // 2)


# ---------------------------------------------------------------------- OpenCV DNN form of the same layers
# The folded layers are also written as a tiny ONNX graph (protobuf encoded here: no onnx package) and run
# by OpenCV's DNN module, whose CPU convolution kernels are several times faster than the BLAS products
# above (a 32 → 32 3×3 conv at 130² × 2: 12 ms against 39 ms of CPU time under load). The numpy layers
# stay the reference and the fallback when OpenCV lacks the DNN module or refuses the graph.


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _pb_int(field: int, v: int) -> bytes:
    return _varint(field << 3) + _varint(v)


def _pb_bytes(field: int, b: bytes | str) -> bytes:
    b = b.encode() if isinstance(b, str) else b
    return _varint((field << 3) | 2) + _varint(len(b)) + b


class _OnnxChain:
    """An ONNX graph built layer by layer on one running tensor (``NCHW`` float32, dynamic N, H, W)."""

    def __init__(self, channels: int) -> None:
        self.nodes: list[bytes] = []
        self.inits: list[bytes] = []
        self.cur = "x"
        self.channels_in = channels
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def _const(self, arr: np.ndarray) -> str:
        name = self._name("w")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        self.inits.append(b"".join(_pb_int(1, d) for d in arr.shape) + _pb_int(2, 1) + _pb_bytes(8, name)
                          + _pb_bytes(9, arr.tobytes()))
        return name

    def op(self, op: str, inputs: list[str], ints: dict[str, list[int]] | None = None) -> str:
        out = self._name("t")
        attrs = b"".join(_pb_bytes(5, _pb_bytes(1, k) + _pb_int(20, 7) + b"".join(_pb_int(8, v) for v in vals))
                         for k, vals in (ints or {}).items())
        self.nodes.append(b"".join(_pb_bytes(1, i) for i in inputs) + _pb_bytes(2, out) + _pb_bytes(3, out)
                          + _pb_bytes(4, op) + attrs)
        return out

    def conv(self, w: np.ndarray, b: np.ndarray | None, *, stride: int = 1, pad: int = 0) -> _OnnxChain:
        k = w.shape[-1]
        ins = [self.cur, self._const(w)] + ([self._const(b)] if b is not None else [])
        self.cur = self.op("Conv", ins, {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [pad] * 4})
        return self

    def conv_transpose(self, w: np.ndarray, b: np.ndarray | None, *, stride: int, pad: int) -> _OnnxChain:
        k = w.shape[-1]
        ins = [self.cur, self._const(w)] + ([self._const(b)] if b is not None else [])
        self.cur = self.op("ConvTranspose", ins, {"kernel_shape": [k, k], "strides": [stride, stride],
                                                  "pads": [pad] * 4})
        return self

    def relu(self) -> _OnnxChain:
        self.cur = self.op("Relu", [self.cur])
        return self

    def squeeze_excite(self, fc1: np.ndarray, fc2: np.ndarray) -> _OnnxChain:
        x = self.cur
        g = self.op("GlobalAveragePool", [x])
        g = self.op("Conv", [g, self._const(fc1[:, :, None, None])], {"kernel_shape": [1, 1]})
        g = self.op("Relu", [g])
        g = self.op("Conv", [g, self._const(fc2[:, :, None, None])], {"kernel_shape": [1, 1]})
        g = self.op("Sigmoid", [g])
        self.cur = self.op("Mul", [x, g])
        return self

    def add(self, other: str) -> _OnnxChain:
        self.cur = self.op("Add", [self.cur, other])
        return self

    def model(self) -> bytes:
        def value(name: str, channels: int | None) -> bytes:
            dims = [_pb_bytes(2, "N"), _pb_int(1, channels) if channels else _pb_bytes(2, "C"),
                    _pb_bytes(2, "H"), _pb_bytes(2, "W")]
            shape = b"".join(_pb_bytes(1, d) for d in dims)
            return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, _pb_int(1, 1) + _pb_bytes(2, shape)))

        graph = (b"".join(_pb_bytes(1, n) for n in self.nodes) + _pb_bytes(2, "g")
                 + b"".join(_pb_bytes(5, t) for t in self.inits)
                 + _pb_bytes(11, value("x", self.channels_in)) + _pb_bytes(12, value(self.cur, None)))
        return _pb_int(1, 8) + _pb_bytes(7, graph) + _pb_bytes(8, _pb_bytes(1, "") + _pb_int(2, 13))


def branch_onnx(p: Params) -> bytes:
    """:func:`run_branch` after its first convolution as an ONNX model (input ``N×w×H×W``, the first
    convolution's ReLU output: a 1 → w convolution is faster as ``filter2D`` calls)."""
    g = _OnnxChain(int(p["c1.w"].shape[1]))
    g.conv(p["c1.w"], p["c1.b"], stride=2, pad=1).relu()
    g.conv(p["c2.w"], p["c2.b"], stride=2, pad=1).relu()
    i = 0
    while f"b{i}.conv1.w" in p:
        skip = g.cur
        g.conv(p[f"b{i}.conv1.w"], p[f"b{i}.conv1.b"], pad=1).relu()
        g.conv(p[f"b{i}.conv2.w"], p[f"b{i}.conv2.b"], pad=1)
        if f"b{i}.se1" in p:
            g.squeeze_excite(p[f"b{i}.se1"], p[f"b{i}.se2"])
        g.add(skip).relu()
        i += 1
    return g.model()


def decoder_onnx(p: Params) -> bytes:
    """:func:`run_decoder` up to its last convolution as an ONNX model (input ``N×8w×h×w``, output the
    ``N×2w×4h×4w`` ReLU features: a 2w → 1 convolution is faster as ``filter2D`` calls)."""
    g = _OnnxChain(int(p["t0.w"].shape[0]))
    g.conv_transpose(p["t0.w"], p["t0.b"], stride=2, pad=1).relu()
    g.conv_transpose(p["t1.w"], p["t1.b"], stride=2, pad=1).relu()
    return g.model()


def filter2d_nchw(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 'same' convolution of ``N×Cin×H×W`` as OpenCV ``filter2D`` calls, one per image and
    (input, output) channel pair (:func:`_conv_filter2d` for the ``N×C×H×W`` layout)."""
    import cv2

    cout, cin = weight.shape[:2]
    n, _, h, w = x.shape
    out = np.empty((n, cout, h, w), np.float32)
    for m in range(n):
        for o in range(cout):
            acc = cv2.filter2D(x[m, 0], cv2.CV_32F, np.ascontiguousarray(weight[o, 0]),
                               borderType=cv2.BORDER_CONSTANT)
            for i in range(1, cin):
                acc += cv2.filter2D(x[m, i], cv2.CV_32F, np.ascontiguousarray(weight[o, i]),
                                    borderType=cv2.BORDER_CONSTANT)
            if bias is not None:
                acc += bias[o]
            out[m, o] = acc
    return out


def refine_onnx(layers: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """The refinement head (3×3 convs with ReLU between) as an ONNX model."""
    g = _OnnxChain(int(layers[0][0].shape[1]))
    for i, (w, b) in enumerate(layers):
        g.conv(w, b, pad=w.shape[-1] // 2)
        if i < len(layers) - 1:
            g.relu()
    return g.model()


class _OpenCVNet:
    """One ONNX chain on OpenCV's DNN module: ``NCHW`` float32 in and out.

    A ``cv2.dnn.Net`` holds its input and buffers, so calls from several threads (the web app's
    workers) take turns; each call uses every core anyway.
    """

    def __init__(self, onnx: bytes) -> None:
        import cv2

        self.net = cv2.dnn.readNetFromONNX(np.frombuffer(onnx, np.uint8))
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self.net.setInput(np.ascontiguousarray(x, dtype=np.float32))
            return np.asarray(self.net.forward(), dtype=np.float32)  # a new array per call (tested)


# ------------------------------------------------------------------------------------------- generator


class NumpyGenerator:
    """The generator's eval-mode forward in numpy (see the module docstring).

    Args:
        state: The generator's state dict as numpy arrays (any float dtype; BN counters ignored).
        input_mode: ``"color"`` or ``"gray"`` (the ``mfif_config`` metadata; not visible in the shapes).
        backend: ``"opencv"`` (the folded layers as an ONNX graph on OpenCV's DNN module, the default
            where it loads), ``"numpy"`` (the layer functions of this module) or ``"auto"``
            (OpenCV, else numpy). :attr:`backend` says which one runs.

    Call:
        ``model(a, b, logits=False)`` with ``a, b`` ``N×C×H×W`` float32 in [0, 1] (C = 1 or 3; H, W
        multiples of 4) → ``N×1×H×W`` focus map in [0, 1] (1 = A in focus), float32.
    """

    def __init__(self, state: Mapping[str, np.ndarray], *, input_mode: str = DEFAULT_INPUT_MODE,
                 backend: str = "auto") -> None:
        if input_mode not in ("color", "gray"):
            raise MfifError(f"input_mode must be 'color' or 'gray', got {input_mode!r}")
        if backend not in ("auto", "opencv", "numpy"):
            raise MfifError(f"backend must be 'auto', 'opencv' or 'numpy', got {backend!r}")
        try:
            self.branch = fold_branch(state)
            self.decoder = fold_decoder(state)
            self.context = fold_context(state)
        except KeyError as exc:
            raise MfifError(f"weights do not fit the generator (missing {exc.args[0]})") from None
        except ValueError:  # a convolution and its BatchNorm of different widths
            raise MfifError("weights do not fit the generator (tensors of wrong shape)") from None
        self.refine: list[tuple[np.ndarray, np.ndarray]] = []
        i = 0
        while f"refine.net.{i}.weight" in state:
            self.refine.append((state[f"refine.net.{i}.weight"].astype(np.float32),
                                state[f"refine.net.{i}.bias"].astype(np.float32)))
            i += 2  # conv, ReLU, conv, ReLU, ..., conv
        width = int(self.branch["c0.w"].shape[0])
        self.config = NumpyNetConfig(
            width=width, n_blocks=_count_blocks(state, "branch"), se="b0.se1" in self.branch, input_mode=input_mode,
            refine_width=int(self.refine[0][0].shape[0]) if self.refine else 0, refine_layers=len(self.refine),
            context_width=int(self.context["c0.w"].shape[0]) if self.context else 0,
            context_blocks=sum(1 for k in self.context if k.endswith(".conv1.w")),
        )
        self._check_shapes(state)
        self.n_parameters = int(sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked")
                                    and "running_" not in k))
        self.backend = "numpy"
        self._cv: tuple[_OpenCVNet, _OpenCVNet, _OpenCVNet | None] | None = None
        if backend != "numpy":
            try:
                self._cv = (_OpenCVNet(branch_onnx(self.branch)), _OpenCVNet(decoder_onnx(self.decoder)),
                            _OpenCVNet(refine_onnx(self.refine)) if self.refine else None)
                self.backend = "opencv"
            except Exception as exc:  # no cv2.dnn in this OpenCV build, or a graph it refuses
                if backend == "opencv":
                    raise MfifError(f"OpenCV's DNN module cannot run the generator ({type(exc).__name__})") from None

    def _check_shapes(self, state: Mapping[str, np.ndarray]) -> None:
        w, cfg = self.config.width, self.config
        want = {"c0.w": (w, 1), "c1.w": (2 * w, w, 3, 3), "c2.w": (4 * w, 2 * w, 3, 3)}
        for i in range(cfg.n_blocks):
            want[f"b{i}.conv1.w"] = want[f"b{i}.conv2.w"] = (4 * w, 4 * w, 3, 3)
        wrong = [k for k, s in want.items() if self.branch[k].shape[: len(s)] != s]
        dwant = {"t0.w": (8 * w, 4 * w, 4, 4), "t1.w": (4 * w, 2 * w, 4, 4), "out.w": (1, 2 * w)}
        wrong += [k for k, s in dwant.items() if self.decoder[k].shape[: len(s)] != s]
        if wrong:
            raise MfifError(f"weights do not fit the generator ({len(wrong)} tensors of wrong shape, e.g. {wrong[0]})")
        known = tuple(f"branch.net.{i}." for i in (0, 1, 3, 4, 6, 7)) + tuple(
            f"branch.net.{9 + i}." for i in range(cfg.n_blocks)) + tuple(
            f"decoder.net.{i}." for i in (0, 1, 3, 4, 6)) + ("refine.net.",) + (("context.",) if self.context else ())
        unexpected = [k for k in state if not k.startswith(known)]
        if unexpected:
            raise MfifError(f"weights do not fit the generator ({len(unexpected)} unexpected, e.g. {unexpected[0]})")
        if self.refine:
            c = 1 if self.config.input_mode == "gray" else 3
            if self.refine[0][0].shape[1] != 2 * c + 1:
                raise MfifError(f"weights do not fit the generator (refinement head expects "
                                f"{self.refine[0][0].shape[1]} input channels, {self.config.input_mode} mode gives "
                                f"{2 * c + 1})")

    def scaled(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The network input ``[A, B]`` in the model's channel mode, ``N×2C×H×W`` in [−1, 1]."""
        def mode(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, np.float32)
            if self.config.input_mode == "gray":
                if x.shape[1] == 3:  # torch's (x·w).sum(dim=1) in its order, bit for bit (tested)
                    x = (x[:, 0:1] * LUMA[0] + x[:, 1:2] * LUMA[1]) + x[:, 2:3] * LUMA[2]
            elif x.shape[1] == 1:
                x = np.repeat(x, 3, axis=1)
            return x

        return np.concatenate([mode(a), mode(b)], axis=1) * np.float32(2.0) - np.float32(1.0)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``N×2C×H×W`` scaled input → ``8w×N×H/4×W/4`` fused features (branch per channel, mean per source)."""
        n, c2, h, w = x.shape
        c = c2 // 2
        f = run_branch(self.branch, x.reshape(1, n * c2, h, w))  # 4w × (N·2·C) × h × w
        f4 = f.shape[0]
        f = f.reshape(f4, n, 2, c, *f.shape[2:])
        f = f.mean(axis=3, dtype=np.float32) if c > 1 else f[:, :, :, 0]
        f = np.ascontiguousarray(f.transpose(2, 0, 1, 3, 4)).reshape(2 * f4, n, *f.shape[3:])
        return run_context(self.context, f) if self.context else f

    def __call__(self, a: np.ndarray, b: np.ndarray, *, logits: bool = False) -> np.ndarray:
        if a.shape[2] % 4 or a.shape[3] % 4:
            raise MfifError(f"NumpyGenerator: H and W must be multiples of 4, got {a.shape[2]}x{a.shape[3]}")
        x = self.scaled(a, b)
        if self._cv is not None:
            return self._call_opencv(x, logits)
        z = run_decoder(self.decoder, self.encode(x))  # 1×N×H×W
        if self.refine:
            r = np.concatenate([x.transpose(1, 0, 2, 3), z], axis=0)
            for i, (wt, bs) in enumerate(self.refine):
                r = conv2d(r, wt, bs, padding=wt.shape[-1] // 2)
                if i < len(self.refine) - 1:
                    relu_(r)
            z = z + r
        z = z.transpose(1, 0, 2, 3)
        return np.ascontiguousarray(z if logits else sigmoid(z), dtype=np.float32)


    def _call_opencv(self, x: np.ndarray, logits: bool) -> np.ndarray:
        branch, decoder, refine = self._cv
        n, c2, h, w = x.shape
        c = c2 // 2
        f = relu_(filter2d_nchw(x.reshape(n * c2, 1, h, w), self.branch["c0.w"], self.branch["c0.b"]))
        f = branch(f)  # (N·2·C) × 4w × h/4 × w/4
        f = f.reshape(n, 2, c, *f.shape[1:])
        f = f.mean(axis=2, dtype=np.float32) if c > 1 else f[:, :, 0]
        f = f.reshape(n, -1, *f.shape[3:])  # N × 8w × h/4 × w/4
        if self.context:  # at H/16, on the numpy layers (channels first)
            f = np.ascontiguousarray(run_context(self.context, np.ascontiguousarray(f.transpose(1, 0, 2, 3)))
                                     .transpose(1, 0, 2, 3))
        d = decoder(f)  # N × 2w × H × W
        z = filter2d_nchw(d, self.decoder["out.w"], self.decoder.get("out.b"))  # N × 1 × H × W
        if refine is not None:
            z = z + refine(np.concatenate([x, z], axis=1))
        return np.ascontiguousarray(z if logits else sigmoid(z), dtype=np.float32)


def numpy_generator_from_state(state: Mapping[str, np.ndarray], meta: Mapping[str, str], *,
                               where: str | os.PathLike[str] = "weights") -> NumpyGenerator:
    """A :class:`NumpyGenerator` from a state dict and its safetensors metadata (``mfif_config``)."""
    try:
        cfg = json.loads(meta["mfif_config"]) if "mfif_config" in meta else {}
    except json.JSONDecodeError:
        raise MfifError(f"{where}: mfif_config metadata is not JSON") from None
    try:
        return NumpyGenerator(state, input_mode=cfg.get("input_mode", DEFAULT_INPUT_MODE))
    except MfifError as exc:
        raise MfifError(f"{where}: {exc}") from None
