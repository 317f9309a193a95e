"""Gaussian-mixture segmentation of images, for napari and scripts."""

__version__ = "0.1.0"

__all__: list[str] = []
