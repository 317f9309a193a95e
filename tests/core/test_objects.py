"""Objects: connected components of chosen classes, against ground truth and regionprops."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.measure import regionprops_table

import napari_gmm as ng
from napari_gmm.core.objects._synthetic import draw_ball, make_object_image

PROPS = ("label", "area", "centroid", "bbox")


def truth_table(objects, spacing=None):
    kwargs = {} if spacing is None else {"spacing": spacing}
    return regionprops_table(objects, properties=("label", "area", "centroid"), **kwargs)


def ball(shape, centre, radius):
    """Full-size mask of a disk / ball."""
    out = np.zeros(shape, bool)
    box, mask = draw_ball(shape, centre, radius)
    out[box] = mask
    return out


def match(found, truth):
    """Truth id of each found object (the truth object it overlaps most), in id order."""
    ids = []
    for i in range(1, int(found.max()) + 1):
        overlap = np.bincount(truth[found == i], minlength=int(truth.max()) + 1)
        ids.append(int(np.argmax(overlap)))
    return np.array(ids)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_disks_count_area_and_centroid_match_the_truth(seed):
    image, _, truth = make_object_image((200, 220), 15, radius=(5, 11), sigma=12, seed=seed)
    seg = ng.segment(image, 2, random_state=0)
    objects = seg.objects(image=image, min_size=10)
    assert objects.n_objects == 15
    matched = match(objects.labels, truth)
    assert sorted(matched) == list(range(1, 16))  # one-to-one
    ref = truth_table(truth)
    order = matched - 1
    area_error = np.abs(objects.table["area"] - ref["area"][order]) / ref["area"][order]
    assert area_error.max() < 0.1
    for axis in (0, 1):
        delta = objects.table[f"centroid-{axis}"] - ref[f"centroid-{axis}"][order]
        assert np.abs(delta).max() < 1.0
    assert set(objects.table["class"]) == {2}


def test_measurements_equal_regionprops():
    image, _, _ = make_object_image((128, 140), 12, n_classes=3, sigma=8, seed=3)
    seg = ng.segment(image, 3, random_state=0, smoothing=1.0)
    objects = seg.objects(image=image, scale=(0.5, 2.0))
    ref = regionprops_table(objects.labels, intensity_image=image,
                            properties=(*PROPS, "intensity_mean"))
    table = objects.table
    assert np.array_equal(table["label"], ref["label"])
    assert np.array_equal(table["area"], ref["area"])
    for key in ("centroid-0", "centroid-1", "intensity_mean"):
        assert np.allclose(table[key], ref[key])
    for j in range(4):
        assert np.array_equal(table[f"bbox-{j}"], ref[f"bbox-{j}"])
    scaled = regionprops_table(objects.labels, properties=("area", "centroid"),
                               spacing=(0.5, 2.0))
    assert np.allclose(table["area_scaled"], scaled["area"])
    assert np.allclose(table["centroid_scaled-0"], scaled["centroid-0"])
    assert np.allclose(table["centroid_scaled-1"], scaled["centroid-1"])
    assert set(table["class"]) == {2, 3}
    for i, c in enumerate(table["class"], start=1):  # every object is one class only
        assert set(np.unique(seg.labels[objects.labels == i])) == {c}


def test_multichannel_intensity_means():
    image, classes, _ = make_object_image((96, 96), 8, sigma=5, seed=4)
    rgb = np.stack([image, 255 - image, image // 2], axis=0)  # channels first
    objects = ng.label_objects(classes, 2, image=rgb, channel_axis=0)
    ref = regionprops_table(objects.labels, intensity_image=np.moveaxis(rgb, 0, -1),
                            properties=("intensity_mean",))
    for c in range(3):
        assert np.allclose(objects.table[f"intensity_mean-{c}"], ref[f"intensity_mean-{c}"])
    assert "intensity_mean" not in objects.table


def test_fill_holes_2d_rings_and_border():
    labels = np.ones((40, 60), np.uint8)
    disk, inner = ball(labels.shape, (15, 15), 8), ball(labels.shape, (15, 15), 4)
    labels[disk] = 2
    labels[inner] = 1  # a ring: the hole is class 1
    labels[:, 40:] = 2
    labels[10:20, 50:] = 1  # a notch open to the border: not a hole
    plain = ng.label_objects(labels, 2)
    filled = ng.label_objects(labels, 2, fill_holes=True)
    assert plain.n_objects == filled.n_objects == 2
    ring, strip = (1, 0) if plain.table["centroid-1"][1] < 30 else (0, 1)  # C order ids
    assert filled.table["area"][ring] == disk.sum()
    assert plain.table["area"][ring] == disk.sum() - inner.sum()
    assert filled.table["area"][strip] == plain.table["area"][strip]  # the notch stays open


def test_fill_holes_3d_hollow_ball():
    labels = np.ones((30, 30, 30), np.uint8)
    outer, core = ball(labels.shape, (15, 15, 15), 10), ball(labels.shape, (15, 15, 15), 5)
    labels[outer] = 3
    labels[core] = 2
    shell = ng.label_objects(labels, 3)
    filled = ng.label_objects(labels, 3, fill_holes=True)
    assert shell.table["volume"][0] == outer.sum() - core.sum()
    assert filled.table["volume"][0] == outer.sum()
    assert "area" not in filled.table


def test_a_hole_holding_another_chosen_class_is_not_filled():
    labels = np.ones((40, 40), np.uint8)
    disk, gap, nucleus = (ball(labels.shape, (20, 20), r) for r in (12, 7, 4))
    labels[disk] = 2
    labels[gap] = 1
    labels[nucleus] = 3  # class 3 inside a class-1 gap inside the class-2 cell
    labels[10, 20] = 1  # a one-pixel speck inside the cell
    assert labels[9:12, 19:22].sum() == 8 * 2 + 1
    both = ng.label_objects(labels, (2, 3), fill_holes=True)
    plain = ng.label_objects(labels, (2, 3))
    assert both.n_objects == plain.n_objects == 2
    assert list(both.table["class"]) == [2, 3]
    assert both.table["area"][1] == plain.table["area"][1] == nucleus.sum()
    # the speck is filled, the gap around the nucleus is not
    assert both.table["area"][0] == plain.table["area"][0] + 1 == (disk & ~gap).sum()
    alone = ng.label_objects(labels, 2, fill_holes=True)  # class 3 not chosen: all filled
    assert alone.n_objects == 1
    assert alone.table["area"][0] == disk.sum()


def test_min_size_removes_small_objects_and_keeps_ids_consecutive():
    labels = np.ones((20, 20), np.uint8)
    labels[1, 1] = 2  # 1 pixel
    labels[5:7, 5:7] = 2  # 4 pixels
    labels[10:13, 10:13] = 2  # 9 pixels
    labels[15:19, 1:5] = 2  # 16 pixels
    objects = ng.label_objects(labels, 2, min_size=5)
    assert objects.n_objects == 2
    assert list(objects.table["area"]) == [9, 16]
    assert list(objects.table["label"]) == [1, 2]
    assert sorted(np.unique(objects.labels)) == [0, 1, 2]
    assert objects.labels[1, 1] == 0 and objects.labels[5, 5] == 0
    assert ng.label_objects(labels, 2, min_size=0).n_objects == 4
    assert ng.label_objects(labels, 2, min_size=17).n_objects == 0


def test_touching_objects_of_two_classes_stay_separate():
    labels = np.ones((10, 12), np.uint8)
    labels[2:8, 2:6] = 2
    labels[2:8, 6:10] = 3
    objects = ng.label_objects(labels, "foreground")
    assert objects.n_objects == 2
    assert list(objects.table["class"]) == [2, 3]
    assert list(objects.table["area"]) == [24, 24]
    merged = labels.copy()
    merged[merged == 3] = 2
    assert ng.label_objects(merged, 2).n_objects == 1


def test_connectivity():
    labels = np.ones((5, 5), np.uint8)
    labels[1, 1] = labels[2, 2] = 2
    assert ng.label_objects(labels, 2).n_objects == 1  # default: corners connect
    assert ng.label_objects(labels, 2, connectivity=1).n_objects == 2
    assert ng.label_objects(labels, 2, connectivity=2).n_objects == 1


def test_3d_balls_from_a_segmentation_with_anisotropic_scale():
    image, _, truth = make_object_image((40, 64, 64), 8, radius=(4, 7), sigma=10, seed=5)
    seg = ng.segment(image, 2, random_state=0, smoothing=1.0)
    objects = seg.objects(image=image, scale=(2.0, 0.5, 0.5))
    assert objects.n_objects == 8
    order = match(objects.labels, truth) - 1
    ref = truth_table(truth)
    assert np.abs(objects.table["volume"] / ref["area"][order] - 1).max() < 0.1
    assert np.allclose(objects.table["volume_scaled"], objects.table["volume"] * 0.5)
    physical = regionprops_table(objects.labels, properties=("area", "centroid"),
                                 spacing=(2.0, 0.5, 0.5))
    assert np.allclose(objects.table["volume_scaled"], physical["area"])
    for axis in range(3):
        assert np.allclose(objects.table[f"centroid_scaled-{axis}"], physical[f"centroid-{axis}"])
        delta = objects.table[f"centroid-{axis}"] - ref[f"centroid-{axis}"][order]
        assert np.abs(delta).max() < 1.0


@pytest.mark.parametrize("time_axis", [0, 2])
def test_time_series_objects_per_frame_with_unique_ids(time_axis):
    frames = [make_object_image((60, 70), n, radius=(3, 6), sigma=0, seed=n)[1] for n in (3, 5, 4)]
    frames[1][:] = frames[0]  # same objects at the same place: still one object per frame
    movie = np.moveaxis(np.stack(frames), 0, time_axis)
    objects = ng.label_objects(movie, 2, time_axis=time_axis, scale=(1.0, 0.5, 0.25)[:3])
    assert objects.n_objects == 3 + 3 + 4
    assert list(objects.table["label"]) == list(range(1, 11))
    assert list(objects.table["frame"]) == [0] * 3 + [1] * 3 + [2] * 4
    offset = 0
    for t, frame in enumerate(frames):
        alone = ng.label_objects(frame, 2)
        got = np.take(objects.labels, t, axis=time_axis)
        assert np.array_equal(got, np.where(alone.labels > 0, alone.labels + offset, 0))
        rows = objects.table["frame"] == t
        assert np.allclose(objects.table["centroid-1"][rows], alone.table["centroid-1"])
        offset += alone.n_objects
    # the layer scale has the time step too: it is dropped
    assert objects.scale == tuple(np.delete([1.0, 0.5, 0.25], time_axis))


def test_time_series_segmentation_objects():
    movie = np.stack([make_object_image((64, 64), n, sigma=5, seed=n)[0] for n in (2, 4)])
    seg = ng.segment(movie, 2, time_axis=0, random_state=0)
    objects = seg.objects(image=movie, min_size=5)
    assert list(np.bincount(objects.table["frame"])) == [2, 4]
    assert objects.time_axis == 0 and objects.labels.shape == movie.shape


def test_absent_class_gives_no_objects_and_empty_columns(tmp_path):
    labels = np.array([[1, 1], [2, 1]])
    objects = ng.label_objects(labels, 3, n_classes=3, image=labels * 2.0, scale=(1, 2))
    assert objects.n_objects == 0
    assert not objects.labels.any()
    assert all(len(column) == 0 for column in objects.table.values())
    assert objects.to_records() == []
    path = objects.to_csv(tmp_path / "none.csv")
    assert path.read_text().splitlines() == [",".join(objects.table)]


def test_csv_and_records_round_trip(tmp_path):
    image, classes, _ = make_object_image((80, 80), 6, n_classes=3, sigma=3, seed=6)
    objects = ng.label_objects(classes, "foreground", image=image.astype(np.float32) / 7,
                               scale=(0.3, 0.7))
    path = objects.to_csv(tmp_path / "sub" / "objects.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == objects.n_objects == 6
    assert list(rows[0]) == list(objects.table)
    for name, column in objects.table.items():
        back = np.array([float(row[name]) for row in rows])
        assert np.array_equal(back, column.astype(float)), name
    records = objects.to_records()
    assert records[0]["label"] == 1 and isinstance(records[0]["area"], int)
    assert isinstance(records[0]["intensity_mean"], float)


def test_nan_pixels_are_left_out_of_the_means_and_inputs_are_not_modified():
    image = np.full((20, 20), 10.0)
    image[5:15, 5:15] = 100.0
    image[9, 9] = np.nan
    seg = ng.segment(image, 2, random_state=0)
    assert seg.labels[9, 9] == 0
    before_labels, before_image = seg.labels.copy(), image.copy()
    objects = seg.objects(image=image, fill_holes=True)
    assert objects.table["area"].tolist() == [100]
    assert objects.table["intensity_mean"].tolist() == [100.0]
    assert np.array_equal(seg.labels, before_labels)
    assert np.array_equal(image, before_image, equal_nan=True)


def test_one_dimensional_labels():
    objects = ng.label_objects(np.array([1, 2, 2, 1, 2]), 2, scale=(0.5,))
    assert objects.table["length"].tolist() == [2, 1]
    assert objects.table["length_scaled"].tolist() == [1.0, 0.5]
    assert objects.table["centroid-0"].tolist() == [1.5, 4.0]
    assert [objects.table[f"bbox-{j}"].tolist() for j in (0, 1)] == [[1, 4], [3, 5]]


def test_bool_labels_are_class_one():
    mask = np.zeros((6, 6), bool)
    mask[1:3, 1:3] = mask[4:, 4:] = True
    assert ng.label_objects(mask, 1).n_objects == 2


LABELS = np.array([[1, 2, 3], [1, 2, 2]])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"classes": 4}, ValueError, r"\[4\] are not classes of the labels: allowed are 1\.\.3"),
        ({"classes": [0, 2]}, ValueError, r"\[0\] are not classes"),
        ({"classes": "fg"}, ValueError, "'foreground'"),
        ({"classes": []}, ValueError, "classes is empty"),
        ({"classes": 2.0}, TypeError, "classes must be ints"),
        ({"classes": [True]}, TypeError, "classes must be ints"),
        ({"classes": None}, TypeError, "classes must be an int, a sequence"),
        ({"min_size": -1}, ValueError, "min_size must be an int >= 0, got -1"),
        ({"min_size": 2.5}, TypeError, "min_size must be an int"),
        ({"fill_holes": "yes"}, TypeError, "fill_holes must be True or False"),
        ({"connectivity": 3}, ValueError, r"connectivity must be in 1\.\.2"),
        ({"connectivity": 1.0}, TypeError, "connectivity must be an int"),
        ({"scale": (1.0,)}, ValueError, r"one value per spatial axis \(2\)"),
        ({"scale": (1.0, -2.0)}, ValueError, "finite and > 0"),
        ({"scale": ("a", 1)}, TypeError, "scale must be a sequence of numbers"),
        ({"image": np.zeros((3, 2))}, ValueError, r"image has shape \(3, 2\) but labels"),
        ({"image": np.zeros((2, 3, 2)), "channel_axis": 0}, ValueError, "without channel_axis"),
        ({"channel_axis": 0}, ValueError, "pass image="),
        ({"image": np.zeros((2, 3), complex)}, TypeError, "complex"),
        ({"time_axis": 2}, ValueError, "time_axis=2 is not an axis of labels"),
        ({"time_axis": "0"}, TypeError, "time_axis must be an int"),
        ({"n_classes": 2}, ValueError, "labels hold class 3 but n_classes=2"),
    ],
)
def test_bad_input_messages(kwargs, error, match):
    kwargs = {"classes": 2, **kwargs}
    with pytest.raises(error, match=match):
        ng.label_objects(LABELS, **kwargs)


def test_bad_labels_messages():
    with pytest.raises(TypeError, match="labels must be an integer"):
        ng.label_objects(np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="negative value"):
        ng.label_objects(np.array([[-1, 1]]), 1)
    with pytest.raises(ValueError, match="non-empty"):
        ng.label_objects(np.zeros((0, 3), int), 1)
    with pytest.raises(ValueError, match=r"K=1 class\(es\); pass classes=1"):
        ng.label_objects(np.ones((3, 3), int), "foreground")


def test_dask_labels_are_labelled_blockwise():
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(LABELS, chunks=1)  # tests/core/test_lazy_objects.py for more
    np.testing.assert_array_equal(ng.label_objects(lazy, 2).labels.compute(),
                                  ng.label_objects(LABELS, 2).labels)
    # a lazy image is fine (measured in memory), as long as the labels are computed
    objects = ng.label_objects(LABELS, 2, image=da.from_array(LABELS * 10.0, chunks=1))
    assert objects.table["intensity_mean"].tolist() == [20.0]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from([(7, 9), (4, 5, 6), (1, 13)]),
    seed=st.integers(0, 2**16),
    n_classes=st.integers(2, 4),
    connectivity=st.integers(1, 3),
    min_size=st.integers(0, 4),
    data=st.data(),
)
def test_property_components_sizes_and_table_match_skimage(
    shape, seed, n_classes, connectivity, min_size, data
):
    """Oracle: skimage.measure.label per class + a size filter, and regionprops_table."""
    from skimage.measure import label

    labels = np.random.default_rng(seed).integers(0, n_classes + 1, shape)
    connectivity = min(connectivity, len(shape))
    classes = data.draw(st.lists(st.integers(1, n_classes), min_size=1, unique=True))
    objects = ng.label_objects(labels, classes, connectivity=connectivity, min_size=min_size,
                               image=labels * 1.5, n_classes=n_classes)
    expected_count = 0
    for c in sorted(classes):
        parts = label(labels == c, connectivity=connectivity)
        sizes = np.bincount(parts.ravel())[1:]
        expected_count += int((sizes >= max(min_size, 1)).sum())
        kept = np.isin(parts, 1 + np.flatnonzero(sizes >= max(min_size, 1)))
        assert np.array_equal(np.isin(objects.labels, objects.table["label"][
            objects.table["class"] == c]) & (objects.labels > 0), kept)
    assert objects.n_objects == expected_count
    assert list(objects.table["label"]) == list(range(1, expected_count + 1))
    if expected_count:
        ref = regionprops_table(objects.labels, intensity_image=labels * 1.5,
                                properties=(*PROPS, "intensity_mean"))
        size = "area" if len(shape) == 2 else "volume"
        assert np.array_equal(objects.table[size], ref["area"])
        for key in ref:
            if key not in ("area", "label"):
                assert np.allclose(objects.table[key], ref[key]), key
        for i, c in zip(objects.table["label"], objects.table["class"], strict=True):
            assert set(np.unique(labels[objects.labels == i])) == {c}
