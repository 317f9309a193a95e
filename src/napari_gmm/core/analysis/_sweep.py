"""Noise study: segmentation quality as a function of added Gaussian noise."""

from __future__ import annotations

import itertools

import numpy as np

from .._segment import segment
from .._validation import MAX_SWEEP_LEVELS, UNSET, resolve_channel_axis
from ._calibration import calibration
from ._metrics import compare_labels
from ._noise import add_gaussian_noise


def _check_sigmas(sigmas) -> list:
    too_many = ValueError(
        f"sigmas has more than {MAX_SWEEP_LEVELS} noise levels; each is a full "
        "segmentation. Give fewer levels, e.g. np.linspace(0, 50, 11)."
    )
    if hasattr(sigmas, "__len__") and not isinstance(sigmas, np.ndarray | str) and len(
        sigmas
    ) > MAX_SWEEP_LEVELS:
        raise too_many
    try:
        values = list(itertools.islice(sigmas, MAX_SWEEP_LEVELS + 1))
    except TypeError:
        values = [sigmas]
    if len(values) > MAX_SWEEP_LEVELS:
        raise too_many
    if not values:
        raise ValueError("sigmas is empty; give at least one noise level, e.g. [0, 10, 20].")
    return values


def noise_sweep(
    image,
    sigmas,
    *,
    n_components,
    seed=None,
    reference=None,
    progress=None,
    **segment_kwargs,
) -> list[dict]:
    """Segment an image after adding Gaussian noise of each standard deviation in `sigmas`.

    Parameters
    ----------
    image : ndarray
        The clean image (gray or multichannel; pass ``channel_axis`` for the latter).
    sigmas : sequence of float (or of per-channel sequences)
        Noise standard deviations in the image's intensity units (0 = the clean image).
    n_components : int
        Number of classes.
    seed : int or None, default=None
        Seeds the noise (one generator drawn in order of `sigmas`) and, unless
        ``random_state`` is given, the segmentation: the same seed gives the same records.
    reference : integer ndarray or None, default=None
        Ground-truth labels (spatial shape). Without it, quality is measured against the
        segmentation of the clean image with the same options.
    progress : callable or None, default=None
        Called as ``progress(done, total)`` after each noise level.
    **segment_kwargs
        Passed to :func:`napari_gmm.segment` (e.g. ``channel_axis``, ``smoothing``,
        ``covariance_type``).

    Returns
    -------
    list of dict
        One record per sigma with ``sigma``, ``ari``, ``dice`` (mean over classes after
        Hungarian matching), ``dice_per_class``, ``accuracy`` (fraction of pixels whose
        matched label equals the reference's), ``against`` ('reference' or 'clean
        segmentation'), ``ece`` (expected calibration error of the probability map) and
        ``uncertainty_auc`` (ROC AUC of ``1 - probability`` against the wrong pixels; NaN
        when none is wrong) from :func:`napari_gmm.core.analysis._calibration.calibration`,
        with the reliability curve as ``reliability`` (``(confidence, accuracy, counts)``),
        ``converged``, ``n_iter``, ``log_likelihood``, ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_gmm.core.analysis._synthetic import make_class_image
    >>> image, truth = make_class_image((64, 64), 2, gap=80, sigma=4, seed=0)
    >>> records = noise_sweep(image, [0, 20], n_components=2, seed=0, reference=truth)
    >>> [r["sigma"] for r in records], records[0]["accuracy"] > 0.99
    ([0, 20], True)
    """
    sigmas = _check_sigmas(sigmas)
    axis = resolve_channel_axis(
        np.shape(image), segment_kwargs.get("channel_axis", UNSET),
        segment_kwargs.get("time_axis"),
    )
    segment_kwargs["channel_axis"] = axis
    segment_kwargs.setdefault("random_state", seed)
    rng = np.random.default_rng(seed)
    if reference is None:
        reference = segment(image, n_components, **segment_kwargs).labels
        against = "clean segmentation"
    else:
        against = "reference"
    records = []
    for done, sigma in enumerate(sigmas, start=1):
        noisy = add_gaussian_noise(image, sigma, seed=rng, channel_axis=axis)
        seg = segment(noisy, n_components, **segment_kwargs)
        cmp = compare_labels(reference, seg.labels, ignore=0)
        cal = calibration(reference, seg.labels, seg.probability, ignore=0)
        records.append(
            {
                "sigma": sigma,
                "ari": cmp.ari,
                "dice": cmp.mean_dice,
                "dice_per_class": cmp.dice,
                "accuracy": cmp.accuracy,
                "against": against,
                "ece": cal.ece,
                "uncertainty_auc": cal.auc,
                "reliability": (cal.confidence, cal.accuracy, cal.counts),
                "converged": seg.converged,
                "n_iter": seg.n_iter,
                "log_likelihood": seg.log_likelihood,
                "seconds": seg.elapsed,
            }
        )
        if progress is not None:
            progress(done, len(sigmas))
    return records
