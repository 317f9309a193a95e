"""``--objects`` for zarr / OME-Zarr inputs: objects of the written labels, out of core.

The labels just written (``<stem>_labels.zarr``) are read back lazily and labelled block by
block (:func:`napari_gmm.label_objects` on dask labels: components joined across chunk
borders); the instance labels go to ``<stem>_objects.zarr`` (OME-Zarr, the labels' axes and
pixel size) and the table to ``<stem>_objects.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def zarr_objects_paths(args, job, *, check: bool = True) -> dict:
    """Where the objects of a zarr input go (empty without --objects); fails if they exist
    (without --overwrite) when `check`."""
    from ._batch import check_outputs

    if args.objects is None:
        return {}
    paths = {"objects": job.output("objects", ".zarr"), "table": job.output("objects", ".csv")}
    if check:
        check_outputs(job, paths.values(), args.overwrite)
    return paths


def write_zarr_objects(args, job, out_labels, data, channel_axis, *, scale, translation,
                       axes) -> dict:
    """Label, measure and write the objects of the written labels; the summary columns."""
    from ..core import label_objects
    from ..io._atomic import pending_path
    from ..io._images import TIFF_SUFFIXES
    from ..io._zarr import read_zarr, write_ome_zarr
    from ._safe_write import write_file

    paths = zarr_objects_paths(args, job)
    if not paths:
        return {}
    written = pending_path(out_labels)  # the labels wait for this input's outputs' commit
    if Path(out_labels).suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        labels = tifffile.imread(written)
    else:
        labels = read_zarr(written).data
    objects = label_objects(
        labels, args.objects, image=data, channel_axis=channel_axis, min_size=args.min_size,
        fill_holes=args.fill_holes, scale=None if axes is None else scale,
    )
    write_file(paths["objects"], lambda tmp: write_ome_zarr(
        tmp, objects.labels.astype(np.uint32), scale=scale, translation=translation, axes=axes,
        name="objects", zarr_format=getattr(args, "zarr_format", 2)),
        overwrite=args.overwrite)
    write_file(paths["table"], objects.to_csv, overwrite=args.overwrite)
    if not args.quiet:
        print(f"  {objects.n_objects} objects -> {paths['objects']}, {paths['table']}")
    return {"n_objects": objects.n_objects}
