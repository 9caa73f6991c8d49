"""Training configuration: one flat dataclass, YAML files, ``key=value`` overrides.

A config file is a YAML mapping of :class:`TrainConfig` fields (unknown keys are an error). The
shipped files live in the package (``src/mfif/configs/``, :data:`PACKAGE_CONFIGS`):
``paper`` (the authors' recipe and quirks), ``fast`` (cleaned recipe, GPU schedule), ``lite``
(small L1-only network for CPU), ``gpu9min`` (the paper-size model's 9.5-minute GPU schedule),
``tiny`` (smoke tests). A bare name such as ``lite`` resolves to the
shipped file; anything else is a path.

The resolved config (after overrides) is written beside every checkpoint as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from mfif.errors import MfifError

PACKAGE_CONFIGS = Path(__file__).resolve().parents[1] / "configs"

GAN_LOSSES = ("wgan-gp", "lsgan", "none")
RECON_LOSSES = ("l1", "bce")
TARGET_RANGES = ("01", "pm1")
SYNTHESIS = ("alpha", "conventional")
INPUT_MODES = ("color", "gray")
OPTIMIZERS = ("adam", "adamw")
SELECT_METRICS = ("psnr", "psnr_band", "iou", "map_l1")
AUTO_BOOL = ("auto", True, False)


@dataclass
class TrainConfig:
    """All settings of a training run (defaults = the cleaned GAN recipe).

    Generator (see :class:`mfif.models.generator.GeneratorConfig`):
        width, n_blocks, se, se_reduction, input_mode ("color" six branches | "gray" two branches),
        batched_branches, refine_width / refine_layers (full-resolution refinement head, 0 = none,
        the paper), context_width / context_blocks (H/16 context pathway, 0 = none, the paper).
        init_weights: generator weights (a .safetensors file or folder from ``mfif export`` / a
            run's ``best/``) to start from instead of random weights — fine-tuning. Parameters the
            file lacks (a new refinement head or context pathway) keep their initialisation; every other shape must match.
        train_only: the generator parts that learn (names of its top-level modules: branch, decoder,
            refine, context; e.g. ``[context]``); the others keep their weights and BatchNorm statistics
            as loaded. None = all.
    Adversarial part:
        gan: "wgan-gp" (authors), "lsgan" (least squares, no gradient penalty) or "none" (L1-only,
            no critic). critic_width; critic_paper: keep the authors' BatchNorm + sigmoid critic.
        n_critic: a generator update every n-th iteration (the critic updates every iteration).
        warmup_steps: the first iterations train the generator alone with the reconstruction loss
            (no critic, a generator update every iteration); adversarial training follows. 0 = off
            (paper). A short-budget schedule: the map is learnt cheaply first, the critic refines it.
        warmup_minutes: also end the warm-up once this much training wall time has passed (None =
            steps only). Warm-up ends at whichever comes first, so a time-boxed run on hardware of
            unknown speed still reaches its adversarial phase.
        gp_weight: gradient-penalty weight λ_gp (0 = "no GP" ablation; used with wgan-gp only).
        adv_weight: weight of the generator's adversarial term.
    Reconstruction:
        recon: "l1" (authors) or "bce" (ablation); recon_weight λ_rec.
        target_range: "01" (map target in [0, 1]) or "pm1" (authors' quirk: target 2·mask − 1).
        boundary_weight: extra reconstruction weight within ``boundary_radius`` px of the target's
            focus boundary (0 = off, the paper); weights are renormalised to mean 1 per sample.
        boundary_radius: half-width of that band in pixels.
        image_weight: weight of an image-space loss, the mean |M·A + (1−M)·B − I| of the soft map's
            fusion against the all-in-focus truth ``I`` (0 = off, the paper). It weights each pixel by
            how much the choice matters (|A − B|), so flat areas where either source is right cost
            nothing; the map loss keeps the map binary. Uses the same boundary weights when on.
    Distillation from precomputed teacher maps (``scripts/gpu_eval.py teacher``):
        distill: a folder of ``teacher-*.npz`` files or one ``.npz`` file (None = off, the paper).
            Each file holds a teacher generator's soft maps of whole pack items (``maps`` as
            round(p·quant) uint8, ``sigma``, ``index`` = pack item, ``quant``). Training then uses only
            the train items that have a map, synthesises each at the teacher's σ (instead of a drawn
            one) and adds ``distill_weight`` · mean |sigmoid(logits) − teacher map| to the generator
            loss (same boundary weights as the map loss when on); the map is cropped, flipped and
            rotated with the mask. Validation still uses the true masks.
        distill_weight: weight of that term (used only when ``distill`` is set).
    Data (a pack from ``mfif data``; its "val" split is used for validation):
        pack, crop, synthesis ("alpha" | "conventional"), sigma (a number or [lo, hi], drawn per
        sample), literal (paper's literal eqs. 10-11), augment, noise (sensor-noise augmentation of
        the network's inputs: a standard deviation or [lo, hi] drawn per sample, independent Gaussian
        noise on A and B, 0 = off, the paper; the image loss composes the clean sources), workers,
        gpu_synthesis ("auto" = on
        CUDA), val_count (max validation images), val_crop (centre crop), val_sigma (None = mean of
        sigma), val_batch.
    Real-photo augmentations of the training pairs (all off by default; validation never uses them;
    :class:`mfif.data.dataset.SyntheticPairDataset`):
        scale: a factor or [lo, hi] drawn per item; the image and mask are resized by it before
            synthesis (1 = off; < 1 = finer detail per pixel, like small real photos).
        small_regions_p, small_regions_max: probability that an item's mask gets 1..max small blobs or
            thin strokes of the opposite class (in-focus islands, twigs), composed by the same α-matte.
        disk_p: probability of a pill-box (radius 2σ) defocus kernel instead of the Gaussian.
        ring_p: probability of the pill-box's outer 1 px ring instead (doubled thin lines); disk_p + ring_p ≤ 1.
        jpeg_p, jpeg_quality: probability that the network's A and B are JPEG-compressed, at a quality
            drawn from [lo, hi] (the image loss composes the uncompressed sources).
        swap_p: probability that A and B are swapped and the mask inverted (far-focused source first).
        exposure_p, exposure_gain: probability that A or B (drawn) reaches the network multiplied by a
            gain drawn from [lo, hi] (two exposures of one scene; the image loss composes the clean sources).
        disk_p, ring_p, jpeg_p, swap_p and exposure_p act on the synthesised pair: they need the loader's (CPU) synthesis
        (``gpu_synthesis: auto`` then stays off on CUDA).
    Optimisation:
        optimizer ("adam" | "adamw"), lr_g, lr_d, beta1, beta2, weight_decay, batch_size (global,
        over all processes), ema_decay (0 = no EMA; evaluation and export use the EMA weights).
    Schedule (one iteration = one batch = one critic step):
        steps: total iterations; decay_start: linear LR decay to 0 from this point (a value ≤ 1 is a
        fraction of ``steps``, larger values are an iteration number); max_minutes: stop after this
        wall time (if set, the decay also follows elapsed/max_minutes, whichever is further);
        val_every, ckpt_every, log_every (iterations); select_metric: validation metric that picks
        the exported "best" generator.
    Run:
        seed, device ("auto" | "cpu" | "cuda" | "cuda:N"), threads (torch intra-op threads; 0 = all
        cores), amp ("auto" = bf16 autocast where the hardware computes bf16 natively: CUDA GPUs with
        bf16, CPUs with AVX512-BF16 / AMX-BF16 / Arm BF16; :func:`mfif.models.runtime.resolve_amp`),
        channels_last ("auto" = on CUDA), compile
        (torch.compile the generator), progress (tqdm bar), export_name, export_shard_mib.
    """

    name: str = "default"
    # generator
    width: int = 64
    n_blocks: int = 9
    se: bool = True
    se_reduction: int = 16
    input_mode: str = "color"
    batched_branches: bool = True
    refine_width: int = 0
    refine_layers: int = 3
    context_width: int = 0
    context_blocks: int = 2
    init_weights: str | None = None
    train_only: list | None = None
    # adversarial
    gan: str = "wgan-gp"
    critic_width: int = 64
    critic_paper: bool = False
    n_critic: int = 5
    gp_weight: float = 10.0
    adv_weight: float = 1.0
    warmup_steps: int = 0
    warmup_minutes: float | None = None
    # reconstruction
    recon: str = "l1"
    recon_weight: float = 10.0
    target_range: str = "01"
    boundary_weight: float = 0.0
    boundary_radius: int = 8
    image_weight: float = 0.0
    # distillation
    distill: str | None = None
    distill_weight: float = 1.0
    # data
    pack: str | None = None
    crop: int = 224
    synthesis: str = "alpha"
    sigma: Any = 1.0
    literal: bool = False
    augment: bool = True
    noise: Any = 0.0
    workers: int = 2
    gpu_synthesis: Any = "auto"
    val_count: int = 64
    val_crop: int = 224
    val_sigma: float | None = None
    val_batch: int = 8
    # real-photo augmentations (off by default)
    scale: Any = 1.0
    small_regions_p: float = 0.0
    small_regions_max: int = 4
    disk_p: float = 0.0
    ring_p: float = 0.0
    jpeg_p: float = 0.0
    jpeg_quality: Any = (50, 95)
    swap_p: float = 0.0
    exposure_p: float = 0.0
    exposure_gain: Any = (0.85, 1.15)
    # optimisation
    optimizer: str = "adam"
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    batch_size: int = 8
    ema_decay: float = 0.999
    # schedule
    steps: int = 120000
    decay_start: float = 0.5
    max_minutes: float | None = None
    val_every: int = 1000
    ckpt_every: int = 1000
    log_every: int = 50
    select_metric: str = "psnr"
    # run
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    amp: Any = "auto"
    channels_last: Any = "auto"
    compile: bool = False
    progress: bool = True
    export_name: str = "mfif-gan"
    export_shard_mib: float = 15.0

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("sigma", "scale", "jpeg_quality", "exposure_gain"):
            if isinstance(d[k], tuple):
                d[k] = list(d[k])
        return d

    def augmentation_kwargs(self) -> dict[str, Any]:
        """The real-photo augmentation keywords of :class:`~mfif.data.dataset.SyntheticPairDataset`."""
        lo, hi = _range(self.jpeg_quality)
        return {"scale": self.scale_range(), "small_regions_p": self.small_regions_p,
                "small_regions_max": self.small_regions_max, "disk_p": self.disk_p, "ring_p": self.ring_p, "jpeg_p": self.jpeg_p,
                "jpeg_quality": (int(lo), int(hi)), "swap_p": self.swap_p, "exposure_p": self.exposure_p,
                "exposure_gain": tuple(float(g) for g in _range(self.exposure_gain))}

    def scale_range(self) -> tuple[float, float]:
        return _range(self.scale)

    def generator_config(self):  # noqa: ANN201
        from mfif.models.generator import GeneratorConfig

        return GeneratorConfig(
            width=self.width,
            n_blocks=self.n_blocks,
            se=self.se,
            se_reduction=self.se_reduction,
            input_mode=self.input_mode,
            batched_branches=self.batched_branches,
            refine_width=self.refine_width,
            refine_layers=self.refine_layers,
            context_width=self.context_width,
            context_blocks=self.context_blocks,
        )

    def sigma_range(self) -> tuple[float, float]:
        return _range(self.sigma)

    def noise_range(self) -> tuple[float, float]:
        return _range(self.noise)

    def decay_start_step(self) -> int:
        d = float(self.decay_start)
        return int(round(d * self.steps)) if d <= 1 else int(d)

    def validate(self) -> "TrainConfig":
        """Coerce types and check ranges; raises MfifError naming the field."""
        _coerce(self)
        choices = {
            "gan": GAN_LOSSES,
            "recon": RECON_LOSSES,
            "target_range": TARGET_RANGES,
            "synthesis": SYNTHESIS,
            "input_mode": INPUT_MODES,
            "optimizer": OPTIMIZERS,
            "select_metric": SELECT_METRICS,
        }
        for k, allowed in choices.items():
            if getattr(self, k) not in allowed:
                raise MfifError(f"config {k}: expected one of {', '.join(allowed)}, got {getattr(self, k)!r}")
        for k in ("amp", "channels_last", "gpu_synthesis"):
            if getattr(self, k) not in AUTO_BOOL:
                raise MfifError(f"config {k}: expected auto, true or false, got {getattr(self, k)!r}")
        positive = ("width", "n_blocks", "se_reduction", "critic_width", "n_critic", "crop", "val_crop",
                    "val_batch", "batch_size", "steps", "val_every", "ckpt_every", "log_every")
        for k in positive:
            if getattr(self, k) < 1:
                raise MfifError(f"config {k}: must be >= 1, got {getattr(self, k)}")
        for k in ("crop", "val_crop"):
            if getattr(self, k) % 4:
                raise MfifError(f"config {k}: must be a multiple of 4, got {getattr(self, k)}")
        for k in ("gp_weight", "adv_weight", "recon_weight", "weight_decay", "workers", "val_count", "threads",
                  "warmup_steps", "boundary_weight", "boundary_radius", "image_weight", "refine_width",
                  "distill_weight", "context_width", "context_blocks"):
            if getattr(self, k) < 0:
                raise MfifError(f"config {k}: must be >= 0, got {getattr(self, k)}")
        for k in ("lr_g", "lr_d"):
            if not getattr(self, k) > 0:
                raise MfifError(f"config {k}: must be > 0, got {getattr(self, k)}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise MfifError(f"config beta1/beta2: must be in [0, 1), got {self.beta1}, {self.beta2}")
        if not 0 <= self.ema_decay < 1:
            raise MfifError(f"config ema_decay: must be in [0, 1), got {self.ema_decay}")
        lo, hi = self.sigma_range()
        if not (0 <= lo <= hi and math.isfinite(hi)):
            raise MfifError(f"config sigma: expected a number >= 0 or [lo, hi] with 0 <= lo <= hi, got {self.sigma}")
        lo, hi = self.noise_range()
        if not (0 <= lo <= hi <= 1):
            raise MfifError(f"config noise: expected a number in [0, 1] or [lo, hi] with 0 <= lo <= hi <= 1, got {self.noise}")
        lo, hi = self.scale_range()
        if not (0 < lo <= hi <= 8):
            raise MfifError(f"config scale: expected a number in (0, 8] or [lo, hi] with 0 < lo <= hi <= 8, got {self.scale}")
        for k in ("small_regions_p", "disk_p", "ring_p", "jpeg_p", "swap_p", "exposure_p"):
            if not 0 <= getattr(self, k) <= 1:
                raise MfifError(f"config {k}: expected a probability in [0, 1], got {getattr(self, k)}")
        if self.disk_p + self.ring_p > 1:
            raise MfifError(f"config disk_p + ring_p: must be at most 1, got {self.disk_p} + {self.ring_p}")
        if self.small_regions_max < 1:
            raise MfifError(f"config small_regions_max: must be >= 1, got {self.small_regions_max}")
        g_lo, g_hi = _range(self.exposure_gain)
        if not 0 < g_lo <= g_hi <= 4:
            raise MfifError(f"config exposure_gain: expected [lo, hi] with 0 < lo <= hi <= 4, got {self.exposure_gain}")
        lo, hi = _range(self.jpeg_quality)
        if not (1 <= lo <= hi <= 100 and lo == int(lo) and hi == int(hi)):
            raise MfifError(f"config jpeg_quality: expected [lo, hi] integers with 1 <= lo <= hi <= 100, "
                            f"got {self.jpeg_quality}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise MfifError(f"config max_minutes: must be > 0, got {self.max_minutes}")
        if self.warmup_minutes is not None and not self.warmup_minutes >= 0:
            raise MfifError(f"config warmup_minutes: must be >= 0, got {self.warmup_minutes}")
        if self.decay_start < 0:
            raise MfifError(f"config decay_start: must be >= 0, got {self.decay_start}")
        if self.train_only is not None:
            parts = [self.train_only] if isinstance(self.train_only, str) else list(self.train_only)
            bad = [p for p in parts if p not in ("branch", "decoder", "refine", "context")]
            if bad or not parts:
                raise MfifError(f"config train_only: expected a list of branch, decoder, refine, context, got {self.train_only}")
            self.train_only = parts
        if self.refine_layers < 2:
            raise MfifError(f"config refine_layers: must be >= 2, got {self.refine_layers}")
        if self.export_shard_mib < 1:
            raise MfifError(f"config export_shard_mib: must be >= 1, got {self.export_shard_mib}")
        return self


FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def _to_bool(key: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(v, str) and v.lower() in ("false", "no", "off", "0"):
        return False
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise MfifError(f"config {key}: expected true or false, got {v!r}")


def _range(v: Any) -> tuple[float, float]:
    """A number or ``[lo, hi]`` config value as ``(lo, hi)``."""
    if isinstance(v, (list, tuple)):
        return float(v[0]), float(v[1])
    return float(v), float(v)


def _coerce_value(key: str, v: Any) -> Any:
    t = FIELD_TYPES[key]
    try:
        if t == "int":
            if isinstance(v, bool):
                raise ValueError
            fv = float(v)
            if fv != int(fv):
                raise ValueError
            return int(fv)
        if t == "float":
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        if t == "float | None":
            return None if v is None or (isinstance(v, str) and v.lower() in ("none", "null", "")) else float(v)
        if t == "bool":
            return _to_bool(key, v)
        if t == "str":
            return str(v)
        if t == "str | None":
            return None if v is None or (isinstance(v, str) and v.lower() in ("none", "null", "")) else str(v)
    except (TypeError, ValueError):
        raise MfifError(f"config {key}: expected {t}, got {v!r}") from None
    # Any-typed fields
    if key in ("sigma", "noise", "scale", "jpeg_quality", "exposure_gain"):
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise MfifError(f"config {key}: expected a number or [lo, hi], got {v!r}")
            try:
                return [float(v[0]), float(v[1])]
            except (TypeError, ValueError):
                raise MfifError(f"config {key}: expected numbers, got {v!r}") from None
        try:
            return float(v)
        except (TypeError, ValueError):
            raise MfifError(f"config {key}: expected a number or [lo, hi], got {v!r}") from None
    if key in ("amp", "channels_last", "gpu_synthesis"):
        if isinstance(v, str) and v.lower() == "auto":
            return "auto"
        return _to_bool(key, v)
    return v


def _coerce(cfg: TrainConfig) -> None:
    for f in fields(cfg):
        setattr(cfg, f.name, _coerce_value(f.name, getattr(cfg, f.name)))


def _parse_yaml_text(text: str, where: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MfifError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MfifError(f"{where}: expected a mapping of config keys")
    return data


def resolve_config_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A path as given, or a bare name (``lite``) → the shipped ``mfif/configs/lite.yaml``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.suffix == "" and p.parent == Path("."):
        q = PACKAGE_CONFIGS / f"{p.name}.yaml"
        if q.is_file():
            return q
        names = sorted(x.stem for x in PACKAGE_CONFIGS.glob("*.yaml"))
        raise MfifError(f"{name_or_path}: no such config file or shipped config (shipped: {', '.join(names)})")
    raise MfifError(f"{p}: config file not found")


def from_dict(d: dict[str, Any], *, where: str = "config") -> TrainConfig:
    unknown = [k for k in d if k not in FIELD_TYPES]
    if unknown:
        raise MfifError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    cfg = TrainConfig(**d)
    return cfg.validate()


def load_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (or the defaults when None) and apply ``key=value`` overrides."""
    d: dict[str, Any] = {}
    where = "config"
    if path is not None:
        p = resolve_config_path(path)
        where = str(p)
        try:
            text = p.read_text()
        except OSError as exc:
            raise MfifError(f"{p}: cannot read config ({exc.strerror})") from None
        d = _parse_yaml_text(text, where)
    d = apply_overrides(d, overrides)
    return from_dict(d, where=where)


