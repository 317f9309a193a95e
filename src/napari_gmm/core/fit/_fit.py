"""Fit a Gaussian mixture to pixel data and put its components in intensity order."""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

from .._backend import use_numba
from .._features import PixelData
from .._validation import check_n_components

#: Default largest number of pixels the mixture is fitted on when the exact fast path for
#: integer images does not apply. More valid pixels than this: a seeded random subsample is
#: fitted and every pixel is predicted afterwards. 100 000 pixels estimate the parameters of a
#: mixture of a few classes to well below the 0.01-nat log-likelihood tolerance: on 1-Mpixel
#: camera, coins, astronaut (gray) and noisy synthetic images with K=2-3 the mean
#: log-likelihood was never more than 0.0022 nats below scikit-learn's all-pixel fit, and
#: larger samples did not narrow the remaining gaps (those come from EM's tol and local
#: optima). Fitting 100k instead of 200k pixels makes a 1-Mpixel float image ~10x instead
#: of ~6x faster than scikit-learn on every pixel (benchmarks/bench_segment.py).
MAX_SAMPLES = 100_000


# `single_threaded_blas` state: the BLAS libraries (looked up once: scanning the loaded
# libraries takes milliseconds) and the thread that holds the limit, if any.
_blas_lock = threading.Lock()
_blas_libraries = None
_blas_owner = None


def _blas_controller() -> ThreadpoolController:
    global _blas_libraries
    with _blas_lock:
        if _blas_libraries is None:
            _blas_libraries = ThreadpoolController().select(user_api="blas")
        return _blas_libraries


@contextmanager
def single_threaded_blas():
    """Run the enclosed numpy/scipy linear algebra on one BLAS thread, then restore.

    EM on pixel values multiplies tall, very thin matrices ((n, d) by (d, d), d the number
    of channels): far too little work per call to share between threads, so multithreaded
    BLAS only adds synchronisation, and waits for busy cores. Measured on 2 cores: idle,
    the weighted EM of an RGB image runs ~1.8x faster on one thread (gray images: same
    speed); with other processes running, the scikit-learn fit of a float image runs ~3x
    and the weighted EM of an RGB image ~4-6x faster. Labels and log-likelihoods came out
    identical with one or two threads (tests/test_predict.py, the benchmark's checks).

    The limit is process-wide, so only one thread holds it at a time: the first to enter
    sets it and restores the original thread counts when it leaves. Nested uses, and other
    threads meanwhile, run unchanged and never touch the limit, so that none can restore a
    stale value.
    """
    global _blas_owner
    controller = _blas_controller()
    with _blas_lock:
        owner = _blas_owner is None
        if owner:
            _blas_owner = threading.current_thread()
    if not owner:
        yield
        return
    try:
        # entered and left in this thread, as threadpoolctl requires
        with controller.limit(limits=1):
            yield
    finally:
        with _blas_lock:
            _blas_owner = None


class GMMConvergenceWarning(ConvergenceWarning):
    """EM stopped at ``max_iter`` before the log-likelihood changed by less than ``tol``."""


class RegularizationWarning(UserWarning):
    """``reg_covar`` is not small against the image's variance: the mixture cannot resolve
    classes finer than ``sqrt(reg_covar)`` intensity units and will merge them."""


def warn_if_reg_covar_dominates(X: np.ndarray, reg_covar: float, *, integer: bool) -> None:
    """Warn when `reg_covar` (absolute, squared intensity units) swamps the data's spread.

    scikit-learn adds `reg_covar` to every covariance diagonal, so no class can be
    narrower than ``sqrt(reg_covar)``. The default 1e-6 is tiny for images in grey levels
    but not for float images in small units (values ~1e-4), where every class would merge
    into one without a word. Warned when ``sqrt(reg_covar)`` exceeds 1/20 of the range of
    the values (of the channel with the smallest non-zero range); for integer images,
    whose classes are at least one unit apart, only beyond ``max(range / 20, 0.5)``.
    """
    if reg_covar <= 0 or X.shape[0] < 2:
        return
    spread = (X.max(axis=0) - X.min(axis=0)).astype(np.float64)
    spread = spread[spread > 0]
    limit = spread.min() / 20 if spread.size else np.inf
    if integer:
        limit = max(limit, 0.5)
    if np.sqrt(reg_covar) > limit:
        width = float(spread.min())
        warnings.warn(
            f"reg_covar={reg_covar:g} is not small against the range of the image's values "
            f"({width:.3g} intensity units): no class can be narrower than "
            f"sqrt(reg_covar)={np.sqrt(reg_covar):.3g}, so classes will merge. Rescale the "
            "image (e.g. image / image.std()) or pass a smaller reg_covar (e.g. "
            f"reg_covar={(width * 1e-3) ** 2:.1e}).",
            RegularizationWarning,
            stacklevel=5,
        )


@dataclass(frozen=True, eq=False)
class FitInfo:
    """How a mixture was fitted."""

    method: str  # "exact (distinct values)", "all pixels" or "subsample"
    n_fit_samples: int  # rows the EM ran on (distinct values or pixels)


def component_order(gmm: GaussianMixture) -> np.ndarray:
    """Permutation sorting components by mean intensity averaged over channels (stable)."""
    return np.argsort(gmm.means_.mean(axis=1), kind="stable")


