"""The MFIF-GAN generator (authors' model.py, see ../shared/docs/mfif-gan-reference.md §1.1).

One single-channel encoder ("branch") is applied with shared weights to each colour channel of both
sources (six calls in the paper, one batched call here), the three features of a source are averaged,
the two sources' features are concatenated, and a decoder predicts a sigmoid focus map.

Shapes (paper configuration, width w = 64, 9 blocks):
    encoder: 1 → w (7×7) → 2w (3×3/2) → 4w (3×3/2) → n_blocks × SEBasicBlock(4w, r=16)
    fuse:    mean over the 3 channels of each source → concat → 8w at H/4 × W/4
    decoder: 8w → 4w (deconv 4×4/2) → 2w (deconv 4×4/2) → 1 (7×7) → sigmoid
Parameter count: 13,700,928.

Optional (not in the paper, ``refine_width > 0``): a small full-resolution refinement head. The
paper's decoder sees the sources only through H/4 features, which limits how exactly it can place the
focus boundary; the head reads the sources at full resolution together with the decoder's logits and
adds a correction to the logits: z' = z + head([A, B, z]) (``refine_layers`` 3×3 convs with
``refine_width`` channels and ReLU, last conv zero-initialised, so a fresh head leaves the map
unchanged and a trained paper-form model can be fine-tuned with it).

Optional (not in the paper, ``context_width > 0``): a low-resolution context pathway. The paper's
decoder decides each pixel from H/4 features whose receptive field is 39 px (lite) to 87 px (paper); a
region larger than that is decided piece by piece. The pathway reads the fused H/4 features, goes down
to H/16 (two 3×3/2 convs), runs ``context_blocks`` SE residual blocks there, and adds its bilinearly
upsampled output, through a zero-initialised 1×1 conv, to the features before the decoder:
f' = f + up(ctx(f)). Fresh, it leaves the map unchanged, so trained weights can be fine-tuned with it.

Note on BatchNorm: the authors call the branch six times, so in training mode each call normalises
with its own batch statistics. Running the six channels as one batch (``batched_branches=True``, our
default, faster) normalises them together; in ``eval()`` both are identical. ``batched_branches=False``
reproduces the authors' six calls exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn


@dataclass
class GeneratorConfig:
    """Hyper-parameters of :class:`Generator`.

    Attributes:
        width: Channels of the first encoder conv (paper 64); the encoder goes w, 2w, 4w.
        n_blocks: Number of SE residual blocks (paper 9).
        se: Use squeeze-and-excitation in the residual blocks (ablation "no SE" = False).
        se_reduction: SE reduction ratio r (paper 16).
        input_mode: "color" = six weight-shared single-channel branches (paper); "gray" = two
            branches on the luma of A and B (ablation "two channels").
        batched_branches: Run all branches as one batch (see module note).
        refine_width: Channels of the full-resolution refinement head (0 = none, the paper).
        refine_layers: Number of 3×3 convolutions of that head (>= 2).
        context_width: Channels of the H/16 context pathway (0 = none, the paper).
        context_blocks: SE residual blocks of that pathway at H/16.
    """

    width: int = 64
    n_blocks: int = 9
    se: bool = True
    se_reduction: int = 16
    input_mode: Literal["color", "gray"] = "color"
    batched_branches: bool = True
    refine_width: int = 0
    refine_layers: int = 3
    context_width: int = 0
    context_blocks: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**fields)


class SELayer(nn.Module):
    """Squeeze-and-excitation: global average pool → FC(c→c/r) → ReLU → FC(c/r→c) → sigmoid → scale."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=(2, 3)))
        return x * w[:, :, None, None]


class SEBasicBlock(nn.Module):
    """conv3×3 → BN → ReLU → conv3×3 → BN → SE → + identity → ReLU (no bias, no downsample)."""

    def __init__(self, channels: int, *, se: bool = True, reduction: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = SELayer(channels, reduction) if se else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + x)


