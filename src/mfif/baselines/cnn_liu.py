"""CNN: multi-focus fusion with the Siamese patch classifier of Liu, Chen, Peng, Wang (Inf. Fusion 36, 2017).

Registered as ``cnn`` (the network and its weights files: :mod:`mfif.models.cnn_liu`; model card:
docs/comparisons/cnn.md). Steps, as in the paper and its released MATLAB code:

1. the network scores every 16×16 patch (stride 2) of the gray sources (BT.601 luma of colour ones):
   the probability that A is the sharp one;
2. focus map: each score added to the 256 pixels of its patch (patches clipped at the border), divided
   by the number of patches covering the pixel;
3. post-processing, ``postprocess``:

   * ``"paper"`` (default; True means the same): binary map = focus > 0.5; small-region removal with
     P = ceil(0.01·H·W), 8-connected, of the map and then of its complement (MATLAB ``bwareaopen``
     twice); guided filter (r = 8, ε = 0.1) of the binary map with the gray image fused with it as the
     guidance; F = A·W + B·(1 − W) per channel with the filtered W, clipped to [0, 1];
   * ``"mfif-gan"``: the MFIF-GAN authors' ``CNN_post_process``: threshold 0.5, small-region removal of
     both polarities of size 0.001·H·W (4-connected), no guided filter, F = A·D + B·(1 − D);
   * ``"none"`` (False means the same): F from the thresholded map alone (an ablation).

Weights: the shipped ``src/mfif/weights/cnn.safetensors`` (trained on this project's data, see the
model card) or ``weights=PATH``: another file of :func:`mfif.models.cnn_liu.save_cnn_liu`, or the
authors' ``cnnmodel.mat`` (not shipped; research-only licence). Two sources (N > 2: the stack
extension's pairwise votes). torch is imported when the method runs, not when it is registered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from mfif.baselines._common import check_images, gray
from mfif.errors import MfifError
from mfif.registry import FusionResult, register_method

NAME = "cnn"
#: Post-processing choices (module docstring); True = "paper", False = "none".
POSTPROCESS = ("paper", "mfif-gan", "none")
#: The paper's settings: small-region ratio, guided-filter radius and regularisation.
PAPER_RATIO = 0.01
GF_RADIUS = 8
GF_EPS = 0.1
#: MFIF-GAN's CNN_post_process small-region ratio.
MFIFGAN_RATIO = 0.001
#: Largest source area (pixels) run through the network in one piece; larger pairs go in row strips
#: whose scores are identical to one pass (each strip carries the 4-row context of the receptive field).
STRIP_PIXELS = 1_500_000


def _postprocess_choice(postprocess: Any) -> str:
    if postprocess is True or postprocess is None:
        return "paper"
    if postprocess is False:
        return "none"
    if isinstance(postprocess, str) and postprocess in POSTPROCESS:
        return postprocess
    raise MfifError(f"{NAME}: option postprocess={postprocess!r} must be one of {', '.join(POSTPROCESS)} "
                    "(or True = paper, False = none)")


@lru_cache(maxsize=4)
def _cached(path: str, device: str) -> Any:
    import torch

    from mfif.models.cnn_liu import load_cnn_liu

    return load_cnn_liu(path).to(torch.device(device))


def get_model(weights: str | None = None, device: Any = "auto") -> Any:
    """The network (cached per file and device): ``weights`` (.safetensors or the authors' .mat) or the
    shipped ``cnn`` weights.

    Raises:
        MfifError: no weights installed and none given, or a file that is not a cnn model.
    """
    from mfif.models.runtime import resolve_device
    from mfif.models.weights import weights_file

    return _cached(weights_file(NAME, weights), str(resolve_device(device)))


def patch_scores(model: Any, a: np.ndarray, b: np.ndarray, *, amp: bool = False,
                 strip_pixels: int = STRIP_PIXELS) -> np.ndarray:
    """Score map of a gray pair: float32 ``ceil(H/2) − 7`` × ``ceil(W/2) − 7``, the probability that A is
    sharp in the 16×16 patch at (2i, 2j). Large pairs run in row strips with the same result.

    Args:
        model: A :class:`mfif.models.cnn_liu.CnnLiu` in eval mode.
        a, b: H×W gray sources in [0, 1], H and W ≥ 16.
        amp: bf16 autocast.
        strip_pixels: Source area per network pass (strips of whole rows).
    """
    import torch

    from mfif.models.cnn_liu import score_shape

    h, w = a.shape
    sh, sw = score_shape(h, w)
    dev = next(model.parameters()).device
    head = model.linear_head()  # fc2 ∘ fc1 as one convolution: 128× fewer operations than fc1
    rows = max(8, int(strip_pixels // max(1, 2 * w)) - 11)  # score rows per strip
    out = np.empty((sh, sw), np.float32)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        for i0 in range(0, sh, rows):
            i1 = min(sh, i0 + rows)
            s0, s1 = max(0, 2 * i0 - 4), min(h, 2 * i1 + 18)  # source rows feeding score rows i0..i1
            ta = torch.from_numpy(np.ascontiguousarray(a[s0:s1], np.float32))[None, None].to(dev)
            tb = torch.from_numpy(np.ascontiguousarray(b[s0:s1], np.float32))[None, None].to(dev)
            n = ta.shape[0]
            f = model.branch(torch.cat([ta, tb], dim=0))
            p0 = s0 // 2  # pooled row of f's first row
            f = f[:, :, i0 - p0: i1 + 7 - p0]
            x = torch.cat([f[:n], f[n:]], dim=1)
            if head is not None:
                z = torch.nn.functional.conv2d(x, head[0].to(x.device), head[1].to(x.device)).float()
            else:
                z = model.fc2(torch.relu(model.fc1(x))).float()
            out[i0:i1] = torch.softmax(z, dim=1)[0, 1].cpu().numpy()
    return out


def postprocess_map(focus: np.ndarray, ga: np.ndarray, gb: np.ndarray, *, mode: str = "paper"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Focus map → (decision map, fusion weights) by one of the post-processings (module docstring).

    Args:
        focus: H×W focus map in [0, 1] (1 = A sharp).
        ga, gb: H×W gray sources in [0, 1] (the guided filter's guidance for ``"paper"``).
        mode: ``"paper"``, ``"mfif-gan"`` or ``"none"``.

    Returns:
        ``(decision, weights)``: float32 H×W decision map in {0, 1} and float32 H×W weights of A
        (the guided-filtered decision for ``"paper"``, unclipped as in the original; else the decision).
    """
    from mfif.postprocess import remove_small_regions

    h, w = focus.shape
    d = focus > 0.5
    if mode == "paper":
        d = remove_small_regions(d, min_size=math.ceil(PAPER_RATIO * h * w), connectivity=2)
    elif mode == "mfif-gan":
        d = remove_small_regions(d, ratio=MFIFGAN_RATIO, connectivity=1)
    dec = d.astype(np.float64)
    if mode != "paper":
        return dec.astype(np.float32), dec.astype(np.float32)
    from mfif.filters import guided_filter

    guide = ga * dec + gb * (1.0 - dec)
    return dec.astype(np.float32), guided_filter(guide, dec, GF_RADIUS, GF_EPS).astype(np.float32)


@register_method(
    NAME,
    description="CNN (Liu et al. 2017): Siamese 16x16 patch classifier, consistency verification and guided "
    "filter (weights trained on this project's data)",
    max_inputs=2,
    needs_weights=True,
    citation="Y. Liu, X. Chen, H. Peng, Z. Wang, Inf. Fusion 36:191-207, 2017",
)
def cnn_fuse(
    images: Sequence[np.ndarray],
    *,
    weights: str | None = None,
    device: Any = "auto",
    amp: bool | str = False,
    postprocess: str | bool = "paper",
) -> FusionResult:
    """Fuse two sources with the CNN of Liu et al. (module docstring).

    Args:
        images: Two sources, both H×W or both H×W×3, float32 [0, 1], H and W ≥ 16.
        weights: A .safetensors file of this model or the authors' cnnmodel.mat (None = shipped weights).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        amp: bf16 autocast: True, False or ``"auto"`` (:func:`mfif.models.runtime.resolve_amp`).
        postprocess: ``"paper"`` (True), ``"mfif-gan"`` or ``"none"`` (False).

    Returns:
        FusionResult: ``fused`` (inputs' shape, float32 [0, 1]), ``focus_map`` (the averaged patch scores),
        ``decision_map`` (after small-region removal; {0, 1}); ``extras["weights"]`` = the weights of A.

    Raises:
        MfifError: not two sources, sources smaller than 16×16, a bad option value or weights file.
    """
    mode = _postprocess_choice(postprocess)
    a, b = check_images(images, method=NAME, max_inputs=2)
    h, w = a.shape[:2]
    if h < 16 or w < 16:
        raise MfifError(f"{NAME}: sources are {w}x{h}, smaller than the network's 16x16 patch")
    from mfif.models.runtime import resolve_amp, resolve_device

    dev = resolve_device(device)
    use_amp = resolve_amp(amp, dev)
    model = get_model(weights, dev)
    ga, gb = gray(a), gray(b)
    from mfif.models.cnn_liu import scores_to_focus_map

    scores = patch_scores(model, ga.astype(np.float32), gb.astype(np.float32), amp=use_amp)
    focus = scores_to_focus_map(scores, (h, w))
    dec, wt = postprocess_map(focus, ga, gb, mode=mode)
    wa = wt[..., None] if a.ndim == 3 else wt
    fused = np.clip(a * wa + b * (1.0 - wa), 0.0, 1.0).astype(np.float32)
    return FusionResult(fused=fused, focus_map=focus, decision_map=dec,
                        extras={"weights": wt, "postprocess": mode, "scores_shape": scores.shape})
