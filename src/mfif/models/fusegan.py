"""FuseGAN (Guo, Nie, Cao, Zhou, Mei, He, IEEE TMM 21(8), 2019), as far as the paper specifies it.

No code or weights of the authors are public; this is written from the paper's description
(docs/comparisons/fusegan.md lists every setting the paper leaves open and what was chosen):

* **Generator** — a Siamese encoder with shared weights runs on each source; the two feature maps are
  concatenated and a decoder of residual blocks predicts a one-channel *confidence map*
  (1 = source A in focus)::

      source (luma, [-1, 1]) → Encoder: conv 3×3 (1 → w) → conv 3×3/2 (w → 2w) → n_enc residual blocks
      concat(enc A, enc B) (4w, H/2) → conv 1×1 (→ 2w) → n_dec residual blocks
      → transposed conv 4×4/2 (→ w) → concat(full-resolution features of A and B) → conv 3×3 (3w → w)
      → conv 3×3 (w → 1) → sigmoid

  BatchNorm + ReLU after every convolution but the last; a residual block is conv–BN–ReLU–conv–BN plus
  the identity, then ReLU.
* **Discriminator** — a conditional patch discriminator on (A, B, map):
  :class:`mfif.models.critic.Critic` in its plain form (no BatchNorm, linear output), trained with the
  least-squares GAN objective (:func:`mfif.training.losses.critic_adversarial` with ``"lsgan"``).
* **Refinement** — :func:`conv_crf`: a convolutional CRF (mean-field inference with a Gaussian and a
  bilateral-like kernel truncated to a local window), whose output thresholded at 0.5 is the decision
  map; the fused image is ``F = A·M + B·(1 − M)``.

Inside torch: N×C×H×W float32; sources in [0, 1] (C = 1 or 3; colour is reduced to its BT.601 luma),
normalised to [−1, 1] inside the network. Any H, W ≥ 2 (odd sizes are reflect-padded by one pixel).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mfif.errors import MfifError

#: ``format`` metadata of a FuseGAN weights file.
FORMAT = "mfif-fusegan-v1"
_LUMA = (0.2989, 0.5870, 0.1140)


@dataclass
class FuseGANConfig:
    """Hyper-parameters of :class:`FuseGANGenerator`.

    Attributes:
        width: Channels at full resolution (w); the encoder and decoder work with 2w at H/2.
        n_enc: Residual blocks of the shared encoder.
        n_dec: Residual blocks of the decoder.
    """

    width: int = 16
    n_enc: int = 2
    n_dec: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FuseGANConfig":
        cfg = cls(**{k: int(d[k]) for k in cls.__dataclass_fields__ if k in d})
        if cfg.width < 1 or cfg.n_enc < 0 or cfg.n_dec < 0:
            raise MfifError(f"FuseGAN config: width >= 1, n_enc >= 0, n_dec >= 0 expected, got {d}")
        return cfg


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """conv 3×3 – BN – ReLU – conv 3×3 – BN, plus the identity, then ReLU (channels unchanged)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Encoder(nn.Module):
    """The Siamese branch: N×1×H×W in [−1, 1] → (full-resolution N×w×H×W, N×2w×H/2×W/2)."""

    def __init__(self, cfg: FuseGANConfig) -> None:
        super().__init__()
        w = cfg.width
        self.stem = _cbr(1, w)
        self.down = _cbr(w, 2 * w, 3, 2)
        self.blocks = nn.Sequential(*[ResBlock(2 * w) for _ in range(cfg.n_enc)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = self.stem(x)
        return full, self.blocks(self.down(full))


def to_luma(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W → N×1×H×W BT.601 luma (N×1×H×W is returned as is)."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise MfifError(f"FuseGAN: sources must have 1 or 3 channels, got {x.shape[1]}")
    return x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]


class FuseGANGenerator(nn.Module):
    """Siamese encoder + residual decoder predicting the confidence map (module docstring)."""

    def __init__(self, config: FuseGANConfig | None = None) -> None:
        super().__init__()
        self.config = config or FuseGANConfig()
        w = self.config.width
        self.encoder = Encoder(self.config)
        self.merge = _cbr(4 * w, 2 * w, 1)
        self.blocks = nn.Sequential(*[ResBlock(2 * w) for _ in range(self.config.n_dec)])
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.refine = _cbr(3 * w, w)
        self.head = nn.Conv2d(w, 1, 3, 1, 1)

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: N×C×H×W in [0, 1] (C = 1 or 3). Returns N×1×H×W logits of the confidence map."""
        h, w = a.shape[-2:]
        x = torch.cat([to_luma(a), to_luma(b)], dim=0) * 2.0 - 1.0
        ph, pw = h % 2, w % 2
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        full, low = self.encoder(x)
        n = a.shape[0]
        y = self.blocks(self.merge(torch.cat([low[:n], low[n:]], dim=1)))
        y = self.up(y)
        y = self.refine(torch.cat([y, full[:n], full[n:]], dim=1))
        return self.head(y)[..., :h, :w]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: N×C×H×W in [0, 1]. Returns the confidence map N×1×H×W in [0, 1] (1 = A in focus)."""
        return torch.sigmoid(self.logits(a, b))


def conv_crf(
    prob: torch.Tensor,
    guide: torch.Tensor,
    *,
    iterations: int = 5,
    window: int = 7,
    theta_pos: float = 3.0,
    theta_int: float = 0.05,
    theta_smooth: float = 3.0,
    w_bilateral: float = 0.5,
    w_smooth: float = 0.5,
    eps: float = 1e-4,
) -> torch.Tensor:
    """Convolutional CRF refinement of a two-label confidence map (mean-field inference).

    The unary term is ``−log`` of the network's confidence; the pairwise term is a Potts model whose
    kernel is ``w_bilateral·exp(−|Δp|²/2θ_pos² − |ΔI|²/2θ_int²) + w_smooth·exp(−|Δp|²/2θ_smooth²)``,
    truncated to a ``window``×``window`` neighbourhood (the centre excluded) and normalised so that each
    kernel sums to one over the window (messages in [−w, w] whatever the window). With two labels a
    mean-field step is ``logit ← logit₀ + Σ_j k(i, j)·(2·Q_j − 1)``, ``Q = sigmoid(logit)``.
    Outside the image the window sees nothing (zero weight).

    Args:
        prob: N×1×H×W confidence map in [0, 1] (1 = A).
        guide: N×1×H×W guide image in [0, 1] for the bilateral-like kernel (its intensity difference).
        iterations: Mean-field iterations (0 = return the clipped input).
        window: Odd window size.
        theta_pos, theta_int: Spatial (px) and intensity scales of the bilateral-like kernel.
        theta_smooth: Spatial scale (px) of the Gaussian kernel.
        w_bilateral, w_smooth: Kernel weights (logit units); the defaults were chosen on held-out synthetic
            pairs of the pack (``scripts/fusegan_crf.py``, docs/comparisons/fusegan.md).
        eps: The confidence is clipped to [eps, 1 − eps] before the logarithm.

    Returns:
        N×1×H×W refined marginals Q in [0, 1].
    """
    if window < 1 or window % 2 == 0:
        raise MfifError(f"conv_crf: window must be a positive odd number, got {window}")
    if iterations < 0:
        raise MfifError(f"conv_crf: iterations must be >= 0, got {iterations}")
    p = prob.float().clamp(eps, 1.0 - eps)
    if iterations == 0:
        return p
    n, _, h, w = p.shape
    r = window // 2
    unary = torch.log(p) - torch.log1p(-p)
    dy, dx = torch.meshgrid(torch.arange(-r, r + 1, dtype=torch.float32), torch.arange(-r, r + 1, dtype=torch.float32),
                            indexing="ij")
    d2 = (dy**2 + dx**2).reshape(1, -1, 1)
    centre = torch.zeros(window * window, dtype=torch.bool)
    centre[(window * window) // 2] = True
    ones = torch.ones(n, 1, h, w)
    valid = F.unfold(ones, window, padding=r)  # N×K×HW: 1 where the neighbour lies inside the image
    g = guide.float()
    gu = F.unfold(g, window, padding=r)
    di2 = (gu - g.reshape(n, 1, h * w)) ** 2
    kb = torch.exp(-d2 / (2 * theta_pos**2) - di2 / (2 * theta_int**2)) * valid
    ks = torch.exp(-d2 / (2 * theta_smooth**2)) * valid
    kb[:, centre] = 0.0
    ks[:, centre] = 0.0
    kern = w_bilateral * kb / kb.sum(dim=1, keepdim=True).clamp(min=1e-12)
    kern = kern + w_smooth * ks / ks.sum(dim=1, keepdim=True).clamp(min=1e-12)
    del kb, ks, di2, gu, valid
    q = p
    for _ in range(iterations):
        s = F.unfold(2.0 * q - 1.0, window, padding=r)  # zero padding: no message from outside
        msg = (kern * s).sum(dim=1).reshape(n, 1, h, w)
        q = torch.sigmoid(unary + msg)
    return q


# ------------------------------------------------------------------------------------------ weights


def save_fusegan(model: FuseGANGenerator, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None) -> Path:
    """Write the generator as one fp16 safetensors file (atomic), config in the ``mfif_config`` metadata."""
    from mfif.models.weights import save_model_file

    return save_model_file(model, path, fmt=FORMAT, metadata=metadata)


def load_fusegan(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> FuseGANGenerator:
    """Read a FuseGAN weights file written by :func:`save_fusegan` (float32, eval mode, on ``device``).

    Raises:
        MfifError: missing or unreadable file, or a file that is not a FuseGAN generator.
    """
    from mfif.models.weights import read_state, state_mismatch

    state, meta = read_state(path)
    if meta.get("format") != FORMAT:
        raise MfifError(f"{path}: not a FuseGAN weights file (format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        cfg = FuseGANConfig.from_dict(json.loads(meta["mfif_config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise MfifError(f"{path}: FuseGAN weights without a readable mfif_config ({exc})") from None
    model = FuseGANGenerator(cfg)
    missing, unexpected, wrong = state_mismatch(model.state_dict(), state)
    if missing or unexpected or wrong:
        raise MfifError(f"{path}: weights do not fit the FuseGAN config {cfg.to_dict()} "
                        f"(missing {len(missing)}, unexpected {len(unexpected)}, wrong shape {len(wrong)})")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(device).eval()


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
