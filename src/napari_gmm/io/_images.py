"""Reading and writing images for the command line (TIFF via tifffile, others via imageio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._types import TIFF_SUFFIXES


def read_image(path) -> np.ndarray:
    """Read a TIFF (tifffile) or PNG/JPEG/other format (imageio) into an ndarray.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            return tifffile.imread(path)
        import imageio.v3 as iio

        return np.asarray(iio.imread(path))
    except (OSError, ValueError, RuntimeError, SyntaxError) as err:
        raise ValueError(
            f"Cannot read {path} as an image ({type(err).__name__}: {err}). Supported: TIFF, "
            "PNG, JPEG and the other formats imageio reads."
        ) from err


def write_tiff(path, array: np.ndarray) -> Path:
    """Write an array to a TIFF file (parent folders are created)."""
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.asarray(array))
    return path
