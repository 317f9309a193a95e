"""Files: images for the command line, fitted models as JSON."""

from ._images import read_image, write_tiff
from ._models import load_model, save_model

__all__ = ["load_model", "read_image", "save_model", "write_tiff"]
