"""The jobs of the *Model diagnostics* dock: choose K and fit; k-means; log density.

Pure Python (no napari, no Qt): :func:`diagnostics_job` runs in a worker thread; the
actions compute arrays that the widget puts into layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core import (
    compare_labels,
    iter_segment,
    iter_select_n_components,
    mixture_log_density,
    pixel_features,
    rescale_steps,
)
from ._worker import USER_ERRORS, JobError, JobResult

if TYPE_CHECKING:
    from ..core import Segmentation, Selection

#: Largest number of pixels k-means is fitted on (all pixels are then predicted).
KMEANS_MAX_SAMPLES = 200_000
#: Largest number of pixels kept for the components plot.
PLOT_SAMPLES = 50_000


@dataclass(eq=False)
class Fit:
    """The last diagnostics run: what was fitted and how."""

    selection: Selection
    segmentation: Segmentation
    features: np.ndarray
    data: np.ndarray
    source: str
    layer: object
    channel_axis: int | None
    scale: tuple
    translate: tuple
    seed: int
    tol: float


def diagnostics_job(image, candidates, *, criterion, covariance_type, seed, channel_axis):
    """Generator: choose K with :func:`select_n_components`, then segment with it.

    Yields ``(fraction, stage)`` (the worker can stop at each: between candidates, and
    within the final fit). Returns a :class:`._worker.JobResult` with ``selection``,
    ``segmentation`` and ``features`` (a sample of pixel values), or with ``error`` for
    bad input or options.
    """
    common = {"channel_axis": channel_axis, "covariance_type": covariance_type,
              "random_state": seed}
    try:
        steps = iter_select_n_components(image, candidates, criterion=criterion, **common)
        selection = yield from rescale_steps(steps, 0.0, 0.8)
        yield 0.8, f"fitting K={selection.best}"
        steps = iter_segment(image, selection.best, **common)
        seg = yield from rescale_steps(steps, 0.8, 0.2, lambda _stage: None)
        features = pixel_features(image, channel_axis)
        if features.shape[0] > PLOT_SAMPLES:
            rng = np.random.default_rng(0)
            features = features[rng.choice(features.shape[0], PLOT_SAMPLES, replace=False)]
    except USER_ERRORS as err:
        return JobResult(error=str(err) or type(err).__name__)
    except RuntimeError as err:
        raise JobError(f"{type(err).__name__}: {err}") from err
    return JobResult(selection=selection, segmentation=seg, features=features)


def kmeans_labels(fit: Fit) -> tuple[np.ndarray, float]:
    """k-means labels (same K, ordered by centroid intensity) and their ARI against the GMM.

    Fitted on at most :data:`KMEANS_MAX_SAMPLES` pixels, then every pixel is predicted.
    """
    from sklearn.cluster import KMeans

    features = pixel_features(fit.data, fit.channel_axis)
    valid = np.all(np.isfinite(features), axis=1)
    points = features[valid]
    rng = np.random.default_rng(fit.seed)
    sample = points
    if points.shape[0] > KMEANS_MAX_SAMPLES:
        sample = points[rng.choice(points.shape[0], KMEANS_MAX_SAMPLES, replace=False)]
    k = fit.segmentation.n_components
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=fit.seed).fit(sample)
    order = np.argsort(np.argsort(kmeans.cluster_centers_.sum(axis=1)))
    flat = np.zeros(features.shape[0], dtype=np.uint8)
    flat[valid] = order[kmeans.predict(points)] + 1
    labels = flat.reshape(fit.segmentation.labels.shape)
    return labels, compare_labels(fit.segmentation.labels, labels, ignore=0).ari


def log_density(fit: Fit) -> tuple[np.ndarray, tuple[float, float]]:
    """The fitted mixture's log density at every pixel (float32) and contrast limits."""
    model = fit.segmentation.model
    density = mixture_log_density(fit.data, model.weights_, model.means_,
                                  model.covariances_, channel_axis=fit.channel_axis,
                                  covariance_type=model.covariance_type)
    finite = density[np.isfinite(density)]
    limits = (float(np.percentile(finite, 0.5)), float(finite.max())) if finite.size else (0, 1)
    if limits[0] >= limits[1]:
        limits = (limits[0] - 1.0, limits[1])
    return density.astype(np.float32), limits
