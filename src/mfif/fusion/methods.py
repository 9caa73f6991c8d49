"""Registry entries of the learned methods: ``mfif-gan`` (paper model) and ``mfif-gan-lite``.

Weights are loaded once per (name, path, device) and cached. Pairs go through
:func:`mfif.fusion.pair.fuse_pair`; N > 2 sources go through :mod:`mfif.fusion.stack`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import torch

from mfif.fusion.pair import fuse_pair, resolve_device
from mfif.models.generator import Generator
from mfif.models.optimize import optimize_for_inference
from mfif.models.weights import installed_weights, load_generator
from mfif.registry import FusionResult, register_method


@lru_cache(maxsize=8)
def _cached(name: str, path: str | None, device: str) -> Generator:
    # BN folded into the convolutions + channels-last weights: same function, ~1.7x faster on CPU
    # (benchmarks/infer_speed.py --optimize; see docs/speed.md).
    return optimize_for_inference(load_generator(path, name=name, device=device))


def get_generator(name: str, weights: str | None = None, device: str | torch.device = "auto") -> Generator:
    """Load (cached) the generator of weights set ``name`` or file ``weights``."""
    dev = resolve_device(device)
    return _cached(name, str(weights) if weights is not None else None, str(dev))


def _fuse_learned(name: str, images: Sequence[np.ndarray], weights: str | None, device: str, **opts: Any) -> FusionResult:
    model = get_generator(name, weights, device)
    if len(images) == 2:
        return fuse_pair(model, images[0], images[1], device=device, **opts)
    from mfif.fusion.stack import fuse_stack_learned

    return fuse_stack_learned(model, list(images), device=device, **opts)


@register_method(
    "mfif-gan",
    description="MFIF-GAN (Wang et al. 2021): six-branch SE-ResNet generator, paper configuration",
    max_inputs=None,
    needs_weights=True,
    citation="Wang et al., MFIF-GAN, Signal Processing: Image Communication 2021",
)
def mfif_gan(images: Sequence[np.ndarray], *, weights: str | None = None, device: str = "auto", **opts: Any) -> FusionResult:
    """MFIF-GAN with the paper's post-processing. Options: see :func:`mfif.fusion.pair.fuse_pair`."""
    return _fuse_learned("mfif-gan", images, weights, device, **opts)


@register_method(
    "mfif-gan-lite",
    description="MFIF-GAN-lite: a small member of the MFIF-GAN family trained on CPU (fast CPU default)",
    max_inputs=None,
    needs_weights=True,
    citation="this project (architecture of Wang et al. 2021, reduced width/depth)",
)
def mfif_gan_lite(images: Sequence[np.ndarray], *, weights: str | None = None, device: str = "auto", **opts: Any) -> FusionResult:
    """MFIF-GAN-lite with the paper's post-processing."""
    return _fuse_learned("mfif-gan-lite", images, weights, device, **opts)


WEIGHTS_OF = {"mfif-gan": "mfif-gan", "mfif-gan-lite": "mfif-gan-lite"}


def has_weights(method: str) -> bool:
    """True when the shipped weights a learned method uses are installed (False for unknown names)."""
    return method in WEIGHTS_OF and bool(installed_weights(WEIGHTS_OF[method]))


def default_method() -> str:
    """The method ``mfif fuse`` uses when none is named.

    The full model when its weights are installed and a CUDA GPU is present, else the lite model when
    its weights are installed, else the full model if installed (slow on CPU), else ``gff``.
    """
    full = bool(installed_weights("mfif-gan"))
    lite = bool(installed_weights("mfif-gan-lite"))
    if full and torch.cuda.is_available():
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
    def fuse(images: Sequence[np.ndarray], *, weights: str | None = None, device: str = "auto", **opts: Any) -> FusionResult:
        own = dict(defaults)
        if len(images) > 2:
            own.pop("soft", None)  # stacks select one source per pixel: the variant keeps its TTA only
        return _fuse_learned("mfif-gan-lite", images, weights, device, **{**own, **opts})

    fuse.__doc__ = f"{description}. Options: see :func:`mfif.fusion.pair.fuse_pair`."
    register_method(name, description=description, max_inputs=None, needs_weights=True, citation="this project")(fuse)


for _name, _description, _defaults in LITE_VARIANTS:
    _register_lite_variant(_name, _description, _defaults)
    WEIGHTS_OF[_name] = "mfif-gan-lite"
