"""``napari-gmm segment volume.zarr``: zarr / OME-Zarr in, chunked OME-Zarr out, on dask.

The volume is never loaded: the fit reads it block by block (exact histogram of integer
volumes, a seeded sample of float ones) and labels / probability are written block by block,
together, with a progress bar. ``--workers N`` runs the blocks on a local dask cluster of N
processes, ``--scheduler ADDRESS`` on a running dask.distributed scheduler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io._lazy_outputs import dask_client, write_lazy_outputs
from ..io._zarr import is_zarr_path, read_zarr
from ._safe_write import write_file

__all__ = ["add_zarr_arguments", "is_zarr_path", "segment_zarr"]


def return_memory_to_the_os() -> bool:
    """Make glibc's malloc return freed block buffers to the OS (this process only).

    glibc raises its mmap threshold after large buffers are freed, so the next buffers of
    a few MB (the halo blocks of the Potts pass, one per thread) come from heap arenas that
    are never trimmed: the resident memory then creeps up with the number of blocks.
    Fixing the threshold at 128 KiB keeps block buffers in mmap, returned when freed
    (measured on a 512^3 uint8 volume with smoothing: peak 690 -> 560 MB). The command
    line owns its process, so it sets this; a library must not. Returns whether it was set
    (False off glibc).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    m_mmap_threshold = -3
    return bool(mallopt(m_mmap_threshold, 128 * 1024))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def add_zarr_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of zarr / OME-Zarr inputs (dask scheduling, output format)."""
    group = parser.add_argument_group(
        "zarr / OME-Zarr inputs",
        "Inputs ending in .zarr (a zarr array or an OME-Zarr image) are segmented out of "
        "core with dask; labels and probability are written as chunked OME-Zarr "
        "(<stem>_labels.zarr, <stem>_probability.zarr) unless --labels/--probability name "
        "a .tif file.",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a dask.distributed scheduler to run on (e.g. tcp://host:8786)",
    )
    group.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="run on a local dask cluster of N worker processes (default: threads)",
    )
    group.add_argument(
        "--component",
        default=None,
        metavar="PATH",
        help="array or image group inside the zarr store (default: the store itself)",
    )


def _compute(tasks, client, quiet: bool, keep):
    """Compute dask collections together, with a progress bar over the blocks.

    On the local scheduler a group of blocks at a time (bounded memory, see
    ``core/lazy/_blockwise.py``); on a cluster all at once, with distributed's progress bar.
    `keep` says which results to return (the others are write tasks).
    """
    from ..core import compute_in_groups

    if client is not None:
        from distributed import progress

        futures = client.compute(tasks)
        if not quiet:
            progress(futures)
            print()
        return client.gather(futures)
    bar = None if quiet else _progress_bar
    results = compute_in_groups(tasks, keep=keep, progress=bar)
    if not quiet:
        print(file=sys.stderr)
    return results


def _progress_bar(done: int, total: int) -> None:
    width = 40
    filled = width * done // total
    print(f"\r[{'#' * filled}{' ' * (width - filled)}] {100 * done // total:3d}% of "
          f"{total} block groups", end="", file=sys.stderr, flush=True)


def _channel_axis(choice, image) -> int | None:
    if choice == "none":
        return None
    if choice == "auto":
        if image.channel_axis is not None:
            return image.channel_axis
        shape = image.data.shape
        return -1 if image.axes is None and len(shape) == 3 and shape[-1] in (3, 4) else None
    return choice


def _refuse_time_series(args, image, path) -> None:
    """Time series are not segmented out of core yet: say so instead of treating time as
    a spatial axis (which would smooth across frames)."""
    time_axis = getattr(args, "time_axis", "auto")
    named_t = any(a.get("type") == "time" or a.get("name") == "t" for a in image.axes or ())
    if named_t or time_axis not in ("auto", "none", None):
        raise ValueError(
            f"{path} is a time series (a 't' axis, or --time-axis given); zarr inputs are "
            "segmented out of core as one volume, which would couple the frames. Segment "
            "the frames one by one (e.g. export them to TIFF, or use napari_gmm.segment("
            "image, time_axis=...) on the frames in memory)."
        )


def _drop(values, axis):
    values = list(values)
    if axis is not None:
        del values[axis % len(values)]
    return values


def _smoothing_scale(args, scale, image):
    """--scale if given, else the voxel size of OME-Zarr metadata (None without it)."""
    given = getattr(args, "scale", None)
    if given is not None:
        return given
    return scale if image.axes is not None else None


def bias_paths(args, job) -> list:
    """The corrected image's and the field's paths (``--bias-output`` with a bias field)."""
    if not getattr(args, "bias_output", False) or getattr(args, "bias_field", None) is None:
        return []
    return [job.output("corrected", ".zarr"), job.output("bias", ".zarr")]


def bias_outputs(args, job, seg, image) -> list:
    """``(path, lazy array, name)`` of the corrected image and field (--bias-output)."""
    if not getattr(args, "bias_output", False) or seg.bias_field is None:
        return []
    outs = bias_paths(args, job)
    return [(outs[0], seg.corrected, "corrected"), (outs[1], seg.bias_field, "bias")]


def segment_zarr(args, job, image=None) -> dict:
    """Segment one zarr / OME-Zarr input (or a lazy `image`, a ``ZarrImage``) as the
    ``segment`` subcommand asks.

    Returns the input's summary row (see ``cli/_batch.py``).
    """
    from .. import save_model, segment
    from ._batch import check_outputs

    path = job.path
    return_memory_to_the_os()
    if args.noise is not None:
        raise ValueError(
            f"--noise is not available for zarr inputs ({path}): adding noise would write a "
            "new volume. Segment the volume as it is, or add noise to a TIFF."
        )
    image = read_zarr(path, args.component) if image is None else image
    _refuse_time_series(args, image, path)
    axis = _channel_axis(args.channel_axis, image)
    data = image.data
    if axis is not None and args.channel_axis == "auto" and data.shape[axis] == 4:
        index = [slice(None)] * data.ndim
        index[axis] = slice(0, 3)
        data = data[tuple(index)]  # RGBA: alpha dropped, as for TIFF inputs
    out_labels = args.labels or job.output("labels", ".zarr")
    out_prob = args.probability or job.output("probability", ".zarr")
    check_outputs(job, (out_labels, out_prob, args.model, *bias_paths(args, job)),
                  args.overwrite)
    scale = _drop(image.scales[0], axis)
    translation = _drop(image.translations[0], axis)
    axes = None if image.axes is None else _drop(image.axes, axis)
    with dask_client(args.scheduler, args.workers) as client:
        seg = segment(
            data,
            args.n_components,
            channel_axis=axis,
            covariance_type=args.covariance_type,
            tol=args.tol,
            max_iter=args.max_iter,
            n_init=args.n_init,
            init_params=args.init,
            random_state=args.seed,
            smoothing=args.smoothing,
            scale=_smoothing_scale(args, scale, image),
            bias_field=args.bias_field,
            bias_order=args.bias_order,
        )
        outputs = ((out_labels, seg.labels, "labels"), (out_prob, seg.probability, "probability"),
                   *bias_outputs(args, job, seg, image))
        write_lazy_outputs(
            outputs, compute=lambda tasks, keep: _compute(tasks, client, args.quiet, keep),
            image=image, scale=scale, translation=translation, axes=axes,
            overwrite=args.overwrite, zarr_format=getattr(args, "zarr_format", 2),
        )
    if args.model is not None:
        write_file(args.model, lambda tmp: save_model(seg.model, tmp), overwrite=args.overwrite)
    if not args.quiet:
        print(
            f"{path}: K={seg.n_components} converged={seg.converged} iterations={seg.n_iter} "
            f"log-likelihood={seg.log_likelihood:.4f} BIC={seg.bic:.1f} ({seg.method}) -> "
            f"{out_labels}, {out_prob}"
        )
    from ._zarr_objects import write_zarr_objects

    objects = write_zarr_objects(args, job, out_labels, data, axis, scale=scale,
                                 translation=translation, axes=axes)
    return {
        "K": seg.n_components,
        "converged": bool(seg.converged),
        "n_iter": seg.n_iter,
        "BIC": f"{seg.bic:.6g}",
        "labels": str(Path(out_labels)),
        **objects,
    }
