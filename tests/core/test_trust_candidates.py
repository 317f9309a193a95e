"""One default range of K everywhere; K=1 only when asked (issue 20, item 18)."""

import inspect

import numpy as np
import pytest
from skimage import data

import napari_gmm as ng
from napari_gmm.core._selection import AUTO_CANDIDATES


def test_default_range_is_the_auto_range():
    default = inspect.signature(ng.select_n_components).parameters["candidates"].default
    assert default is AUTO_CANDIDATES
    assert min(AUTO_CANDIDATES) == 2


@pytest.mark.parametrize("criterion", ["icl", "bic"])
def test_coins_default_never_chooses_one_class(criterion):
    coins = data.coins()
    sel = ng.select_n_components(coins, criterion=criterion, random_state=0)
    assert sel.candidates == tuple(AUTO_CANDIDATES)
    assert sel.best >= 2
    auto = ng.segment(coins, "auto", random_state=0)
    assert auto.selection.candidates == sel.candidates


def test_one_class_when_asked():
    rng = np.random.default_rng(0)
    flat = rng.normal(100, 5, (40, 40))
    sel = ng.select_n_components(flat, [1, 2, 3], criterion="bic", random_state=0)
    assert sel.candidates == (1, 2, 3) and sel.best == 1
