"""The Python API: thin functions over the registry and the pipeline."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mfif.errors import MfifError
from mfif.io import harmonize
from mfif.registry import FusionResult, get_method


def fuse(
    images: Sequence[np.ndarray],
    *,
    method: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    align: str = "none",
    names: Sequence[str] | None = None,
    **options: Any,
) -> FusionResult:
    """Fuse two or more source images of one scene into one all-in-focus image.

    Args:
        images: N ≥ 2 sources, float32 [0, 1], H×W or H×W×3 (gray mixed with RGB → RGB).
        method: Registry name (``mfif methods`` lists them); None = :func:`default_method`.
        weights: Weights file/folder for learned methods (default: the shipped ones).
        device: ``auto``, ``cpu`` or ``cuda`` (learned methods).
        align: ``none``, ``ecc`` or ``homography`` — register sources to the first before fusing.
        names: Source names for error messages.
        **options: Method options (e.g. ``threshold``, ``min_region_ratio``, ``postprocess``, ``tile``).

    Returns:
        :class:`~mfif.registry.FusionResult`: ``fused`` (same shape as the inputs), ``focus_map``,
        ``decision_map`` (1 = first source), ``depth_map`` for N > 2.
    """
    from mfif.fusion.methods import default_method

    imgs = list(images)
    if align != "none":
        from mfif.fusion.align import align_stack

        imgs = align_stack(imgs, method=align)
    imgs, all_gray = harmonize(imgs, names)
    name = method or default_method()
    info = get_method(name)
    if info.needs_weights:
        options = {"weights": weights, "device": device, **options}
    elif weights is not None:
        raise MfifError(f"--weights is only used by learned methods, not {name!r}")
    if info.max_inputs is not None and len(imgs) > info.max_inputs:
        from mfif.fusion.stack import fuse_stack_pairwise

        result = fuse_stack_pairwise(info.fn, imgs, **options)
    else:
        result = info.fn(imgs, **options)
    if all_gray and result.fused.ndim == 3:
        result.fused = result.fused[..., 0]
    result.extras.setdefault("method", name)
    return result


def load_model(method: str = "mfif-gan", *, weights: str | None = None, device: str = "auto"):  # noqa: ANN201
    """Load a learned method's generator (torch ``nn.Module`` in eval mode)."""
    from mfif.fusion.methods import get_generator

    if method not in ("mfif-gan", "mfif-gan-lite"):
        raise MfifError(f"{method!r} is not a learned method (use mfif-gan or mfif-gan-lite)")
    return get_generator(method, weights, device)
