"""MMF-Net (Ma, Liao, Zhang, Liu, Xue, IEEE TIP 2020): two cascaded sub-nets for multi-focus fusion.

Structure (the authors' MIT code, ``models/CBAfusion3.py``, as the structural reference; this is an
independent implementation):

* **initial-fusion ("defocus") sub-net**: the two RGB sources concatenated (6 channels) → 3×3 conv to
  ``width_a`` (64) → ``blocks_a`` (4) residual blocks → 3×3 conv → 3×3 conv to one channel: the guidance
  map ``G`` (1 = source A, 0 = B, 0.5 = the focused/defocused boundary band where neither source is sharp);
* **boundary-fusion ("deblur") sub-net**: sources + ``G`` (7 channels) → 3×3 conv to ``width_b`` (128) →
  ``blocks_b`` (16) residual blocks (the first ``full_blocks`` (4) added at scale 1, the others at
  ``res_scale`` 0.1) → 3×3 conv → 3×3 conv to RGB, a correction ``R``;
* cascade: ``F = G·A + (1 − G)·B + (1 − 2|G − 0.5|)·R``: the correction acts only where the map is
  undecided (the boundary band).

Initialisation: Kaiming normal (a = 0.1) and zero biases as the reference, except the two output
convs: the map head starts at the constant 0.5 (zero weights, bias 0.5) and the boundary sub-net's last
conv at zero, so an untrained cascade returns the average of the sources (short CPU training;
docs/comparisons/mmf-net.md).

Residual block: conv 3×3 → ReLU → conv 3×3, added to its input. Hidden single convs are followed by a
LeakyReLU(0.1); the map head is linear, as in the reference's cascade, which uses the raw map (its
helper module with the exact activations is not published; a sigmoid head saturated at 1 within the
first steps of CPU training and never recovered). ``G`` is therefore not bounded; the map loss pulls it
to [0, 1], and it is clipped only where it is reported as a focus map. Sources are taken in
[0, 1] as the authors did (no [−1, 1] normalisation). Every convolution is 'same'-padded at stride 1,
so any H×W works and the output is exactly as large as the input; the receptive-field radius is
:meth:`MMFNetConfig.radius` pixels (for tiling).

Weights I/O: :func:`save_mmf_net` writes one fp16 safetensors file with the config in the
``mfif_config`` metadata and ``format = mfif-mmfnet-v1``; :func:`load_mmf_net` reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mfif.errors import MfifError

FORMAT = "mfif-mmfnet-v1"
NAME = "mmf-net"


@dataclass(frozen=True)
class MMFNetConfig:
    """Widths and depths of the two sub-nets (defaults: the paper's / reference code's).

    Attributes:
        width_a: Channels of the initial-fusion sub-net (64).
        blocks_a: Residual blocks of the initial-fusion sub-net (4).
        width_b: Channels of the boundary-fusion sub-net (128).
        blocks_b: Residual blocks of the boundary-fusion sub-net (16).
        full_blocks: Leading blocks of the boundary sub-net added at scale 1 (4); the rest at ``res_scale``.
        res_scale: Residual scale of the later boundary blocks (0.1).
    """

    width_a: int = 64
    blocks_a: int = 4
    width_b: int = 128
    blocks_b: int = 16
    full_blocks: int = 4
    res_scale: float = 0.1

    def __post_init__(self) -> None:
        for k in ("width_a", "blocks_a", "width_b", "blocks_b"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise MfifError(f"mmf-net config: {k} must be a positive integer, got {v!r}")
        if not isinstance(self.full_blocks, int) or self.full_blocks < 0:
            raise MfifError(f"mmf-net config: full_blocks must be an integer >= 0, got {self.full_blocks!r}")
        if not 0 < float(self.res_scale) <= 1:
            raise MfifError(f"mmf-net config: res_scale must be in (0, 1], got {self.res_scale!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "mmf-net config") -> "MMFNetConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(k for k in d if k not in names)
        if unknown:
            raise MfifError(f"{where}: unknown key(s) {', '.join(unknown)}")
        return cls(**d)

    def radius(self) -> int:
        """Receptive-field radius in pixels of the cascade output (each 3×3 conv adds 1)."""
        map_convs = 3 + 2 * self.blocks_a
        return map_convs + 3 + 2 * self.blocks_b


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResBlock(nn.Module):
    """conv 3×3 → ReLU → conv 3×3 (the residual branch; the caller adds it to the input)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = _conv(width, width)
        self.conv2 = _conv(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(x)))


