"""Empty classes are avoided where the rounds cause them, and named when left (item 8)."""

import warnings

import numpy as np
import pytest
from skimage import data

import napari_gmm as ng
from napari_gmm.core.fit._empty import collapsing, empty_classes


@pytest.fixture(scope="module")
def coins():
    return data.coins()


def test_empty_class_is_named_by_a_warning(coins):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = ng.segment(coins, 3, bias_field="polynomial", smoothing=1.0, random_state=0)
    empty = empty_classes(seg.labels, 3)
    named = [w for w in caught if issubclass(w.category, ng.EmptyClassWarning)]
    if empty:  # the segmentation has fewer classes than asked: it must say which
        assert len(named) == 1
        for k in empty:
            assert f"{k}" in str(named[0].message)
    else:
        assert named == []


def test_no_warning_when_every_class_has_pixels(coins):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ng.EmptyClassWarning)
        seg = ng.segment(coins, 3, random_state=0)
    assert empty_classes(seg.labels, 3) == []


def test_warning_names_every_empty_class():
    labels = np.array([[1, 1, 3], [3, 3, 1]])
    with pytest.warns(ng.EmptyClassWarning, match="Classes 2, 4 of 4 have no pixel"):
        from napari_gmm.core.fit._empty import warn_empty_classes

        assert warn_empty_classes(labels, 4) == [2, 4]


def test_collapse_detection():
    assert list(collapsing([0.5, 0.13, 0.37], [0.52, 0.017, 0.46])) == [1]
    assert list(collapsing([0.5, 0.01, 0.49], [0.5, 0.009, 0.49])) == []  # small, stable
    assert list(collapsing([0.5, 0.3, 0.2], [0.6, 0.25, 0.15])) == []


def test_smoothing_rounds_stop_before_emptying_a_class(coins, monkeypatch):
    """The HMRF rounds of the bias field never hand on a mixture with a collapsed class."""
    from napari_gmm.core.bias import _fit as _bias_fit

    seen = []
    real = _bias_fit.iter_smoothed_field

    def spy(gmm, *args, **kwargs):
        start = gmm.weights_.copy()
        out = yield from real(gmm, *args, **kwargs)
        seen.append((start, out[0].weights_.copy()))
        return out

    monkeypatch.setattr(_bias_fit, "iter_smoothed_field", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ng.segment(coins, 3, bias_field="polynomial", smoothing=1.0, random_state=0)
    (start, end), = seen
    assert collapsing(start, end).size == 0
    assert end.min() > 0.01


def test_cli_and_api_export():
    assert "EmptyClassWarning" in ng.__all__
    assert issubclass(ng.EmptyClassWarning, UserWarning)
