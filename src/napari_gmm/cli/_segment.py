"""``napari-gmm segment INPUT... -k K``: fit a mixture to every input and write its labels."""

from __future__ import annotations

from pathlib import Path

from ..core import COVARIANCE_TYPES, INIT_PARAMS, Options
from ..io._formats import WRITERS
from ._common import (
    add_bias_arguments,
    add_input_arguments,
    add_output_arguments,
    check_bias_arguments,
    n_components_type,
    sigma_type,
)
from ._formats import add_format_arguments
from ._objects import add_mask_argument, add_objects_arguments, check_objects_options
from ._outputs import planned_outputs
from ._scribbles import add_scribble_arguments, check_scribble_arguments, scribble_options
from ._zarr import add_zarr_arguments, is_zarr_path

#: Options that name one output file, so they need a single input.
SINGLE_OUTPUTS = ("labels", "probability", "noisy", "model")

#: Command-line names of segmentation options that differ from the keyword's name (the
#: others, e.g. ``--max-iter``, are the keyword: :meth:`Options.from_namespace` finds them).
RENAMED = {"init": "init_params", "seed": "random_state"}


def add_parser(sub) -> None:
    seg = sub.add_parser(
        "segment",
        help="segment images or folders of images, writing label and probability TIFFs",
        description="Segment images into K classes (label 1 = darkest class). Writes a label "
        "TIFF (uint8/uint16, 0 = non-finite pixel) and a float32 probability TIFF (max "
        "posterior) per input, compressed, with the input's axes and pixel size, and a "
        "summary CSV. Reads TIFF (ImageJ, OME: axes and voxel size), PNG/JPEG/... "
        "(imageio), NIfTI (.nii, .nii.gz: NIfTI outputs with the input's affine) and, with "
        "the 'formats' extra, CZI, LIF, ND2 and every format bioio reads (--scene). A "
        "failing input is reported and skipped; the exit status is 1 if any failed.",
    )
    add_input_arguments(seg)
    seg.add_argument(
        "-k",
        "--n-components",
        type=n_components_type,
        default=None,
        metavar="K",
        help="number of classes (Gaussians), or 'auto' to choose it by ICL among 2..8 "
        "(required unless --scribbles)",
    )
    seg.add_argument(
        "--covariance-type",
        choices=COVARIANCE_TYPES,
        default="full",
        help="shape of the component covariances (default: full)",
    )
    seg.add_argument(
        "--noise",
        type=sigma_type,
        default=None,
        metavar="SIGMA",
        help="add Gaussian noise of this standard deviation (intensity units; "
        "comma-separated for one per channel) before segmenting",
    )
    seg.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="random seed for noise, initialisation and subsampling",
    )
    seg.add_argument("--tol", type=float, default=1e-3, help="EM stopping threshold")
    seg.add_argument("--max-iter", type=int, default=100, help="largest number of EM iterations")
    seg.add_argument("--n-init", type=int, default=1, help="number of initialisations")
    seg.add_argument(
        "--init",
        choices=INIT_PARAMS,
        default="kmeans",
        help="initialisation method (default: kmeans)",
    )
    for role, what in (
        ("labels", "label TIFF (default: <input stem>_labels.tif in --out-dir or next to it)"),
        ("probability", "probability TIFF (default: <input stem>_probability.tif)"),
        ("noisy", "noisy image, with --noise"),
        ("model", "fitted model as JSON (time series: see the README)"),
    ):
        seg.add_argument(
            f"--{role}",
            type=Path,
            default=None,
            metavar="OUT",
            help=f"write the {what}; one input only",
        )
    add_bias_arguments(seg)
    add_scribble_arguments(seg)
    add_output_arguments(seg, WRITERS)
    add_mask_argument(seg)
    add_objects_arguments(seg)
    add_zarr_arguments(seg)
    add_format_arguments(seg)
    seg.set_defaults(handler=run)


def run(args) -> int:
    from ._batch import expand_inputs, run_batch

    single = [f"--{n}" for n in SINGLE_OUTPUTS if getattr(args, n) is not None]
    if single and (len(args.inputs) > 1 or len(expand_inputs(args.inputs)) > 1):
        raise ValueError(
            f"{', '.join(single)} name(s) one file but several inputs were given; use "
            "--out-dir for several inputs."
        )
    if args.noisy is not None and args.noise is None:
        raise ValueError("--noisy needs --noise SIGMA (there is no noisy image otherwise).")
    check_objects_options(args)
    check_bias_arguments(args)
    check_scribble_arguments(args)
    _check_fit_options(args)
    explicit = {role: getattr(args, role) for role in SINGLE_OUTPUTS}
    noisy = args.noise is not None
    return run_batch(
        args,
        lambda job: _segment_one(args, job),
        plan=lambda job: planned_outputs(args, job, explicit, noisy=noisy),
        protect=[args.scribbles, args.mask],
    )


def _check_fit_options(args) -> None:
    """Option mistakes of the fit, refused once before any input is read (exit status 2)."""
    from ..core import check_n_components

    if args.n_components not in ("auto", None):
        check_n_components(args.n_components)


def _segment_one(args, job) -> dict:
    from ..core import add_gaussian_noise, save_model, segment
    from ._formats import lazy_image, load_input
    from ._objects import find_objects, load_mask, objects_paths, write_objects
    from ._outputs import output_paths, report, write_outputs
    from ._prepare import prepare
    from ._safe_write import write_file
    from ._zarr import segment_zarr

    object_paths = objects_paths(args, job)
    mask = load_mask(args, job)  # refused for zarr inputs
    if is_zarr_path(job.path) and args.scene is None:  # out of core, with dask (cli/_zarr.py)
        return segment_zarr(args, job)
    loaded = load_input(args, job)
    if lazy_image(loaded) is not None:  # a large bioio image: out of core too
        return segment_zarr(args, job, image=lazy_image(loaded))
    explicit = {role: getattr(args, role) for role in SINGLE_OUTPUTS}
    paths = output_paths(args, job, explicit, noisy=args.noise is not None)
    prep = prepare(loaded, args.channel_axis, args.time_axis, args.scale)
    image, noisy = prep.image, None
    if args.noise is not None:
        image = noisy = add_gaussian_noise(
            image, args.noise, seed=args.seed, channel_axis=prep.channel_axis
        )
    options = Options.from_namespace(
        args, RENAMED, channel_axis=prep.channel_axis, scale=prep.scale
    )
    seg = segment(
        image, args.n_components, mask=mask, time_axis=prep.time_axis, frames=args.frames,
        **options.as_dict(), **scribble_options(args),
    )
    objects = find_objects(args, seg, image, prep, mask)
    write_outputs(args, paths, seg, prep, loaded, noisy)
    if paths["model"] is not None:
        write_file(paths["model"], lambda tmp: save_model(seg.model, tmp),
                   overwrite=args.overwrite)
    row = report(args, job, seg, paths)
    if seg.class_names:
        row["class_names"] = ";".join(seg.class_names)
    return {**row, **write_objects(args, object_paths, objects, prep, loaded)}
