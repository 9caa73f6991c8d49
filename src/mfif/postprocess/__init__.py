"""Post-processing of focus maps: thresholding, small-region removal, grow/shrink."""

from mfif.metrics.reference import boundary_band  # re-exported: the composition's soft boundary uses it
from mfif.postprocess.regions import (
    binarize,
    grow_shrink,
    postprocess_map,
    remove_small_components,
    remove_small_regions,
)

__all__ = ["binarize", "boundary_band", "grow_shrink", "remove_small_components", "remove_small_regions", "postprocess_map"]
