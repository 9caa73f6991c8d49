"""MFIF-GAN inference for one pair (paper §3.3, §4.1.2).

Steps: sources → N×3×H×W (torch tensors, or numpy arrays on the numpy engine) → reflect-pad to
multiples of 4 → generator → crop back → soft focus map → threshold 0.5 → small-region removal (map and complement, 0.001·H·W, 4-connectivity) →
F = A·M + B·(1−M). Gray sources are replicated to three channels for the network; the fused image
stays gray. The network call itself is :mod:`mfif.fusion.inference`; the options are the declared
:class:`~mfif.options.InferenceOptions` and :class:`~mfif.options.ComposeOptions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mfif.errors import MfifError
from mfif.fusion.inference import exposure_matched, predict_focus_map_array, predict_focus_map_tensor, to_array, to_tensor
from mfif.fusion.tiling import predict_focus_map_tiled
from mfif.models.numpy_net import NumpyGenerator
from mfif.models.runtime import resolve_amp, resolve_device
from mfif.options import INFERENCE_FIELDS, SOFT_CENTER, SOFT_GAIN, ComposeOptions, InferenceOptions, resolve_options
from mfif.postprocess import postprocess_map
from mfif.registry import FusionResult

if TYPE_CHECKING:
    import torch


def _inference(inference: InferenceOptions | None, options: dict[str, Any]) -> InferenceOptions:
    if inference is not None:
        if options:
            raise MfifError("give either inference=InferenceOptions(...) or keyword options, not both")
        return inference
    unknown = sorted(set(options) - set(INFERENCE_FIELDS))
    if unknown:
        raise MfifError(f"unknown option(s) for the focus map: {', '.join(unknown)}")
    return InferenceOptions(**{k: v for k, v in options.items() if v is not None})


def predict_focus_map(
    model: torch.nn.Module | NumpyGenerator,
    a: np.ndarray,
    b: np.ndarray,
    *,
    inference: InferenceOptions | None = None,
    **options: Any,
) -> np.ndarray:
    """Soft focus map of a pair.

    Args:
        model: A generator in eval mode, or a :class:`~mfif.models.numpy_net.NumpyGenerator` (then
            ``device``, ``amp`` and ``channels_last`` do not apply: it computes in float32 on the CPU).
        a, b: Sources, float32 [0, 1], H×W or H×W×3 (same shape).
        inference: The inference options, or give them as keywords (``device``, ``amp``,
            ``channels_last``, ``tile``, ``tile_overlap``, ``tta``, ``symmetric``, ``scales``;
            :class:`~mfif.options.InferenceOptions`).
            ``amp`` defaults to False here (float32, reproducible across machines); ``tile`` runs
            :mod:`mfif.fusion.tiling`.

    Returns:
        float32 H×W in [0, 1], 1 = A in focus.
    """
    opt = _inference(inference, options)
    if opt.match_exposure:
        a, b = exposure_matched(a, b)
    if isinstance(model, NumpyGenerator):
        if opt.tile:
            return predict_focus_map_tiled(model, a, b, tile=opt.tile, overlap=opt.tile_overlap, symmetric=opt.symmetric)
        m = predict_focus_map_array(model, to_array(a), to_array(b), tta=opt.tta, symmetric=opt.symmetric,
                                    scales=opt.scales)
        return m[0, 0]
    dev = resolve_device(opt.device)
    amp = resolve_amp(opt.amp, dev)
    model = model.to(dev)
    if opt.tile:
        return predict_focus_map_tiled(
            model, a, b, tile=opt.tile, overlap=opt.tile_overlap, device=dev, amp=amp, channels_last=opt.channels_last,
            symmetric=opt.symmetric,
        )
    m = predict_focus_map_tensor(model, to_tensor(a, dev), to_tensor(b, dev), amp=amp, channels_last=opt.channels_last,
                                 tta=opt.tta, symmetric=opt.symmetric, scales=opt.scales)
    return m[0, 0].cpu().numpy().astype(np.float32)


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
    model: torch.nn.Module | NumpyGenerator,
    a: np.ndarray,
    b: np.ndarray,
    *,
    inference: InferenceOptions | None = None,
    compose_options: ComposeOptions | None = None,
    **options: Any,
) -> FusionResult:
    """The paper's test-time pipeline for one pair. See module docstring; returns a FusionResult.

    Options come either as the two objects or as flat keywords (any field of
    :class:`~mfif.options.InferenceOptions` or :class:`~mfif.options.ComposeOptions`):

    ``spread_correction``: False (paper), True (unmix the defocus spread outside the A-region with an
    estimated blur σ, see :mod:`mfif.postprocess.spread`) or a σ value.

    ``soft_boundary`` (px, 0 = off, the paper): within this distance of the post-processed decision
    map's boundary, compose with the network's soft focus map instead of the hard decision, so
    uncertain boundary pixels are blended rather than picked (``decision_map`` stays hard).

    ``soft`` (off = the paper): compose with :func:`soft_weights` of the network's map everywhere
    (``soft_center``, ``soft_gain``); the small-region removal then only shapes ``decision_map``
    (letting it override the weights cost 0.17 dB band PSNR on 48 training-split pairs, see
    docs/results.md). Not combined with ``soft_boundary``.

    ``near`` (``"auto"``, ``"a"``, ``"b"``): the *near-focus* source (the one whose in-focus object has
    sharp edges), decided by :func:`mfif.fusion.order.near_source` from the pair and the network's map
    when ``"auto"`` and an option needs it. ``soft`` leans uncertain pixels towards the other (far)
    source; ``spread_correction`` unmixes the near object's blur from the far source.

    ``edge_guide`` (None = off, the paper): ``"auto"`` (the near source), ``"a"`` or ``"b"``; the
    network's map is guided-filtered with that source
    (:func:`mfif.postprocess.edges.snap_to_edges`, 3×3 windows) before thresholding and composition,
    which moves the boundary onto that object's edge. ``focus_map`` is then the filtered map.
    """
    inf, comp = resolve_options(options, inference=inference, compose=compose_options)
    fm = predict_focus_map(model, a, b, inference=inf)
    extras: dict[str, Any] = {}
    near = comp.near if comp.near != "auto" else comp.edge_guide if comp.edge_guide in ("a", "b") else None
    if near is None and (comp.edge_guide == "auto" or comp.soft or comp.spread_correction not in (False, None)):
        from mfif.fusion.order import near_source

        near = extras["near"] = near_source(a, b, fm)
    if comp.edge_guide is not None:
        from mfif.postprocess.edges import snap_to_edges

        guide = comp.edge_guide if comp.edge_guide in ("a", "b") else near
        fm = snap_to_edges(fm, a if guide == "a" else b)
    dm = postprocess_map(fm, threshold=comp.threshold, ratio=comp.min_region_ratio, connectivity=comp.connectivity,
                         enabled=comp.postprocess)
    if comp.soft:
        center = comp.soft_center if near == "a" else 1.0 - comp.soft_center
        w = soft_weights(fm, center=center, gain=comp.soft_gain)
    elif comp.soft_boundary > 0:
        from mfif.metrics.reference import boundary_band  # the metrics package loads all twelve metrics

        w = np.where(boundary_band(dm, comp.soft_boundary), fm, dm)
    else:
        w = dm
    fused = compose(a, b, w)
    if comp.spread_correction is not False and comp.spread_correction is not None:
        from mfif.postprocess.spread import correct_spread

        sigma = None if comp.spread_correction is True else float(comp.spread_correction)
        if near == "a":
            fused, extras["spread_sigma"] = correct_spread(a, b, dm, fused, sigma=sigma)
        else:  # the model's roles with B as the near source
            fused, extras["spread_sigma"] = correct_spread(b, a, 1.0 - dm, fused, sigma=sigma)
    return FusionResult(fused=fused, focus_map=fm, decision_map=dm, extras=extras)
