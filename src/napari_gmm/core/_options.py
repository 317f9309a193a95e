"""Validated segmentation options, shared by :mod:`._segment` and :mod:`._selection`."""

from __future__ import annotations

from ._features import PixelData
from ._params import MAX_DISTINCT, Options
from .fit._compress import compress_integer

__all__ = ["DEFAULTS", "MAX_DISTINCT", "check_params", "compress_if_integer"]

#: The default of every segmentation option (from :class:`._params.Options`).
DEFAULTS = Options().as_dict()


def check_params(
    n_components, covariance_type, tol, max_iter, n_init, init_params, reg_covar, random_state
) -> dict:
    """Validate the EM options; return them as GaussianMixture keyword arguments."""
    return Options(
        covariance_type=covariance_type, tol=tol, max_iter=max_iter, n_init=n_init,
        init_params=init_params, reg_covar=reg_covar, random_state=random_state,
    ).gmm_params(n_components)  # fmt: skip


def compress_if_integer(data: PixelData, max_distinct: int):
    """Compressed distinct values of an integer image, or None (not integer / too many)."""
    if not data.is_integer or max_distinct == 0:
        return None
    return compress_integer(data.features, max_unique=max_distinct)
