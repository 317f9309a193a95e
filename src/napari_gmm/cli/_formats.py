"""``--scene`` and ``--zarr-format``: which image of a multi-scene file, which zarr to write.

Inputs are read by ``io.load_image``: TIFF, NIfTI, zarr and imageio formats built in, and
every format bioio reads with the ``formats`` extra. A bioio image too large for memory
stays a dask array and is segmented out of core, like a zarr input.
"""

from __future__ import annotations

import argparse


def scene_type(text: str):
    """A scene index (``0``, ``-1``) or name (``'Image:1'``)."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("must be a scene index or name, got ''")
    return int(text) if text.lstrip("-").isdigit() else text


def add_format_arguments(parser: argparse.ArgumentParser, *, zarr: bool = True) -> None:
    """--scene (multi-scene files, read by bioio) and --zarr-format (OME-Zarr outputs)."""
    group = parser.add_argument_group(
        "file formats",
        "CZI, LIF, ND2 and the other formats bioio reads need the 'formats' extra "
        '(pip install "napari-gmm[formats]"); NIfTI (.nii, .nii.gz) needs nibabel.',
    )
    group.add_argument(
        "--scene",
        type=scene_type,
        default=None,
        metavar="SCENE",
        help="scene (series, position) of a multi-scene file, by index or name, read with "
        "bioio (default: the first scene)",
    )
    if zarr:
        group.add_argument(
            "--zarr-format",
            type=int,
            choices=(2, 3),
            default=2,
            help="OME-Zarr outputs: 2 (default, NGFF 0.4, what napari's readers open) or 3 "
            "(zarr v3, NGFF 0.5)",
        )


def load_input(args, job, *, lazy: bool = True):
    """The input of a job as a ``LoadedImage`` (numpy, or dask when too big and `lazy`)."""
    from ..io._bioio import read_bioio
    from ..io._formats import load_image

    scene = getattr(args, "scene", None)
    if scene is not None and not lazy:
        return read_bioio(job.path, scene, lazy_bytes=2**62)
    return load_image(job.path, getattr(args, "component", None), scene=scene)


def lazy_image(loaded):
    """The input as a ``ZarrImage`` when it is lazy (dask), else None."""
    from ..core import is_dask_array
    from ..io._bioio import as_zarr_image

    return as_zarr_image(loaded) if is_dask_array(loaded.data) else None


def with_channel_names(objects, names):
    """Objects whose per-channel columns (``intensity_mean-<c>``) carry the channel names."""
    import dataclasses

    if not names:
        return objects
    renamed = {}
    for column, values in objects.table.items():
        head, _, index = column.rpartition("-")
        if head == "intensity_mean" and index.isdigit() and int(index) < len(names):
            column = f"intensity_mean-{names[int(index)]}"
        renamed.setdefault(column, values)
    if len(renamed) != len(objects.table):  # two channels of the same name: keep numbers
        return objects
    return dataclasses.replace(objects, table=renamed)
