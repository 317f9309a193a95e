"""Every format bioio reads (CZI, LIF, ND2, OME-TIFF, OME-Zarr, ...), one scene at a time.

bioio is an optional dependency (``pip install "napari-gmm[formats]"``: bioio with its
OME-TIFF, OME-Zarr, tifffile, CZI, LIF and ND2 readers). Its images are 5-D (``TCZYX``, plus
``S`` for RGB); the axes of length one among ``T``, ``C`` and ``Z`` are dropped, so a
single-channel z-stack is ``ZYX``. Physical pixel sizes (bioio gives micrometres), the
frame interval and the channel names come from the metadata. Images larger than
:data:`LAZY_BYTES` stay lazy (bioio's dask data) for the out-of-core path; smaller ones are
read into memory.

Files with the suffixes of :data:`BIOIO_SUFFIXES` are listed from folders and read here;
other files reach bioio when the built-in readers cannot decode them, or when a scene is
asked for (``--scene``). bioio is imported only then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._types import LoadedImage

#: Suffixes (lower case) of formats that only bioio's readers handle here.
BIOIO_SUFFIXES = (".czi", ".lif", ".nd2", ".lsm", ".ozx", ".dv", ".sldy", ".vsi")
#: Images of more bytes than this stay lazy (dask) and are segmented out of core.
LAZY_BYTES = 1 << 30
INSTALL_HINT = (
    'for CZI, LIF, ND2 and the other formats bioio reads, pip install "napari-gmm[formats]"'
)
#: OME axis types of the axis letters.
_AXIS_TYPES = {"T": "time", "C": "channel", "S": "channel"}


def bioio_available() -> bool:
    """Whether bioio is installed."""
    try:
        import bioio  # noqa: F401
    except ImportError:
        return False
    return True


def is_bioio_path(path: Path) -> bool:
    """Whether `path` is a file in a format only bioio reads (by its suffix)."""
    path = Path(path)
    return path.is_file() and path.name.lower().endswith(BIOIO_SUFFIXES)


def _open(path: Path):
    try:
        from bioio import BioImage
        from bioio_base.exceptions import UnsupportedFileFormatError
    except ImportError:
        raise ValueError(f"Cannot read {path}: {INSTALL_HINT}.") from None
    try:
        return BioImage(path)
    except UnsupportedFileFormatError:
        raise ValueError(
            f"Cannot read {path}: none of the installed bioio readers supports it "
            "(bioio.plugins.dump_plugins() lists them)."
        ) from None
    # bioio's reader plugins raise whatever their decoders raise on a damaged file
    except Exception as err:
        raise ValueError(f"Cannot read {path} with bioio ({_short(err)}).") from err


def _short(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0][:200] if lines else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def select_scene(image, scene, path: Path) -> None:
    """Set the scene of a ``BioImage`` by index or name; out of range names them all."""
    scenes = list(image.scenes)
    if isinstance(scene, str) and scene.lstrip("-").isdigit():
        scene = int(scene)
    if isinstance(scene, int) and -len(scenes) <= scene < len(scenes):
        image.set_scene(scene % len(scenes))
        return
    if isinstance(scene, str) and scene in scenes:
        image.set_scene(scene)
        return
    listing = ", ".join(f"{i}: {name!r}" for i, name in enumerate(scenes))
    raise ValueError(
        f"{path} has no scene {scene!r}; it has {len(scenes)} scene(s): {listing}. Pass "
        "--scene with one of these indices or names."
    )


def read_bioio(path: Path, scene=None, *, lazy_bytes: int | None = None) -> LoadedImage:
    """Read one scene of an image with bioio: axes, pixel sizes, channel names.

    Parameters
    ----------
    path : Path
        The file (or a store bioio reads, such as an OME-Zarr).
    scene : int or str, optional
        Index or name of the scene; default the first.
    lazy_bytes : int, optional
        Images of more bytes stay dask arrays; default :data:`LAZY_BYTES`.

    Raises
    ------
    ValueError
        If bioio is not installed, cannot read the file, or has no such scene.
    """
    path = Path(path)
    image = _open(path)
    select_scene(image, 0 if scene is None else scene, path)
    try:
        order = image.dims.order
        data = image.dask_data
        keep = [a not in "TCZ" or n > 1 for a, n in zip(order, data.shape, strict=True)]
        data = data[tuple(slice(None) if k else 0 for k in keep)]
        axes = "".join(a for a, k in zip(order, keep, strict=True) if k)
        spacing = _spacing(image)
        names = [str(n) for n in image.channel_names or ()] if "C" in axes else []
        limit = LAZY_BYTES if lazy_bytes is None else lazy_bytes
        if data.nbytes <= limit:
            data = np.asarray(data.compute())
    except ValueError:
        raise
    # as above: a plugin's decoder may raise anything on a damaged file
    except Exception as err:
        raise ValueError(f"Cannot read {path} with bioio ({_short(err)}).") from err
    extra = {
        "channel_names": names,
        "scene": image.current_scene,
        "scenes": tuple(image.scenes),
        "reader": type(image.reader).__module__.split(".")[0],
    }
    unit = "µm" if spacing.keys() & set("XYZ") else None
    return LoadedImage(data, axes, spacing, unit, "ome", path, extra)


def _spacing(image) -> dict:
    """Pixel sizes (µm) by axis letter and the frame interval, where the metadata has them."""
    spacing = {}
    sizes = image.physical_pixel_sizes
    for axis in "XYZ":
        value = getattr(sizes, axis, None)
        if value is not None and np.isfinite(value) and value > 0:
            spacing[axis] = float(value)
    try:
        interval = image.time_interval
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        interval = None
    seconds = _seconds(interval)
    if seconds is not None:
        spacing["T"] = seconds
    return spacing


def _seconds(interval) -> float | None:
    if interval is None:
        return None
    value = getattr(interval, "total_seconds", None)
    value = value() if callable(value) else interval
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def read_unknown(path: Path) -> LoadedImage:
    """A file no built-in reader claims: imageio, then bioio; one clear error otherwise."""
    from ._images import read_image

    try:
        return LoadedImage(np.asarray(read_image(path)), None, path=path)
    except ValueError as err:
        first = err
    if bioio_available():
        try:
            return read_bioio(path)
        except ValueError as err:
            raise ValueError(f"{err} (imageio cannot read it either)") from first
    raise ValueError(
        f"Cannot read {path}: not a format the built-in readers know (TIFF, NIfTI, zarr, PNG, "
        f"JPEG and the other formats imageio reads); {INSTALL_HINT}."
    ) from first


def as_zarr_image(loaded: LoadedImage):
    """A lazy bioio image as a :class:`~._zarr.ZarrImage` (axes, scale) for the dask path."""
    from ._zarr import ZarrImage

    axes = loaded.axes
    ndim = loaded.data.ndim
    scale = tuple(float(loaded.spacing.get(a, 1.0)) if a in "XYZ" else 1.0 for a in axes)
    ome_axes = []
    for a in axes:
        entry = {"name": a.lower(), "type": _AXIS_TYPES.get(a, "space")}
        if entry["type"] == "space" and loaded.unit == "µm":
            entry["unit"] = "micrometer"
        ome_axes.append(entry)
    return ZarrImage([loaded.data], [scale], [(0.0,) * ndim], ome_axes)
