"""``--objects CLASSES``: instance labels and a per-object CSV beside the other outputs.

With ``--objects 2,3`` (or ``foreground``: every class but the darkest) ``segment`` and
``apply`` also write ``<stem>_objects.tif`` (the connected components of those classes, one
id per object, in the labels' axes and pixel size) and ``<stem>_objects.csv`` (one row per
object: class, size in pixels and physical units, centroid, bounding box, mean intensity;
see :func:`napari_gmm.label_objects`), and the summary gets the number of objects.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core import FOREGROUND
from ..io._formats import output_writer
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


def _diameter(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a number > 0 (the expected object diameter, in the image's physical "
            f"units), got {text!r}"
        )
    return value


def add_objects_arguments(parser: argparse.ArgumentParser) -> None:
    """``--objects``, ``--min-size``, ``--fill-holes``, ``--split`` and ``--diameter``."""
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
    group.add_argument(
        "--split",
        choices=("none", "watershed"),
        default="none",
        help="with --objects: 'watershed' cuts touching objects (nuclei) apart, by a seeded "
        "watershed of the distance transform (physical units) and the class posterior; "
        "'none' (default): one object per connected component",
    )
    group.add_argument(
        "--diameter",
        type=_diameter,
        default=None,
        metavar="D",
        help="with --split watershed: expected object diameter in the image's physical units "
        "(its pixel size; pixels without one); default: estimated from the components",
    )
    add_measure_arguments(group)


def _bound(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def add_measure_arguments(group) -> None:
    """``--measure`` and the property filters."""
    group.add_argument(
        "--measure",
        action="store_true",
        help="with --objects: also measure shape and intensity properties in physical "
        "units (equivalent diameter, axis lengths, solidity, eccentricity and perimeter in "
        "2-D, surface area in 3-D, intensity max and std per channel) into the CSV",
    )
    for flag, what in (("--min-diameter", "smaller"), ("--max-diameter", "larger")):
        group.add_argument(
            flag,
            type=_bound,
            default=None,
            metavar="D",
            help=f"with --objects: remove objects whose equivalent diameter (physical units) "
            f"is {what} than D",
        )
    group.add_argument(
        "--min-solidity",
        type=_bound,
        default=None,
        metavar="S",
        help="with --objects: remove objects of solidity (area / convex area) below S",
    )


def _filters(args) -> dict | None:
    filters = {}
    if args.min_diameter is not None or args.max_diameter is not None:
        filters["equivalent_diameter"] = (args.min_diameter, args.max_diameter)
    if args.min_solidity is not None:
        filters["solidity"] = (args.min_solidity, None)
    return filters or None


def add_mask_argument(parser: argparse.ArgumentParser) -> None:
    """``--mask FILE``: segment (and label objects) only inside a region."""
    parser.add_argument(
        "--mask",
        type=Path,
        default=None,
        metavar="FILE",
        help="image file of the region to segment (non-zero inside), the input's shape "
        "without channels: only pixels inside are fitted and labelled, outside is 0; "
        "with --objects, the CSV's touches_mask_border marks objects cut by its border",
    )


def load_mask(args, job):
    """The mask of ``--mask`` as an array (None without); not for zarr inputs."""
    if args.mask is None:
        return None
    from ._zarr import is_zarr_path

    if is_zarr_path(job.path):
        raise ValueError(f"{job.path}: --mask is not available for zarr inputs.")
    if not args.mask.is_file():
        raise FileNotFoundError(f"No such mask file: {args.mask}")
    from ..io._formats import load_image

    return np.asarray(load_image(args.mask).data)


def check_objects_options(args) -> None:
    """The objects' options need --objects (an option mistake: exit status 2)."""
    if args.objects is None and (args.min_size or args.fill_holes or args.split != "none"
                                 or args.measure or _filters(args)):
        raise ValueError(
            "--min-size, --fill-holes, --split, --measure and the property filters need "
            "--objects CLASSES (e.g. --objects 2)."
        )
    if args.diameter is not None and args.split != "watershed":
        raise ValueError("--diameter is the expected object size of --split watershed; add it.")


def objects_paths(args, job: Job, *, check: bool = True) -> dict:
    """Where this input's objects go (empty without --objects); fails if they exist."""
    if args.objects is None:
        return {}
    from ._zarr import is_zarr_path

    if is_zarr_path(job.path):  # out of core, after the labels (cli/_zarr_objects.py)
        from ._zarr_objects import zarr_objects_paths

        return zarr_objects_paths(args, job, check=check)
    paths = {
        "objects": job.output("objects", output_writer(args.output_format, job.path).suffix),
        "table": job.output("objects", ".csv"),
    }
    if check:
        check_outputs(job, paths.values(), args.overwrite)
    return paths


def find_objects(args, seg, image, prep, mask=None):
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
        split=args.split,
        diameter=args.diameter,
        mask=mask,
        properties="all" if args.measure else None,
        filters=_filters(args),
    )


def write_objects(args, paths: dict, objects, prep, loaded) -> dict:
    """Write the instance labels and the table; the summary columns (empty without)."""
    from ._outputs import write_array
    from ._safe_write import write_file

    if objects is None:
        return {}
    from ._formats import with_channel_names

    objects = with_channel_names(objects, loaded.extra.get("channel_names"))
    labels = objects.labels
    dtype = np.uint16 if objects.n_objects < 2**16 else np.uint32  # ImageJ keeps uint16
    write_array(args, paths["objects"], labels.astype(dtype), prep.label_axes, loaded)
    write_file(paths["table"], objects.to_csv, overwrite=args.overwrite)
    if not args.quiet:
        print(f"  {objects.n_objects} objects -> {paths['objects']}, {paths['table']}")
    return {"n_objects": objects.n_objects}
