"""The noise study's reliability diagram, drawn headless (no Qt)."""

import numpy as np
import pytest

from napari_gmm._napari._reliability_plot import plot_reliability, pooled_reliability
from napari_gmm.core.analysis._calibration import reliability_curve


def _record(prob, correct, ece=0.1):
    return {"reliability": reliability_curve(prob, correct), "ece": ece}


def test_pooled_reliability_equals_the_curve_of_all_pixels():
    rng = np.random.default_rng(0)
    prob = [rng.uniform(0.34, 1, 500), rng.uniform(0.5, 1, 300)]
    correct = [rng.random(500) < p for p in (prob[0],)] + [rng.random(300) < 0.8]
    pooled = pooled_reliability([_record(p, c) for p, c in zip(prob, correct, strict=True)])
    whole = reliability_curve(np.concatenate(prob), np.concatenate(correct))
    for got, want in zip(pooled, whole, strict=True):
        np.testing.assert_allclose(got, want)


def test_plot_reliability_draws_one_curve_per_condition():
    rng = np.random.default_rng(1)
    prob = rng.uniform(0.5, 1, 400)
    plain = [_record(prob, rng.random(400) < prob, ece=0.02)]
    smooth = [_record(prob, np.ones(400, bool), ece=0.25)]
    ax = plot_reliability(plain, smooth)
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["calibrated", "no smoothing (ECE 0.020)", "smoothing (ECE 0.250)"]
    assert np.all(ax.lines[2].get_ydata() == 1.0)  # always right: accuracy 1 in every bin
    assert len(plot_reliability(plain).lines) == 2


def test_pooled_reliability_of_nothing_is_empty():
    conf, acc, counts = pooled_reliability([])
    assert conf.size == acc.size == counts.size == 0
    with pytest.raises(KeyError):
        pooled_reliability([{"ece": 0.1}])
