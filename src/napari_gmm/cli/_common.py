"""Parser pieces shared by the subcommands: option types and the option groups of a batch."""

from __future__ import annotations

import argparse
from pathlib import Path

#: Exit status of user mistakes caught before any work (bad options, missing model...).
EXIT_USAGE = 2
#: Exit status when some inputs of a batch failed (each reported on one line).
EXIT_SOME_FAILED = 1


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and our exit status."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def channel_axis_type(text: str):
    if text in ("auto", "none"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer, 'auto' or 'none', got {text!r}"
        ) from None


def numbers_type(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number or comma-separated numbers, got {text!r}"
        ) from None


def sigma_type(text: str):
    try:
        values = numbers_type(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a number or comma-separated numbers (one per channel), got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def smoothing_type(text: str):
    if text in ("auto", "held-out"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number >= 0 or 'auto' (or 'held-out'), got {text!r}"
        ) from None


def n_components_type(text: str):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid int value: {text!r} (use an integer >= 1, or 'auto' to choose K by ICL)"
        ) from None


def frames_type(text: str):
    if text in ("each", "shared"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'each', 'shared' or a frame index, got {text!r}"
        ) from None


def add_input_arguments(parser: argparse.ArgumentParser, *, frames: bool = True) -> None:
    """INPUT... and how to read them: channel and time axes (frames), pixel size."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files or folders (every image inside, sorted by name)",
    )
    parser.add_argument(
        "--channel-axis",
        type=channel_axis_type,
        default="auto",
        metavar="N",
        help="axis of the channels; 'auto' (default): the C (or RGB S) axis of the TIFF "
        "metadata, else the last axis when it has 3 or 4 samples (RGB/RGBA, alpha "
        "dropped); 'none': every axis is spatial",
    )
    parser.add_argument(
        "--time-axis",
        type=channel_axis_type,
        default="auto",
        metavar="N",
        help="axis of the frames of a time series; 'auto' (default): the T axis of the TIFF "
        "metadata; 'none': no time axis",
    )
    if frames:
        _add_frames(parser)
    parser.add_argument(
        "--smoothing",
        type=smoothing_type,
        default=0.0,
        metavar="BETA",
        help="strength of the spatial (Potts) prior; 0 = off, 1 = recommended for noisy "
        "images, 'auto' = estimated from each image",
    )
    parser.add_argument(
        "--marginals",
        choices=("mean-field", "gibbs"),
        default="mean-field",
        help="posteriors with smoothing: 'gibbs' gives calibrated probabilities (slower)",
    )
    parser.add_argument(
        "--scale",
        type=numbers_type,
        default=None,
        metavar="S1,S2,..",
        help="physical pixel size per spatial axis (e.g. 2,0.5,0.5 for ZYX), weighting "
        "neighbours in the smoothing; default: the voxel size in the file's metadata",
    )


def add_bias_arguments(parser: argparse.ArgumentParser) -> None:
    """--bias-field, --bias-order and --bias-output (uneven illumination)."""
    from ..core import BIAS_FIELDS, DEFAULT_ORDER, MAX_ORDER

    group = parser.add_argument_group(
        "uneven illumination",
        "Estimate a smooth multiplicative field (vignetting, depth attenuation, MRI bias) "
        "with the mixture and segment the image divided by it; one field for all channels, "
        "one per frame of a time series.",
    )
    group.add_argument(
        "--bias-field",
        choices=BIAS_FIELDS,
        default=None,
        help="model of the field (default: none, no correction)",
    )
    group.add_argument(
        "--bias-order",
        type=int,
        default=DEFAULT_ORDER,
        metavar="N",
        help=f"total degree of the polynomial field, 1..{MAX_ORDER} (default: "
        f"{DEFAULT_ORDER}; 1 = a linear ramp)",
    )
    group.add_argument(
        "--bias-output",
        action="store_true",
        help="also write the corrected image (<stem>_corrected, float32, the input's axes) "
        "and the field (<stem>_bias, float32) next to the labels",
    )


def check_bias_arguments(args) -> None:
    """Option mistakes of the bias group, before any work."""
    from ..core import check_bias_order

    check_bias_order(args.bias_order)
    if args.bias_output and args.bias_field is None:
        raise ValueError(
            "--bias-output needs --bias-field (e.g. --bias-field polynomial): there is no "
            "field or corrected image otherwise."
        )


def _add_frames(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frames",
        type=frames_type,
        default="each",
        metavar="MODE",
        help="time series: 'each' (default) fits every frame on its own, 'shared' one model "
        "on all frames, an integer fits on that frame and applies it to all",
    )


def add_output_arguments(parser: argparse.ArgumentParser, formats) -> None:
    """Where and how results are written."""
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the outputs (default: next to each input)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files (default: an input whose outputs exist fails)",
    )
    parser.add_argument(
        "--summary",
        type=Path,
        default=None,
        metavar="CSV",
        help="per-file summary table (file, K, converged, n_iter, BIC, time, error); "
        "default: napari-gmm-summary.csv in --out-dir, or next to the first input",
    )
    parser.add_argument(
        "--output-format",
        choices=["auto", *sorted(formats)],
        default="auto",
        help="format of the outputs, with the input's axes and pixel size; 'auto' (default): "
        "NIfTI (.nii.gz) for NIfTI inputs, else tiff (compressed)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
