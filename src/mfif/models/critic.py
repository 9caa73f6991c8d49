"""The MFIF-GAN critic (authors' model.py Discriminator, ../shared/docs/mfif-gan-reference.md §1.2).

Input: concat(A, B, focus map) = 7 channels; output: a patch map (256² input → 6×6).
Seven convolutions (the paper text says eight; the code has seven and produced the published numbers).

``paper=True`` keeps the authors' quirks: BatchNorm in C2–C6 and a final sigmoid although the loss is
WGAN-GP. ``paper=False`` is the usual WGAN-GP critic: no BatchNorm (a per-sample gradient penalty is
ill-defined under batch statistics) and an unbounded linear output.
Parameter count (paper, width 64): 3,815,105.
"""

from __future__ import annotations

import torch
from torch import nn


class Critic(nn.Module):
    """Args:
        width: Channels of the first conv (paper 64); max width 4·width.
        paper: Keep BatchNorm and sigmoid (authors' code) or not (improved critic).
        in_channels: 7 for RGB sources (3 + 3 + 1), 3 for gray ones.
    """

    def __init__(self, *, width: int = 64, paper: bool = True, in_channels: int = 7) -> None:
        super().__init__()
        w = width
        self.paper = paper

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if paper else nn.Identity()

        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, w, 4, 2, 2, bias=True),
            nn.LeakyReLU(0.01),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=True),
            norm(2 * w),
            nn.LeakyReLU(0.01),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=True),
            norm(4 * w),
            nn.LeakyReLU(0.01),
        ]
        for _ in range(3):
            layers += [nn.Conv2d(4 * w, 4 * w, 4, 2, 2, bias=not paper), norm(4 * w), nn.ReLU()]
        layers.append(nn.Conv2d(4 * w, 1, 4, 1, 2, bias=True))
        if paper:
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, a: torch.Tensor, b: torch.Tensor, focus_map: torch.Tensor) -> torch.Tensor:
        """a, b: N×3×H×W in [0, 1]; focus_map N×1×H×W. Returns N×1×h×w patch scores."""
        x = torch.cat([a * 2.0 - 1.0, b * 2.0 - 1.0, focus_map], dim=1)
        return self.net(x)
