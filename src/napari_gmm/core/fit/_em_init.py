"""Initialisation helpers of the weighted EM (see :mod:`napari_gmm.core.fit._em`).

They mirror scikit-learn's ``BaseMixture._initialize_parameters`` and
``GaussianMixture._check_parameters``, with each row of ``X`` standing for ``w_i`` identical
samples (a distinct value and its pixel count).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.cluster import KMeans, kmeans_plusplus

#: Expected shape of `precisions_init` for each covariance type (K components, d features).
_PRECISION_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


def initial_resp(X, sample_weight, n_components, init_params, random_state) -> np.ndarray:
    """Initial responsibilities of the rows of `X`, as scikit-learn's init methods.

    Parameters
    ----------
    X : (n, d) ndarray of float64
        Distinct data points.
    sample_weight : (n,) ndarray of float64
        Positive weight (count) of each point.
    n_components : int
        Number of mixture components (``<= n``).
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}
        Initialisation method; the weighted counterpart of scikit-learn's.
    random_state : numpy.random.RandomState
        Random generator, advanced in place.

    Returns
    -------
    resp : (n, n_components) ndarray of float64
        Rows sum to one (or are zero for points that seed no component with
        'k-means++'/'random_from_data', as in scikit-learn).
    """
    n = X.shape[0]
    resp = np.zeros((n, n_components), dtype=np.float64)
    if init_params == "kmeans":
        if n_components == 1:
            resp[:, 0] = 1.0  # one cluster: every label is 0, no need to run k-means
        else:
            km = KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            labels = km.fit(X, sample_weight=sample_weight).labels_
            resp[np.arange(n), labels] = 1.0
    elif init_params == "random":
        resp = random_state.uniform(size=(n, n_components))
        resp /= resp.sum(axis=1)[:, np.newaxis]
    elif init_params == "random_from_data":
        # scikit-learn picks K distinct samples uniformly; a point with weight w stands for
        # w samples, so distinct points are drawn with probability proportional to weight.
        p = sample_weight / sample_weight.sum()
        if np.all(sample_weight == sample_weight[0]):
            p = None  # equal weights: draw exactly as scikit-learn does on the same rows
        indices = random_state.choice(n, size=n_components, replace=False, p=p)
        resp[indices, np.arange(n_components)] = 1.0
    elif init_params == "k-means++":
        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=sample_weight
        )
        resp[indices, np.arange(n_components)] = 1.0
    else:  # validated by the caller; kept for direct use
        raise ValueError(f"Unknown init_params {init_params!r}.")
    return resp


def check_inits(weights_init, means_init, precisions_init, covariance_type, n_components, d):
    """Validate user-provided initial parameters like scikit-learn's ``_check_*`` helpers.

    Parameters
    ----------
    weights_init : (n_components,) array_like or None
    means_init : (n_components, d) array_like or None
    precisions_init : array_like or None
        Shape by `covariance_type`: (K, d, d) 'full', (d, d) 'tied', (K, d) 'diag',
        (K,) 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, d : int
        Number of components and of features.

    Returns
    -------
    weights, means, precisions : ndarray of float64 or None

    Raises
    ------
    ValueError
        On a wrong shape, weights outside [0, 1] or not summing to one, or precisions that
        are not positive (definite).
    """
    weights = means = precisions = None
    if weights_init is not None:
        weights = _as_shape(weights_init, (n_components,), "weights")
        if np.any(weights < 0.0) or np.any(weights > 1.0):
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max value "
                f"{weights.max():.5f}, min value {weights.min():.5f}"
            )
        if not np.allclose(abs(1.0 - weights.sum()), 0.0, atol=1e-8):
            raise ValueError(
                "The parameter 'weights' should be normalized, but got sum(weights) = "
                f"{weights.sum():.5f}"
            )
    if means_init is not None:
        means = _as_shape(means_init, (n_components, d), "means")
    if precisions_init is not None:
        shape = _PRECISION_SHAPES[covariance_type](n_components, d)
        precisions = _as_shape(precisions_init, shape, f"{covariance_type} precision")
        mats = {"full": precisions, "tied": precisions[None]}.get(covariance_type)
        if mats is None:
            if np.any(precisions <= 0.0):
                raise ValueError(f"'{covariance_type} precision' should be positive")
        else:
            for mat in mats:
                if not (np.allclose(mat, mat.T) and np.all(np.linalg.eigvalsh(mat) > 0.0)):
                    raise ValueError(
                        f"'{covariance_type} precision' should be symmetric, positive-definite"
                    )
    return weights, means, precisions


def precisions_cholesky_from_precisions(precisions, covariance_type) -> np.ndarray:
    """Upper-triangular ``U`` with ``precision = U @ U.T``, as scikit-learn computes it.

    The precision's rows and columns are reversed, factorised by a lower Cholesky and
    reversed back (scikit-learn's ``_compute_precision_cholesky_from_precisions``, written
    out here because its signature differs between scikit-learn versions).
    """
    if covariance_type in ("diag", "spherical"):
        return np.sqrt(precisions)

    def flipped_cholesky(mat):
        return scipy.linalg.cholesky(mat[::-1, ::-1], lower=True)[::-1, ::-1]

    if covariance_type == "tied":
        return np.ascontiguousarray(flipped_cholesky(precisions))
    return np.stack([flipped_cholesky(mat) for mat in precisions])


def _as_shape(value, shape, name) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {arr.shape}"
        )
    return arr
