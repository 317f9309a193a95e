"""Generator forms of the public functions give the same results as the functions."""

import numpy as np
import pytest

from napari_gmm.core import (
    FIT_VOXELS,
    apply_model,
    iter_apply_model,
    iter_segment_multiscale,
    iter_select_n_components,
    segment,
    select_n_components,
)
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.progress import run


@pytest.fixture(scope="module")
def image():
    return make_class_image((48, 40), n_classes=3, sigma=8, seed=1)[0]


def test_iter_select_n_components_matches_the_function(image):
    steps = []
    sel = run(iter_select_n_components(image, range(1, 5), random_state=0),
              lambda f, s: steps.append((f, s)))
    ref = select_n_components(image, range(1, 5), random_state=0)
    assert (sel.best, sel.candidates, sel.method) == (ref.best, ref.candidates, ref.method)
    assert np.allclose(sel.bic, ref.bic)
    assert steps == [(k / 4, f"fitted {k} of 4 candidate K") for k in range(1, 5)]


def test_select_n_components_progress_counts(image):
    calls = []
    select_n_components(image, [1, 2, 3], progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_iter_apply_model_lazy_matches_apply_model(image):
    da = pytest.importorskip("dask.array")
    model = segment(image, 3, random_state=0).model
    lazy = da.from_array(image, chunks=16)
    steps = []
    out = run(iter_apply_model(model, lazy), lambda f, s: steps.append(s))
    ref = apply_model(model, lazy)
    assert np.array_equal(np.asarray(out.labels), np.asarray(ref.labels))
    assert steps == ["reading pixels", "scoring", "done"]


def test_iter_segment_multiscale_predicts_every_level(image):
    pytest.importorskip("dask.array")
    levels = [image, image[::2, ::2]]
    steps = []
    seg = run(iter_segment_multiscale(levels, 3, random_state=0, scale=(2.0, 2.0)),
              lambda f, s: steps.append((f, s)))
    assert len(seg.labels) == len(seg.probability) == 2
    for level, labels in zip(levels, seg.labels, strict=True):
        assert np.array_equal(np.asarray(labels), apply_model(seg.model, level).labels)
    assert steps[-1] == (1.0, "done")
    assert all(s.endswith("(level 0)") for _, s in steps[:-1])
    assert all(0.0 <= f <= 0.9 for f, _ in steps[:-1])
    assert FIT_VOXELS == 1 << 24


def test_multiscale_auto_smoothing_is_chosen_on_the_fitted_level(image):
    levels = [image, image[::2, ::2]]
    seg = run(iter_segment_multiscale(levels, 3, random_state=0, smoothing="auto"),
              report=None)
    pytest.importorskip("dask.array")
    fitted = segment(image, 3, random_state=0, smoothing="auto")  # the level fitted on
    assert seg.smoothing == fitted.smoothing > 0
    np.testing.assert_array_equal(np.asarray(seg.labels[0]), fitted.labels)
    assert np.asarray(seg.labels[1]).shape == levels[1].shape
