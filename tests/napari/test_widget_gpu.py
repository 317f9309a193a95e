"""The dock on a GPU: where CuPy finds one, the 'cupy' backend is chosen by itself, the
smoothing runs on it in the dock's worker thread, and the dock says which backend ran.
Without a GPU this runs on the emulated one (``tests/cuda_emulator``)."""

from __future__ import annotations

import cuda_emulator
import numpy as np
import pytest
from napari_support import run_and_wait

import napari_gmm as ng
from napari_gmm.core._backend import gpu_available
from napari_gmm.core.analysis._synthetic import make_class_image


@pytest.fixture
def some_gpu(monkeypatch):
    """This machine's GPU, else an emulated one; the backend left to its default."""
    monkeypatch.delenv("NAPARI_GMM_BACKEND", raising=False)
    if gpu_available():
        return "device"
    if not cuda_emulator.available():
        pytest.skip("needs a GPU or a C++ compiler for the emulated one")
    cuda_emulator.install(monkeypatch)
    return "emulated"


def test_dock_smooths_on_the_gpu_and_says_so(some_gpu, viewer_widget, qtbot):
    viewer, widget = viewer_widget
    assert ng.get_backend() == "cupy"  # chosen because CuPy finds a GPU
    image, truth = make_class_image((96, 96), 3, gap=60, sigma=40, seed=21)
    widget.image.value = viewer.add_image(image, name="noisy img")
    widget.smoothing.value = 1.0
    run_and_wait(qtbot, widget)
    labels = viewer.layers["noisy img labels"].data
    summary = viewer.layers["noisy img labels"].metadata["napari-gmm"]["summary"]
    assert summary["backend"] == "cupy" and widget.summary.value.endswith(" on cupy")
    with ng.use_backend("numba"):
        expected = ng.segment(image, 3, random_state=0, smoothing=1.0)
    assert np.mean(labels == expected.labels) >= 0.999
    assert np.mean(labels == truth) > 0.95
    prob = viewer.layers["noisy img probability"].data
    assert np.abs(prob - expected.probability).mean() < 1e-3
