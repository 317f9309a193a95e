"""Fixtures of the napari tests: a real viewer with the GMM Segmentation dock."""

import pytest


def _viewer_with_dock(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-gmm", "GMM Segmentation")
    return viewer, widget


@pytest.fixture
def viewer_widget(make_napari_viewer):
    """``(viewer, GMM Segmentation widget)``."""
    return _viewer_with_dock(make_napari_viewer)
