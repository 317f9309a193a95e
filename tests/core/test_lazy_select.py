"""n_components='auto' and select_n_components on dask arrays against the in-memory path."""

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image, make_shading


@pytest.mark.parametrize(("dtype", "k"), [("uint8", 3), ("uint16", 4)])
def test_integer_auto_is_the_in_memory_selection(dtype, k):
    image = make_class_image((20, 48, 40), k, sigma=12, seed=1, dtype=dtype)[0]
    ref = ng.segment(image, "auto", random_state=0)
    seg = ng.segment(da.from_array(image, chunks=(10, 24, 20)), "auto", random_state=0)
    assert seg.n_components == ref.n_components == k
    assert seg.selection.method == ref.selection.method == "exact (distinct values)"
    np.testing.assert_allclose(seg.selection.icl, ref.selection.icl, rtol=1e-10)
    np.testing.assert_array_equal(seg.labels.compute(), ref.labels)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_float_auto_on_a_sample_picks_the_in_memory_k(k):
    image = make_class_image((24, 64, 64), k, sigma=12, seed=2, dtype="float32")[0]
    ref = ng.segment(image, "auto", random_state=0, max_samples=20_000)
    lazy = da.from_array(image, chunks=(12, 32, 32))
    seg = ng.segment(lazy, "auto", random_state=0, max_samples=20_000)
    assert seg.n_components == ref.n_components == k
    assert seg.selection.method == "subsample" and seg.selection.n_samples < image.size
    sel = ng.select_n_components(lazy, range(1, 7), criterion="bic", random_state=0,
                                 max_samples=20_000)
    assert sel.best == ng.select_n_components(image, range(1, 7), random_state=0).best


def test_auto_with_a_bias_field_chooses_on_the_corrected_image():
    image = make_class_image((160, 160), 3, sigma=8, seed=1, dtype="float32")[0]
    shaded = (image * make_shading(image.shape, seed=1)).astype(np.float32)
    ref = ng.segment(shaded, "auto", bias_field="polynomial", random_state=0)
    seg = ng.segment(da.from_array(shaded, chunks=64), "auto", bias_field="polynomial",
                     random_state=0)
    assert seg.n_components == ref.n_components == 3
    assert (seg.labels.compute() == ref.labels).mean() >= 0.99


def test_all_non_finite_dask_image_is_reported():
    with pytest.raises(ValueError, match="non-finite"):
        ng.select_n_components(da.full((8, 8), np.nan, chunks=4), range(1, 3))
