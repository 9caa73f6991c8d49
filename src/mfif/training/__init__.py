"""Training of the MFIF-GAN generator: config, losses, checkpoints, validation, trainer."""

from mfif.training.config import TrainConfig, load_config
from mfif.training.trainer import Trainer

__all__ = ["TrainConfig", "load_config", "Trainer"]
