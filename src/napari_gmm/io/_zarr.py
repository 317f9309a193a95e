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
    entries = attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")
    return entries[0] if entries else None


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
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"Cannot open {path} as zarr ({type(err).__name__}: {err}).") from err
    if isinstance(node, zarr.Array):
        arr = da.from_zarr(node)
        return ZarrImage([arr], [(1.0,) * arr.ndim], [(0.0,) * arr.ndim])
    meta = _multiscales(dict(node.attrs))
    if meta is None:
        arrays = sorted(name for name, _ in node.arrays())
        example = arrays[0] if arrays else "0"
        raise ValueError(
            f"{path} is a zarr group without OME-Zarr 'multiscales' metadata; its arrays: "
            f"{arrays or 'none'}. Name the array to read (e.g. component {example!r})."
        )
    levels, scales, translations = [], [], []
    for dataset in meta["datasets"]:
        arr = da.from_zarr(node[dataset["path"]])
        levels.append(arr)
        scales.append(_transform(dataset, "scale", arr.ndim, 1.0))
        translations.append(_transform(dataset, "translation", arr.ndim, 0.0))
    axes = meta.get("axes")
    if axes is not None:
        axes = [a if isinstance(a, dict) else {"name": a} for a in axes]
    return ZarrImage(levels, scales, translations, axes)


def default_axes(ndim: int) -> list[dict] | None:
    """OME space axes for a 2D or 3D array without metadata (None for other ranks)."""
    names = {2: "yx", 3: "zyx"}.get(ndim)
    return None if names is None else [{"name": n, "type": "space"} for n in names]


def write_ome_zarr(path, data, *, scale=None, translation=None, axes=None, name="image",
                   chunks=None, compute=True):  # fmt: skip
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
    compute : bool, default True
        False returns the dask array(s) that write when computed (to combine several writes
        in one ``dask.compute``, which evaluates shared blocks once).

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
    axes = axes if axes is not None else default_axes(data.ndim)
    if axes is None:
        tasks = [da.to_zarr(data, str(path), overwrite=True, compute=False)]
    else:
        from ome_zarr.writer import write_multiscale

        group = zarr.open_group(str(path), mode="w")
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
                [data], group, axes=axes, coordinate_transformations=[transforms], name=name,
                storage_options={"chunks": data.chunksize}, compute=False,
            )  # fmt: skip
    if compute:
        from ..core import compute_in_groups

        compute_in_groups(tasks, keep=[False] * len(tasks))
        return []
    return tasks
