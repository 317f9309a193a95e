"""label_objects accepts a Segmentation (issue 20, item 20)."""

import numpy as np

import napari_gmm as ng


def _image():
    img = np.full((30, 40), 10.0)
    img[5:12, 5:12] = 100.0
    img[18:25, 20:35] = 100.0
    img[2:4, 30:33] = 200.0
    return img + np.random.default_rng(0).normal(0, 1, img.shape)


def test_segmentation_is_accepted_like_its_labels():
    img = _image()
    seg = ng.segment(img, 3, random_state=0)
    got = ng.label_objects(seg, "foreground", image=img, scale=(2.0, 0.5))
    want = ng.label_objects(seg.labels, "foreground", image=img, scale=(2.0, 0.5),
                            n_classes=3)
    assert got.n_objects == want.n_objects == 3
    np.testing.assert_array_equal(got.labels, want.labels)
    for column, values in want.table.items():
        np.testing.assert_array_equal(got.table[column], values)


def test_time_series_segmentation_uses_its_time_axis():
    img = _image()
    series = np.stack([img, img[:, ::-1]], axis=-1)  # frames on the last axis
    seg = ng.segment(series, 3, time_axis=-1, random_state=0)
    got = ng.label_objects(seg, "foreground")
    assert "frame" in got.table and set(got.table["frame"]) == {0, 1}
    want = seg.objects("foreground")
    np.testing.assert_array_equal(got.labels, want.labels)
