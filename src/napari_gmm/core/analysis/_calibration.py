"""Calibration of a segmentation's probabilities against ground truth.

A probability map is *calibrated* when, among the pixels given probability ~p for their
label, a fraction ~p is labelled correctly. Measured by the reliability curve and the
expected calibration error (ECE: the bin-size weighted mean gap between confidence and
accuracy over equal-width confidence bins; Naeini, Cooper & Hauskrecht, AAAI 2015; Guo et
al., ICML 2017), and whether the uncertainty flags the wrong pixels: the ROC AUC of
``1 - probability`` as a score for "this pixel is wrong" (1 = perfect ranking, 0.5 = chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from ._metrics import match_labels

#: Equal-width confidence bins of the reliability curve.
N_BINS = 15


@dataclass(frozen=True)
class Calibration:
    """Calibration of a probability map against a reference labelling.

    Attributes
    ----------
    ece : float
        Expected calibration error in [0, 1] (0 = calibrated).
    auc : float
        ROC AUC of the uncertainty ``1 - probability`` against the wrong pixels (NaN when
        every pixel is right or every pixel is wrong).
    confidence, accuracy : tuple of float
        Per non-empty bin: mean probability and fraction correct (the reliability curve).
    counts : tuple of int
        Pixels per non-empty bin.
    error_rate : float
        Fraction of wrong pixels.
    """

    ece: float
    auc: float
    confidence: tuple[float, ...]
    accuracy: tuple[float, ...]
    counts: tuple[int, ...]
    error_rate: float


def reliability_curve(probability, correct, *, n_bins=N_BINS):
    """Reliability curve over `n_bins` equal-width confidence bins in [0, 1].

    Returns
    -------
    confidence, accuracy : ndarray of float
        Mean probability and fraction correct of each non-empty bin.
    counts : ndarray of int
        Pixels in each non-empty bin.

    Examples
    --------
    >>> conf, acc, n = reliability_curve([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0], n_bins=10)
    >>> conf.round(2).tolist(), acc.tolist(), n.tolist()
    ([0.6, 0.9], [0.5, 1.0], [2, 2])
    """
    p = np.asarray(probability, dtype=np.float64).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if p.shape != ok.shape:
        raise ValueError(
            f"probability and correct must have the same number of pixels, got {p.size} and "
            f"{ok.size}."
        )
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be an int >= 1, got {n_bins!r}.")
    bins = np.minimum((np.clip(p, 0.0, 1.0) * n_bins).astype(np.intp), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    conf = np.bincount(bins, weights=p, minlength=n_bins)
    acc = np.bincount(bins, weights=ok, minlength=n_bins)
    keep = counts > 0
    return conf[keep] / counts[keep], acc[keep] / counts[keep], counts[keep]


def expected_calibration_error(probability, correct, *, n_bins=N_BINS) -> float:
    """Expected calibration error: sum over bins of ``n_b / n * |accuracy_b - confidence_b|``.

    Examples
    --------
    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0], n_bins=10)
    0.1
    """
    conf, acc, counts = reliability_curve(probability, correct, n_bins=n_bins)
    if counts.sum() == 0:
        raise ValueError("There are no pixels to measure the calibration on.")
    return round(float(np.dot(counts, np.abs(acc - conf)) / counts.sum()), 12)


def calibration(reference, labels, probability, *, ignore=0, n_bins=N_BINS) -> Calibration:
    """Calibration of a segmentation's probability map against a reference labelling.

    Labels are first matched to the reference classes (Hungarian matching, as in
    :func:`napari_gmm.compare_labels`); a pixel is correct when its matched label equals the
    reference label.

    Parameters
    ----------
    reference, labels : integer ndarray of the same shape
        Ground truth and segmentation labels.
    probability : ndarray of the same shape
        Probability of each pixel's label (``seg.probability``).
    ignore : int or None, default=0
        Label value left out (in either image), e.g. 0 for pixels that were not segmented.
    n_bins : int, default=15

    Returns
    -------
    Calibration

    Examples
    --------
    >>> truth = np.array([1, 1, 2, 2])
    >>> c = calibration(truth, np.array([2, 2, 1, 2]), np.array([0.9, 0.9, 0.6, 0.6]))
    >>> round(c.ece, 3), round(c.auc, 3), c.error_rate  # the wrong pixel ties a right one
    (0.1, 0.833, 0.25)
    """
    ref = np.asarray(reference).ravel()
    lab = np.asarray(labels).ravel()
    prob = np.asarray(probability, dtype=np.float64).ravel()
    if not ref.shape == lab.shape == prob.shape:
        raise ValueError(
            "reference, labels and probability must have the same shape, got "
            f"{np.shape(reference)}, {np.shape(labels)} and {np.shape(probability)}."
        )
    if ignore is not None:
        keep = (ref != ignore) & (lab != ignore)
        ref, lab, prob = ref[keep], lab[keep], prob[keep]
    mapping = match_labels(ref, lab)
    keys = np.array(sorted(mapping))
    matched = np.full(lab.shape, -1, dtype=np.int64)
    for key in keys:
        matched[lab == key] = mapping[int(key)]
    correct = matched == ref
    conf, acc, counts = reliability_curve(prob, correct, n_bins=n_bins)
    wrong = ~correct
    auc = float(roc_auc_score(wrong, 1.0 - prob)) if 0 < wrong.sum() < wrong.size else np.nan
    return Calibration(
        ece=expected_calibration_error(prob, correct, n_bins=n_bins),
        auc=auc,
        confidence=tuple(float(v) for v in conf),
        accuracy=tuple(float(v) for v in acc),
        counts=tuple(int(v) for v in counts),
        error_rate=float(wrong.mean()),
    )
