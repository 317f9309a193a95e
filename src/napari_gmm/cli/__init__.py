"""Command line: ``napari-gmm segment``, ``napari-gmm apply`` and ``napari-gmm demo``.

Each subcommand lives in its own module (``_segment``, ``_apply``, ``_demo``) and adds its
parser with ``add_parser(sub)``; batches (inputs, output names, summary) are in ``_batch``,
file formats in :mod:`napari_gmm.io._formats`. User mistakes found before any work (bad
option, missing model) print one line to stderr and exit with status 2; a failing input of
a batch is reported on one line and skipped, and the exit status is then 1.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from . import _apply, _segment
from ._common import EXIT_SOME_FAILED, EXIT_USAGE, Parser

__all__ = ["EXIT_SOME_FAILED", "EXIT_USAGE", "build_parser", "main"]

#: Modules adding one subcommand each (``add_parser(sub)``), in the order of ``--help``.
SUBCOMMANDS = [_segment, _apply]


def build_parser() -> Parser:
    parser = Parser(
        prog="napari-gmm",
        description="Segment images without training data by fitting a Gaussian mixture "
        "(EM) to their pixel values.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    demo = sub.add_parser(
        "demo",
        help="segment the bundled sample images and write the results (no display needed)",
    )
    demo.add_argument(
        "--out-dir",
        type=Path,
        default=Path("demo-output"),
        metavar="DIR",
        help="where to write the outputs (default: ./demo-output)",
    )
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_demo(args) -> int:
    from ._demo import run_demo

    run_demo(args.out_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = args.handler(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"napari-gmm: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE
    for w in caught:
        if not issubclass(w.category, DeprecationWarning):
            print(f"napari-gmm: warning: {w.message}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
