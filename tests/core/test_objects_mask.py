"""Masks: segment, apply_model and label_objects restricted to a region of interest."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core.objects._synthetic import make_object_image


@pytest.fixture
def disks():
    image, _, truth = make_object_image((100, 120), 10, radius=(4, 8), sigma=10, seed=1)
    mask = np.zeros(image.shape, bool)
    mask[10:80, 20:100] = True
    return image, truth, mask


def test_segment_fits_only_the_pixels_inside(disks):
    image, _, mask = disks
    seg = ng.segment(image, 2, random_state=0, mask=mask)
    assert not seg.labels[~mask].any() and (seg.labels[mask] > 0).all()
    assert not seg.probability[~mask].any()
    # the fit is the one of the pixels inside (scikit-learn on them as the oracle)
    ref = GaussianMixture(2, random_state=0).fit(image[mask].reshape(-1, 1).astype(float))
    assert np.allclose(np.sort(seg.model.means_.ravel()), np.sort(ref.means_.ravel()), atol=0.5)
    # the outside does not move the fit: a bright frame around the region is ignored
    framed = image.copy()
    framed[~mask] = 255
    again = ng.segment(framed, 2, random_state=0, mask=mask)
    np.testing.assert_array_equal(again.labels, seg.labels)
    assert framed[0, 0] == 255  # the input is not modified


def test_apply_model_with_a_mask(disks):
    image, _, mask = disks
    model = ng.segment(image, 2, random_state=0).model
    seg = ng.apply_model(model, image, mask=mask)
    whole = ng.apply_model(model, image)
    assert not seg.labels[~mask].any()
    np.testing.assert_array_equal(seg.labels[mask], whole.labels[mask])


def test_rgb_mask_without_the_channel_axis():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 50, 3)).astype(np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[5:30, 5:40] = True
    seg = ng.segment(image, 2, channel_axis=-1, random_state=0, mask=mask)
    assert seg.labels.shape == (40, 50) and not seg.labels[~mask].any()


def test_objects_outside_are_background_and_cut_ones_are_flagged(disks):
    image, truth, mask = disks
    seg = ng.segment(image, 2, random_state=0, mask=mask)
    objects = seg.objects(2, mask=mask, image=image)
    assert not objects.labels[~mask].any()
    flags = objects.table["touches_mask_border"]
    outside = ndimage.binary_dilation(~mask, structure=np.ones((3, 3)))
    for i, flag in enumerate(flags, start=1):
        assert flag == bool((outside & (objects.labels == i)).any())
    # a truth disk crossing the border is cut: its found part is flagged
    crossing = [i for i in range(1, truth.max() + 1)
                if (truth == i)[mask].any() and (truth == i)[~mask].any()]
    assert crossing
    for i in crossing:
        ids = np.unique(objects.labels[(truth == i) & mask])
        assert all(flags[j - 1] for j in ids if j)
    assert flags.dtype == bool and not flags.all()


def test_label_objects_mask_on_plain_labels_and_time_series():
    labels = np.ones((2, 20, 20), np.uint8)
    labels[:, 2:8, 2:8] = 2
    labels[:, 12:18, 12:18] = 2
    mask = np.ones(labels.shape, bool)
    mask[0, :, 5:] = False  # frame 0: the first square is cut, the second is outside
    objects = ng.label_objects(labels, 2, time_axis=0, mask=mask)
    assert list(objects.table["frame"]) == [0, 1, 1]
    assert list(objects.table["touches_mask_border"]) == [True, False, False]
    assert objects.table["area"][0] == 6 * 3


@pytest.mark.parametrize("call", ["segment", "apply", "objects"])
def test_a_mask_of_the_wrong_shape_names_both_shapes(disks, call):
    image, _, _ = disks
    bad = np.ones((50, 60), bool)
    with pytest.raises(ValueError, match=r"mask has shape \(50, 60\).*\(100, 120\)"):
        if call == "segment":
            ng.segment(image, 2, mask=bad)
        elif call == "apply":
            ng.apply_model(ng.segment(image, 2, random_state=0).model, image, mask=bad)
        else:
            ng.label_objects(np.ones(image.shape, np.uint8) * 2, 2, mask=bad)


def test_bad_masks(disks):
    image, _, _ = disks
    with pytest.raises(ValueError, match="mask is empty"):
        ng.segment(image, 2, mask=np.zeros(image.shape, bool))
    with pytest.raises(TypeError, match="mask must be a bool array"):
        ng.segment(image, 2, mask=np.ones(image.shape, float))
