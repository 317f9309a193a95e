"""TIFF with metadata (tifffile): axes and physical pixel sizes of ImageJ, OME and plain TIFF.

Outputs are written in the input's flavour (an ImageJ hyperstack stays an ImageJ file, an
OME-TIFF stays OME), keep the axes that remain (a ``TZCYX`` input gives ``TZYX`` labels)
and the pixel sizes, and are zlib-compressed (lossless; tifffile uses Python's zlib).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ._atomic import MARK
from ._types import LoadedImage

#: Lossless compression of every written TIFF.
COMPRESSION = "zlib"

#: Length units of OME PhysicalSize*, in micrometres.
_UM = {"pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "um": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}
#: ImageJ unit spellings of micrometres.
_MICRONS = ("micron", "microns", "um", "µm", "\\u00B5m", "μm")


def _series(tif, path, component):
    """The series `component` names (default the first), checked against the memory."""
    from ..core import check_memory

    index = 0
    if component is not None:
        try:
            index = int(component)
        except ValueError:
            index = -1
        if not 0 <= index < len(tif.series):
            raise IndexError(
                f"--component {component!r}: {path} has {len(tif.series)} series, "
                f"numbered 0..{len(tif.series) - 1}."
            )
    series = tif.series[index]
    # the header gives the decoded size: refuse before decoding (a small compressed file
    # can decode to many GB)
    needed = float(np.prod(series.shape, dtype=np.float64)) * series.dtype.itemsize
    check_memory(needed, f"reading {path} ({'x'.join(map(str, series.shape))} {series.dtype})")
    return series


def read_tiff(path: Path, component=None) -> LoadedImage:
    """Read a series of a TIFF (the first, or `component`) with its axes and pixel sizes.

    Raises
    ------
    ValueError
        If the file cannot be decoded, or `component` is not one of its series.
    NotEnoughMemoryError
        If the decoded image (size from the header, before decoding) cannot fit in memory.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = _series(tif, path, component)
            data = series.asarray()
            axes = series.axes
            page = tif.pages[0]
            if tif.is_ome:
                spacing, unit = _ome_spacing(tif.ome_metadata)
                kind = "ome"
            elif tif.is_imagej:
                spacing, unit = _imagej_spacing(tif.imagej_metadata or {}, page)
                kind = "imagej"
            else:
                spacing, unit = _resolution_spacing(page)
                kind = "tiff"
    except MemoryError:
        raise
    # corrupt files make the decoders raise many kinds of errors (zlib.error,
    # struct.error, ZeroDivisionError, ParseError...): all mean "cannot read this file"
    except Exception as err:
        raise ValueError(
            f"Cannot read {path} as a TIFF image ({type(err).__name__}: {err})."
        ) from err
    if len(axes) != data.ndim:  # pragma: no cover - tifffile keeps them in step
        axes = None
    return LoadedImage(data, axes, spacing, unit, kind, Path(path))


def _ome_spacing(xml: str | None) -> tuple[dict, str | None]:
    import tifffile

    try:
        image = tifffile.xml2dict(xml or "")["OME"]["Image"]
    except (KeyError, TypeError, ValueError):
        return {}, None
    pixels = (image[0] if isinstance(image, list) else image).get("Pixels", {})
    spacing = {}
    for axis in "XYZ":
        value = pixels.get(f"PhysicalSize{axis}")
        unit = pixels.get(f"PhysicalSize{axis}Unit", "µm")
        if value is not None and unit in _UM:
            spacing[axis] = float(value) * _UM[unit]
    if pixels.get("TimeIncrement") is not None:
        spacing["T"] = float(pixels["TimeIncrement"])
    return spacing, "µm" if spacing.keys() & set("XYZ") else None


def _imagej_spacing(meta: dict, page) -> tuple[dict, str | None]:
    unit = meta.get("unit")
    spacing = {}
    tags = _resolution_tags(page)
    if tags:  # pixels per unit; uncalibrated ImageJ images say 1 pixel per "pixel"
        spacing.update(X=1.0 / tags["x"], Y=1.0 / tags["y"])
    if meta.get("spacing"):
        spacing["Z"] = float(meta["spacing"])
    if meta.get("finterval"):
        spacing["T"] = float(meta["finterval"])
    if isinstance(unit, str) and unit.strip() in _MICRONS:
        unit = "µm"
    return spacing, unit


