"""Training data: α-matte / conventional pair synthesis, mask recovery, compact packs, the Dataset."""

from mfif.data.synthesis import (
    alpha_matte_pair,
    conventional_pair,
    gaussian_blur_torch,
    synthesize_batch_torch,
    synthesize_pair,
)
from mfif.data.pack import Pack, PackSource, write_pack
from mfif.data.dataset import SyntheticPairDataset

__all__ = [
    "alpha_matte_pair",
    "conventional_pair",
    "gaussian_blur_torch",
    "synthesize_batch_torch",
    "synthesize_pair",
    "Pack",
    "PackSource",
    "write_pack",
    "SyntheticPairDataset",
]
