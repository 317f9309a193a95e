"""Image files for the command line and scripts (model files live in ``core._model_file``)."""

from ._formats import LoadedImage, load_image, register_reader, register_writer
from ._images import read_image, write_tiff

__all__ = [
    "LoadedImage",
    "load_image",
    "read_image",
    "register_reader",
    "register_writer",
    "write_tiff",
]
