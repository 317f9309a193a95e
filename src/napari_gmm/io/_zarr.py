"""zarr arrays and OME-Zarr images in and out, as lazy dask arrays (nothing is loaded).

Reading: a zarr array, or an OME-Zarr image group (NGFF 0.4 with zarr v2, 0.5 with zarr v3)
whose ``multiscales`` metadata gives the resolution levels, their axes and their scale /
translation transforms; every level becomes a dask array with the stored chunks.
Writing: labels / probability as a chunked OME-Zarr image (``ome_zarr.writer``), with the
axes, scale and translation of the input, computed block by block.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._atomic import MARK

ZARR_SUFFIX = ".zarr"


@dataclass(frozen=True, eq=False)
class ZarrImage:
    """An image read from zarr / OME-Zarr.

    Attributes
    ----------
    levels : list of dask.array.Array
        Resolution levels, full resolution first (one level for a plain zarr array).
    scales, translations : list of tuple of float
        Per level, one value per axis (1 and 0 when there is no OME metadata).
    axes : list of dict or None
        OME axes (``name``, ``type``, ``unit``...), None for a plain zarr array.
    """

    levels: list
    scales: list[tuple[float, ...]]
    translations: list[tuple[float, ...]]
    axes: list[dict] | None = None

    @property
    def data(self):
        """The full-resolution level."""
        return self.levels[0]

    @property
    def channel_axis(self) -> int | None:
        """Index of the OME axis of type ``channel``, if any."""
        for i, axis in enumerate(self.axes or ()):
            if axis.get("type") == "channel":
                return i
        return None


def is_zarr_path(path) -> bool:
    """Whether `path` names a zarr store (``*.zarr``, or a folder with zarr metadata)."""
    path = Path(path)
    if path.suffix.lower() == ZARR_SUFFIX:
        return True
    return path.is_dir() and any(
        (path / name).exists() for name in ("zarr.json", ".zgroup", ".zarray")
    )


def _multiscales(attrs: dict):
    """The first ``multiscales`` entry of OME-Zarr group attributes (0.4 or 0.5), or None."""
    ome = attrs.get("ome")
    entries = (ome.get("multiscales") if isinstance(ome, dict) else None) or attrs.get(
        "multiscales"
    )
    if not entries:
        return None
    entry = entries[0] if isinstance(entries, list) else entries
    return entry if isinstance(entry, dict) else {"datasets": None}


def _transform(dataset: dict, kind: str, ndim: int, default: float) -> tuple[float, ...]:
    for item in dataset.get("coordinateTransformations", ()):
        if item.get("type") == kind:
            return tuple(float(v) for v in item[kind])
    return (default,) * ndim


def read_zarr(path, component: str | None = None) -> ZarrImage:
    """Open a zarr array or an OME-Zarr image lazily.

    Parameters
    ----------
    path : path-like
        A ``.zarr`` store: an array, an OME-Zarr image group, or a group holding either.
    component : str, optional
        Path of the array or image group inside the store (e.g. ``'0'`` or ``'raw'``).

    Raises
    ------
    FileNotFoundError
        If there is no zarr store at `path`.
    ValueError
        If the store holds neither an array nor an OME-Zarr image.
    """
    import dask.array as da
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such zarr store: {path}")
    try:
        node = zarr.open(str(path), mode="r", path=component)
    # a corrupt or hostile store makes zarr raise many kinds of errors (RuntimeError for a
    # symlink loop, ZeroDivisionError for a chunk size 0, JSON errors...)
    except Exception as err:
        raise ValueError(f"Cannot open {path} as zarr ({type(err).__name__}: {err}).") from err
    if isinstance(node, zarr.Array):
        try:
            arr = da.from_zarr(node)
        except (ZeroDivisionError, ValueError, TypeError) as err:
            raise ValueError(f"{path}: unusable zarr array header ({err}).") from err
        check_zarr_size(arr, path)
        return ZarrImage([arr], [(1.0,) * arr.ndim], [(0.0,) * arr.ndim])
    meta = _multiscales(dict(node.attrs))
    if meta is None:
        arrays = sorted(name for name, _ in node.arrays())
        example = arrays[0] if arrays else "0"
        raise ValueError(
            f"{path} is a zarr group without OME-Zarr 'multiscales' metadata; its arrays: "
            f"{arrays or 'none'}. Name the array to read (e.g. component {example!r})."
        )
    try:
        image = _read_multiscales(node, meta)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, ZeroDivisionError,
            RuntimeError) as err:
        raise ValueError(
            f"{path} has malformed OME-Zarr 'multiscales' metadata ({type(err).__name__}: "
            f"{err}); expected a list of datasets with a 'path' each and one scale / "
            "translation value per axis. Name an array with --component, or fix the metadata."
        ) from err
    check_zarr_size(image.data, path)
    return image


def _read_multiscales(node, meta) -> ZarrImage:
    import dask.array as da

    levels, scales, translations = [], [], []
    for dataset in meta["datasets"]:
        arr = da.from_zarr(node[dataset["path"]])
        levels.append(arr)
        scales.append(_transform(dataset, "scale", arr.ndim, 1.0))
        translations.append(_transform(dataset, "translation", arr.ndim, 0.0))
        if not len(scales[-1]) == len(translations[-1]) == arr.ndim:
            raise ValueError(f"level {dataset['path']!r} has {arr.ndim} axes")
    if not levels:
        raise ValueError("no datasets")
    axes = meta.get("axes")
    if axes is not None:
        axes = [a if isinstance(a, dict) else {"name": str(a)} for a in axes]
        if len(axes) != levels[0].ndim:
            raise ValueError(f"{len(axes)} axes for {levels[0].ndim}-D data")
    return ZarrImage(levels, scales, translations, axes)


#: Most blocks an out-of-core run schedules (beyond, the task graph alone fills memory).
MAX_BLOCKS = 2_000_000


def check_zarr_size(data, path) -> None:
    """Refuse at once a store whose header promises what no run can handle: more blocks
    than a task graph can hold, or one block larger than the memory available.

    Raises
    ------
    NotEnoughMemoryError
        Saying the shape, the chunks and what to do.
    """
    from ..core import NotEnoughMemoryError, available_memory

    n_blocks = float(np.prod([len(c) for c in data.chunks], dtype=np.float64))
    block = float(np.prod(data.chunksize, dtype=np.float64)) * data.dtype.itemsize
    available = available_memory()
    shape = "x".join(map(str, data.shape))
    if n_blocks > MAX_BLOCKS or (available is not None and 8 * block > available):
        raise NotEnoughMemoryError(
            f"{path}: a {shape} {data.dtype} array in {n_blocks:.3g} chunks of "
            f"{'x'.join(map(str, data.chunksize))} is beyond what can be processed here "
            f"(at most {MAX_BLOCKS} chunks, and a chunk must fit in memory several times "
            "over). Segment a region or a coarser level (--component), or rechunk it."
        )


#: OME-Zarr length units, in micrometres (the unit of ``LoadedImage.spacing``).
LENGTH_UNITS_UM = {"angstrom": 1e-4, "picometer": 1e-6, "nanometer": 1e-3, "micrometer": 1.0,
                   "millimeter": 1e3, "centimeter": 1e4, "meter": 1e6}


def zarr_spacing(image: ZarrImage) -> tuple[dict, str | None]:
    """Pixel size per axis letter (``'X'``...) in µm, and the frame interval (``'T'``),
    from OME-Zarr axes (without a unit, the scale is kept as it is: OME's default unit is
    µm); ``({}, None)`` without axes metadata."""
    spacing = {}
    for axis, value in zip(image.axes or (), image.scales[0], strict=False):
        name = str(axis.get("name", "")).upper()
        unit = axis.get("unit")
        if axis.get("type", "space") == "space" and name in ("X", "Y", "Z"):
            if unit is None or unit in LENGTH_UNITS_UM:
                spacing[name] = float(value) * LENGTH_UNITS_UM.get(unit, 1.0)
        elif name == "T" and unit is not None:
            spacing["T"] = float(value)
    return spacing, "µm" if spacing.keys() & set("XYZ") else None


def default_axes(ndim: int) -> list[dict] | None:
    """OME space axes for a 2D or 3D array without metadata (None for other ranks)."""
    names = {2: "yx", 3: "zyx"}.get(ndim)
    return None if names is None else [{"name": n, "type": "space"} for n in names]


def write_ome_zarr(path, data, *, scale=None, translation=None, axes=None, name="image",
                   chunks=None, compute=True, plain=False, zarr_format=2):
    """Write an array as a one-level OME-Zarr image (a plain zarr array when axes are unknown).

    Parameters
    ----------
    path : path-like
        The ``.zarr`` store to create (replaced if it exists).
    data : ndarray or dask.array.Array
        The image, e.g. lazy labels; computed a group of blocks at a time when written
        (:func:`napari_gmm.core.compute_in_groups`: bounded memory).
    scale, translation : sequence of float, optional
        Physical pixel size and origin per axis.
    axes : list of dict or str, optional
        OME axes; by default ``yx`` / ``zyx`` for 2D / 3D data, else a plain zarr array.
    name : str, default 'image'
        Name in the multiscales metadata.
    chunks : tuple of int, optional
        Stored chunk shape; default the dask chunks (or 128 per axis for numpy data).
    plain : bool, default False
        Write a plain zarr array (no OME metadata), whatever the rank.
    compute : bool, default True
        False returns the dask array(s) that write when computed (to combine several writes
        in one ``dask.compute``, which evaluates shared blocks once).
    zarr_format : {2, 3}, default 2
        2: zarr v2 with OME-Zarr (NGFF) 0.4 metadata, what napari's readers open today;
        3: zarr v3 with NGFF 0.5.

    Returns
    -------
    list
        The write tasks when ``compute=False``, else an empty list.
    """
    import dask.array as da
    import zarr

    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=chunks or (128,) * np.ndim(data))
    elif chunks is not None:
        data = data.rechunk(chunks)
    if len({c for dim in data.chunks for c in dim[:-1]} - set(data.chunksize)) > 0:
        data = data.rechunk(data.chunksize)  # zarr needs regular chunks
    path = Path(path)
    axes = None if plain else axes if axes is not None else default_axes(data.ndim)
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}.")
    if axes is None:
        tasks = [da.to_zarr(data, str(path), overwrite=True, compute=False,
                            zarr_format=zarr_format)]
        zarr.open_array(str(path), mode="r+").attrs[MARK] = {"role": name}
    else:
        from ome_zarr.format import FormatV04, FormatV05
        from ome_zarr.writer import write_multiscale

        group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
        group.attrs[MARK] = {"role": name}  # recognises our outputs (io/_atomic.py)
        fmt = FormatV04() if zarr_format == 2 else FormatV05()
        scale = tuple(float(v) for v in scale) if scale is not None else (1.0,) * data.ndim
        transforms = [{"type": "scale", "scale": list(scale)}]
        if translation is not None and any(translation):
            transforms.append(
                {"type": "translation", "translation": [float(v) for v in translation]}
            )
        with warnings.catch_warnings():
            # the per-level transforms are the only way to store a translation
            warnings.simplefilter("ignore", DeprecationWarning)
            tasks = write_multiscale(
                [data], group, fmt=fmt, axes=axes, coordinate_transformations=[transforms],
                name=name, storage_options={"chunks": data.chunksize}, compute=False,
            )
    if compute:
        from ..core import compute_in_groups

        compute_in_groups(tasks, keep=[False] * len(tasks))
        return []
    return tasks
