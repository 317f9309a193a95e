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
                                                       show_classes(layer, means))  # fmt: skip
    run_and_wait(qtbot, widget)

    expected = ng.segment(image, 2, random_state=0).objects(2, image=image, min_size=8,
                                                            scale=(0.5, 0.25))  # fmt: skip
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
    assert mark["options"] == {"min_size": 8, "fill_holes": False}
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
                      for n in (2, 3, 1)])  # fmt: skip
    layer = viewer.add_image(movie, name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    assert widget.time_axis.value == 0
    widget.n_components.value = 2
    widget.objects_section.active.value = True
    run_and_wait(qtbot, widget)
    features = viewer.layers["movie objects"].features
    assert list(features["frame"]) == [0, 0, 1, 1, 1, 2]
    assert list(features["label"]) == [1, 2, 3, 4, 5, 6]


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
               for w in warnings)  # fmt: skip
    assert "img labels" in viewer.layers and "img objects" not in viewer.layers


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
)  # fmt: skip
def test_parse_classes(text, expected):
    assert parse_classes(text) == expected


@pytest.mark.parametrize("text", ["", "two", "2,-3", "1.5"])
def test_parse_classes_refuses(text):
    with pytest.raises(ValueError, match="class numbers such as 2 or 2,3"):
        parse_classes(text)
