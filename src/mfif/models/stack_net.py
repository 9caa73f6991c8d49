"""The stack-native member of the MFIF-GAN family (``mfif-stack``): one pass per frame, an N-way decision.

The pair generator (:mod:`mfif.models.generator`) compares two sources inside its decoder, so a stack
of N frames needs pairs of passes. This network scores every frame on its own with the same kind of
weight-shared single-channel SE-ResNet branch and a small decoder; the N-way decision is a softmax
over the frames' score maps, per pixel::

    frame k (luma, [-1, 1]) → Branch (1 → w → 2w → 4w, n SE blocks, H/4) → FrameDecoder → z_k (H×W logits)
    weights  W_k = softmax_k(z_k / T)      fused = Σ_k W_k · frame_k      depth = argmax_k z_k

With ``depth_head`` a second decoder of the same layout reads the same branch features and gives a
depth score map d_k per frame; the depth map is then ``argmax_k d_k`` while the fusion still uses z_k.
The two questions differ next to a defocused near object: the frame focused on the near object is the
better *source* for the background pixels its blur covers in the other frames (so the fusion weights
go there), but the true depth of those pixels is the background's frame.

The cost is one branch + decoder pass per frame (O(N)); the softmax is accumulated frame by frame
(running maximum, running sum), so inference keeps only the running state, never all N score maps
(:func:`mfif.fusion.stack_native.fuse_stack_native`). The branch has the pair generator's layout, so
it can start from the pair model's weights (``Branch`` of :class:`~mfif.models.generator.Generator`).

Shapes (width w, default 8, 3 blocks): branch 1→w (7×7) → 2w (3×3/2) → 4w (3×3/2) → blocks at H/4;
decoder 4w → 2w (deconv 4×4/2) → w (deconv 4×4/2) → 1 (7×7), BN + ReLU between.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from mfif.models.generator import Branch, GeneratorConfig, _luma


@dataclass
class StackNetConfig:
    """Hyper-parameters of :class:`StackNet`.

    Attributes:
        width: Channels of the first branch conv; the branch goes w, 2w, 4w.
        n_blocks: SE residual blocks of the branch.
        se: Squeeze-and-excitation in the blocks.
        se_reduction: SE reduction ratio.
        depth_head: A second decoder for the depth map (module docstring); forward then returns two
            channels per frame.
    """

    width: int = 8
    n_blocks: int = 3
    se: bool = True
    se_reduction: int = 16
    depth_head: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StackNetConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def branch_config(self) -> GeneratorConfig:
        return GeneratorConfig(width=self.width, n_blocks=self.n_blocks, se=self.se, se_reduction=self.se_reduction,
                               input_mode="gray")


class FrameDecoder(nn.Module):
    """4w → 2w → w (transposed convs 4×4/2, BN, ReLU) → 1 (conv 7×7, with bias): a frame's score logits."""

    def __init__(self, width: int) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, 1, 7, 1, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def frame_luma(x: torch.Tensor) -> torch.Tensor:
    """N×C×H×W (C = 1 or 3) in [0, 1] → N×1×H×W ITU-R 601 luma (the pair model's weights)."""
    return x if x.shape[1] == 1 else _luma(x)


class StackNet(nn.Module):
    """Per-frame focus scores for an N-way decision (module docstring).

    Args:
        config: :class:`StackNetConfig`.

    Forward:
        frames: M×C×H×W frames (C = 1 or 3) in [0, 1], H and W multiples of 4 — any number of frames of
            any number of stacks; frames are scored independently.
        Returns M×C×H×W score logits (higher = sharper; only differences between the frames of one
        stack at one pixel matter): C = 1, the fusion scores z, or with ``depth_head`` C = 2, z and the
        depth scores d.
    """

    def __init__(self, config: StackNetConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = config or StackNetConfig()
        if overrides:
            cfg = StackNetConfig(**{**cfg.to_dict(), **overrides})
        self.config = cfg
        self.branch = Branch(cfg.branch_config())
        self.decoder = FrameDecoder(cfg.width)
        self.depth_decoder = FrameDecoder(cfg.width) if cfg.depth_head else None
        #: Training switch: the depth decoder reads detached branch features (its loss does not train the branch).
        self.detach_depth = False

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frame_luma(frames) * 2.0 - 1.0
        feats = self.branch(x)
        z = self.decoder(feats)
        if self.depth_decoder is None:
            return z
        return torch.cat([z, self.depth_decoder(feats.detach() if self.detach_depth else feats)], dim=1)

    def init_depth_from_fusion(self) -> None:
        """Start the depth decoder as a copy of the fusion decoder (same depth map as without the head)."""
        if self.depth_decoder is None:
            raise ValueError("this stack model has no depth head")
        self.depth_decoder.load_state_dict(self.decoder.state_dict())

    def fusion_modules(self) -> list[nn.Module]:
        """The modules that produce the fusion scores (branch and fusion decoder)."""
        return [self.branch, self.decoder]

    def load_branch_from(self, state: dict[str, torch.Tensor]) -> int:
        """Copy the ``branch.*`` tensors of a pair generator's state dict (same width and blocks).

        Returns:
            Number of tensors copied.
        """
        own = self.branch.state_dict()
        picked = {k[len("branch."):]: v for k, v in state.items() if k.startswith("branch.")}
        picked = {k: v for k, v in picked.items() if k in own and own[k].shape == v.shape}
        self.branch.load_state_dict({**own, **picked})
        return len(picked)


def stack_softmax_fusion(logits: torch.Tensor, frames: torch.Tensor, *, temperature: float = 1.0
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Training-time fusion of whole stacks: softmax over the frame axis.

    Args:
        logits: B×N×H×W score logits.
        frames: B×N×C×H×W frames.
        temperature: Softmax temperature T (> 0).

    Returns:
        ``(fused B×C×H×W, weights B×N×H×W)``.
    """
    w = torch.softmax(logits / temperature, dim=1)
    return (w[:, :, None] * frames).sum(dim=1), w
