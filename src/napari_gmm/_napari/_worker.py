"""The background job of the dock widget: optional noise, then the segmentation.

Pure Python (no napari, no Qt): the widget runs :func:`segment_job` in a napari generator
worker, which reports every yielded ``(fraction, stage)`` step and can stop at each of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..core._fit import GMMConvergenceWarning
from ..core._noise import add_gaussian_noise
from ..core._result import Segmentation
from ..core._segment import iter_segment
from ._lazy_layers import is_multiscale, iter_segment_multiscale, posterior_stack, uncertainty_map

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
    """

    segmentation: Segmentation | None = None
    noisy: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    posteriors: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def segment_job(
    image,
    *,
    options: dict,
    noise_sigma: float = 0.0,
    seed: int | None = None,
    uncertainty: str | None = None,
    posteriors: bool = False,
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
        One of :data:`napari_gmm.core._result.UNCERTAINTY_KINDS`, or None for no map.
    posteriors : bool, default False
        Also return the per-class posterior maps.

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
        steps = (iter_segment_multiscale if multiscale else iter_segment)(
            image if noisy is None else noisy,
            **options,
            random_state=seed,
            return_posteriors=need_posteriors,
        )
        while True:
            # one bounded step at a time, so that the warnings of this thread are kept
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                try:
                    step = next(steps)
                except StopIteration as stop:
                    seg: Segmentation = stop.value
                    break
                finally:
                    caught.extend(record)
            yield step
        umap = uncertainty_map(seg, uncertainty)  # lazy for dask layers
        post = posterior_stack(seg) if posteriors else None
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
        segmentation=seg, noisy=noisy, uncertainty=umap, posteriors=post, warnings=messages
    )
