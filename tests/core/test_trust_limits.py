"""Upper bounds of options and of smoothing's dimensions (issue 20, item 15)."""

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core._validation import MAX_SMOOTH_NDIM


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return np.where(np.arange(400).reshape(20, 20) % 20 < 10, 10.0, 60.0) + rng.normal(
        0, 2, (20, 20))


@pytest.mark.parametrize(("option", "value"), [("max_iter", 10**9), ("n_init", 10**6)])
def test_absurd_iteration_counts_are_refused(image, option, value):
    with pytest.raises(ValueError, match=rf"{option} must be an int in \[1, "):
        ng.segment(image, 2, **{option: value})
    with pytest.raises(ValueError, match=option):
        ng.select_n_components(image, [2, 3], **{option: value})


def test_too_many_noise_levels_are_refused_without_listing_them(image):
    with pytest.raises(ValueError, match="more than 1000 noise levels"):
        ng.noise_sweep(image, range(10**12), n_components=2)
    with pytest.raises(ValueError, match="more than 1000 noise levels"):
        ng.noise_sweep(image, (s for s in iter(int, 1)), n_components=2)  # endless


def test_too_many_candidates_are_refused_without_listing_them(image):
    with pytest.raises(ValueError, match="candidates has more than"):
        ng.select_n_components(image, range(1, 10**12))


def test_smoothing_on_absurd_ndim_is_a_clear_error():
    img = np.zeros((2,) * 14)
    img[(1,) * 14] = 1
    img.flat[::3] = 5
    with pytest.raises(ValueError, match=f"at most {MAX_SMOOTH_NDIM} spatial axes"):
        ng.segment(img, 2, smoothing=1.0)
    seg = ng.segment(img, 2)  # without smoothing the 14-D array is fine
    with pytest.raises(ValueError, match="at most 8 spatial axes"):
        ng.apply_model(seg.model, img, smoothing=1.0)
    big = np.zeros((1,) * 31 + (4,))
    big.flat[:2] = 3
    with pytest.raises(ValueError, match="at most 8 spatial axes"):
        ng.segment(big, 2, smoothing=1.0)


def test_smoothing_on_absurd_ndim_dask():
    da = pytest.importorskip("dask.array")
    img = np.arange(2**10, dtype=np.float64).reshape((2,) * 10) % 7
    with pytest.raises(ValueError, match="at most 8 spatial axes"):
        ng.segment(da.from_array(img), 2, smoothing=1.0)


def test_eight_axes_still_smooth():
    rng = np.random.default_rng(0)
    img = rng.normal(0, 1, (3,) * 8) + 6 * (np.indices((3,) * 8)[0] > 0)
    seg = ng.segment(img, 2, smoothing=0.5, random_state=0)
    assert set(np.unique(seg.labels)) == {1, 2}
