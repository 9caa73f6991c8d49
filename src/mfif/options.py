"""The declared fusion options of the learned methods, validated once.

Two small frozen dataclasses hold every inference and composition option of the learned methods
(``mfif-gan``, ``mfif-gan-lite`` and its variants):

* :class:`InferenceOptions` — how the network runs: device, bf16 autocast, memory format, tiling,
  test-time augmentation;
* :class:`ComposeOptions` — how its focus map becomes the fused image: threshold, small-region
  removal, soft composition, edge snapping, defocus-spread correction.

Each field is declared once, with its default, its check and (where the CLI exposes it) its flag and
help text in the field's ``metadata``. The CLI builds its flags from these declarations
(:func:`add_cli_flags`), the registry knows which options a method takes from them, and the
constructors validate the values, so the rules ("no TTA with tiles", "soft and soft_boundary are
alternatives", …) are written in one place.

Defaults of ``amp`` differ by front end, on purpose, and are stated once here:
:data:`AMP_DEFAULTS` (the Python API and the bench: float32, reproducible across machines; the CLI,
the demo and the web app: ``"auto"``, bf16 where the hardware computes it natively).

This module imports nothing above :mod:`mfif.errors`.
"""

from __future__ import annotations

import argparse
import math
import numbers
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Mapping

from mfif.errors import MfifError

#: Test-time augmentation settings: number of network passes (1 = none).
TTA_CHOICES = (1, 2, 4, 16)
#: Smallest and largest factor of ``scales`` (multi-scale inference).
SCALE_RANGE = (0.25, 4.0)
#: Soft composition (``soft=True``): weights ``clip(gain·(m − center) + 0.5)``, chosen on 48
#: training-split pack pairs (docs/results.md).
SOFT_CENTER = 0.7
SOFT_GAIN = 2.0
#: The ``amp`` default of each front end (see the module docstring).
AMP_DEFAULTS: dict[str, bool | str] = {"api": False, "bench": False, "cli": "auto", "demo": "auto", "web": "auto"}


def _flag(flag: str, help: str, **argparse_kw: Any) -> dict[str, Any]:
    return {"flag": flag, "help": help, "argparse": argparse_kw}


def parse_scales(value: Any) -> tuple[float, ...]:
    """Normalise a ``scales`` setting: a number, a sequence of numbers or a comma-separated string
    (``"1,0.7"``) → a tuple of floats; None → ``(1.0,)``.

    Raises:
        MfifError: empty, not numbers, not finite, or a factor outside :data:`SCALE_RANGE`.
    """
    if value is None:
        return (1.0,)
    items: Any = value.split(",") if isinstance(value, str) else value
    if isinstance(items, numbers.Real):
        items = (items,)
    try:
        if any(isinstance(v, bool) for v in items):
            raise TypeError("bool")
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        out = ()
    lo, hi = SCALE_RANGE
    if not out or not all(math.isfinite(v) and lo <= v <= hi for v in out):
        raise MfifError(f"--scales must be one or more factors in [{lo:g}, {hi:g}] separated by commas "
                        f"(e.g. 1,0.7), got {value!r}")
    return out


