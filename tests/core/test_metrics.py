"""compare_labels / match_labels against scikit-learn and hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import napari_gmm as ng


def test_permuted_labels_are_a_perfect_match():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 4, size=(30, 30))
    permuted = np.choose(truth - 1, [3, 1, 2])
    c = ng.compare_labels(truth, permuted)
    assert c.ari == pytest.approx(1.0)
    assert c.accuracy == 1.0
    assert c.dice == {1: 1.0, 2: 1.0, 3: 1.0}
    assert c.mapping == {3: 1, 1: 2, 2: 3}


def test_against_sklearn_and_hand_dice():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, size=500)
    seg = truth.copy()
    flip = rng.random(500) < 0.2
    seg[flip] = rng.integers(0, 3, size=flip.sum())
    c = ng.compare_labels(truth, seg)
    assert c.ari == pytest.approx(adjusted_rand_score(truth, seg))
    for k in range(3):
        a, b = truth == k, seg == k
        assert c.dice[k] == pytest.approx(2 * (a & b).sum() / (a.sum() + b.sum()))
    assert c.accuracy == pytest.approx(np.mean(truth == seg))
    assert c.mean_dice == pytest.approx(np.mean(list(c.dice.values())))


def test_ignore_label():
    truth = np.array([0, 0, 1, 1, 2, 2])
    seg = np.array([1, 2, 1, 1, 2, 2])
    c = ng.compare_labels(truth, seg, ignore=0)
    assert c.n_pixels == 4 and c.accuracy == 1.0


def test_more_segment_classes_than_reference():
    truth = np.array([1, 1, 1, 1, 2, 2, 2, 2])
    seg = np.array([1, 1, 3, 3, 2, 2, 2, 2])
    c = ng.compare_labels(truth, seg)
    assert c.accuracy == pytest.approx(0.75)
    assert len(c.mapping) == 2


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        ng.compare_labels(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(TypeError, match="integer label image"):
        ng.compare_labels(np.zeros(3), np.zeros(3, int))
    with pytest.raises(ValueError, match="ignored label 0"):
        ng.compare_labels(np.zeros(3, int), np.zeros(3, int), ignore=0)