class MMFNet(nn.Module):
    """The cascade (module docstring). ``forward(x)`` with x N×6×H×W (A then B, RGB in [0, 1]) returns
    ``(G, F)``: the guidance map N×1×H×W (not bounded; ≈ [0, 1] once trained) and the fused image
    N×3×H×W (not clipped)."""

    def __init__(self, config: MMFNetConfig | None = None) -> None:
        super().__init__()
        c = config or MMFNetConfig()
        self.config = c
        self.a_in = _conv(6, c.width_a)
        self.a_blocks = nn.ModuleList(ResBlock(c.width_a) for _ in range(c.blocks_a))
        self.a_mid = _conv(c.width_a, c.width_a)
        self.a_out = _conv(c.width_a, 1)
        self.b_in = _conv(7, c.width_b)
        self.b_blocks = nn.ModuleList(ResBlock(c.width_b) for _ in range(c.blocks_b))
        self.b_mid = _conv(c.width_b, c.width_b)
        self.b_out = _conv(c.width_b, 3)
        for m in self.modules():  # the reference's initialisation: Kaiming normal (a = 0.1), zero biases
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, 0.1)
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.b_out.weight)  # the cascade starts as the initial fusion (no random correction)
        nn.init.zeros_(self.a_out.weight)  # the map starts at 0.5 everywhere
        nn.init.constant_(self.a_out.bias, 0.5)

    def guidance(self, x: torch.Tensor) -> torch.Tensor:
        """The initial-fusion sub-net: N×6×H×W → N×1×H×W map (linear head, not bounded)."""
        act = nn.functional.leaky_relu
        h = act(self.a_in(x), 0.1)
        for blk in self.a_blocks:
            h = h + blk(h)
        h = act(self.a_mid(h), 0.1)
        return self.a_out(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 6:
            raise MfifError(f"mmf-net: expected N x 6 x H x W input (A and B, RGB), got {tuple(x.shape)}")
        act = nn.functional.leaky_relu
        g = self.guidance(x)
        initial = g * x[:, :3] + (1 - g) * x[:, 3:]
        boundary = 1 - 2 * (g - 0.5).abs()
        h = act(self.b_in(torch.cat((x, g), 1)), 0.1)
        c = self.config
        for i, blk in enumerate(self.b_blocks):
            h = h + (blk(h) if i < c.full_blocks else c.res_scale * blk(h))
        h = act(self.b_mid(h), 0.1)
        return g, initial + boundary * self.b_out(h)


def parameter_count(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def save_mmf_net(model: MMFNet, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None,
                 dtype: torch.dtype = torch.float16) -> Path:
    """Write ``model`` as one safetensors file (atomic; ``dtype`` fp16 by default), config in ``mfif_config``.

    Returns:
        The path written.
    """
    from mfif.models.weights import save_model_file

    return save_model_file(model, path, fmt=FORMAT, metadata=metadata, dtype=dtype)


def load_mmf_net(path: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu") -> MMFNet:
    """Read an MMF-Net weights file (None = the shipped ``mmf-net`` weights) into an eval-mode float32 model.

    Raises:
        MfifError: no shipped weights, a file that is not MMF-Net weights, or tensors that do not fit.
    """
    from mfif.models.weights import installed_weights, read_state

    if path is None:
        files = installed_weights(NAME)
        if not files:
            raise MfifError(f"{NAME}: no shipped weights installed (give --weights PATH)")
        where = str(files[0])
        state, meta = read_state(files)
    else:
        where = str(path)
        state, meta = read_state(path)
    if meta.get("format") != FORMAT:
        raise MfifError(f"{where}: not an MMF-Net weights file (format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        cfg = MMFNetConfig.from_dict(json.loads(meta.get("mfif_config", "{}")), where=where)
    except (ValueError, TypeError) as exc:
        raise MfifError(f"{where}: unreadable mfif_config metadata ({exc})") from None
    model = MMFNet(cfg)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise MfifError(f"{where}: weights do not fit the MMF-Net config ({str(exc).splitlines()[0]})") from None
    return model.eval().to(device)