@dataclass(frozen=True)
class InferenceOptions:
    """How a learned method runs its network.

    Attributes:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``/``"cuda:N"`` or a ``torch.device``.
        amp: bf16 autocast: True, False or ``"auto"`` (:func:`mfif.models.runtime.resolve_amp`).
        channels_last: Channels-last tensors (None = when the model's weights are).
        tile: Tile core size in pixels for large images (None = one pass; ≥ 16).
        tile_overlap: Context pixels around each tile (None = the model's receptive-field radius).
        tta: Test-time augmentation passes: 1 (none), 2 (mirror), 4 (four flips), 16 (flips of four
            2-px shifts); True = 4, False/None/0 = 1.
        symmetric: Run the network on both source orders in one batch and use
            ``0.5 + 0.5·(f(A, B) − f(B, A))``: the map of (B, A) is the complement of the map of (A, B)
            (2× compute); False = the given order only (the paper).
        scales: Multi-scale inference: the network runs on the sources resized by each factor (OpenCV
            area interpolation down, bicubic up) and the focus maps, resized back to H×W (bilinear),
            are averaged; ``(1.0,)`` = one pass at the image's own size. Not combined with ``tile``.
        match_exposure: Scale both sources to their common mean brightness before the network
            (:func:`mfif.fusion.inference.exposure_matched`); the composition uses the sources as
            given. False = the sources as given (docs/real-pairs.md §7).
    """

    device: Any = field(default="auto", metadata=_flag(
        "--device", "auto, cpu or cuda (learned methods; default auto)"))
    amp: bool | str = field(default=False, metadata=_flag(
        "--amp", "bf16 autocast for learned methods; default: on for CUDA GPUs with bf16 and for CPUs with native "
        "bf16 (AVX512-BF16/AMX, Arm BF16), where mfif-gan-lite runs about 2x faster at the same quality "
        "(docs/speed.md), else off; --no-amp = float32 (the Python API's default)",
        action=argparse.BooleanOptionalAction))
    channels_last: bool | None = None
    tile: int | None = field(default=None, metadata=_flag(
        "--tile", "tile size for large images (learned methods)", type=int))
    tile_overlap: int | None = field(default=None, metadata=_flag(
        "--tile-overlap", "context pixels around each tile (learned methods, with --tile)", type=int))
    tta: int = field(default=1, metadata=_flag(
        "--tta", "test-time augmentation (learned methods): average the focus maps of the 4 flipped copies "
        "(--tta or --tta 4; 4x compute), of the image and its mirror image (--tta 2) or of the flips of 4 "
        "shifted copies (--tta 16)", type=int, nargs="?", const=4, choices=list(TTA_CHOICES), metavar="N"))
    symmetric: bool = field(default=False, metadata=_flag(
        "--symmetric", "learned methods: average the network's maps of both source orders (A, B and B, A), so "
        "the result does not depend on which photo comes first (2x compute); --no-symmetric = the given "
        "order only", action=argparse.BooleanOptionalAction))
    scales: tuple[float, ...] = field(default=(1.0,), metadata=_flag(
        "--scales", "learned pair methods: run the network on the sources resized by each factor and "
        "average the focus maps (e.g. --scales 1,0.7; default 1 = the image's own size; docs/real-pairs.md §6)",
        type=str, metavar="S[,S...]"))
    match_exposure: bool = field(default=False, metadata=_flag(
        "--match-exposure", "learned pair methods: scale both sources to their common mean brightness before "
        "the network (the composition uses the sources as given; docs/real-pairs.md §7)",
        action=argparse.BooleanOptionalAction))

    def __post_init__(self) -> None:
        t = 4 if self.tta is True else 1 if self.tta is None or self.tta is False else self.tta
        if not isinstance(t, numbers.Integral) or int(t) not in (0, *TTA_CHOICES):  # numpy integers included
            raise MfifError(f"--tta must be False, True, 1, 2, 4 or 16, got {self.tta!r}")
        object.__setattr__(self, "tta", max(1, int(t)))
        if not (self.amp == "auto" or type(self.amp).__name__ in ("bool", "bool_")):
            raise MfifError(f"--amp must be True, False or 'auto', got {self.amp!r}")
        if self.tile is not None and not self.tile:
            object.__setattr__(self, "tile", None)  # 0 = one pass
        if self.tile is not None and int(self.tile) < 16:
            raise MfifError(f"--tile {self.tile}: use a tile size of at least 16 pixels")
        if self.tile_overlap is not None and int(self.tile_overlap) < 0:
            raise MfifError(f"--tile-overlap {self.tile_overlap}: must be >= 0")
        if self.tile and self.tta > 1:
            raise MfifError("--tta is not combined with --tile: give one of them (tiles are for images too large for one pass)")
        object.__setattr__(self, "scales", parse_scales(self.scales))
        if self.tile and self.scales != (1.0,):
            raise MfifError("--scales is not combined with --tile: give one of them")


