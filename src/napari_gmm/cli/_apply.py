"""``napari-gmm apply MODEL INPUT...``: label images with a saved model (no fitting).

Label k is the model's class k on every input, so classes mean the same thing across a
batch (e.g. a model fitted on a reference image applied to a whole experiment).
"""

from __future__ import annotations

from pathlib import Path

from ..io._formats import WRITERS
from ._common import (
    add_bias_arguments,
    add_input_arguments,
    add_output_arguments,
    check_bias_arguments,
)
from ._formats import add_format_arguments
from ._objects import add_mask_argument, add_objects_arguments, check_objects_options


def add_parser(sub) -> None:
    app = sub.add_parser(
        "apply",
        help="label images or folders with a saved model (napari-gmm segment --model)",
        description="Apply a model file (JSON, written by 'napari-gmm segment --model' or "
        "Segmentation.save_model) to images: label k = the model's class k everywhere. "
        "Writes label and probability TIFFs per input and a summary CSV; a failing input "
        "is reported and skipped (exit status 1).",
    )
    app.add_argument("model", type=Path, metavar="MODEL", help="model file (JSON)")
    add_input_arguments(app, frames=False)
    add_bias_arguments(app)
    add_output_arguments(app, WRITERS)
    add_mask_argument(app)
    add_objects_arguments(app)
    add_format_arguments(app, zarr=False)
    app.set_defaults(handler=run)


def run(args) -> int:
    from ..core import load_model
    from ._batch import run_batch
    from ._outputs import planned_outputs

    check_bias_arguments(args)
    if not args.model.is_file():
        raise FileNotFoundError(f"No such model file: {args.model}")
    check_objects_options(args)
    gmm = load_model(args.model)
    return run_batch(
        args,
        lambda job: _apply_one(args, gmm, job),
        plan=lambda job: planned_outputs(args, job),
        protect=[args.model, args.mask],
    )


#: The options of ``napari-gmm apply`` (read from the command line by Options.from_namespace).
APPLIED_OPTIONS = ("channel_axis", "smoothing", "marginals", "scale", "bias_field", "bias_order")


def _apply_one(args, gmm, job) -> dict:
    from ..core import Options, apply_model
    from ._formats import load_input
    from ._objects import find_objects, load_mask, objects_paths, write_objects
    from ._outputs import output_paths, report, write_outputs
    from ._prepare import prepare

    paths = output_paths(args, job)
    object_paths = objects_paths(args, job)
    loaded = load_input(args, job, lazy=False)
    prep = prepare(loaded, args.channel_axis, args.time_axis, args.scale)
    mask = load_mask(args, job)
    options = Options.from_namespace(args, channel_axis=prep.channel_axis, scale=prep.scale)
    seg = apply_model(
        gmm, prep.image, mask=mask, time_axis=prep.time_axis,
        **options.as_dict(APPLIED_OPTIONS),
    )
    objects = find_objects(args, seg, prep.image, prep, mask)
    write_outputs(args, paths, seg, prep, loaded)
    row = report(args, job, seg, paths, what="applied ")
    if seg.class_names:
        row["class_names"] = ";".join(seg.class_names)
    return {**row, **write_objects(args, object_paths, objects, prep, loaded)}
