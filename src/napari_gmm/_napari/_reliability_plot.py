"""Reliability diagram of the noise study: accuracy against confidence per condition.

Pure matplotlib, like :mod:`._plots`: draws into a given axes or a new headless figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._plots import CONDITION_COLOURS

#: Equal-width bins of the core's reliability curves (``noise_sweep`` records); a test
#: checks that pooling with it reproduces the core's curve of all pixels.
N_BINS = 15


def pooled_reliability(records, n_bins=N_BINS):
    """Reliability curve pooled over the records of one condition (all noise levels).

    Each record's ``reliability`` holds the mean confidence, accuracy and pixel count of
    its non-empty equal-width bins (:func:`~napari_gmm.core.analysis._calibration.
    reliability_curve`); a bin's mean confidence lies inside the bin, so the bins of all
    records are matched by ``floor(confidence * n_bins)`` and pooled by pixel count.

    Returns
    -------
    confidence, accuracy : ndarray of float
        Per non-empty pooled bin.
    counts : ndarray of int
    """
    conf = np.zeros(n_bins)
    acc = np.zeros(n_bins)
    counts = np.zeros(n_bins)
    for record in records:
        c, a, n = (np.asarray(v, dtype=np.float64) for v in record["reliability"])
        bins = np.minimum((c * n_bins).astype(np.intp), n_bins - 1)
        np.add.at(conf, bins, c * n)
        np.add.at(acc, bins, a * n)
        np.add.at(counts, bins, n)
    keep = counts > 0
    return conf[keep] / counts[keep], acc[keep] / counts[keep], counts[keep].astype(np.int64)


def plot_reliability(records_plain, records_smooth=None, ax=None):
    """Reliability diagram: fraction correct against probability, one line per condition.

    Parameters
    ----------
    records_plain, records_smooth : list of dict
        Records of :func:`napari_gmm.noise_sweep` (key ``reliability``) without and with
        smoothing (None: only the first), pooled over the noise levels.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The diagonal (perfect calibration), then one line per condition, labelled with its
        mean ECE.
    """
    if ax is None:
        ax = Figure(figsize=(3.4, 3.2), layout="constrained").add_subplot()
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="calibrated")
    conditions = [("no smoothing", records_plain)]
    if records_smooth:
        conditions.append(("smoothing", records_smooth))
    for (name, records), colour in zip(conditions, CONDITION_COLOURS, strict=False):
        if not records:
            continue
        conf, acc, _ = pooled_reliability(records)
        ece = float(np.mean([r["ece"] for r in records]))
        ax.plot(conf, acc, "-o", color=colour, ms=3, label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("probability of the label")
    ax.set_ylabel("fraction correct", fontsize="small")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    return ax
