"""The job of the *Noise study* dock: segmentation quality against added Gaussian noise.

Pure Python (no napari, no Qt): parsing the noise levels, counting the fits, and the
generator run in a worker thread.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import noise_sweep, segment
from ._worker import USER_ERRORS, JobError

#: Smoothing strength of the "compare with smoothing" condition.
SMOOTHING = 1.0
#: Number of fits above which the widget asks before starting.
CONFIRM_FITS = 200


def parse_sigmas(text: str) -> list[float]:
    """Noise levels from a list ``"0, 10, 20"`` or a range ``"start:stop:step"``.

    The stop of a range is included when the steps land on it exactly.

    >>> parse_sigmas("0:60:20"), parse_sigmas("5, 7.5 10")
    ([0.0, 20.0, 40.0, 60.0], [5.0, 7.5, 10.0])
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = [start + i * step for i in range(count)]
        else:
            values = [float(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(
            f"Cannot read the noise levels {text!r}: give a list such as '0, 10, 20' or a "
            "range start:stop:step such as '0:60:10' (step > 0, stop >= start)."
        ) from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"The noise levels {text!r} must be finite and >= 0 (at least one).")
    return values


def count_fits(n_sigmas: int, n_conditions: int, reference: bool) -> int:
    """Number of fits of a noise study: one per level and condition, plus the clean fits.

    >>> count_fits(1001, 2, reference=False)
    2004
    """
    return n_conditions * (n_sigmas + (0 if reference else 1))


def noise_study_job(image, sigmas, *, n_components, seed, reference, conditions, **options):
    """Generator: :func:`napari_gmm.noise_sweep` one noise level at a time, per condition.

    Gives the records of ``noise_sweep(image, sigmas, seed=seed, smoothing=s, ...)`` for each
    smoothing `s` in `conditions` (the same noise draws for every condition), yielding
    ``(fraction, stage)`` after each level so that the worker can report progress and stop.

    Returns
    -------
    dict
        ``{"records": {smoothing: list of dict}}``, or ``{"error": message}`` for bad input.
    """
    total, done = len(sigmas) * len(conditions), 0
    results = {}
    try:
        for smoothing in conditions:
            kwargs = {**options, "random_state": seed, "smoothing": smoothing}
            ref, against = reference, "reference"
            if ref is None:
                ref = segment(image, n_components, **kwargs).labels
                against = "clean segmentation"
                yield done / total, f"{done} of {total} fits done"
            rng = np.random.default_rng(seed)  # noise drawn in order of sigmas, as noise_sweep
            records = []
            for sigma in sigmas:
                (record,) = noise_sweep(image, [sigma], n_components=n_components, seed=rng,
                                        reference=ref, **kwargs)
                records.append({**record, "against": against, "smoothing": smoothing})
                done += 1
                yield done / total, f"{done} of {total} fits done"
            results[smoothing] = records
    except USER_ERRORS as err:
        return {"error": str(err) or type(err).__name__}
    except RuntimeError as err:
        raise JobError(f"{type(err).__name__}: {err}") from err
    return {"records": results}
