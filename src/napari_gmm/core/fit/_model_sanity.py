"""Numerical and file-level sanity checks of model files (untrusted input).

A model whose every number is finite can still be absurd (means of 1e305): applying it
overflows the squared Mahalanobis distances to inf and gives NaN posteriors. The check
evaluates the per-component log-densities at probe points spanning the model (its means,
the origin and the corners of the means' bounding box), where real data of the model lie,
and refuses a model for which any is not finite.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ._sklearn_private import weighted_log_prob


def probe_points(means: np.ndarray) -> np.ndarray:
    """The means, the origin and the low / high corners of the means' bounding box."""
    lo, hi = means.min(axis=0), means.max(axis=0)
    return np.vstack([means, np.zeros_like(lo), lo, hi])


def check_numerically_sane(gmm, fail) -> None:
    """Raise ``fail(what)`` unless every component's log-density is finite at the probes.

    `fail` builds the exception (the reader's message naming the file).
    """
    probes = probe_points(np.asarray(gmm.means_, dtype=np.float64))
    with np.errstate(all="ignore"):
        try:
            logp = weighted_log_prob(gmm, probes)
        except (FloatingPointError, OverflowError, ValueError) as err:
            raise fail(f"its parameters cannot be evaluated ({err})") from None
    if not np.isfinite(logp).all():
        raise fail(
            "its parameters are finite but numerically absurd (the log-density overflows at "
            "the model's own means or at 0, so applying it would give NaN probabilities); "
            "means, covariances and weights must be of the scale of real image data"
        )


def read_model_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (FIFOs, devices, folders refused).

    The size is checked before opening (a FIFO would block the open) and again while
    reading (a file growing or a device reporting size 0 reads at most `max_bytes` + 1).
    """
    try:
        info = os.stat(path)
    except OSError as err:
        raise ValueError(f"Cannot read the model file {path}: {err.strerror}. Check the "
                         "path.") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{path} is not a regular file (a folder, device, pipe or socket); a model file "
            "is a JSON file written by napari_gmm.save_model."
        )
    too_big = ValueError(
        f"{path} is larger than any napari-gmm model file (at most {max_bytes // 2**20} MB); "
        "check that it is a model file written by napari_gmm.save_model."
    )
    if info.st_size > max_bytes:
        raise too_big
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_big
    return data


def check_fitted(gmm) -> None:
    """TypeError / ValueError unless `gmm` is a fitted GaussianMixture (for save_model)."""
    from sklearn.mixture import GaussianMixture

    if not isinstance(gmm, GaussianMixture):
        raise TypeError(
            f"save_model expects a fitted sklearn GaussianMixture (e.g. seg.model), got "
            f"{type(gmm).__name__}."
        )
    missing = [n for n in ("weights_", "means_", "covariances_", "precisions_cholesky_")
               if not hasattr(gmm, n)]
    if missing:
        raise ValueError(
            "save_model needs a fitted mixture, but this GaussianMixture has not been fitted "
            f"(no {', '.join(missing)}). Fit it first (gmm.fit(X)) or save seg.model from "
            "napari_gmm.segment."
        )