@dataclass(frozen=True)
class ComposeOptions:
    """How a learned method turns its focus map into the fused image.

    Attributes:
        threshold: Map value above which source A is picked (paper 0.5).
        min_region_ratio: Small-region removal threshold as a fraction of H·W (paper 0.001).
        connectivity: 1 = 4-neighbour, 2 = 8-neighbour regions.
        postprocess: Small-region removal on (the paper) or off (ablation).
        soft: Compose with :func:`mfif.fusion.pair.soft_weights` of the map instead of the hard pick.
        soft_center, soft_gain: Centre and slope of those weights when A is the near source (the
            centre leans uncertain pixels towards the far source; with B near, ``1 − soft_center``).
        soft_boundary: Pixels around the decision boundary composed with the soft map (0 = off).
        edge_guide: Guided-filter the map with the near-focus source: ``"auto"`` (the source ``near``
            names), ``"a"``, ``"b"`` or None (off).
        near: Which source is focused near, for ``edge_guide="auto"``, the soft centre and the spread
            correction: ``"auto"`` (decided from the pair and the network's map,
            :func:`mfif.fusion.order.near_source`), ``"a"`` or ``"b"``.
        spread_correction: False (paper), True (estimated σ) or a σ value: unmix the defocus spread
            outside the A-region.
    """

    threshold: float = 0.5
    min_region_ratio: float = field(default=0.001, metadata=_flag(
        "--min-region-ratio", "small-region threshold as a fraction of H·W (learned methods; paper 0.001)", type=float))
    connectivity: int = 1
    postprocess: bool = field(default=True, metadata=_flag(
        "--postprocess", "small-region removal (learned methods; --no-postprocess = the paper's ablation)",
        action=argparse.BooleanOptionalAction))
    soft: bool = field(default=False, metadata=_flag(
        "--soft", "compose with soft weights clip(2·(map − 0.7) + 0.5) instead of the hard pick "
        "(learned methods, two sources; see docs/results.md)", action="store_const", const=True))
    soft_center: float = SOFT_CENTER
    soft_gain: float = SOFT_GAIN
    soft_boundary: float = field(default=0.0, metadata=_flag(
        "--soft-boundary", "blend with the soft focus map within PX pixels of the decision boundary "
        "(learned methods, two sources; 0 = hard pick everywhere, the paper)", type=float, metavar="PX"))
    edge_guide: str | None = field(default=None, metadata=_flag(
        "--edge-guide", "snap the focus map to the edges of the near-focus source: auto (decided from the "
        "images, see --near), a or b (learned methods, two sources; guided filter, 3x3 windows; "
        "docs/results.md)", choices=["auto", "a", "b"]))
    near: str = field(default="auto", metadata=_flag(
        "--near", "which source is focused near, for --edge-guide auto, --soft and --spread-correction: auto "
        "(decided from the images and the focus map; default), a or b", choices=["auto", "a", "b"]))
    spread_correction: bool | float = field(default=False, metadata=_flag(
        "--spread-correction", "unmix the defocus spread outside the A-region (learned methods, two sources; "
        "A = near focus; needs a pixel-accurate map, see docs/results.md)", action="store_const", const=True))

    def __post_init__(self) -> None:
        if self.soft and self.soft_boundary and self.soft_boundary > 0:
            raise MfifError("--soft and --soft-boundary are alternatives: give one of them")
        if self.soft_boundary is not None and self.soft_boundary < 0:
            raise MfifError(f"--soft-boundary must be >= 0, got {self.soft_boundary}")
        if self.soft and not self.soft_gain > 0:
            raise MfifError(f"soft_gain must be > 0, got {self.soft_gain}")
        if self.edge_guide not in (None, "auto", "a", "b"):
            raise MfifError(f"--edge-guide must be None, 'auto', 'a' or 'b' (the near-focus source), got {self.edge_guide!r}")
        if self.near not in ("auto", "a", "b"):
            raise MfifError(f"--near must be 'auto', 'a' or 'b', got {self.near!r}")
        if not 0 <= float(self.min_region_ratio) < 1:
            raise MfifError(f"--min-region-ratio must be in [0, 1), got {self.min_region_ratio}")
        if self.connectivity not in (1, 2):
            raise MfifError(f"connectivity must be 1 or 2, got {self.connectivity!r}")

    @property
    def pair_only(self) -> list[str]:
        """Names of the options set here that only a pair can use (:func:`pair_only_given`)."""
        return pair_only_given({k: getattr(self, k) for k in PAIR_ONLY})


#: Options that need one pair of sources (a stack selects one source per pixel).
PAIR_ONLY = ("soft", "soft_boundary", "edge_guide", "spread_correction")


