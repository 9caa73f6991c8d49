"""Losses of the MFIF-GAN trainer (../shared/docs/mfif-gan-reference.md §1.3).

* Critic (WGAN-GP, authors): ``−mean D(real) + mean D(fake) + λ_gp · GP`` where the gradient penalty
  interpolates **only the focus map** between the target map and the generator's map with one random
  α ∈ U(0, 1) per sample (the sources A and B stay fixed): ``GP = mean_n (‖∇_x̂ Σ D(A, B, x̂)‖₂ − 1)²``.
* Generator: ``−mean D(fake) · adv_weight + λ_rec · rec``, ``rec`` = mean |target − map| (L1) or BCE.
* Least squares (ablation, as in FuseGAN): critic ``½·mean (D(real) − 1)² + ½·mean D(fake)²``,
  generator ``½·mean (D(fake) − 1)²``; no gradient penalty.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def gradient_penalty(
    critic: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    real_map: torch.Tensor,
    fake_map: torch.Tensor,
    alpha: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty on the focus map only.

    Args:
        critic: ``critic(a, b, map) -> N×1×h×w`` scores.
        a, b: N×C×H×W sources (fixed, no gradient taken).
        real_map, fake_map: N×1×H×W maps (fake is detached here).
        alpha: N interpolation weights in [0, 1]; drawn from the global torch RNG when None.

    Returns:
        Scalar ``mean_n (‖∂ Σ D / ∂ x̂_n‖₂ − 1)²`` with a graph for the critic's parameters.
    """
    n = real_map.shape[0]
    if alpha is None:
        alpha = torch.rand(n, device=real_map.device, dtype=real_map.dtype)
    al = alpha.to(real_map.dtype).view(n, 1, 1, 1)
    x = (al * real_map.detach() + (1 - al) * fake_map.detach()).requires_grad_(True)
    out = critic(a, b, x)
    (grad,) = torch.autograd.grad(outputs=out.sum(), inputs=x, create_graph=True)
    norm = grad.reshape(n, -1).float().norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def critic_adversarial(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Critic's adversarial loss (without GP) for ``kind`` "wgan-gp" or "lsgan"."""
    d_real = d_real.float()
    d_fake = d_fake.float()
    if kind == "wgan-gp":
        return -d_real.mean() + d_fake.mean()
    if kind == "lsgan":
        return 0.5 * ((d_real - 1.0) ** 2).mean() + 0.5 * (d_fake**2).mean()
    raise ValueError(kind)


def generator_adversarial(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial loss for ``kind`` "wgan-gp" or "lsgan"."""
    d_fake = d_fake.float()
    if kind == "wgan-gp":
        return -d_fake.mean()
    if kind == "lsgan":
        return 0.5 * ((d_fake - 1.0) ** 2).mean()
    raise ValueError(kind)


def boundary_weights(target: torch.Tensor, *, radius: int, weight: float) -> torch.Tensor:
    """Per-pixel loss weights N×1×H×W: ``1 + weight`` within ``radius`` px of the target map's
    boundary (a pixel whose (2·radius+1)² neighbourhood holds both classes), 1 elsewhere, normalised
    to mean 1 per sample so the loss scale does not change with the boundary length."""
    t = (target.float() > target.float().amin(dim=(2, 3), keepdim=True) + 1e-6).float()
    k = 2 * radius + 1
    hi = F.max_pool2d(t, k, stride=1, padding=radius)
    lo = -F.max_pool2d(-t, k, stride=1, padding=radius)
    w = 1.0 + weight * (hi - lo)
    return w / w.mean(dim=(2, 3), keepdim=True)


def reconstruction(
    kind: str, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Map reconstruction loss. ``kind`` "l1": mean |target − sigmoid(logits)|; "bce": binary cross
    entropy on the logits with the target clamped to [0, 1] (a [−1, 1] target has no BCE meaning).
    ``weight`` (N×1×H×W, mean 1): per-pixel weights, e.g. :func:`boundary_weights`."""
    logits = logits.float()
    target = target.float()
    if kind == "l1":
        per = (torch.sigmoid(logits) - target).abs()
    elif kind == "bce":
        per = F.binary_cross_entropy_with_logits(logits, target.clamp(0.0, 1.0), reduction="none")
    else:
        raise ValueError(kind)
    return (per * weight).mean() if weight is not None else per.mean()


def image_reconstruction(
    probs: torch.Tensor, a: torch.Tensor, b: torch.Tensor, truth: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Image-space loss: mean |M·A + (1−M)·B − I| over pixels and channels.

    Args:
        probs: N×1×H×W soft focus map in [0, 1] (1 = A in focus).
        a, b: N×C×H×W sources in [0, 1].
        truth: N×C×H×W all-in-focus image in [0, 1].
        weight: optional N×1×H×W per-pixel weights (mean 1), e.g. :func:`boundary_weights`.

    Returns:
        A scalar tensor. Its gradient w.r.t. the map at a pixel is ±|A − B| averaged over channels, so
        pixels where the sources agree do not pull on the map.
    """
    probs = probs.float()
    fused = b.float() + probs * (a.float() - b.float())
    per = (fused - truth.float()).abs().mean(dim=1, keepdim=True)
    return (per * weight).mean() if weight is not None else per.mean()
