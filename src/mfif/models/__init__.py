"""MFIF-GAN networks: the six-branch SE-ResNet generator and the WGAN-GP critic.

The torch classes load on first use (``from mfif.models import Generator``), so the torch-free parts
of this package (:mod:`mfif.models.numpy_net`, :mod:`mfif.models.weights`, :mod:`mfif.models.runtime`)
import without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Generator", "GeneratorConfig", "Critic"]


def __getattr__(name: str) -> Any:
    if name == "Critic":
        from mfif.models.critic import Critic

        return Critic
    if name in ("Generator", "GeneratorConfig"):
        from mfif.models import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'mfif.models' has no attribute {name!r}")
