"""Registry entries of the learned methods: ``mfif-gan`` (paper model) and ``mfif-gan-lite``.

Weights are loaded once per (name, path, device) and cached. Pairs go through
:func:`mfif.fusion.pair.fuse_pair`; N > 2 sources go through :mod:`mfif.fusion.stack`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from mfif.errors import MfifError
from mfif.fusion.inference import numpy_generator_for
from mfif.fusion.pair import compose, fuse_pair
from mfif.models.runtime import cuda_available, resolve_device
from mfif.models.weights import installed_weights, load_generator
from mfif.options import LEARNED_OPTIONS, resolve_options, split_options
from mfif.registry import FusionResult, register_method

if TYPE_CHECKING:
    import torch

    from mfif.models.generator import Generator


@lru_cache(maxsize=8)
def _cached(name: str, path: str | None, device: str) -> Generator:
    # BN folded into the convolutions + channels-last weights: same function, ~1.7x faster on CPU
    # (benchmarks/infer_speed.py --optimize; see docs/speed.md).
    from mfif.models.optimize import optimize_for_inference

    return optimize_for_inference(load_generator(path, name=name, device=device))


def get_generator(name: str, weights: str | None = None, device: str | torch.device = "auto") -> Generator:
    """Load (cached) the generator of weights set ``name`` or file ``weights``."""
    dev = resolve_device(device)
    return _cached(name, str(weights) if weights is not None else None, str(dev))


def _fuse_learned(name: str, images: Sequence[np.ndarray], *, weights: str | None = None,
                  stack_strategy: str | None = None, progress: Any = None, **opts: Any) -> FusionResult:
    inf, comp = resolve_options(opts, what=name)
    # small networks on a CPU run in numpy, without importing torch (mfif.models.runtime.choose_engine)
    model = numpy_generator_for(name, weights, inf) or get_generator(name, weights, inf.device)
    if len(images) == 2:
        return fuse_pair(model, images[0], images[1], inference=inf, compose_options=comp)
    from mfif.fusion.stack import fuse_stack_learned

    return fuse_stack_learned(model, list(images), stack_strategy=stack_strategy, inference=inf, compose_options=comp,
                              progress=progress)


@register_method(
    "mfif-gan",
    description="MFIF-GAN (Wang et al. 2021): six-branch SE-ResNet generator, paper configuration",
    max_inputs=None,
    needs_weights=True,
    citation="Wang et al., MFIF-GAN, Signal Processing: Image Communication 2021",
    options=LEARNED_OPTIONS,
)
def mfif_gan(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
    """MFIF-GAN with the paper's post-processing. Options: :mod:`mfif.options` (``weights``,
    ``stack_strategy`` and the fields of ``InferenceOptions`` / ``ComposeOptions``)."""
    return _fuse_learned("mfif-gan", images, **opts)


@register_method(
    "mfif-gan-lite",
    description="MFIF-GAN-lite: a small member of the MFIF-GAN family trained on CPU (fast CPU default)",
    max_inputs=None,
    needs_weights=True,
    citation="this project (architecture of Wang et al. 2021, reduced width/depth)",
    options=LEARNED_OPTIONS,
)
def mfif_gan_lite(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
    """MFIF-GAN-lite with the paper's post-processing. Options as :func:`mfif_gan`."""
    return _fuse_learned("mfif-gan-lite", images, **opts)


#: Weights set of each learned method whose name is not itself a weights set (the lite variants).
_VARIANT_OF: dict[str, str] = {}


def has_weights(method: str) -> bool:
    """True when the shipped weights a learned method uses are installed (False for unknown names)."""
    from mfif.registry import get_method

    name = _VARIANT_OF.get(method, method)
    try:
        info = get_method(method)
    except MfifError:
        return False
    return info.needs_weights and bool(installed_weights(name))


def default_method(n_sources: int = 2, options: Sequence[str] = (), *, weights: str | None = None) -> str:
    """The method ``mfif fuse`` uses when none is named.

    For N > 2 sources the stack model ``mfif-stack`` when its weights are installed (one pass per frame,
    :mod:`mfif.fusion.stack_native`; chosen on synthetic stacks, docs/stacking.md). Otherwise the full
    model when its weights are installed and a CUDA GPU is present, else the lite model when its weights
    are installed, else the full model if installed (slow on CPU), else ``gff``. Options given to the
    call (``options``, their names) that ``mfif-stack`` does not take (e.g. ``stack_strategy``, ``tile``)
    select the pair model's stack fusion instead, and so does a ``weights`` file that is not a stack
    model's.
    """
    if n_sources > 2:
        from mfif.fusion.stack_native import NAME, has_stack_weights, is_stack_weights
        from mfif.registry import get_method

        if (has_stack_weights() and all(get_method(NAME).accepts(k) for k in options)
                and (weights is None or is_stack_weights(weights))):
            return NAME
    full = bool(installed_weights("mfif-gan"))
    lite = bool(installed_weights("mfif-gan-lite"))
    if full and cuda_available():
        return "mfif-gan"
    if lite:
        return "mfif-gan-lite"
    if full:
        return "mfif-gan"
    return "gff"


