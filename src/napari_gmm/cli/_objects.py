"""``--objects CLASSES``: instance labels and a per-object CSV beside the other outputs.

With ``--objects 2,3`` (or ``foreground``: every class but the darkest) ``segment`` and
``apply`` also write ``<stem>_objects.tif`` (the connected components of those classes, one
id per object, in the labels' axes and pixel size) and ``<stem>_objects.csv`` (one row per
object: class, size in pixels and physical units, centroid, bounding box, mean intensity;
see :func:`napari_gmm.label_objects`), and the summary gets the number of objects.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..core import FOREGROUND
from ..io._formats import WRITERS
from ._batch import Job, check_outputs


def classes_type(text: str):
    """``foreground`` or comma-separated class numbers (``2,3``)."""
    if text == FOREGROUND:
        return text
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be class numbers such as 2 or 2,3, or {FOREGROUND!r} (every class but the "
            f"darkest), got {text!r}"
        ) from None
    return values


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (pixels), got {text!r}")
    return value


def add_objects_arguments(parser: argparse.ArgumentParser) -> None:
    """``--objects``, ``--min-size`` and ``--fill-holes``."""
    group = parser.add_argument_group(
        "objects",
        "Count and measure objects: the connected components of chosen classes (objects of "
        "different classes stay separate; time series: per frame). Writes "
        "<stem>_objects.tif (0 background, one id per object) and <stem>_objects.csv (one "
        "row per object) beside the other outputs.",
    )
    group.add_argument(
        "--objects",
        type=classes_type,
        default=None,
        metavar="CLASSES",
        help="classes whose components are objects: e.g. 3 or 2,3, or 'foreground' (every "
        "class but the darkest, label 1)",
    )
    group.add_argument(
        "--min-size",
        type=_size,
        default=0,
        metavar="N",
        help="with --objects: remove objects of fewer than N pixels (default: 0, keep all)",
    )
    group.add_argument(
        "--fill-holes",
        action="store_true",
        help="with --objects: fill the holes of the objects first",
    )


def check_objects_options(args) -> None:
    """--min-size and --fill-holes need --objects (an option mistake: exit status 2)."""
    if args.objects is None and (args.min_size or args.fill_holes):
        raise ValueError("--min-size and --fill-holes need --objects CLASSES (e.g. --objects 2).")


def objects_paths(args, job: Job) -> dict:
    """Where this input's objects go (empty without --objects); fails if they exist."""
    if args.objects is None:
        return {}
    from ._zarr import is_zarr_path

    if is_zarr_path(job.path):
        raise ValueError(
            f"{job.path}: --objects needs the labels in memory and is not available for zarr "
            "inputs; segment a region written as TIFF, or label the objects in Python "
            "(napari_gmm.label_objects) on a region of the labels."
        )
    paths = {
        "objects": job.output("objects", WRITERS[args.output_format].suffix),
        "table": job.output("objects", ".csv"),
    }
    check_outputs(job, paths.values(), args.overwrite)
    return paths


def find_objects(args, seg, image, prep):
    """The objects of a segmentation (None without --objects), measured on `image`."""
    if args.objects is None:
        return None
    return seg.objects(
        args.objects,
        image=image,
        channel_axis=prep.channel_axis,
        min_size=args.min_size,
        fill_holes=args.fill_holes,
        scale=prep.scale,
    )


def write_objects(args, paths: dict, objects, prep, loaded) -> dict:
    """Write the instance labels and the table; the summary columns (empty without)."""
    if objects is None:
        return {}
    labels = objects.labels
    dtype = np.uint16 if objects.n_objects < 2**16 else np.uint32  # ImageJ keeps uint16
    WRITERS[args.output_format].write(paths["objects"], labels.astype(dtype), prep.label_axes,
                                      loaded)  # fmt: skip
    objects.to_csv(paths["table"])
    if not args.quiet:
        print(f"  {objects.n_objects} objects -> {paths['objects']}, {paths['table']}")
    return {"n_objects": objects.n_objects}
