"""Splitting touching objects: label_objects(..., split='watershed', diameter=...)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import regionprops_table

import napari_gmm as ng
from napari_gmm.core.objects._split import estimate_diameter
from napari_gmm.core.objects._synthetic_nuclei import make_nuclei_image


def balls(shape, specs, scale=None):
    """Class labels (1 background, 2 objects) and truth ids of balls in physical units."""
    scale = np.ones(len(shape)) if scale is None else np.asarray(scale, float)
    axes = [np.arange(n) * s for n, s in zip(shape, scale, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    truth = np.zeros(shape, np.int32)
    best = np.full(shape, np.inf)
    for i, (centre, radius) in enumerate(specs, start=1):
        q = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))) / radius
        win = (q <= 1) & (q < best)
        truth[win], best[win] = i, q[win]
    return np.where(truth > 0, 2, 1).astype(np.uint8), truth


def best_iou(found, truth):
    """For each truth object, the best IoU with a found object."""
    out = []
    for i in range(1, truth.max() + 1):
        t = truth == i
        ids = np.unique(found[t])
        ious = [((found == j) & t).sum() / ((found == j) | t).sum() for j in ids if j]
        out.append(max(ious, default=0.0))
    return np.array(out)


def test_two_touching_disks_are_split_and_none_keeps_one_component():
    labels, truth = balls((60, 90), [((30, 28), 12), ((30, 50), 12)])
    assert ng.label_objects(labels, 2).n_objects == 1
    objects = ng.label_objects(labels, 2, split="watershed")
    assert objects.n_objects == 2
    assert best_iou(objects.labels, truth).min() > 0.9
    assert objects.table["area"].sum() == (labels == 2).sum()  # nothing lost


def test_a_single_convex_object_is_not_cut():
    labels, _ = balls((80, 80), [((40, 40), 20)])
    for diameter in (None, 10.0, 40.0):
        assert ng.label_objects(labels, 2, split="watershed", diameter=diameter).n_objects == 1


def test_diameter_controls_the_cut_of_a_chain():
    specs = [((30, 20 + 16 * i), 9) for i in range(4)]
    labels, _ = balls((60, 100), specs)
    assert ng.label_objects(labels, 2, split="watershed", diameter=18.0).n_objects == 4
    assert ng.label_objects(labels, 2, split="watershed").n_objects == 4  # estimated
    # an object diameter of the whole chain: markers farther apart than the nuclei
    assert ng.label_objects(labels, 2, split="watershed", diameter=70.0).n_objects < 4


def test_anisotropic_3d_balls_split_in_physical_units():
    scale = (3.0, 1.0, 1.0)  # z step three times the pixel
    specs = [((30, 30, 24), 10), ((30, 30, 42), 10), ((30, 48, 33), 10)]
    labels, truth = balls((20, 60, 66), specs, scale)
    objects = ng.label_objects(labels, 2, split="watershed", scale=scale)
    assert objects.n_objects == 3
    assert best_iou(objects.labels, truth).min() > 0.85
    assert np.allclose(objects.table["volume_scaled"].sum(), (labels == 2).sum() * 3.0)


def test_time_series_is_split_per_frame_with_unique_ids():
    a, _ = balls((60, 90), [((30, 28), 12), ((30, 50), 12)])
    b, _ = balls((60, 90), [((20, 20), 8), ((40, 60), 10)])
    stack = np.stack([a, b, a])
    objects = ng.label_objects(stack, 2, split="watershed", time_axis=0)
    assert objects.n_objects == 6
    assert list(objects.table["frame"]) == [0, 0, 1, 1, 2, 2]
    for t in range(3):
        assert len(np.unique(objects.labels[t])) == 3


def test_estimated_diameter_is_the_single_objects_diameter_not_the_clusters():
    specs = [((30, 30), 8), ((30, 45), 8), ((80, 30), 8), ((80, 80), 8), ((80, 95), 8)]
    labels, _ = balls((120, 120), specs)
    mask = labels == 2
    comps, n = ndimage.label(mask)
    assert n == 3  # two pairs and one single
    diameter = estimate_diameter(ndimage.distance_transform_edt(mask), comps, n)
    assert 14.0 <= diameter <= 18.0


def test_synthetic_touching_nuclei_are_found():
    image, truth = make_nuclei_image((192, 192), 25, radius=(6, 10), seed=5)
    seg = ng.segment(image, 2, random_state=0, smoothing=1.0)
    plain = seg.objects(2)
    split = seg.objects(2, split="watershed", fill_holes=True)
    assert split.n_objects > plain.n_objects
    found = best_iou(split.labels, truth)
    recall = (found > 0.5).mean()
    precision = (found > 0.5).sum() / split.n_objects
    assert recall > 0.8 and precision > 0.8


def test_measurements_of_split_objects_equal_regionprops():
    labels, _ = balls((60, 90), [((30, 28), 12), ((30, 50), 12)])
    objects = ng.label_objects(labels, 2, split="watershed", scale=(0.5, 0.5))
    ref = regionprops_table(objects.labels, properties=("label", "area", "centroid"))
    assert np.array_equal(objects.table["area"], ref["area"])
    assert np.allclose(objects.table["centroid-1"], ref["centroid-1"])


def test_a_class_without_objects_gives_an_empty_table():
    labels = np.ones((20, 20), np.uint8)
    labels[0, 0] = 3
    objects = ng.label_objects(labels, 2, split="watershed", n_classes=3)
    assert objects.n_objects == 0 and len(objects.table["area"]) == 0
    assert not objects.labels.any()


def test_the_cut_follows_a_low_posterior_seam():
    labels = np.ones((40, 90), np.uint8)
    labels[10:30, 10:80] = 2  # a bar: the distance transform alone has no valley along it
    probability = np.ones(labels.shape, np.float32)
    probability[:, 33:35] = 0.3  # a dim seam, off the bar's middle
    objects = ng.label_objects(labels, 2, split="watershed", diameter=20.0,
                               probability=probability)
    assert objects.n_objects == 2
    left, right = objects.labels[20, 10], objects.labels[20, 79]
    assert left != right
    cut = np.flatnonzero(objects.labels[20] == right)[0]
    assert 33 <= cut <= 35


def nuclei_image(shape, specs, truth):
    """Each ball bright in its middle, dimmer at its rim (1 - q^2 / 2), background 0.1."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    image = np.full(shape, 0.1)
    for i, (centre, radius) in enumerate(specs, start=1):
        q = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))) / radius
        image[truth == i] = 1.0 - 0.5 * q[truth == i] ** 2
    return image