def order_components(gmm: GaussianMixture) -> GaussianMixture:
    """Reorder the components of a fitted mixture by ascending mean intensity, in place.

    The key is each component's mean averaged over channels (ties keep their order), so that
    label 1 is always the darkest class.
    """
    order = component_order(gmm)
    if np.array_equal(order, np.arange(order.size)):
        return gmm
    gmm.weights_ = gmm.weights_[order]
    gmm.means_ = gmm.means_[order]
    if gmm.covariance_type != "tied":
        gmm.covariances_ = gmm.covariances_[order]
        gmm.precisions_cholesky_ = gmm.precisions_cholesky_[order]
        gmm.precisions_ = gmm.precisions_[order]
    return gmm


def subsample_rows(n: int, max_samples: int, random_state) -> np.ndarray | None:
    """Sorted indices of a seeded random subsample of `max_samples` of `n` rows, or None."""
    if n <= max_samples:
        return None
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def count_distinct(rows: np.ndarray) -> int:
    """Number of distinct rows of a 2-D array."""
    if rows.shape[1] == 1:
        return int(np.unique(rows[:, 0]).size)
    return int(np.unique(rows, axis=0).shape[0])


def has_distinct(rows: np.ndarray, k: int) -> bool:
    """Whether a 2-D array has at least `k` distinct rows.

    Counting distinct rows sorts them: ~0.1 s for 200 000 rows of 3 channels. A short
    prefix almost always holds `k` distinct rows already, which settles the question.
    """
    if rows.shape[0] < k:
        return False
    prefix = rows[: 1024 + 16 * k]
    return count_distinct(prefix) >= k or (
        prefix.shape[0] < rows.shape[0] and count_distinct(rows) >= k
    )


def _advice_error(err: Exception, n_components: int) -> ValueError:
    return ValueError(
        "Fitting the mixture failed because a component's covariance became singular "
        f"(collapsed onto too few distinct values) with n_components={n_components}. "
        "Increase reg_covar (e.g. 1e-3 or more, in squared intensity units), reduce "
        f"n_components, or check the image for degenerate values. Details: {err}"
    )


def run_em(fit_callable, n_components: int):
    """Run a fitting callable, turning numerical failures into advice and re-emitting
    scikit-learn's convergence warning with the parameters a user can change."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            gmm = fit_callable()
        except np.linalg.LinAlgError as err:
            raise _advice_error(err, n_components) from err
        except ValueError as err:
            if "ill-defined empirical covariance" in str(err) or "covariance" in str(err):
                raise _advice_error(err, n_components) from err
            raise
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not gmm.converged_ and gmm.max_iter > 0:
        warnings.warn(
            f"EM did not converge: the mean log-likelihood still changed by more than "
            f"tol={gmm.tol} after max_iter={gmm.max_iter} iterations. The result is usable "
            "but may change with more iterations: increase max_iter or tol.",
            GMMConvergenceWarning,
            stacklevel=4,
        )
    return gmm


def _fit_mixture(X, params) -> GaussianMixture:
    """scikit-learn's fit, its E-step compiled and parallel on the numba backend."""
    if use_numba():
        from ._compiled_estep import fit_compiled

        return fit_compiled(X, params)
    return GaussianMixture(**params).fit(X)


def fit_on_pixels(
    data: PixelData, params: dict, *, max_samples: int = MAX_SAMPLES
) -> tuple[GaussianMixture, FitInfo]:
    """Fit scikit-learn's GaussianMixture on all valid pixels or a seeded subsample."""
    idx = subsample_rows(data.n_valid, max_samples, params.get("random_state"))
    if data.valid is None:
        X = data.features if idx is None else data.features[idx]
    else:
        rows = np.flatnonzero(data.valid)
        X = data.features[rows if idx is None else rows[idx]]
    X = np.asarray(X, dtype=np.float64)
    n_components = params["n_components"]
    if X.shape[0] < 2 or not has_distinct(X, n_components):
        # too few distinct values in the sample: count on all valid pixels for the message
        n_distinct = count_distinct(np.asarray(data.valid_features()))
        if n_distinct < n_components:
            check_n_components(n_components, n_distinct, _what(data))
    warn_if_reg_covar_dominates(X, params["reg_covar"], integer=data.is_integer)
    if X.shape[0] < 2:
        # scikit-learn needs two samples; one pixel is fitted by the weighted EM
        from ._em import fit_weighted_gmm

        gmm = run_em(lambda: fit_weighted_gmm(X, np.ones(1), **params), n_components)
    else:
        with single_threaded_blas():
            gmm = run_em(lambda: _fit_mixture(X, params), n_components)
    method = "all pixels" if idx is None else "subsample"
    return order_components(gmm), FitInfo(method, X.shape[0])


def fit_on_distinct(compressed, params: dict) -> tuple[GaussianMixture, FitInfo]:
    """Fit the exact weighted EM on the distinct values of an integer image."""
    from ._em import fit_weighted_gmm

    values, counts = compressed.values, compressed.counts
    what = "values" if values.shape[1] == 1 else "colours"
    check_n_components(params["n_components"], values.shape[0], what)
    warn_if_reg_covar_dominates(values, params["reg_covar"], integer=True)
    with single_threaded_blas():
        gmm = run_em(lambda: fit_weighted_gmm(values, counts, **params), params["n_components"])
    return order_components(gmm), FitInfo("exact (distinct values)", values.shape[0])


def _what(data: PixelData) -> str:
    return "values" if data.n_features == 1 else "colours"
