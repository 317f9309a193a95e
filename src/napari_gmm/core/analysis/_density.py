"""Per-pixel density of a Gaussian mixture with given weights, means and covariances.

Pixels are evaluated in chunks (bounded memory) on the log scale with a log-sum-exp over
the components. With ``z = x - center`` (the mixture mean), two routes agree to ~1e-9:

* expanded ('diag', 'spherical', 'tied'): ``log w_k N(x | k)`` is quadratic in z, so one
  product of a (K, 2d) coefficient table with the features ``[z, z**2]`` (``[y, |y|**2]``,
  ``y = L^-1 z`` for 'tied') gives all components. Components whose rounding error bound
  (growing like ``|z|**2 / variance``) exceeds :data:`EXPANSION_ATOL` in a chunk are redone:
* whitened ('full', and those components): ``y_k = L_k^-1 z - L_k^-1 (mean_k - center)``
  for all components in one product, ``L_k`` the Cholesky factor of covariance k.

Single-channel integer images are evaluated once per value of their range, then gathered.
(Not RGB ones: ``np.unique`` on their colours alone takes longer than the evaluation.)
"""

from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import ThreadpoolController

from .._validation import check_channel_axis, check_image
from ._mixture_params import Mixture, check_mixture

#: Most pixels evaluated at once (fewer for many components or channels).
CHUNK_ROWS = 1 << 15
#: Single-channel integer images whose value range is at most this long use a lookup table.
LUT_MAX = 1 << 16
#: Largest rounding error bound (absolute, in log density) accepted on the expanded route.
EXPANSION_ATOL = 1e-9


@functools.cache
def _blas() -> ThreadpoolController:
    """Controls BLAS threads: the products here are thin (a few rows), and idle BLAS threads
    spinning on shared cores slowed the element-wise work down ~2x when measured."""
    return ThreadpoolController()


def _whitened(z: np.ndarray, mix: Mixture, out: np.ndarray, comps) -> None:
    """log w_k N(x | k) of centred columns z (d, m) into the rows `comps` of out (K, m)."""
    d = z.shape[0]
    y = np.matmul(mix.inv_chol[comps].reshape(-1, d), z)
    y -= mix.shift[comps].reshape(-1, 1)
    np.multiply(y, y, out=y)
    out[comps] = mix.log_norm[comps, None] - 0.5 * y.reshape(-1, d, z.shape[1]).sum(axis=1)


def _expanded(z: np.ndarray, mix: Mixture, out: np.ndarray, features: np.ndarray):
    """As :func:`_whitened` for all components, through one product with the features;
    returns the components whose rounding error bound exceeds :data:`EXPANSION_ATOL`."""
    d = z.shape[0]
    y = features[:d]
    if mix.tied:
        np.matmul(mix.inv_chol[0], z, out=y)
        np.sum(y * y, axis=0, out=features[d])
    else:
        y[...] = z
        np.multiply(y, y, out=features[d:-1])
    largest = np.concatenate([np.maximum(y.max(axis=1), -y.min(axis=1)), features[d:].max(1)])
    bound = np.abs(mix.coef) @ largest
    bound *= (features.shape[0] + 2) * np.finfo(np.float64).eps
    np.matmul(mix.coef, features, out=out)
    return np.flatnonzero(~(bound <= EXPANSION_ATOL))