def apply_overrides(d: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``["lr_g=1e-3", "sigma=[0.8,1.6]"]`` → updated copy of ``d`` (values parsed as YAML)."""
    import yaml

    out = dict(d)
    for item in overrides:
        if "=" not in item:
            raise MfifError(f"--set {item!r}: expected key=value")
        k, v = item.split("=", 1)
        k = k.strip()
        if k not in FIELD_TYPES:
            raise MfifError(f"--set {k}: unknown config key")
        try:
            out[k] = yaml.safe_load(v) if v.strip() else None
        except yaml.YAMLError:
            out[k] = v
    return out


def dump_yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def replace(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    return dataclasses.replace(cfg, **changes).validate()


ARCH_KEYS = ("width", "n_blocks", "se", "se_reduction", "input_mode", "refine_width", "refine_layers",
             "context_width", "context_blocks", "gan",
             "critic_width", "critic_paper")

__all__ = [
    "TrainConfig",
    "load_config",
    "from_dict",
    "apply_overrides",
    "dump_yaml",
    "resolve_config_path",
    "replace",
    "ARCH_KEYS",
    "PACKAGE_CONFIGS",
]


def load_kind_config(cls: type, d: dict[str, Any], overrides: Sequence[str] = (), *, where: str = "config",
                     what: str = "") -> Any:
    """A config dataclass of a ``kind:`` run (stack, cnn, mmf-net, fusegan) from a parsed YAML mapping
    and ``key=value`` overrides, validated by the class's ``validate()``.

    Values given as strings to numeric fields (YAML 1.1 reads ``3e-4`` as a string) and to
    ``max_minutes`` become numbers; integers given to float fields become floats.

    Args:
        cls: The dataclass (every field has a default; it has a ``validate()`` returning itself).
        d: The parsed YAML mapping.
        overrides: ``key=value`` items (``--set``), values parsed as YAML.
        where: The config's name in errors.
        what: The run's kind in errors (``unknown config key of a <what> run``).

    Raises:
        MfifError: a malformed override, an unknown key or a non-number for a numeric field.
    """
    import yaml

    out = dict(d)
    names = {f.name for f in fields(cls)}
    for item in overrides:
        if "=" not in item:
            raise MfifError(f"--set {item!r}: expected key=value")
        k, v = (s.strip() for s in item.split("=", 1))
        if k not in names:
            raise MfifError(f"--set {k}: unknown config key of a {what} run")
        out[k] = yaml.safe_load(v) if v else None
    unknown = sorted(k for k in out if k not in names)
    if unknown:
        raise MfifError(f"{where}: unknown key(s) {', '.join(unknown)}")
    defaults = cls()
    for k, v in out.items():
        dv = getattr(defaults, k)
        as_float = isinstance(dv, float) or k == "max_minutes"
        numeric = as_float or (isinstance(dv, int) and not isinstance(dv, bool))
        if isinstance(v, str) and numeric:
            try:
                out[k] = float(v) if as_float else int(v)
            except ValueError:
                raise MfifError(f"{where}: {k}: expected a number, got {v!r}") from None
        elif isinstance(v, int) and not isinstance(v, bool) and as_float:
            out[k] = float(v)
    return cls(**out).validate()
