"""Unusual dtypes converted once at the boundary; clear dask messages (issue 20, 11, 17)."""

import warnings

import numpy as np
import pytest

import napari_gmm as ng

da = pytest.importorskip("dask.array")

DTYPES = [">f4", ">f8", ">f2", "<f2", ">u2", ">i2", np.longdouble]


@pytest.fixture(scope="module")
def base():
    rng = np.random.default_rng(0)
    img = rng.normal(100, 10, (40, 40)) + 80 * (np.arange(40)[None, :] > 20)
    return np.clip(img, 0, 1000).round()


@pytest.fixture(scope="module")
def expected(base):
    plain = ng.segment(base, 2, random_state=0).labels
    smooth = ng.segment(base, 2, smoothing=1.0, random_state=0).labels
    return plain, smooth


def _paths(img, model):
    lazy = da.from_array(img, chunks=20)
    return {
        "plain": lambda: ng.segment(img, 2, random_state=0),
        "smoothing": lambda: ng.segment(img, 2, smoothing=1.0, random_state=0),
        "no integer path": lambda: ng.segment(img, 2, max_distinct=0, smoothing=1.0,
                                              random_state=0),
        "bias": lambda: ng.segment(img, 2, bias_field="polynomial", random_state=0),
        "apply": lambda: ng.apply_model(model, img, smoothing=1.0),
        "dask": lambda: ng.segment(lazy, 2, random_state=0),
        "dask smoothing": lambda: ng.segment(lazy, 2, smoothing=1.0, random_state=0),
        "dask apply": lambda: ng.apply_model(model, lazy, smoothing=1.0),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_path_takes_unusual_dtypes(base, expected, dtype):
    img = base.astype(dtype)
    assert img.dtype.str.startswith(">") or img.dtype.itemsize in (2, 16)
    model = ng.segment(base, 2, random_state=0).model
    plain, smooth = expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, run in _paths(img, model).items():
            labels = np.asarray(run().labels)
            truth = smooth if "smoothing" in name or "apply" in name else plain
            agree = np.mean(labels == truth)
            assert agree > 0.99, (name, agree)
    assert img.dtype == np.dtype(dtype)  # the input is not converted in place


def test_longdouble_beyond_float64_is_refused():
    img = np.full((8, 8), 1.0, dtype=np.longdouble)
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("longdouble is float64 on this platform")
    img[0, 0] = np.longdouble(10) ** 400
    with pytest.raises(ValueError, match="beyond float64's range"):
        ng.segment(img, 2)


@pytest.mark.parametrize(("shape", "chunks"), [((1, 48, 48), (1, 16, 16)),
                                                ((3, 48, 48), (1, 16, 16)),
                                                ((48, 5), (16, 5))])
def test_dask_smoothing_on_axes_shorter_than_the_halo(shape, chunks):
    rng = np.random.default_rng(1)
    img = rng.normal(0, 1, shape)
    img[..., : shape[-1] // 2] += 4
    eager = ng.segment(img, 2, smoothing=1.0, random_state=0)
    lazy = ng.segment(da.from_array(img, chunks=chunks), 2, smoothing=1.0, random_state=0)
    assert np.mean(np.asarray(lazy.labels) == eager.labels) > 0.99


def test_dask_unknown_chunk_sizes_is_a_clear_error():
    x = da.from_array(np.arange(64.0).reshape(8, 8), chunks=4)
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        ng.segment(x[x[:, 0] > 10], 2)


def test_dask_values_near_1e300_is_a_clear_error():
    rng = np.random.default_rng(2)
    img = rng.normal(0, 1, (32, 32)) * 1e300
    with pytest.raises(ValueError, match="Rescale the image first"):
        ng.segment(da.from_array(img, chunks=16), 2)
