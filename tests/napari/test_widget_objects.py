"""The *objects* tab of the GMM Segmentation dock, in a real napari viewer (under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels
from napari.utils.notifications import NotificationSeverity, notification_manager
from napari_support import run_and_wait

import napari_gmm as ng
from napari_gmm._napari._objects_section import parse_classes
from napari_gmm.core.objects._synthetic import make_object_image

PLUGIN, WIDGET = "napari-gmm", "GMM Segmentation"
TIMEOUT_MS = 30_000




def new_notifications(start, severity):
    return [n for n in notification_manager.records[start:] if n.severity == severity]


def test_objects_layer_with_features_scale_and_translate(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _, truth = make_object_image((90, 100), 7, radius=(4, 8), sigma=10, seed=2)
    layer = viewer.add_image(image, name="cells", scale=(0.5, 0.25), translate=(3, -2))
    widget.image.value = layer
    widget.n_components.value = 2
    section = widget.objects_section
    assert not section.classes.enabled  # until objects are asked for
    section.active.value = True
    assert section.classes.enabled
    section.classes.value = "2"
    section.min_size.value = 8
    shown = []
    show_classes = widget.legend.show_classes
    widget.legend.show_classes = lambda layer, means: (shown.append(layer),
                                                       show_classes(layer, means))
    run_and_wait(qtbot, widget)

    expected = ng.segment(image, 2, random_state=0).objects(2, image=image, min_size=8,
                                                            scale=(0.5, 0.25))
    assert expected.n_objects == truth.max() == 7
    objects = viewer.layers["cells objects"]
    assert isinstance(objects, Labels)
    assert viewer.layers[-1] is objects  # on top of the class labels
    np.testing.assert_array_equal(objects.data, expected.labels)
    np.testing.assert_allclose(objects.scale, (0.5, 0.25))
    np.testing.assert_allclose(objects.translate, (3, -2))
    features = objects.features
    assert len(features) == 7
    assert list(features["index"]) == list(range(1, 8))
    for name, column in expected.table.items():
        np.testing.assert_allclose(features[name].to_numpy(), column)
    assert features["area_scaled"].to_numpy() == pytest.approx(features["area"] * 0.125)
    mark = objects.metadata["napari-gmm"]
    assert mark["role"] == "objects" and mark["n_objects"] == 7 and mark["classes"] == [2]
    assert mark["options"] == {"min_size": 8, "fill_holes": False, "split": "none",
                               "diameter": None}
    assert "7 objects (class 2)" in widget.summary.value
    assert section.count.value == "7 objects (class 2)"
    # hovering an object shows its row in the status bar
    centre = [round(float(expected.table[f"centroid-{a}"][2])) for a in (0, 1)]
    assert objects.data[tuple(centre)] == 3  # a disk holds its centroid
    status = str(objects.get_status(objects.data_to_world(centre), world=True))
    assert "label: 3" in status and "class: 2" in status
    assert f"area: {expected.table['area'][2]}" in status
    assert shown == [viewer.layers["cells labels"]]  # the legend is of the class labels


def test_rerun_updates_the_objects_layer_and_unchecking_removes_it(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _, _ = make_object_image((64, 64), 5, n_classes=3, radius=(3, 6), sigma=4, seed=3)
    widget.image.value = viewer.add_image(image, name="img")
    widget.objects_section.active.value = True  # default classes: foreground
    run_and_wait(qtbot, widget)
    first = viewer.layers["img objects"]
    assert set(first.features["class"]) == {2, 3} and len(first.features) == 5
    widget.objects_section.classes.value = "3"
    run_and_wait(qtbot, widget)
    assert viewer.layers["img objects"] is first  # updated in place
    assert set(first.features["class"]) == {3}
    expected = ng.segment(image, 3, random_state=0).objects(3)
    np.testing.assert_array_equal(first.data, expected.labels)
    widget.objects_section.min_size.value = 10**6  # no object left: an empty table
    run_and_wait(qtbot, widget)
    assert viewer.layers["img objects"] is first and not first.data.any()
    assert len(first.features) == 0 and widget.objects_section.count.value.startswith("0 ")
    widget.objects_section.active.value = False
    run_and_wait(qtbot, widget)
    assert "img objects" not in viewer.layers
    assert widget.objects_section.count.value == ""


def test_time_series_objects_per_frame(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    movie = np.stack([make_object_image((48, 48), n, radius=(3, 5), sigma=3, seed=n)[0]
                      for n in (2, 3, 1)])
    layer = viewer.add_image(movie, name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    assert widget.time_axis.value == 0
    widget.n_components.value = 2
    widget.objects_section.active.value = True
    run_and_wait(qtbot, widget)
    features = viewer.layers["movie objects"].features
    assert list(features["frame"]) == [0, 0, 1, 1, 1, 2]
    assert list(features["label"]) == [1, 2, 3, 4, 5, 6]


def test_measurements_filters_and_tracks_layer(viewer_widget, qtbot):
    from napari.layers import Tracks

    viewer, widget = viewer_widget
    movie = np.stack([make_object_image((60, 60), 4, radius=(4, 7), sigma=3, seed=9)[0]] * 3)
    layer = viewer.add_image(movie, name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    widget.n_components.value = 2
    section = widget.objects_section
    section.active.value = True
    section.measure.value = True
    section.tracks.value = True
    run_and_wait(qtbot, widget)
    features = viewer.layers["movie objects"].features
    for column in ("equivalent_diameter", "solidity", "perimeter", "intensity_max", "track_id"):
        assert column in features
    assert list(features["track_id"]) == [1, 2, 3, 4] * 3  # the same disks in every frame
    tracks = viewer.layers["movie tracks"]
    assert isinstance(tracks, Tracks) and len(tracks.data) == 12
    # a diameter range keeps only the objects inside it, in every frame
    diameters = np.sort(np.unique(features["equivalent_diameter"]))
    assert len(diameters) == 4
    section.min_diameter.value = low = round(float(diameters[:2].mean()), 2)  # 2 decimals
    run_and_wait(qtbot, widget)
    kept = viewer.layers["movie objects"].features
    assert len(kept) == 9 and (kept["equivalent_diameter"] >= low).all()
    assert len(viewer.layers["movie tracks"].data) == 9
    options = viewer.layers["movie objects"].metadata["napari-gmm"]["options"]
    assert options["properties"] == "all" and "equivalent_diameter" in options["filters"]


def test_colour_objects_by_a_feature(viewer_widget, qtbot):
    from napari.utils.colormaps import DirectLabelColormap, ensure_colormap

    from napari_gmm._napari._objects_section import NO_COLOUR

    viewer, widget = viewer_widget
    image, _, _ = make_object_image((80, 90), 6, radius=(3, 9), sigma=5, seed=1)
    widget.image.value = viewer.add_image(image, name="cells")
    widget.n_components.value = 2
    section = widget.objects_section
    section.active.value = True
    section.min_size.value = 5
    run_and_wait(qtbot, widget)
    assert "area" in section.colour.choices and section.colour.value == NO_COLOUR
    section.colour.value = "area"
    layer = viewer.layers["cells objects"]
    assert isinstance(layer.colormap, DirectLabelColormap)
    areas = layer.features["area"].to_numpy()
    big, small = int(np.argmax(areas)) + 1, int(np.argmin(areas)) + 1
    viridis = ensure_colormap("viridis")
    np.testing.assert_allclose(layer.colormap.map(big), viridis.map(np.array([1.0]))[0])
    np.testing.assert_allclose(layer.colormap.map(small), viridis.map(np.array([0.0]))[0])
    run_and_wait(qtbot, widget)  # a rerun keeps the choice and recolours the new objects
    assert section.colour.value == "area"
    assert isinstance(viewer.layers["cells objects"].colormap, DirectLabelColormap)
    section.colour.value = NO_COLOUR
    assert not isinstance(viewer.layers["cells objects"].colormap, DirectLabelColormap)


def test_bad_classes_and_impossible_classes(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _, _ = make_object_image((48, 48), 3, radius=(3, 5), sigma=3, seed=4)
    widget.image.value = viewer.add_image(image, name="img")
    widget.n_components.value = 2
    widget.objects_section.active.value = True
    widget.objects_section.classes.value = "two"
    start = len(notification_manager.records)
    assert widget.run() is None  # refused before starting
    errors = new_notifications(start, NotificationSeverity.ERROR)
    assert len(errors) == 1 and "class numbers such as 2 or 2,3" in errors[0].message
    assert [layer.name for layer in viewer.layers] == ["img"]
    # a class beyond K: the segmentation is kept, the objects are not made (a warning)
    widget.objects_section.classes.value = "2, 5"
    start = len(notification_manager.records)
    run_and_wait(qtbot, widget)
    warnings = new_notifications(start, NotificationSeverity.WARNING)
    assert any("Objects were not labelled" in w.message and "[5]" in w.message
               for w in warnings)
    assert "img labels" in viewer.layers and "img objects" not in viewer.layers


def test_split_touching_nuclei_with_a_diameter_in_the_layers_units(viewer_widget, qtbot):
    from napari_gmm.core.objects._synthetic_nuclei import make_nuclei_image

    viewer, widget = viewer_widget
    image, _ = make_nuclei_image((128, 128), 14, radius=(6, 9), seed=3)
    widget.image.value = viewer.add_image(image, name="nuclei", scale=(0.5, 0.5))
    widget.n_components.value = 2
    section = widget.objects_section
    section.active.value = True
    assert section.split.enabled and not section.diameter.enabled  # split 'none'
    section.split.value = "watershed"
    assert section.diameter.enabled
    run_and_wait(qtbot, widget)
    seg = ng.segment(image, 2, random_state=0, scale=(0.5, 0.5))
    estimated = seg.objects(image=image, scale=(0.5, 0.5), split="watershed")
    assert estimated.n_objects > seg.objects().n_objects  # touching nuclei were cut
    layer = viewer.layers["nuclei objects"]
    np.testing.assert_array_equal(layer.data, estimated.labels)
    section.diameter.value = 20.0  # physical units: 40 pixels, larger than the nuclei
    run_and_wait(qtbot, widget)
    coarse = seg.objects(image=image, scale=(0.5, 0.5), split="watershed", diameter=20.0)
    np.testing.assert_array_equal(layer.data, coarse.labels)
    assert layer.metadata["napari-gmm"]["options"]["diameter"] == 20.0
    # a diameter larger than the image: a warning, the class labels are kept
    section.diameter.value = 500.0
    start = len(notification_manager.records)
    run_and_wait(qtbot, widget)
    warnings = new_notifications(start, NotificationSeverity.WARNING)
    assert any("larger than the image" in w.message for w in warnings)
    assert "nuclei labels" in viewer.layers


def test_mask_from_a_labels_or_a_shapes_layer(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _, _ = make_object_image((80, 100), 8, radius=(4, 8), sigma=8, seed=5)
    widget.image.value = viewer.add_image(image, name="cells", scale=(2.0, 2.0))
    widget.n_components.value = 2
    section = widget.objects_section
    section.active.value = True
    region = np.zeros(image.shape, np.uint8)
    region[10:60, 20:90] = 1
    viewer.add_labels(region, name="roi", scale=(2.0, 2.0))
    # a rectangle in world coordinates: pixels 10..60 x 20..90 of the image
    viewer.add_shapes([[[20, 40], [20, 180], [120, 180], [120, 40]]], shape_type="rectangle",
                      name="box")
    assert [c.name for c in section.mask.choices if c is not None] == ["roi", "box"]
    section.mask.value = viewer.layers["roi"]
    run_and_wait(qtbot, widget)
    inside = region > 0
    seg = ng.segment(image, 2, random_state=0, mask=inside, scale=(2.0, 2.0))
    np.testing.assert_array_equal(viewer.layers["cells labels"].data, seg.labels)
    objects = viewer.layers["cells objects"]
    expected = seg.objects(2, image=image, mask=inside, scale=(2.0, 2.0))
    np.testing.assert_array_equal(objects.data, expected.labels)
    assert list(objects.features["touches_mask_border"]) == list(
        expected.table["touches_mask_border"]
    )
    assert "mask" not in objects.metadata["napari-gmm"]["options"]
    section.mask.value = viewer.layers["box"]
    run_and_wait(qtbot, widget)
    labels = viewer.layers["cells labels"].data
    outer = np.zeros(image.shape, bool)
    outer[10:61, 20:91] = True  # the rectangle's edges lie on pixel centres 60 and 90
    assert not labels[~outer].any() and labels[11:59, 21:89].all()
    # a Labels mask of another shape: refused before starting, naming both shapes
    viewer.add_labels(np.ones((5, 5), np.uint8), name="small")
    section.mask.value = viewer.layers["small"]
    start = len(notification_manager.records)
    assert widget.run() is None
    errors = new_notifications(start, NotificationSeverity.ERROR)
    assert len(errors) == 1 and "(5, 5)" in errors[0].message and "(80, 100)" in errors[0].message


def test_lazy_layers_are_refused_with_advice(viewer_widget):
    da = pytest.importorskip("dask.array")
    viewer, widget = viewer_widget
    image, _, _ = make_object_image((64, 64), 3, radius=(3, 5), sigma=3, seed=5)
    widget.image.value = viewer.add_image(da.from_array(image, chunks=32), name="lazy")
    widget.objects_section.active.value = True
    start = len(notification_manager.records)
    assert widget.run() is None
    errors = new_notifications(start, NotificationSeverity.ERROR)
    assert len(errors) == 1 and "Objects need an image in memory" in errors[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("foreground", "foreground"), (" Foreground ", "foreground"), ("2", (2,)),
     ("2,3", (2, 3)), ("2 3", (2, 3)), ("2; 3", (2, 3))],
)
def test_parse_classes(text, expected):
    assert parse_classes(text) == expected


@pytest.mark.parametrize("text", ["", "two", "2,-3", "1.5"])
def test_parse_classes_refuses(text):
    with pytest.raises(ValueError, match="class numbers such as 2 or 2,3"):
        parse_classes(text)
