"""Types and constants shared by the image readers and writers (no imports of the others).

:mod:`._formats` (the registries) and :mod:`._tiff` (the TIFF reader and writer) both use
them; keeping them here keeps the imports one way (``_formats`` -> ``_tiff`` -> ``_types``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Suffixes of TIFF files (lower case).
TIFF_SUFFIXES = (".tif", ".tiff")

#: Suffixes of the image files picked up from a folder given as input (lower case).
IMAGE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read from a file, with what the file says about its axes.

    Attributes
    ----------
    data : array
        The pixels (numpy, or a lazy array from another reader).
    axes : str or None
        One letter per axis of `data`, tifffile's convention: ``T`` time, ``C`` channel,
        ``Z``, ``Y``, ``X`` space, ``S`` samples (RGB), ``Q``/``I`` unknown. None: unknown.
    spacing : dict
        Physical pixel size by axis letter (``'X'``, ``'Y'``, ``'Z'``, in `unit`) and the
        frame interval (``'T'``), for the axes the file describes.
    unit : str or None
        Unit of the spatial sizes (e.g. ``'µm'``).
    kind : str
        ``'imagej'``, ``'ome'``, ``'tiff'`` or ``'other'``: how outputs are written back.
    path : Path
        The file.
    extra : dict
        Reader-specific details that writers may reuse (e.g. TIFF resolution tags).
    """

    data: object
    axes: str | None
    spacing: dict = field(default_factory=dict)
    unit: str | None = None
    kind: str = "other"
    path: Path | None = None
    extra: dict = field(default_factory=dict)
