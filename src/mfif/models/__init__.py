"""MFIF-GAN networks: the six-branch SE-ResNet generator and the WGAN-GP critic."""

from mfif.models.critic import Critic
from mfif.models.generator import Generator, GeneratorConfig

__all__ = ["Generator", "GeneratorConfig", "Critic"]
