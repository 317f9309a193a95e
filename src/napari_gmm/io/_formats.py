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


#: ``--output-format auto``: the output format of inputs read by these readers (else TIFF).
NATIVE_WRITERS = {"nifti": "nifti"}


def output_writer(name: str, path) -> Writer:
    """The writer called `name`; ``'auto'``: the input's own format if writable, else TIFF."""
    if name == "auto":
        reader = find_reader(Path(path))
        name = NATIVE_WRITERS.get(reader.name if reader is not None else "", "tiff")
    return WRITERS[name]


def find_reader(path: Path) -> Reader | None:
    """The first reader that handles `path`, or None."""
    return next((r for r in READERS if r.matches(path)), None)


def is_image_path(path: Path) -> bool:
    """Whether a path is an image a reader handles (used when listing folders)."""
    return find_reader(path) is not None


def load_image(path, component=None, *, scene=None) -> LoadedImage:
    """Read an image with its axes and pixel sizes (`scene`: index or name, read by bioio).

    Parameters
    ----------
    path : path-like
        The file (or folder format, such as a zarr store).
    component : str, optional
        Which image of a multi-image file: the series number of a TIFF (``'1'``), the
        array or image group of a zarr store (``'raw'``); formats with one image refuse it.

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
    from ._bioio import read_bioio, read_unknown

    if scene is not None:
        return read_bioio(path, scene)
    reader = find_reader(path)
    if reader is None and path.is_file():
        return read_unknown(path)  # imageio, then bioio: let them try any file suffix
    if reader is None:
        raise ValueError(f"{path} is not an image file any reader handles.")
    if component is None:
        return reader.read(path)
    if reader.name not in ("tiff", "zarr"):
        raise ValueError(
            f"--component {component!r}: {path} holds one image (read by {reader.name}); "
            "components select a TIFF series or a zarr array. Leave --component out."
        )
    return reader.read(path, component=component)


def _read_imageio(path: Path) -> LoadedImage:
    from ._images import colour_axes, read_image

    data, axes = colour_axes(np.asarray(read_image(path)))
    return LoadedImage(data, axes, path=path)


def _is_tiff(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".tif", ".tiff")


def _is_other_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _read_zarr(path: Path, component=None) -> LoadedImage:
    from ._zarr import read_zarr, zarr_spacing

    image = read_zarr(path, component)
    spacing, unit = zarr_spacing(image)
    axes = None
    if image.axes is not None:
        axes = "".join(str(a.get("name", "?"))[:1].upper() for a in image.axes)
        axes = axes if len(axes) == image.data.ndim else None
    return LoadedImage(image.data, axes, spacing, unit, kind="zarr", path=path,
                       extra={"zarr": image})


def _register_builtins() -> None:
    from ._bioio import is_bioio_path, read_bioio
    from ._nifti import is_nifti, read_nifti, write_nifti_like
    from ._tiff import read_tiff, write_tiff_like
    from ._zarr import is_zarr_path
    from ._zarr_out import write_zarr_like

    READERS.extend(
        [
            Reader("zarr", is_zarr_path, _read_zarr),
            Reader("nifti", is_nifti, read_nifti),
            Reader("tiff", _is_tiff, read_tiff),
            Reader("bioio", is_bioio_path, read_bioio),
            Reader("imageio", _is_other_image, _read_imageio),
        ]
    )
    register_writer(Writer("tiff", ".tif", write_tiff_like))
    register_writer(Writer("zarr", ".zarr", write_zarr_like))
    register_writer(Writer("nifti", ".nii.gz", write_nifti_like))


_register_builtins()
