"""Classes that end up with no pixel: a named warning, and the guard of the HMRF rounds.

A Potts prior favours large regions: re-estimating the mixture under it (HMRF-EM) can
shrink a class of thin or scattered regions (e.g. the rims of coins) round after round
until its weight is zero, and the segmentation then has K-1 classes while it reports K.
The rounds that would empty a class are stopped (:func:`collapsing`), and a class that is
still empty at the end is reported by :class:`EmptyClassWarning` naming it.
"""

from __future__ import annotations

import warnings

import numpy as np

#: A class whose weight falls below this fraction of its weight at the start of the
#: smoothing rounds (and below :data:`MIN_WEIGHT`) is collapsing: the rounds stop.
COLLAPSE_RATIO = 0.25
#: Weights below this are small enough for a class to count as collapsing.
MIN_WEIGHT = 0.02


class EmptyClassWarning(UserWarning):
    """A class of the segmentation has no pixel: it was fitted but no pixel is labelled
    with it (its label value is named). Segment with fewer classes, less smoothing, or
    without a bias field; the legend marks the class as empty."""


def collapsing(start_weights, weights) -> np.ndarray:
    """Indices of the classes whose weight collapsed since `start_weights`."""
    start = np.asarray(start_weights, dtype=np.float64)
    now = np.asarray(weights, dtype=np.float64)
    return np.flatnonzero((now < MIN_WEIGHT) & (now < COLLAPSE_RATIO * start))


def empty_classes(labels, n_components: int) -> list[int]:
    """Label values 1..K that no pixel has."""
    from ._label_counts import label_counts

    counts = label_counts(labels, n_components + 1)
    return [k for k in range(1, n_components + 1) if counts[k] == 0]


def warn_empty_classes(labels, n_components: int, *, stacklevel: int = 2) -> list[int]:
    """Warn (:class:`EmptyClassWarning`) about the classes no pixel has; return them."""
    empty = empty_classes(labels, n_components)
    if empty:
        names = ", ".join(str(k) for k in empty)
        warnings.warn(
            f"Class{'es' if len(empty) > 1 else ''} {names} of {n_components} ha"
            f"{'ve' if len(empty) > 1 else 's'} no pixel: the segmentation has only "
            f"{n_components - len(empty)} non-empty classes. Segment with fewer classes "
            "(n_components), less smoothing, or without the bias field.",
            EmptyClassWarning,
            stacklevel=stacklevel + 1,
        )
    return empty