def _resolution_spacing(page) -> tuple[dict, str | None]:
    """Pixel size from the resolution tags, when they have a unit (inch or centimetre)."""
    tags = _resolution_tags(page)
    factor = {2: 25_400.0, 3: 10_000.0}.get(tags.get("unit"))
    if factor is None or "x" not in tags:
        return {}, None
    return {"X": factor / tags["x"], "Y": factor / tags["y"]}, "µm"


def _resolution_tags(page) -> dict:
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return {}
    x, y = (tags[name].value for name in ("XResolution", "YResolution"))
    unit = tags["ResolutionUnit"].value if "ResolutionUnit" in tags else 2
    if not (x[1] and y[1]):  # a zero denominator: no usable resolution
        return {}
    x, y = x[0] / x[1], y[0] / y[1]
    if not (0 < x < np.inf and 0 < y < np.inf):
        return {}
    return {"x": float(x), "y": float(y), "unit": int(unit)}


def write_tiff_like(path, array, axes: str | None, like: LoadedImage | None = None) -> Path:
    """Write `array` (axis letters `axes`) as a compressed TIFF in the flavour of `like`.

    ImageJ inputs give ImageJ hyperstacks (axes, pixel size, z spacing, frame interval),
    OME-TIFF inputs OME-TIFF (PhysicalSize*, TimeIncrement), other inputs a TIFF with
    tifffile's axes metadata and the input's resolution tags. A 1-D array is written as
    one row.
    """
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.view(np.uint8)
    kind = like.kind if like is not None else "other"
    spacing = like.spacing if like is not None else {}
    if axes is not None and len(axes) != array.ndim:
        axes = None
    if array.ndim < 2:  # a TIFF page has rows and columns: a 1-D result is one row
        array = array.reshape(1, -1)
        axes = "YX" if axes == "X" else None
    # never let tifffile guess RGB from a short leading axis (e.g. 3 frames)
    rgb = axes is not None and axes.endswith("S") and array.shape[-1] in (3, 4)
    options = {
        "compression": COMPRESSION,
        "photometric": "rgb" if rgb else "minisblack",
        "software": MARK,  # recognises our outputs (io/_atomic.py: --overwrite)
    }
    if kind == "imagej" and axes is not None and _imagej_ok(array, axes):
        unit = "micron" if like.unit == "µm" else (like.unit or "pixel")  # ImageJ: ASCII only
        metadata = {"axes": axes, "unit": unit}
        if "Z" in spacing and "Z" in axes:
            metadata["spacing"] = spacing["Z"]
        if "T" in spacing and "T" in axes:
            metadata["finterval"] = spacing["T"]
        if "X" in spacing:
            options["resolution"] = (1.0 / spacing["X"], 1.0 / spacing["Y"])
        tifffile.imwrite(path, array, imagej=True, metadata=metadata, **options)
        return path
    if kind in ("ome", "zarr") and axes is not None:  # zarr inputs: OME-TIFF keeps Z too
        metadata = {"axes": axes}
        for axis in "XYZ":
            if axis in spacing and axis in axes:
                metadata[f"PhysicalSize{axis}"] = spacing[axis]
                metadata[f"PhysicalSize{axis}Unit"] = "µm"
        if "T" in spacing and "T" in axes:
            metadata["TimeIncrement"] = spacing["T"]
        names = like.extra.get("channel_names")  # e.g. from bioio
        if names and "C" in axes and len(names) == array.shape[axes.index("C")]:
            metadata["Channel"] = {"Name": [str(n) for n in names]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tifffile.imwrite(path, array, ome=True, metadata=metadata, **options)
            return path
        except (ValueError, TypeError):  # axes OME cannot describe: plain TIFF below
            pass
    if "X" in spacing and "Y" in spacing and (like.unit == "µm"):
        # resolution tags count pixels per centimetre
        options["resolution"] = (1e4 / spacing["X"], 1e4 / spacing["Y"])
        options["resolutionunit"] = "CENTIMETER"
    metadata = {"axes": axes} if axes is not None else {}
    tifffile.imwrite(path, array, metadata=metadata, **options)
    return path


def _imagej_ok(array: np.ndarray, axes: str) -> bool:
    """Whether ImageJ can hold this array: its dtypes, axes a subsequence of TZCYXS."""
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        return False
    order = "TZCYXS"
    positions = [order.find(a) for a in axes]
    return -1 not in positions and positions == sorted(positions) and axes.endswith(("YX", "YXS"))
