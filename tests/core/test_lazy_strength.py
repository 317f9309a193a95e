"""smoothing='auto' and 'held-out' on dask arrays: the strength the numpy array gets, in
core and on the halo blocks (chosen on the same central blocks, read into memory)."""

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core._features import pixel_data
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy._fit import lazy_pixels
from napari_gmm.core.lazy._strength import central_pixels
from napari_gmm.core.potts import _auto_smoothing, _beta_cv

da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def image():
    return make_class_image((16, 64, 64), 3, sigma=40, dtype="uint16", seed=3)[0]


@pytest.mark.parametrize("smoothing", ["auto", "held-out"])
def test_in_core_dask_image_gets_the_in_memory_strength(image, smoothing):
    memory = ng.segment(image, 3, smoothing=smoothing, random_state=0)
    lazy = ng.segment(da.from_array(image, chunks=(8, 32, 32)), 3, smoothing=smoothing,
                      random_state=0)
    assert isinstance(lazy.labels, da.Array)
    assert lazy.smoothing == memory.smoothing > 0
    np.testing.assert_array_equal(lazy.labels.compute(), memory.labels)


@pytest.mark.parametrize("smoothing", ["auto", "held-out"])
def test_halo_blocks_choose_on_the_central_blocks(image, smoothing, halo_blocks, monkeypatch):
    # central blocks smaller than the image: both paths choose on crops of it
    monkeypatch.setattr(_auto_smoothing, "MAX_PIXELS", 20000)
    monkeypatch.setattr(_beta_cv, "MAX_PIXELS", 8000)
    memory = ng.segment(image, 3, smoothing=smoothing, random_state=0)
    lazy = ng.segment(da.from_array(image, chunks=(8, 32, 32)), 3, smoothing=smoothing,
                      random_state=0)
    assert lazy.smoothing == memory.smoothing > 0
    assert np.mean(lazy.labels.compute() == memory.labels) >= 0.999


def test_central_pixels_are_the_in_memory_crop():
    image, _ = make_class_image((9, 30, 41), 2, sigma=30, dtype="float32", seed=2)
    image = image.copy()
    image.flat[::17] = np.nan
    lazy = lazy_pixels(da.from_array(image, chunks=(4, 16, 16)))
    for size in (500, 3000, 10**6):
        got = central_pixels(lazy, size)
        want = _auto_smoothing.central_crop(pixel_data(image), size)
        assert got.spatial_shape == want.spatial_shape and got.n_valid == want.n_valid
        np.testing.assert_array_equal(got.features, want.features)
        np.testing.assert_array_equal(got.valid, want.valid)


def test_auto_on_halo_blocks_of_a_float_image_with_nan(halo_blocks):
    image, truth = make_class_image((12, 48, 48), 3, sigma=40, dtype="float32", seed=5)
    image = image.copy()
    image.flat[::29] = np.nan
    seg = ng.segment(da.from_array(image, chunks=(6, 24, 24)), 3, smoothing="auto",
                     random_state=0)
    labels = seg.labels.compute()
    assert 0 < seg.smoothing <= _auto_smoothing.MAX_SMOOTHING
    assert np.all(labels[np.isnan(image)] == 0)
    plain = ng.segment(image, 3, random_state=0).labels
    ok = ~np.isnan(image)
    assert np.mean(labels[ok] == truth[ok]) > np.mean(plain[ok] == truth[ok]) + 0.02


@pytest.mark.parametrize("smoothing", ["auto", "held-out"])
def test_apply_model_on_halo_blocks_chooses_as_in_memory(image, smoothing, halo_blocks,
                                                         monkeypatch):
    monkeypatch.setattr(_auto_smoothing, "MAX_PIXELS", 20000)
    monkeypatch.setattr(_beta_cv, "MAX_PIXELS", 8000)
    model = ng.segment(image, 3, random_state=0).model
    memory = ng.apply_model(model, image, smoothing=smoothing)
    lazy = ng.apply_model(model, da.from_array(image, chunks=(8, 32, 32)), smoothing=smoothing)
    assert lazy.smoothing == memory.smoothing > 0
    assert np.mean(lazy.labels.compute() == memory.labels) >= 0.999


@pytest.mark.parametrize("apply", [False, True])
def test_progress_stays_monotonic(image, halo_blocks, apply):
    lazy = da.from_array(image, chunks=(8, 32, 32))
    fractions = []

    def report(fraction, stage):
        fractions.append(fraction)

    if apply:
        model = ng.segment(image, 3, random_state=0).model
        ng.apply_model(model, lazy, smoothing="auto", progress=report)
    else:
        ng.segment(lazy, 3, smoothing="auto", random_state=0, progress=report)
    assert fractions and fractions == sorted(fractions), fractions
