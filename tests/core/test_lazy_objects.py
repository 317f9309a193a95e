"""label_objects on dask labels against the in-memory result (core/lazy/_objects.py)."""

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image


def _assert_same(lazy, ref):
    assert isinstance(lazy.labels, da.Array) and lazy.labels.dtype == np.int32
    np.testing.assert_array_equal(lazy.labels.compute(), ref.labels)
    assert list(lazy.table) == list(ref.table)
    for name, column in ref.table.items():
        assert lazy.table[name].dtype == column.dtype, name
        np.testing.assert_allclose(lazy.table[name], column, rtol=1e-12, err_msg=name)
    assert lazy.classes == ref.classes and lazy.scale == ref.scale


@pytest.mark.parametrize(
    ("shape", "chunks"), [((64, 70), (16, 20)), ((20, 40, 36), (7, 13, 10)), ((30, 30), 30)]
)
@pytest.mark.parametrize("connectivity", [None, 1])
def test_same_objects_and_table_as_in_memory(shape, chunks, connectivity):
    image = make_class_image(shape, 3, sigma=30, seed=1, dtype="uint8")[0]
    labels = ng.segment(image, 3, random_state=0).labels
    options = {"image": image, "min_size": 3, "connectivity": connectivity,
               "scale": (0.5,) * len(shape)}
    ref = ng.label_objects(labels, "foreground", **options)
    lazy = ng.label_objects(da.from_array(labels, chunks=chunks), "foreground", **options)
    assert ref.n_objects > 10
    _assert_same(lazy, ref)


def test_objects_spanning_many_blocks_and_touching_classes():
    labels = np.ones((40, 40), np.uint8)
    labels[5:35, 5:8] = 2  # a long bar across 4 row blocks
    labels[5:35, 8:10] = 3  # touching it: another class, another object
    labels[np.arange(12, 28), np.arange(12, 28)] = 2  # a diagonal line: corner contacts only
    ref = ng.label_objects(labels, (2, 3))
    lazy = ng.label_objects(da.from_array(labels, chunks=8), (2, 3))
    assert ref.n_objects == 3
    _assert_same(lazy, ref)


def test_multichannel_dask_image_with_non_finite_values():
    image = make_class_image((48, 50), 3, sigma=20, seed=2, n_channels=2)[0].astype(np.float32)
    image[:4, :4, 0] = np.nan
    labels = ng.segment(image, 3, channel_axis=-1, random_state=0).labels
    ref = ng.label_objects(labels, 3, image=image, channel_axis=-1)
    lazy = ng.label_objects(da.from_array(labels, chunks=(12, 25)), 3,
                            image=da.from_array(image, chunks=(20, 20, 1)), channel_axis=-1)
    _assert_same(lazy, ref)


def test_lazy_segmentation_to_objects_and_refusals():
    image = make_class_image((24, 32, 32), 3, sigma=30, seed=3, dtype="uint8")[0]
    seg = ng.segment(da.from_array(image, chunks=(12, 16, 16)), 3, random_state=0)
    objects = seg.objects("foreground", image=image)
    _assert_same(objects, ng.label_objects(seg.labels.compute(), "foreground", image=image))
    with pytest.raises(ValueError, match="not available for dask labels"):
        ng.label_objects(seg.labels, 2, fill_holes=True)
    with pytest.raises(TypeError, match="integer"):
        ng.label_objects(da.zeros((4, 4), chunks=2), 1)
