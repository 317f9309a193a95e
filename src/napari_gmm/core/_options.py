"""Validated segmentation options, shared by :mod:`._segment` and :mod:`._selection`."""

from __future__ import annotations

from ._features import PixelData
from ._validation import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    MAX_ITER,
    MAX_N_INIT,
    check_choice,
    check_float,
    check_int,
    check_n_components,
)
from .bias._ecm import DEFAULT_ORDER
from .fit._compress import compress_integer
from .fit._fit import MAX_SAMPLES

#: Default largest number of distinct values (gray) or colours for the exact fast path.
MAX_DISTINCT = 1 << 18

DEFAULTS = {
    "channel_axis": None,
    "covariance_type": "full",
    "tol": 1e-3,
    "max_iter": 100,
    "n_init": 1,
    "init_params": "kmeans",
    "reg_covar": 1e-6,
    "random_state": None,
    "max_samples": MAX_SAMPLES,
    "max_distinct": MAX_DISTINCT,
    "smoothing": 0.0,
    "marginals": "mean-field",
    "scale": None,
    "return_posteriors": False,
    "partial_volume": False,
    "bias_field": None,
    "bias_order": DEFAULT_ORDER,
}


def check_params(
    n_components, covariance_type, tol, max_iter, n_init, init_params, reg_covar, random_state
) -> dict:
    """Validate the EM options; return them as GaussianMixture keyword arguments."""
    return {
        "n_components": check_n_components(n_components),
        "covariance_type": check_choice("covariance_type", covariance_type, COVARIANCE_TYPES),
        "tol": check_float("tol", tol, minimum=0.0),
        "max_iter": check_int("max_iter", max_iter, minimum=1, maximum=MAX_ITER),
        "n_init": check_int("n_init", n_init, minimum=1, maximum=MAX_N_INIT),
        "init_params": check_choice("init_params", init_params, INIT_PARAMS),
        "reg_covar": check_float("reg_covar", reg_covar, minimum=0.0),
        "random_state": random_state,
    }


def compress_if_integer(data: PixelData, max_distinct: int):
    """Compressed distinct values of an integer image, or None (not integer / too many)."""
    if not data.is_integer or max_distinct == 0:
        return None
    return compress_integer(data.features, max_unique=max_distinct)