# Named inference variants of the lite model, so leaderboards rank them separately: (name, description,
# default options). Every option can still be overridden by the caller.
LITE_VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("mfif-gan-lite-tta2", "MFIF-GAN-lite with mirror test-time augmentation (maps of the image and its left-right "
     "mirror averaged; 2x compute)", {"tta": 2}),
    ("mfif-gan-lite-tta", "MFIF-GAN-lite with flip test-time augmentation (maps of 4 flipped copies averaged; 4x compute)",
     {"tta": True}),
    ("mfif-gan-lite-soft", "MFIF-GAN-lite composed with soft weights clip(2(m-0.7)+0.5) instead of the hard pick "
     "(same compute; stacks: hard selection)", {"soft": True}),
    ("mfif-gan-lite-tta16-soft", "MFIF-GAN-lite, maps of 16 flipped/shifted copies averaged, soft composition "
     "(16x compute; the most accurate lite variant; stacks: TTA only)", {"tta": 16, "soft": True}),
)


def _register_lite_variant(name: str, description: str, defaults: dict[str, Any]) -> None:
    def fuse(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
        own = dict(defaults)
        if len(images) > 2:
            own.pop("soft", None)  # stacks select one source per pixel: the variant keeps its TTA only
        return _fuse_learned("mfif-gan-lite", images, **{**own, **opts})

    fuse.__doc__ = f"{description}. Options as :func:`mfif_gan`."
    register_method(name, description=description, max_inputs=None, needs_weights=True, citation="this project",
                    options=LEARNED_OPTIONS)(fuse)
    _VARIANT_OF[name] = "mfif-gan-lite"


for _name, _description, _defaults in LITE_VARIANTS:
    _register_lite_variant(_name, _description, _defaults)


@register_method(
    "mfif-gan-lite-hybrid",
    description="MFIF-GAN-lite's decision where the 15x15 Laplacian-energy measure is not decisive, the classical "
    "decision where it is (pairs; same network compute; stacks: as mfif-gan-lite)",
    max_inputs=None,
    needs_weights=True,
    citation="this project (docs/real-pairs.md)",
    options=LEARNED_OPTIONS,
)
def mfif_gan_lite_hybrid(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
    """Lite network + classical focus measure (:func:`mfif.fusion.hybrid.hybrid_decision`), hard composition.

    Options as :func:`mfif_gan`; the inference options shape the network's map, ``threshold``,
    ``min_region_ratio`` and ``connectivity`` the combination. Composition options that need the
    network's map alone (``soft``, ``soft_boundary``, ``spread_correction``, ``postprocess=False``) are refused.
    """
    return _combined(images, opts, "mfif-gan-lite-hybrid", "hybrid_decision")


def _combined(images: Sequence[np.ndarray], opts: dict[str, Any], name: str, decision: str) -> FusionResult:
    """A lite network pass combined with a classical decision (``mfif.fusion.hybrid.<decision>``), hard
    composition; stacks are fused as by ``mfif-gan-lite``."""
    if len(images) > 2:
        return _fuse_learned("mfif-gan-lite", images, **opts)
    _, comp, _ = split_options(opts)
    refused = [k for k in ("soft", "soft_boundary", "spread_correction") if opts.get(k)]
    if opts.get("postprocess") is False:
        refused.append("postprocess")
    if refused:
        raise MfifError(f"{name} does not take {', '.join(refused)} (hard composition of a combined map)")
    from mfif.fusion import hybrid  # imports the classical baselines: only when used

    res = _fuse_learned("mfif-gan-lite", images, **opts)
    a, b = images
    dm = getattr(hybrid, decision)(res.focus_map, a, b, threshold=comp.threshold, ratio=comp.min_region_ratio,
                                   connectivity=comp.connectivity)
    return FusionResult(fused=compose(a, b, dm), focus_map=res.focus_map, decision_map=dm, extras=res.extras)


_VARIANT_OF["mfif-gan-lite-hybrid"] = "mfif-gan-lite"


@register_method(
    "mfif-gan-lite-quadtree",
    description="Quadtree's decision away from its boundary, MFIF-GAN-lite's decision within 8 px of it (pairs; "
    "first on the real pairs' reference-free metrics, behind the lite default at the synthetic known truth; "
    "stacks: as mfif-gan-lite)",
    max_inputs=None,
    needs_weights=True,
    citation="this project (docs/real-pairs.md §7)",
    options=LEARNED_OPTIONS,
)
def mfif_gan_lite_quadtree(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
    """Lite network + Quadtree (:func:`mfif.fusion.hybrid.quadtree_band_decision`), hard composition.

    Options as :func:`mfif_gan_lite_hybrid` (the same composition options are refused).
    """
    return _combined(images, opts, "mfif-gan-lite-quadtree", "quadtree_band_decision")


_VARIANT_OF["mfif-gan-lite-quadtree"] = "mfif-gan-lite"
