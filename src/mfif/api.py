"""The Python API: thin functions over the registry and the pipeline."""

from __future__ import annotations

from collections.abc import Sequence as _SequenceABC
from typing import Any, Callable, Sequence

import numpy as np

from mfif.errors import MfifError
from mfif.io import harmonize
from mfif.registry import FusionResult, check_options, get_method


def fuse(
    images: Sequence[np.ndarray],
    *,
    method: str | None = None,
    align: str = "none",
    names: Sequence[str] | None = None,
    order: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> FusionResult:
    """Fuse two or more source images of one scene into one all-in-focus image.

    Args:
        images: N ≥ 2 sources, float32 [0, 1], H×W or H×W×3 (gray mixed with RGB → RGB). A method that
            streams (:attr:`mfif.registry.MethodInfo.streams`, e.g. ``mfif-stack``) given N > 2 frames
            without ``align`` reads them once, one at a time, as they are: float [0, 1], uint8 or
            uint16, from any sequence (a lazy one too).
        method: Registry name (``mfif methods`` lists them); None = :func:`default_method` for the number
            of sources (``mfif-stack`` for N > 2 when its weights are installed).
        align: ``none``, ``ecc`` or ``homography`` — register sources to the first before fusing.
        names: Source names for error messages.
        order: Pairs only. ``"auto"``: the result does not depend on which source comes first — the
            method gets the near-focus source first (:func:`canonical_order`) and the maps are
            returned in the caller's order; ``"given"``: as given (the paper's protocol).
        progress: For stacks fused by pairs (learned methods, pair-only methods): called as
            ``progress(done, total)`` after each pair fusion.
        **options: The method's declared options (:attr:`mfif.registry.MethodInfo.options`): for the
            learned methods ``weights``, ``stack_strategy`` and the fields of
            :class:`mfif.options.InferenceOptions` (``device``, ``amp`` — default False here, float32 —,
            ``tile``, ``tta``, …) and :class:`mfif.options.ComposeOptions` (``threshold``, ``soft``,
            ``edge_guide``, …); for a classical method its keyword parameters. A value of None counts as
            not given. An option the method does not take raises :class:`MfifError`.

    Returns:
        :class:`~mfif.registry.FusionResult`: ``fused`` (same shape as the inputs), ``focus_map``,
        ``decision_map`` (1 = first source), ``depth_map`` for N > 2.
    """
    from mfif.fusion.methods import default_method

    if not isinstance(images, _SequenceABC):
        images = list(images)
    name = method or default_method(len(images), [k for k, v in options.items() if v is not None],
                                    weights=options.get("weights"))
    info = get_method(name)
    check_options(info, options, n_sources=len(images))
    if order not in ("auto", "given"):
        raise MfifError(f"order must be 'auto' or 'given', got {order!r}")
    options = {k: v for k, v in options.items() if v is not None}
    if info.streams and len(images) > 2:
        # frame by frame, in the caller's dtype (module docstring of the method); aligned frames are
        # warped one at a time as the method reads them
        if progress is not None and info.accepts("progress"):
            options["progress"] = progress
        names = list(names) if names is not None else getattr(images, "names", None)
        if align != "none":
            images = _aligned_lazily(images, align)
        if names is not None:
            images = _Named(images, names)
        result = info.fn(images, **options)
        result.extras.setdefault("method", name)
        return result
    imgs = list(images)
    if align != "none":
        from mfif.fusion.align import align_stack

        imgs = align_stack(imgs, method=align)
    imgs, all_gray = harmonize(imgs, names)
    if progress is not None and info.accepts("progress"):
        options["progress"] = progress
    if info.max_inputs is not None and len(imgs) > info.max_inputs:
        from mfif.fusion.stack import fuse_stack_pairwise

        result = fuse_stack_pairwise(info.fn, imgs, progress=progress, **options)
    elif len(imgs) == 2 and order == "auto":
        result = _fuse_near_first(info, imgs, options)
    else:
        result = info.fn(imgs, **options)
    if all_gray and result.fused.ndim == 3:
        result.fused = result.fused[..., 0]
    result.extras.setdefault("method", name)
    return result


class _Lazy(_SequenceABC):
    """``fn(frames[k], k)`` computed when frame k is read."""

    def __init__(self, frames: Sequence[np.ndarray], fn: Callable[[np.ndarray, int], np.ndarray]) -> None:
        self.frames, self.fn = frames, fn

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, k):  # noqa: ANN001, ANN204
        return self.fn(self.frames[k], k)


def _aligned_lazily(images: Sequence[np.ndarray], align: str) -> Sequence[np.ndarray]:
    """Register every frame to the first (:func:`mfif.fusion.align.estimate_stack`, frames converted to
    float one at a time) and return a sequence that warps frame k when it is read."""
    import warnings

    from mfif.fusion.align import estimate_stack, warp_to
    from mfif.io import frame_to_float

    floats = _Lazy(images, lambda f, k: frame_to_float(f))
    hs = estimate_stack(floats, method=align)
    shape = np.asarray(images[0]).shape[:2]
    for h in hs[1:]:
        sc = float(np.sqrt(abs(np.linalg.det(h[:2, :2]))))
        if not 0.5 < sc < 2.0:
            warnings.warn(f"--align {align}: estimated scale change {sc:.2f} is implausible for a focus stack",
                          stacklevel=3)
    return _Lazy(floats, lambda f, k: f if k == 0 else warp_to(f, hs[k], shape))


class _Named(_SequenceABC):
    """A sequence of frames with their names (for error messages of streaming methods)."""

    def __init__(self, frames: Sequence[np.ndarray], names: list[str]) -> None:
        self.frames, self.names = frames, names

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, k):  # noqa: ANN001, ANN204
        return self.frames[k]


_SOURCE_LETTER = {"a": "b", "b": "a"}


def canonical_order(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the pair should be swapped so that the near-focus source comes first.

    Decided by :func:`mfif.fusion.order.near_source` with its classical focus map, which gives the
    other answer for (B, A) than for (A, B): both orders reach the method in the same order.
    """
    from mfif.fusion.order import ORDER_MAX_SIDE, near_source

    return near_source(a, b, max_side=ORDER_MAX_SIDE) == "b"


def _fuse_near_first(info: Any, imgs: list[np.ndarray], options: dict[str, Any]) -> FusionResult:
    """Fuse a pair with the near-focus source first; maps are returned in the caller's order."""
    if not canonical_order(imgs[0], imgs[1]):
        result = info.fn(imgs, **options)
        result.extras["order"] = "given"
        return result
    swapped = {k: _SOURCE_LETTER.get(v, v) if k in ("edge_guide", "near") else v for k, v in options.items()}
    result = info.fn([imgs[1], imgs[0]], **swapped)
    for key in ("focus_map", "decision_map"):
        m = getattr(result, key)
        if m is not None:
            setattr(result, key, (1.0 - m).astype(m.dtype))
    if result.depth_map is not None:
        result.depth_map = (1 - result.depth_map).astype(result.depth_map.dtype)
    if result.extras.get("near") in _SOURCE_LETTER:
        result.extras["near"] = _SOURCE_LETTER[result.extras["near"]]
    result.extras["order"] = "swapped"
    return result


def load_model(method: str = "mfif-gan", *, weights: str | None = None, device: str = "auto"):  # noqa: ANN201
    """Load a learned method's generator (torch ``nn.Module`` in eval mode)."""
    from mfif.fusion.methods import get_generator

    if method not in ("mfif-gan", "mfif-gan-lite"):
        raise MfifError(f"{method!r} is not a learned method (use mfif-gan or mfif-gan-lite)")
    return get_generator(method, weights, device)
