"""Image files with their axes and pixel sizes, behind small reader and writer registries.

A reader turns a path into a :class:`LoadedImage` (array + axis letters + physical pixel
size per axis); a writer saves an output array, carrying the axes and pixel sizes of the
image it was computed from. TIFF (ImageJ, OME and plain) and the formats imageio reads are
registered here; other formats plug in with :func:`register_reader` / :func:`register_writer`
without touching the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._types import IMAGE_SUFFIXES, LoadedImage


@dataclass(frozen=True)
class Reader:
    """``matches(path)`` says whether `read` handles the path (a file, or a folder such as a
    zarr store); ``read(path)`` returns a :class:`LoadedImage`."""

    name: str
    matches: Callable[[Path], bool]
    read: Callable[[Path], LoadedImage]


@dataclass(frozen=True)
class Writer:
    """``write(path, array, axes, like)`` saves `array` (axis letters `axes` or None) with
    the pixel sizes of `like`; `suffix` ends the output names."""

    name: str
    suffix: str
    write: Callable[..., Path]


READERS: list[Reader] = []
WRITERS: dict[str, Writer] = {}


def register_reader(reader: Reader, *, first: bool = True) -> None:
    """Add a reader; ``first`` puts it before the built-in ones."""
    READERS.insert(0, reader) if first else READERS.append(reader)


def register_writer(writer: Writer) -> None:
    """Add (or replace) the writer of an output format, by name."""
    WRITERS[writer.name] = writer


def find_reader(path: Path) -> Reader | None:
    """The first reader that handles `path`, or None."""
    return next((r for r in READERS if r.matches(path)), None)


def is_image_path(path: Path) -> bool:
    """Whether a path is an image a reader handles (used when listing folders)."""
    return find_reader(path) is not None


def load_image(path) -> LoadedImage:
    """Read an image with its axes and pixel sizes.

    Raises
    ------
    FileNotFoundError
        If nothing exists at `path`.
    ValueError
        If no reader handles it or it cannot be decoded.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such image file: {path}")
    reader = find_reader(path)
    if reader is None and path.is_file():
        reader = READERS[-1]  # imageio: let it try any file suffix
    if reader is None:
        raise ValueError(f"{path} is not an image file any reader handles.")
    return reader.read(path)


def _read_imageio(path: Path) -> LoadedImage:
    from ._images import read_image

    return LoadedImage(np.asarray(read_image(path)), None, path=path)


def _is_tiff(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".tif", ".tiff")


def _is_other_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _read_zarr(path: Path) -> LoadedImage:
    from ._zarr import read_zarr

    image = read_zarr(path)
    axes = None if image.axes is None else "".join(a.upper() for a in image.axes)
    return LoadedImage(image.data, axes, kind="zarr", path=path, extra={"zarr": image})


def _register_builtins() -> None:
    from ._tiff import read_tiff, write_tiff_like
    from ._zarr import is_zarr_path

    READERS.extend(
        [
            Reader("zarr", is_zarr_path, _read_zarr),
            Reader("tiff", _is_tiff, read_tiff),
            Reader("imageio", _is_other_image, _read_imageio),
        ]
    )
    register_writer(Writer("tiff", ".tif", write_tiff_like))


_register_builtins()