def _conv_bn_relu(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Branch(nn.Module):
    """The shared single-channel encoder ("Line" in the authors' code). N×1×H×W → N×4w×H/4×W/4."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        w = cfg.width
        layers: list[nn.Module] = []
        layers += _conv_bn_relu(1, w, 7, 1, 3)
        layers += _conv_bn_relu(w, 2 * w, 3, 2, 1)
        layers += _conv_bn_relu(2 * w, 4 * w, 3, 2, 1)
        for _ in range(cfg.n_blocks):
            layers.append(SEBasicBlock(4 * w, se=cfg.se, reduction=cfg.se_reduction))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """8w → 4w → 2w (transposed convs 4×4/2, BN, ReLU) → 1 (conv 7×7) → sigmoid."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        w = cfg.width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(8 * w, 4 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 1, 7, 1, 3, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RefineHead(nn.Module):
    """Full-resolution logit correction: [A, B, z] (2C+1 channels) → conv3×3+ReLU ×(L−1) → conv3×3 → 1."""

    def __init__(self, in_channels: int, width: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        c = in_channels
        if layers < 2:
            raise ValueError(f"RefineHead: layers must be >= 2, got {layers}")
        for _ in range(layers - 1):
            mods += [nn.Conv2d(c, width, 3, 1, 1), nn.ReLU(inplace=True)]
            c = width
        last = nn.Conv2d(c, 1, 3, 1, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        mods.append(last)
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ContextPath(nn.Module):
    """f (N×C×h×w at H/4) → f + up(1×1(blocks(down(f)))): H/16 context, zero-initialised output conv."""

    def __init__(self, channels: int, width: int, blocks: int, *, se: bool = True, reduction: int = 16) -> None:
        super().__init__()
        mods: list[nn.Module] = _conv_bn_relu(channels, width, 3, 2, 1) + _conv_bn_relu(width, width, 3, 2, 1)
        mods += [SEBasicBlock(width, se=se, reduction=reduction) for _ in range(blocks)]
        self.down = nn.Sequential(*mods)
        self.out = nn.Conv2d(width, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        c = self.out(self.down(f))
        return f + nn.functional.interpolate(c, size=f.shape[2:], mode="bilinear", align_corners=False)


def _luma(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=x.dtype, device=x.device)
    return (x * w[None, :, None, None]).sum(dim=1, keepdim=True)


class Generator(nn.Module):
    """Predicts the focus map of source A from two sources.

    Args:
        config: :class:`GeneratorConfig` (defaults = the paper's model).

    Forward:
        a, b: N×3×H×W (or N×1×H×W in gray mode) in [0, 1]; H, W multiples of 4.
        Returns N×1×H×W focus map in [0, 1] (1 = A in focus), or the pre-sigmoid logits when
        ``logits=True``.
    """

    def __init__(self, config: GeneratorConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = config or GeneratorConfig()
        if overrides:
            cfg = GeneratorConfig(**{**cfg.to_dict(), **overrides})
        self.config = cfg
        self.branch = Branch(cfg)
        self.decoder = Decoder(cfg)
        self.refine: RefineHead | None = None
        if cfg.refine_width > 0:
            c = 1 if cfg.input_mode == "gray" else 3
            self.refine = RefineHead(2 * c + 1, cfg.refine_width, cfg.refine_layers)
        self.context: ContextPath | None = None
        if cfg.context_width > 0:
            self.context = ContextPath(8 * cfg.width, cfg.context_width, cfg.context_blocks, se=cfg.se,
                                       reduction=cfg.se_reduction)

    def encode(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """N×C×H×W sources in [0, 1] → N×8w×H/4×W/4 fused features (after the context pathway, if any)."""
        return self._encode(self._scaled(a, b))

    def _scaled(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The network input: [A, B] in the model's channel mode, N×2C×H×W in [-1, 1]."""
        if self.config.input_mode == "gray":
            a = _luma(a) if a.shape[1] == 3 else a
            b = _luma(b) if b.shape[1] == 3 else b
        else:
            if a.shape[1] == 1:
                a = a.expand(-1, 3, -1, -1)
            if b.shape[1] == 1:
                b = b.expand(-1, 3, -1, -1)
        return torch.cat([a, b], dim=1) * 2.0 - 1.0

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[0], x.shape[1] // 2
        h, w = x.shape[2:]
        if self.config.batched_branches:
            f = self.branch(x.reshape(n * 2 * c, 1, h, w))
            f = f.reshape(n, 2, c, *f.shape[1:]).mean(dim=2)  # N×2×4w×h×w
        else:
            feats = [self.branch(x[:, i : i + 1]) for i in range(2 * c)]
            f = torch.stack(feats, dim=1).reshape(n, 2, c, *feats[0].shape[1:]).mean(dim=2)
        f = f.reshape(n, -1, *f.shape[3:])
        return f if self.context is None else self.context(f)

    def forward(self, a: torch.Tensor, b: torch.Tensor, *, logits: bool = False) -> torch.Tensor:
        x = self._scaled(a, b)
        z = self.decoder(self._encode(x))
        if self.refine is not None:
            z = z + self.refine(torch.cat([x, z], dim=1))
        return z if logits else torch.sigmoid(z)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
