"""The background job of the dock widget: optional noise, then the segmentation.

Pure Python (no napari, no Qt): the widget runs :func:`segment_job` in a napari generator
worker, which reports every yielded ``(fraction, stage)`` step and can stop at each of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..core import (
    GMMConvergenceWarning,
    Segmentation,
    add_gaussian_noise,
    is_dask_array,
    iter_apply_model,
    iter_segment,
    iter_segment_multiscale,
    pixel_features,
    recording_warnings,
)
from ._lazy_layers import is_multiscale, posterior_stack, uncertainty_map

#: Errors caused by the input or the options; they are reported to the user, not raised.
USER_ERRORS = (ValueError, TypeError, MemoryError)


class JobError(Exception):
    """An unexpected error of the job (the original error is its ``__cause__``).

    Raised instead of a ``RuntimeError``, which Qt worker threads take for the sign of a
    deleted worker and drop without reporting it or finishing.
    """


@dataclass(frozen=True, eq=False)
class JobResult:
    """What :func:`segment_job` returns.

    Attributes
    ----------
    segmentation : Segmentation or None
        The result, or None when the job failed.
    noisy : ndarray or None
        The noisy copy of the image that was segmented (None without noise).
    uncertainty : ndarray of float32 or None
        The requested uncertainty map, spatial shape.
    posteriors : ndarray of float32, shape (K, *spatial), or None
        Per-class posterior maps, class ``k`` at index ``k - 1``.
    warnings : list of str
        Messages of warnings other than non-convergence (which ``segmentation.converged``
        reports).
    error : str or None
        Message of the error that stopped the job (bad input or options).
    class_means : ndarray of float, shape (K, C), or None
        Mean pixel value of each class ``k`` (row ``k - 1``) over the segmented image; NaN
        for an empty class.
    objects : Objects or None
        The objects of the chosen classes, when asked for (see ``segment_job(objects=)``).
    selection : Selection or None
        The choice of K (the diagnostics job).
    features : ndarray or None
        A sample of pixel values for the components plot (the diagnostics job).
    """

    segmentation: Segmentation | None = None
    noisy: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    posteriors: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    class_means: np.ndarray | None = None
    objects: object = None
    selection: object = None
    features: np.ndarray | None = None


def segment_job(
    image,
    *,
    options: dict,
    noise_sigma: float = 0.0,
    seed: int | None = None,
    uncertainty: str | None = None,
    posteriors: bool = False,
    model=None,
    objects: dict | None = None,
):
    """Generator: add noise (if asked), segment, derive the maps; yield progress.

    Parameters
    ----------
    image : array-like
        The image data, with the channel axis named by ``options["channel_axis"]`` if any.
    options : dict
        Keyword arguments of :func:`napari_gmm.segment` (``n_components``,
        ``channel_axis``, ``covariance_type``, ``tol``, ...); ``random_state`` is `seed`.
    noise_sigma : float, default 0
        Standard deviation of the Gaussian noise added first (0: none), seeded by `seed`.
    seed : int or None
        Seed of the noise and of the mixture initialisation.
    uncertainty : str or None
        One of :data:`napari_gmm.core.UNCERTAINTY_KINDS`, or None for no map.
    posteriors : bool, default False
        Also return the per-class posterior maps.
    model : GaussianMixture, path-like or None
        Apply this fitted model (:func:`napari_gmm.core.iter_apply_model` with ``channel_axis``,
        ``smoothing``, ``scale`` and ``time_axis`` of `options`) instead of fitting one.
    objects : dict or None
        Options of :func:`napari_gmm.label_objects` (``classes``, ``min_size``,
        ``fill_holes``) to also label objects, measured on the segmented image; a failure
        there (e.g. a class beyond K) keeps the segmentation and becomes a warning.

    Yields
    ------
    (fraction, stage) : (float, str)
        Progress in [0, 1] and what is being done.

    Returns
    -------
    JobResult
        Errors caused by the input or the options are returned in ``JobResult.error``
        instead of being raised, so that the caller can show them as messages.

    Raises
    ------
    JobError
        For an unexpected ``RuntimeError`` (other unexpected errors propagate as they are).
    """
    caught: list[warnings.WarningMessage] = []
    try:
        noisy = None
        multiscale = is_multiscale(image)  # a list of levels (see _lazy_layers.py)
        if noise_sigma > 0 and multiscale:
            raise ValueError("Noise cannot be added to a multiscale layer; set it to 0.")
        if noise_sigma > 0:
            yield 0.0, "adding noise"
            noisy = add_gaussian_noise(
                image, noise_sigma, seed=seed, channel_axis=options.get("channel_axis")
            )
        need_posteriors = posteriors or uncertainty in ("margin", "entropy")
        image = image if noisy is None else noisy
        if model is not None:
            if multiscale:
                raise ValueError(
                    "A model file cannot be applied to a multiscale layer yet; apply it to "
                    "one level added as its own layer."
                )
            steps = _apply_steps(model, image, options, need_posteriors)
        else:
            steps = (iter_segment_multiscale if multiscale else iter_segment)(
                image, **options, random_state=seed, return_posteriors=need_posteriors
            )
        seg: Segmentation = yield from recording_warnings(steps, caught)
        umap = uncertainty_map(seg, uncertainty)  # lazy for dask layers
        post = posterior_stack(seg) if posteriors else None
        if multiscale or is_dask_array(image):
            # lazy results: the legend shows the components' means (nothing is computed)
            means = np.asarray(seg.model.means_, dtype=float)
        else:  # the classes' means in the image the model describes (corrected, if so)
            shown = image if seg.corrected is None else seg.corrected
            means = class_means(shown, seg.labels, options.get("channel_axis"), seg.n_components)
        found = None
        if objects is not None:
            yield 1.0, "labelling objects"
            found = _objects(seg, image, options, objects, caught)
    except USER_ERRORS as err:
        return JobResult(error=str(err) or type(err).__name__)
    except RuntimeError as err:
        raise JobError(f"{type(err).__name__}: {err}") from err
    messages = list(
        dict.fromkeys(
            str(w.message) for w in caught if not issubclass(w.category, GMMConvergenceWarning)
        )
    )
    return JobResult(
        segmentation=seg, noisy=noisy, uncertainty=umap, posteriors=post, warnings=messages,
        class_means=means, objects=found,
    )


def _objects(seg, image, options, objects, caught):
    """The objects of `seg` measured on `image`, or None with the reason added to `caught`."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            return seg.objects(image=image, channel_axis=options.get("channel_axis"),
                               scale=options.get("scale"), **objects)
        except USER_ERRORS as err:
            warnings.warn(f"Objects were not labelled: {err}", UserWarning, stacklevel=1)
            return None
        finally:
            caught.extend(record)


def _apply_steps(model, image, options, posteriors):
    """:func:`napari_gmm.core.iter_apply_model` with the job's options (generator)."""
    yield 0.0, "applying the model"
    keys = ("channel_axis", "smoothing", "marginals", "scale", "time_axis", "bias_field",
            "bias_order")
    chosen = {k: options[k] for k in keys if k in options}
    return (yield from iter_apply_model(model, image, return_posteriors=posteriors, **chosen))


def class_means(image, labels, channel_axis, n_components: int) -> np.ndarray:
    """Mean pixel value of each class 1..K: a ``(K, C)`` array (NaN for an empty class)."""
    features = pixel_features(image, channel_axis)
    flat = np.asarray(labels).ravel()
    if flat.size != features.shape[0]:  # e.g. a layout the core changed: no legend values
        return np.full((n_components, features.shape[1]), np.nan)
    counts = np.bincount(flat, minlength=n_components + 1)[1 : n_components + 1]
    sums = np.stack(
        [np.bincount(flat, weights=np.nan_to_num(column), minlength=n_components + 1)
         for column in features.T], axis=1,
    )[1 : n_components + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]
