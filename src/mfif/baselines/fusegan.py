"""FuseGAN (Guo et al., IEEE TMM 2019) as a registered method: ``fusegan``.

The generator (:class:`mfif.models.fusegan.FuseGANGenerator`, a Siamese encoder and a residual
decoder) predicts a confidence map from the luma of the two sources; a convolutional CRF
(:func:`mfif.models.fusegan.conv_crf`, guided by the mean of the two sources' luma) refines it, and
the refined map thresholded at 0.5 is the decision map; ``F = A·M + B·(1 − M)`` per channel. Weights:
the shipped ``fusegan.safetensors`` (trained on this project's CPU, docs/comparisons/fusegan.md) or
``weights=PATH``. Pairs only; stacks go through the pair-wise stack extension.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from mfif.baselines._common import apply_map, check_images, check_option, gray
from mfif.models.weights import weights_file
from mfif.registry import FusionResult, register_method

if TYPE_CHECKING:
    from mfif.models.fusegan import FuseGANGenerator

NAME = "fusegan"


@lru_cache(maxsize=4)
def _model(path: str, device: str) -> FuseGANGenerator:
    from mfif.models.fusegan import load_fusegan

    return load_fusegan(path, device=device)


@register_method(
    NAME,
    description="FuseGAN (Guo et al. 2019): Siamese-encoder cGAN confidence map refined by a convolutional CRF "
    "(re-implemented from the paper, trained on CPU)",
    max_inputs=2,
    needs_weights=True,
    citation="Guo, Nie, Cao, Zhou, Mei, He, FuseGAN, IEEE Transactions on Multimedia 21(8), 2019",
)
def fusegan(images: Sequence[np.ndarray], *, weights: str | None = None, device: Any = "auto",
            crf: bool = True) -> FusionResult:
    """Fuse a pair with FuseGAN.

    Args:
        images: Two sources, H×W or H×W×3 float32 in [0, 1], same shape.
        weights: Weights file (None = the installed ``fusegan.safetensors``).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        crf: Refine the confidence map with the convolutional CRF (the paper); False = threshold the
            network's map directly (ablation).

    Returns:
        FusionResult with ``focus_map`` = the network's confidence map (H×W in [0, 1], 1 = A),
        ``decision_map`` = the refined map > 0.5, ``fused`` = A·M + B·(1 − M), and
        ``extras["crf_map"]`` = the CRF's marginals (when ``crf``).

    Raises:
        MfifError: not exactly two sources, mismatched shapes, a bad option, missing or unfitting weights.
    """
    imgs = check_images(images, method=NAME, max_inputs=2)
    check_option(NAME, "crf", crf, isinstance(crf, (bool, np.bool_)), "True or False")
    path = weights_file(NAME, weights)
    import torch

    from mfif.models.fusegan import conv_crf
    from mfif.models.runtime import resolve_device

    dev = resolve_device(device)
    model = _model(path, str(dev))
    ga, gb = (torch.from_numpy(np.ascontiguousarray(gray(im), dtype=np.float32))[None, None].to(dev) for im in imgs)
    with torch.no_grad():
        prob = model(ga, gb)
        refined = conv_crf(prob, 0.5 * (ga + gb)) if crf else prob
    focus = prob[0, 0].float().cpu().numpy().astype(np.float32)
    soft = refined[0, 0].float().cpu().numpy().astype(np.float32)
    dec = (soft > 0.5).astype(np.float32)
    extras: dict[str, Any] = {"crf_map": soft} if crf else {}
    return FusionResult(fused=apply_map(imgs, dec), focus_map=np.clip(focus, 0.0, 1.0), decision_map=dec, extras=extras)
