"""``--scribbles``, ``--class-names`` and ``--components-per-class`` of ``segment``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_scribble_arguments(parser) -> None:
    """The guided-class options of ``napari-gmm segment``."""
    group = parser.add_argument_group(
        "guided classes",
        "scribbles name the classes: label k of the output is the scribbles' class k",
    )
    parser.set_defaults(scribble_parser=parser)
    group.add_argument(
        "--scribbles",
        type=Path,
        default=None,
        metavar="FILE",
        help="integer label image of the input's spatial shape (0 = not scribbled, k = "
        "class k), e.g. a napari Labels layer saved as TIFF; -k defaults to its largest id",
    )
    group.add_argument(
        "--class-names",
        type=names_type,
        default=None,
        metavar="A,B,...",
        help="comma-separated class names (one per class), kept in the model file and CSV",
    )
    group.add_argument(
        "--components-per-class",
        type=per_class_type,
        default=1,
        metavar="N[,N...]|auto",
        help="Gaussians per class with --scribbles: one int, one per class, or 'auto' "
        "(by BIC per class); e.g. 3,1 for a skewed background and bright objects",
    )


def names_type(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def per_class_type(text: str):
    if text == "auto":
        return text
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: use an int, comma-separated ints (one per class) or 'auto'"
        ) from None
    return values[0] if len(values) == 1 else values


def check_scribble_arguments(args) -> None:
    """-k is needed unless --scribbles gives the classes; the file must exist."""
    if args.n_components is None and args.scribbles is None:
        args.scribble_parser.error(  # a usage error, as argparse's own (exit status 2)
            "the following arguments are required: -k/--n-components (or --scribbles, whose "
            "largest id is K)"
        )
    if args.scribbles is not None and not args.scribbles.is_file():
        raise ValueError(f"--scribbles: no such file {args.scribbles}.")


def scribble_options(args) -> dict:
    """Keyword arguments of ``segment`` for the guided options given."""
    from ..io._formats import load_image

    options = {}
    if args.scribbles is not None:
        scribbles = np.asarray(load_image(args.scribbles).data)
        options["scribbles"] = scribbles
    if args.class_names is not None:
        options["class_names"] = args.class_names
    if args.components_per_class != 1:
        options["components_per_class"] = args.components_per_class
    return options
