"""Command line: ``napari-gmm segment INPUT... --n-components K`` and ``napari-gmm demo``.

Each subcommand is a thin wrapper over the core. User mistakes (missing file, bad option,
unreadable image, impossible segmentation) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..core._validation import COVARIANCE_TYPES, INIT_PARAMS
from ._zarr import add_zarr_arguments, is_zarr_path, segment_zarr

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and our exit status."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _channel_axis(text: str):
    if text in ("auto", "none"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer, 'auto' or 'none', got {text!r}"
        ) from None


def _sigma(text: str):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number or comma-separated numbers (one per channel), got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="napari-gmm",
        description="Segment images without training data by fitting a Gaussian mixture "
        "(EM) to their pixel values.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    seg = sub.add_parser(
        "segment",
        help="segment one or more images, writing label and probability TIFFs",
        description="Segment images into K classes (label 1 = darkest class). Writes a label "
        "TIFF (uint8/uint16, 0 = non-finite pixel) and a float32 probability TIFF (max "
        "posterior) per input. Reads TIFF (tifffile) and PNG/JPEG/... (imageio).",
    )
    seg.add_argument("inputs", nargs="+", metavar="INPUT", help="image file(s) to segment")
    seg.add_argument(
        "-k",
        "--n-components",
        type=int,
        required=True,
        metavar="K",
        help="number of classes (Gaussians)",
    )
    seg.add_argument(
        "--channel-axis",
        type=_channel_axis,
        default="auto",
        metavar="N",
        help="axis of the colour channels; 'auto' (default) uses the last axis "
        "when it has 3 or 4 samples (RGB/RGBA, alpha dropped), 'none' treats "
        "every axis as spatial",
    )
    seg.add_argument(
        "--covariance-type",
        choices=COVARIANCE_TYPES,
        default="full",
        help="shape of the component covariances (default: full)",
    )
    seg.add_argument(
        "--noise",
        type=_sigma,
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
    seg.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        metavar="BETA",
        help="strength of the spatial (Potts) prior; 0 = off, 1 = recommended for noisy images",
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
    seg.add_argument(
        "--labels",
        type=Path,
        default=None,
        metavar="OUT",
        help="label TIFF to write (one input only; default: "
        "<input stem>_labels.tif in --out-dir or next to the input)",
    )
    seg.add_argument(
        "--probability",
        type=Path,
        default=None,
        metavar="OUT",
        help="probability TIFF to write (one input only; default: <input stem>_probability.tif)",
    )
    seg.add_argument(
        "--noisy",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the noisy image (with --noise; one input only)",
    )
    seg.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the fitted model as JSON (one input only)",
    )
    seg.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the default output names",
    )
    seg.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    add_zarr_arguments(seg)
    seg.set_defaults(handler=_cmd_segment)

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


def _resolve_channel_axis(image, choice, path: Path):
    """Apply the --channel-axis choice; drop the alpha channel of RGBA images in auto mode."""
    if choice == "none":
        return image, None
    if choice == "auto":
        if image.ndim == 3 and image.shape[-1] in (3, 4):
            return (image[..., :3] if image.shape[-1] == 4 else image), -1
        return image, None
    return image, choice


def _outputs(args, path: Path) -> dict:
    folder = args.out_dir if args.out_dir is not None else path.parent
    return {
        "labels": args.labels or folder / f"{path.stem}_labels.tif",
        "probability": args.probability or folder / f"{path.stem}_probability.tif",
        "noisy": args.noisy,
        "model": args.model,
    }


def _cmd_segment(args) -> int:
    from .. import add_gaussian_noise, save_model, segment
    from ..io._images import read_image, write_tiff

    single_only = [
        f"--{n}"
        for n in ("labels", "probability", "noisy", "model")
        if getattr(args, n) is not None
    ]
    if len(args.inputs) > 1 and single_only:
        raise ValueError(
            f"{', '.join(single_only)} name(s) one file but {len(args.inputs)} inputs were "
            "given; use --out-dir for several inputs."
        )
    if args.noisy is not None and args.noise is None:
        raise ValueError("--noisy needs --noise SIGMA (there is no noisy image otherwise).")
    for name in args.inputs:
        path = Path(name)
        if is_zarr_path(path):  # out of core, with dask (cli/_zarr.py)
            segment_zarr(args, path)
            continue
        image, axis = _resolve_channel_axis(read_image(path), args.channel_axis, path)
        out = _outputs(args, path)
        if args.noise is not None:
            image = add_gaussian_noise(image, args.noise, seed=args.seed, channel_axis=axis)
            if out["noisy"] is not None:
                write_tiff(out["noisy"], image)
        seg = segment(
            image,
            args.n_components,
            channel_axis=axis,
            covariance_type=args.covariance_type,
            tol=args.tol,
            max_iter=args.max_iter,
            n_init=args.n_init,
            init_params=args.init,
            random_state=args.seed,
            smoothing=args.smoothing,
        )
        write_tiff(out["labels"], seg.labels)
        write_tiff(out["probability"], seg.probability)
        if out["model"] is not None:
            save_model(seg.model, out["model"])
        if not args.quiet:
            print(
                f"{path}: K={seg.n_components} converged={seg.converged} "
                f"iterations={seg.n_iter} log-likelihood={seg.log_likelihood:.4f} "
                f"BIC={seg.bic:.1f} ({seg.elapsed:.2f} s) -> {out['labels']}, "
                f"{out['probability']}"
            )
    return 0


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
