"""The one registry of fusion methods, shared by the Python API, the CLI and the bench.

A fusion method is a callable ``fn(images, **options) -> FusionResult`` where ``images`` is a list of
N >= 2 numpy float32 arrays in [0, 1], all of the same shape, either H x W (gray) or H x W x 3 (RGB).
Methods register themselves with :func:`register_method`; modules that hold methods are imported
lazily on first look-up (see ``_METHOD_MODULES``), so ``import mfif`` stays fast.

Each entry declares the options it takes (:attr:`MethodInfo.options`): a classical method's are the
keyword parameters of its function, a learned method's are the fields of
:class:`mfif.options.InferenceOptions` and :class:`mfif.options.ComposeOptions` plus ``weights`` and
``stack_strategy``. :func:`check_options` is the one place where a call's options are checked against
that declaration, for the API, the CLI, the bench and the demo alike.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from mfif.errors import MfifError
from mfif.options import LEARNED_OPTIONS, STACK_OPTIONS, cli_options, flag_name, pair_only_given, refuse_pair_only


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
        options: Names of the keyword options the method takes.
        streams: The method reads its sources once, one at a time, and takes them as they are
            (float [0, 1], uint8 or uint16): :func:`mfif.fuse` hands them over without converting all
            of them to float32 first, so a stack's memory is the frames' own.
    """

    name: str
    fn: Callable[..., FusionResult]
    description: str = ""
    max_inputs: int | None = 2
    needs_weights: bool = False
    citation: str = ""
    options: frozenset[str] = frozenset()
    streams: bool = False

    def accepts(self, option: str) -> bool:
        """True when ``option`` is one of the method's declared options."""
        return option in self.options


_REGISTRY: dict[str, MethodInfo] = {}

# Modules that register methods when imported.
_METHOD_MODULES = (
    "mfif.fusion.methods",
    "mfif.fusion.hybrid",
    "mfif.fusion.stack_native",
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
    options: Iterable[str] | None = None,
    streams: bool = False,
) -> Callable[[Callable[..., FusionResult]], Callable[..., FusionResult]]:
    """Decorator that adds a fusion function to the registry under ``name``.

    Args:
        options: The option names the method takes; None = the keyword parameters of ``fn`` after the
            images (a function with ``**kwargs`` must name its options). Pair-only methods
            (``max_inputs=2``) also take the stack extension's options.
    """

    def deco(fn: Callable[..., FusionResult]) -> Callable[..., FusionResult]:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise RuntimeError(f"fusion method {name!r} registered twice")
        if options is None:
            params = list(inspect.signature(fn).parameters.values())[1:]
            if any(p.kind is p.VAR_KEYWORD for p in params):
                raise RuntimeError(f"fusion method {name!r} takes **kwargs: declare its options")
            opts = frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        else:
            opts = frozenset(options)
        if max_inputs == 2:
            opts |= STACK_OPTIONS
        _REGISTRY[name] = MethodInfo(
            name=name,
            fn=fn,
            description=description,
            max_inputs=max_inputs,
            needs_weights=needs_weights,
            citation=citation,
            options=opts,
            streams=streams,
        )
        return fn

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _METHOD_MODULES:
        importlib.import_module(mod)
    _loaded = True


def get_method(name: str) -> MethodInfo:
    """Return the registry entry for ``name``; raises :class:`MfifError` naming the choices.

    The method modules are imported in order until one has registered ``name`` (the learned methods'
    module first), so fusing with the default method does not import every classical baseline.
    """
    for mod in _METHOD_MODULES:
        if name in _REGISTRY:
            break
        importlib.import_module(mod)
    try:
        return _REGISTRY[name]
    except KeyError:
        _load_all()
        choices = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise MfifError(f"unknown fusion method {name!r}; choose one of: {choices}") from None


def list_methods() -> list[MethodInfo]:
    """All registered methods, sorted by name."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


#: Options with a CLI flag.
CLI_OPTIONS = frozenset(n for n, _ in cli_options())

def check_options(
    info: MethodInfo, options: Mapping[str, Any], *, n_sources: int | None = None, cli: bool = False
) -> None:
    """The one check of a call's options against the method's declaration.

    Options whose value is None count as not given. Raises one :class:`MfifError` naming every
    option the method does not take (CLI spelling with ``cli=True``) and the options it does take
    (with ``cli=True``, those that have a flag);
    for ``n_sources > 2``, also the pair-only options that were given.
    """
    given = [k for k, v in options.items() if v is not None]
    name = flag_name if cli else (lambda k: k)
    bad = sorted(k for k in given if not info.accepts(k))
    if bad:
        shown = sorted(info.options & CLI_OPTIONS | ({"weights", "stack_strategy"} & info.options)) if cli else sorted(info.options)
        takes = ", ".join(name(k) for k in shown) or ("no options on the command line" if cli else "no options")
        msg = f"method {info.name!r} does not take {', '.join(name(k) for k in bad)}"
        if not info.needs_weights and any(k in LEARNED_OPTIONS for k in bad):
            msg += " (options of the learned methods)"
        raise MfifError(f"{msg}; it takes: {takes}")
    if n_sources is not None:
        refuse_pair_only([name(k) for k in pair_only_given(options)], n_sources)

