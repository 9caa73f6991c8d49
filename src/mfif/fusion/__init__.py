"""Fusion: the network pipeline for pairs, stacks of N sources, and tiling for large images."""
