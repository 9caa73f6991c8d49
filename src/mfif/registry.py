"""The one registry of fusion methods, shared by the Python API, the CLI and the bench.

A fusion method is a callable ``fn(images, **options) -> FusionResult`` where ``images`` is a list of
N >= 2 numpy float32 arrays in [0, 1], all of the same shape, either H x W (gray) or H x W x 3 (RGB).
Methods register themselves with :func:`register_method`; modules that hold methods are imported
lazily on first look-up (see ``_METHOD_MODULES``), so ``import mfif`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from mfif.errors import MfifError


@dataclass
class FusionResult:
    """What every fusion method returns.

    Attributes:
        fused: Fused image, float32 in [0, 1], same shape as the inputs (H x W or H x W x 3).
        focus_map: Soft focus map, float32 H x W in [0, 1] (1 = first source in focus), or None
            when the method has no such map.
        decision_map: Final hard map, float32 H x W with values in {0, 1} for pairs (1 = first source),
            or None for methods that blend without a decision.
        depth_map: For stacks, int32 H x W index of the source chosen per pixel (0-based), else None.
        extras: Free-form per-method diagnostics (timings, intermediate maps).
    """

    fused: np.ndarray
    focus_map: np.ndarray | None = None
    decision_map: np.ndarray | None = None
    depth_map: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class FusionFn(Protocol):
    def __call__(self, images: Sequence[np.ndarray], **options: Any) -> FusionResult: ...


@dataclass(frozen=True)
class MethodInfo:
    """Registry entry.

    Attributes:
        name: Registry key, e.g. ``"mfif-gan"`` or ``"gff"``.
        fn: The fusion callable.
        description: One line for ``mfif methods``.
        max_inputs: Largest number of sources the method accepts natively (None = any). Pair-only
            methods (2) are extended to stacks by the stack module.
        needs_weights: True for learned methods whose weights must be installed.
        citation: Short reference of the original paper.
    """

    name: str
    fn: Callable[..., FusionResult]
    description: str = ""
    max_inputs: int | None = 2
    needs_weights: bool = False
    citation: str = ""


_REGISTRY: dict[str, MethodInfo] = {}

# Modules that register methods when imported. Missing modules are skipped, so stages can be
# developed independently.
_METHOD_MODULES = (
    "mfif.fusion.methods",
    "mfif.baselines",
)
_loaded = False


def register_method(
    name: str,
    *,
    description: str = "",
    max_inputs: int | None = 2,
    needs_weights: bool = False,
    citation: str = "",
) -> Callable[[Callable[..., FusionResult]], Callable[..., FusionResult]]:
    """Decorator that adds a fusion function to the registry under ``name``."""

    def deco(fn: Callable[..., FusionResult]) -> Callable[..., FusionResult]:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise RuntimeError(f"fusion method {name!r} registered twice")
        _REGISTRY[name] = MethodInfo(
            name=name,
            fn=fn,
            description=description,
            max_inputs=max_inputs,
            needs_weights=needs_weights,
            citation=citation,
        )
        return fn

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _METHOD_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a stage that does not exist yet
            if exc.name != mod:
                raise
    _loaded = True


def get_method(name: str) -> MethodInfo:
    """Return the registry entry for ``name``; raises :class:`MfifError` naming the choices."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        choices = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise MfifError(f"unknown fusion method {name!r}; choose one of: {choices}") from None


def list_methods() -> list[MethodInfo]:
    """All registered methods, sorted by name."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