def _log_density_columns(columns: np.ndarray, mix: Mixture, out: np.ndarray) -> None:
    """Log density of every column of `columns` (d, n), any real dtype, into out (n,)."""
    (d, n), n_comp = columns.shape, mix.log_norm.size
    m = min(n, int(np.clip((1 << 20) // (n_comp * max(d, 2)), 1 << 10, CHUNK_ROWS)))
    z_buf, log_buf = np.empty((d, m)), np.empty((n_comp, m))
    feat_buf = None if mix.coef is None else np.ones((mix.coef.shape[1], m))  # last row: 1
    for start in range(0, n, m):
        stop = min(start + m, n)
        z, logp = z_buf[:, : stop - start], log_buf[:, : stop - start]
        np.subtract(columns[:, start:stop], mix.center[:, None], out=z)
        bad = None
        if columns.dtype.kind == "f" and not np.isfinite(z).all():
            bad = ~np.isfinite(z).all(axis=0)
            z[:, bad] = 0.0
        if feat_buf is None:
            _whitened(z, mix, logp, slice(None))
        elif (redo := _expanded(z, mix, logp, feat_buf[:, : z.shape[1]])).size:
            _whitened(z, mix, logp, redo)
        top = logp.max(axis=0)
        top[~np.isfinite(top)] = 0.0  # every component at -inf: the sum below is 0
        logp -= top
        np.exp(logp, out=logp)
        res = np.sum(logp, axis=0, out=out[start:stop])
        np.log(res, out=res)
        res += top
        if bad is not None:
            res[bad] = np.nan


def mixture_log_density(
    image, weights, means, covariances, *, channel_axis=None, covariance_type="full"
) -> np.ndarray:
    """Log density of a Gaussian mixture at every pixel of an image.

    ``log sum_k w_k N(x | mean_k, cov_k)`` by a log-sum-exp over the components: finite, very
    negative where :func:`mixture_density` underflows to 0. Parameters as there.

    Returns
    -------
    log_density : ndarray of float64
        The image shape without the channel axis; NaN where a channel is non-finite.

    Examples
    --------
    >>> mixture_log_density(np.array([0.0, 40.0]), [1.0], [0.0], [1.0],
    ...                     covariance_type="spherical")
    array([  -0.91893853, -800.91893853])
    """
    arr = check_image(image)  # rejects empty images, an empty channel axis included
    axis = check_channel_axis(arr.ndim, channel_axis)
    arr = arr.view(np.uint8) if arr.dtype == bool else arr
    moved = arr[None] if axis is None else np.moveaxis(arr, axis, 0)  # channels first
    spatial, columns = moved.shape[1:], moved.reshape(moved.shape[0], -1)  # views if possible
    mix = check_mixture(weights, means, covariances, covariance_type, columns.shape[0])
    out = np.empty(columns.shape[1])
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")  # |x| ~ 1e200
    with _blas().limit(limits=1, user_api="blas"), quiet:
        if columns.shape[0] == 1 and arr.dtype.kind in "iu":
            lo, hi = int(columns.min()), int(columns.max())
            if hi - lo < min(LUT_MAX, out.size):  # each value of the range once, then gather
                table = np.empty(hi - lo + 1)
                _log_density_columns(np.arange(lo, hi + 1)[None, :], mix, table)
                index = columns[0] if lo == 0 else columns[0].astype(np.intp) - lo
                return np.take(table, index, out=out).reshape(spatial)
        _log_density_columns(columns, mix, out)
    return out.reshape(spatial)


def mixture_density(
    image, weights, means, covariances, *, channel_axis=None, covariance_type="full"
) -> np.ndarray:
    """Density of a Gaussian mixture at every pixel of an image.

    ``sum_k w_k N(x | mean_k, cov_k)`` for the value(s) ``x`` of every pixel: the exponential
    of :func:`mixture_log_density`, normalised through the Cholesky factors, computed in
    chunks of pixels (bounded memory). Agrees with ``scipy.stats`` to about 1e-9 relative.

    Parameters
    ----------
    image : ndarray
        Gray image with any number of spatial axes (``channel_axis=None``) or multichannel
        image with its channels along `channel_axis`. Bool, integer or float; not modified.
    weights : (n_components,) array_like
        Mixing weights, non-negative and summing to 1 within 1e-6 (not rescaled here, so
        that wrong weights are reported). Components of weight 0 are skipped.
    means : (n_components, d) array_like
        Component means for d channels; gray images (d = 1) also accept a 1-D array.
    covariances : array_like
        As ``GaussianMixture.covariances_`` for `covariance_type`: 'full'
        (n_components, d, d), 'tied' (d, d), 'diag' (n_components, d) or 'spherical'
        (n_components,); gray images accept any shape of that size. Symmetric positive
        definite (variances > 0).
    channel_axis : int or None, default=None
        Axis of the channels (e.g. -1 for RGB); None for gray images.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        How `covariances` is given.

    Returns
    -------
    density : ndarray of float64
        The image shape without the channel axis. NaN where any channel of the pixel is
        non-finite (NaN or ±inf); 0 where the density underflows.

    Raises
    ------
    TypeError
        For complex or non-numeric images or parameters, or a non-integer `channel_axis`.
    ValueError
        For mismatched shapes, bad weights, non-finite parameters, covariances that are not
        positive definite, an unknown `covariance_type` or an out-of-range `channel_axis`.

    Examples
    --------
    >>> gray = np.array([[0.0, 1.0], [2.0, np.nan]])
    >>> mixture_density(gray, [1.0], [0.0], [1.0], covariance_type="spherical")
    array([[0.39894228, 0.24197072],
           [0.05399097,        nan]])
    """
    kwargs = {"channel_axis": channel_axis, "covariance_type": covariance_type}
    log_density = mixture_log_density(image, weights, means, covariances, **kwargs)
    return np.exp(log_density, out=log_density)