def pair_only_given(options: Mapping[str, Any]) -> list[str]:
    """The pair-only options (:data:`PAIR_ONLY`) that ``options`` turns on (not None, False or 0)."""
    return [k for k in PAIR_ONLY if options.get(k) is not None and options[k] is not False and options[k] != 0]


def refuse_pair_only(names: list[str], n_sources: int) -> None:
    """Raise the one error for pair-only options (``names``, already spelled) given for ``n_sources`` > 2."""
    if names and n_sources > 2:
        raise MfifError(f"{', '.join(names)}: for two sources only; {n_sources} sources are fused by selecting "
                        "one source per pixel")


INFERENCE_FIELDS = tuple(f.name for f in fields(InferenceOptions))
COMPOSE_FIELDS = tuple(f.name for f in fields(ComposeOptions))
#: Options of the learned methods besides the two dataclasses.
LEARNED_EXTRA = ("weights", "stack_strategy", "progress")  # progress: given by mfif.fuse(progress=...)
#: Every option a learned method takes.
LEARNED_OPTIONS = frozenset(INFERENCE_FIELDS + COMPOSE_FIELDS + LEARNED_EXTRA)
#: Options a pair-only method gets from the stack extension (:mod:`mfif.fusion.stack`).
STACK_OPTIONS = frozenset({"stack_strategy", "stack_min_region_ratio"})


def split_options(options: Mapping[str, Any]) -> tuple[InferenceOptions, ComposeOptions, dict[str, Any]]:
    """Build the two option objects from flat keyword options; None values count as not given.

    Returns:
        ``(inference, compose, rest)`` where ``rest`` holds the options of neither dataclass.
    """
    given = {k: v for k, v in options.items() if v is not None}
    inf = InferenceOptions(**{k: given[k] for k in INFERENCE_FIELDS if k in given})
    comp = ComposeOptions(**{k: given[k] for k in COMPOSE_FIELDS if k in given})
    rest = {k: v for k, v in given.items() if k not in INFERENCE_FIELDS and k not in COMPOSE_FIELDS}
    return inf, comp, rest


def resolve_options(
    options: Mapping[str, Any], *, inference: InferenceOptions | None = None, compose: ComposeOptions | None = None,
    what: str = "mfif-gan",
) -> tuple[InferenceOptions, ComposeOptions]:
    """The two option objects of a learned call: given as objects or as flat keywords, not both.

    Raises:
        MfifError: keywords of neither dataclass (naming ``what``), or objects and keywords together.
    """
    inf, comp, rest = split_options(options)
    if rest:
        raise MfifError(f"unknown option(s) for {what}: {', '.join(sorted(rest))}")
    if (inference is not None or compose is not None) and any(v is not None for v in options.values()):
        raise MfifError("give either the option objects or keyword options, not both")
    return inference or inf, compose or comp


def flag_name(option: str) -> str:
    """The CLI spelling of an option name (``spread_correction`` → ``--spread-correction``)."""
    return "--" + option.replace("_", "-")


def cli_options() -> list[tuple[str, dict[str, Any]]]:
    """``(option name, metadata)`` of every declared option that has a CLI flag, in declaration order."""
    out = []
    for cls in (InferenceOptions, ComposeOptions):
        for f in fields(cls):
            if "flag" in f.metadata:
                out.append((f.name, dict(f.metadata)))
    return out


def add_cli_flags(p: argparse.ArgumentParser) -> None:
    """Add one flag per declared option that has one; every flag defaults to None (= not given)."""
    for name, meta in cli_options():
        p.add_argument(meta["flag"], dest=name, default=None, help=meta["help"], **meta["argparse"])


def given_cli_options(args: argparse.Namespace) -> dict[str, Any]:
    """The declared options the user gave on the command line (value not None)."""
    return {name: getattr(args, name) for name, _ in cli_options() if getattr(args, name, None) is not None}


def default_of(option: str) -> Any:
    """Declared default of an option of either dataclass (KeyError for other names)."""
    for cls in (InferenceOptions, ComposeOptions):
        for f in fields(cls):
            if f.name == option:
                return f.default if f.default is not MISSING else None
    raise KeyError(option)
