"""Image files for the command line and scripts (model files live in ``core._model_file``)."""

from ._images import read_image, write_tiff

__all__ = ["read_image", "write_tiff"]
