"""Image files for the command line and scripts (model files live in ``core._model_file``).

``read_zarr`` / ``write_ome_zarr`` read and write zarr / OME-Zarr lazily (dask), with the
axes, units, scale and translation of the OME metadata; ``zarr_spacing`` gives a zarr
image's voxel size in µm.
"""

from ._formats import LoadedImage, load_image, register_reader, register_writer
from ._images import read_image, write_tiff
from ._zarr import ZarrImage, read_zarr, write_ome_zarr, zarr_spacing

__all__ = [
    "LoadedImage",
    "ZarrImage",
    "load_image",
    "read_image",
    "read_zarr",
    "register_reader",
    "register_writer",
    "write_ome_zarr",
    "write_tiff",
    "zarr_spacing",
]
