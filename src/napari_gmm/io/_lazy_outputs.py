"""Lazy (dask) outputs of a volume segmented out of core: the dask client of a run, and the
labels / probability / bias outputs computed together and written atomically.

Library logic of ``napari-gmm segment volume.zarr`` (``cli/_zarr.py``), usable from scripts:
the command line adds only its progress display.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ._atomic import atomic_output
from ._images import TIFF_SUFFIXES
from ._tiff import write_tiff_like
from ._types import LoadedImage
from ._zarr import write_ome_zarr, zarr_spacing


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None):
    """A dask.distributed client for the run, or the default threaded scheduler."""
    if scheduler is None and workers is None:
        yield None
        return
    if scheduler is not None and workers is not None:
        raise ValueError("Give either --scheduler ADDRESS or --workers N, not both.")
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


def write_lazy_outputs(outputs, *, compute, image, scale, translation, axes, overwrite: bool,
                       zarr_format: int = 2) -> None:
    """Compute labels and probability together and write each atomically: OME-Zarr under
    temporary names renamed when complete, or TIFF (``--labels x.tif``) with the voxel
    size and units of the input (OME-TIFF).

    Parameters
    ----------
    outputs : iterable of (path, dask array, name)
        The lazy outputs; ``name`` 'corrected' keeps the input's axes (channels included).
    compute : callable
        ``compute(tasks, keep) -> results``: computes the dask tasks together (the caller
        chooses the scheduler and progress display); ``keep[i]`` says whether result ``i``
        is needed (the others are write tasks).
    image : ZarrImage
        The input (axes, voxel size, translation).
    scale, translation, axes
        The spatial metadata of the outputs (the input's, without a channel axis).
    overwrite : bool
        Replace existing outputs written by napari-gmm (see :mod:`._atomic`).
    zarr_format : {2, 3}, default=2
        The zarr format of OME-Zarr outputs.
    """
    with contextlib.ExitStack() as stack:
        tasks, tiffs = [], []
        for out, array, name in outputs:
            if Path(out).suffix.lower() in TIFF_SUFFIXES:
                tiffs.append((out, len(tasks)))
                tasks.append(array)
                continue
            full = name == "corrected"  # the input's axes, channels included
            temporary = stack.enter_context(atomic_output(out, overwrite=overwrite))
            tasks.extend(
                write_ome_zarr(
                    temporary,
                    array,
                    scale=image.scales[0] if full else scale,
                    translation=image.translations[0] if full else translation,
                    axes=image.axes if full else axes,
                    name=name,
                    compute=False,
                    zarr_format=zarr_format,
                )
            )
        keep = [i in {index for _, index in tiffs} for i in range(len(tasks))]
        results = compute(tasks, keep)
        like = tiff_like(image, axes)
        for out, index in tiffs:
            array = results[index]
            with atomic_output(out, overwrite=overwrite) as temporary:
                write_tiff_like(temporary, array, like.axes, like)


def tiff_like(image, axes):
    """The input's axes and voxel size (in µm) as a :class:`LoadedImage` for TIFF outputs."""
    letters = None
    if axes is not None:
        letters = "".join(str(a.get("name", "?"))[:1].upper() for a in axes)
        letters = letters if set(letters) <= set("TCZYX") else None
    spacing, unit = zarr_spacing(image)
    return LoadedImage(None, letters, spacing, unit, kind="ome")
