"""Optional shape / intensity properties and filters of label_objects, against regionprops."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import marching_cubes, mesh_surface_area, regionprops_table

import napari_gmm as ng
from napari_gmm.core.objects._synthetic import make_object_image


@pytest.fixture(scope="module")
def disks():
    image, _, _ = make_object_image((120, 140), 12, radius=(4, 10), sigma=8, seed=3)
    seg = ng.segment(image, 2, random_state=0, smoothing=1.0)
    return image, seg


def test_2d_properties_in_physical_units_equal_regionprops(disks):
    image, seg = disks
    scale = (0.5, 0.5)
    objects = seg.objects(2, image=image, scale=scale, properties="all")
    names = ("equivalent_diameter_area", "axis_major_length", "axis_minor_length", "solidity",
             "eccentricity", "perimeter", "intensity_max", "intensity_std")
    ref = regionprops_table(objects.labels, intensity_image=image, properties=names,
                            spacing=scale)
    table = objects.table
    assert np.allclose(table["equivalent_diameter"], ref["equivalent_diameter_area"])
    for name in names[1:]:
        assert np.allclose(table[name], ref[name]), name
    # the physical diameter of a disk is about that of its area
    assert np.allclose(table["equivalent_diameter"],
                       2 * np.sqrt(table["area_scaled"] / np.pi))


def test_perimeter_with_anisotropic_pixels_is_the_scaled_contour_length():
    y, x = np.ogrid[:60, :90]
    ellipse = ((y - 30) / 20.0) ** 2 + ((x - 45) / 40.0) ** 2 <= 1  # a circle of radius 10
    labels = np.where(ellipse, 2, 1).astype(np.uint8)
    objects = ng.label_objects(labels, 2, scale=(0.5, 0.25), properties=["perimeter"])
    assert objects.table["perimeter"][0] == pytest.approx(2 * np.pi * 10, rel=0.03)
    iso = ng.label_objects(labels, 2, properties=["perimeter"])  # regionprops' estimator
    ref = regionprops_table(labels - 1, properties=["perimeter"])["perimeter"][0]
    assert iso.table["perimeter"][0] == pytest.approx(ref)


def test_multichannel_intensity_columns():
    rng = np.random.default_rng(0)
    labels = np.ones((30, 40), np.uint8)
    labels[5:15, 5:15] = 2
    labels[20:28, 10:30] = 2
    image = rng.normal(size=(30, 40, 2))
    objects = ng.label_objects(labels, 2, image=image, channel_axis=-1,
                               properties=["intensity_max", "intensity_std"])
    for c in (0, 1):
        first = image[5:15, 5:15, c]
        assert objects.table[f"intensity_max-{c}"][0] == pytest.approx(first.max())
        assert objects.table[f"intensity_std-{c}"][0] == pytest.approx(first.std())


def test_3d_surface_area_and_volume_diameter():
    z, y, x = np.ogrid[:20, :30, :30]
    ball = (((z - 10) * 2.0) ** 2 + (y - 15) ** 2 + (x - 15) ** 2) <= 100
    labels = np.where(ball, 2, 1).astype(np.uint8)
    objects = ng.label_objects(labels, 2, scale=(2.0, 1.0, 1.0),
                               properties=["surface_area", "equivalent_diameter"])
    verts, faces, _, _ = marching_cubes(np.pad(ball.astype(np.float32), 1), 0.5,
                                        spacing=(2.0, 1.0, 1.0))
    assert objects.table["surface_area"][0] == pytest.approx(mesh_surface_area(verts, faces))
    assert objects.table["surface_area"][0] == pytest.approx(400 * np.pi, rel=0.15)
    assert objects.table["equivalent_diameter"][0] == pytest.approx(20, rel=0.05)


def test_filters_by_diameter_and_solidity_renumber_ids(disks):
    _, seg = disks
    every = seg.objects(2, properties=["equivalent_diameter", "solidity"])
    diameters = every.table["equivalent_diameter"]
    low, high = np.percentile(diameters, [25, 75])
    kept = seg.objects(2, filters={"equivalent_diameter": (low, high), "solidity": (0.8, None)})
    expected = (diameters >= low) & (diameters <= high) & (every.table["solidity"] >= 0.8)
    assert kept.n_objects == expected.sum() > 0
    assert list(kept.table["label"]) == list(range(1, kept.n_objects + 1))
    assert np.allclose(kept.table["equivalent_diameter"], diameters[expected])
    assert np.array_equal(np.unique(kept.labels)[1:], kept.table["label"])
    for new, old in enumerate(np.flatnonzero(expected) + 1, start=1):
        assert np.array_equal(kept.labels == new, every.labels == old)
    # a filter on a column that is always measured
    big = seg.objects(2, filters={"area": (200, None)})
    assert (big.table["area"] >= 200).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"properties": ["perimeter"], "scale": (1, 1, 1)}, ValueError, "not available for 3-D"),
        ({"properties": ["intensity_max"]}, ValueError, "without image="),
        ({"properties": ["roundness"]}, ValueError, "allowed"),
        ({"filters": {"solidity": 0.9}}, TypeError, r"must be \(min, max\)"),
        ({"filters": {"solidity": (1.0, 0.5)}}, ValueError, "min is above max"),
        ({"filters": {"nope": (1, 2)}}, ValueError, "cannot filter by 'nope'"),
        ({"filters": [("area", 1, 2)]}, TypeError, "filters must be a dict"),
    ],
)
def test_bad_properties_and_filters(kwargs, error, match):
    shape = (20, 20) if "scale" not in kwargs else (4, 20, 20)
    labels = np.ones(shape, np.uint8)
    labels[..., 5:10, 5:10] = 2
    kwargs.pop("scale", None)
    with pytest.raises(error, match=match):
        ng.label_objects(labels, 2, **kwargs)


def test_empty_class_gives_empty_property_columns():
    labels = np.ones((10, 10), np.uint8)
    objects = ng.label_objects(labels, 2, n_classes=2, properties="all", split="watershed")
    assert objects.n_objects == 0 and len(objects.table["solidity"]) == 0
