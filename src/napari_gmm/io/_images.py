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


def colour_axes(data: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Axis letters of a picture read by imageio; colour is never a spatial axis.

    A gray+alpha picture (``(H, W, 2)``, e.g. an LA PNG) keeps its gray plane (alpha is
    dropped, as for RGBA); a one-frame GIF or stack (``(1, H, W, C)``) is one picture;
    a trailing axis of 3 or 4 samples is RGB(A) (``S``); a longer stack is frames (``T``).
    """
    if data.ndim == 4 and data.shape[0] == 1:  # one frame of a GIF / stack
        data = data[0]
    if data.ndim == 3 and data.shape[-1] == 2:
        return data[..., 0], "YX"
    if data.ndim == 2:
        return data, "YX"
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        return data, "YXS"
    if data.ndim == 4 and data.shape[-1] in (3, 4):
        return data, "TYXS"
    return data, None  # e.g. a gray stack: as before, the options say what its axes are


def write_tiff(path, array: np.ndarray) -> Path:
    """Write an array to a TIFF file (parent folders are created)."""
    import tifffile

    from ._atomic import MARK

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.asarray(array), software=MARK)
    return path
