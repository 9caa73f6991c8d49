"""Post-processing of focus maps: thresholding, small-region removal, grow/shrink."""

from mfif.postprocess.regions import (
    binarize,
    grow_shrink,
    postprocess_map,
    remove_small_components,
    remove_small_regions,
)

__all__ = ["binarize", "grow_shrink", "remove_small_components", "remove_small_regions", "postprocess_map"]