def test_a_small_nucleus_pressed_into_a_large_one_is_cut_along_the_image():
    specs = [((30, 26), 14), ((30, 42), 7)]  # the small one has no distance maximum
    labels, truth = balls((60, 70), specs)
    assert ng.label_objects(labels, 2, split="watershed").n_objects == 1
    image = nuclei_image(labels.shape, specs, truth)
    objects = ng.label_objects(labels, 2, split="watershed", image=image)
    assert objects.n_objects == 2
    assert best_iou(objects.labels, truth).min() > 0.85
    assert objects.table["area"].sum() == (labels == 2).sum()  # nothing lost
    # the image's channels are averaged: two copies of it cut the same way
    two = ng.label_objects(labels, 2, split="watershed", image=np.stack([image, image], -1),
                           channel_axis=-1)
    assert np.array_equal(two.labels, objects.labels)
    # per frame of a series, each frame with its own image
    series = ng.label_objects(np.stack([labels, labels]), 2, split="watershed", time_axis=0,
                              image=np.stack([image, image]))
    assert list(series.table["frame"]) == [0, 0, 1, 1]


def test_the_image_does_not_cut_a_single_large_nucleus():
    specs = [((40, 40), 20)]
    labels, truth = balls((80, 80), specs)
    image = nuclei_image(labels.shape, specs, truth)
    for diameter in (None, 10.0, 20.0):  # 10, 20: the nucleus is "too large" for one
        objects = ng.label_objects(labels, 2, split="watershed", diameter=diameter, image=image)
        assert objects.n_objects == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "watershed", "diameter": 0.5}, ValueError, "smaller than a voxel"),
        ({"split": "watershed", "diameter": 500.0}, ValueError, "larger than the image"),
        ({"split": "watershed", "diameter": 5.0, "scale": (10.0, 10.0)}, ValueError, "voxel"),
        ({"split": "watershed", "diameter": "10"}, TypeError, "diameter must be a number"),
        ({"split": "cut"}, ValueError, "split must be 'none'"),
        ({"diameter": 10.0}, ValueError, "split='watershed'"),
        ({"split": "watershed", "probability": np.ones((3, 3))}, ValueError, "shape of labels"),
    ],
)
def test_bad_split_options(kwargs, error, match):
    labels, _ = balls((40, 50), [((20, 20), 8)])
    with pytest.raises(error, match=match):
        ng.label_objects(labels, 2, **kwargs)


def test_inputs_are_not_modified():
    labels, _ = balls((60, 90), [((30, 28), 12), ((30, 50), 12)])
    probability = np.full(labels.shape, 0.9, np.float32)
    before = labels.copy(), probability.copy()
    ng.label_objects(labels, 2, split="watershed", probability=probability)
    assert np.array_equal(labels, before[0]) and np.array_equal(probability, before[1])
