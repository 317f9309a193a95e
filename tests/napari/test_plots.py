"""Figures of the analysis widgets, built headless (Agg) from real fits."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

import napari_gmm as ng
from napari_gmm._napari._plots import (
    full_covariances,
    plot_components,
    plot_criteria,
    plot_noise_sweep,
    plot_trace,
)
from napari_gmm.core.analysis._synthetic import make_class_image


@pytest.fixture(scope="module")
def gray():
    return make_class_image((48, 48), 3, sigma=10, seed=0)


def _axes():
    return Figure(layout="constrained").add_subplot()


def test_noise_sweep_lines_per_condition(gray):
    image, truth = gray
    sigmas = [0, 10, 20]
    plain = ng.noise_sweep(image, sigmas, n_components=3, seed=0, reference=truth)
    ax = plot_noise_sweep(plain)
    assert len(ax.lines) == 2  # ARI and Dice
    np.testing.assert_allclose(ax.lines[0].get_xdata(), sigmas)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [r["ari"] for r in plain])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [r["dice"] for r in plain])
    smooth = ng.noise_sweep(image, sigmas, n_components=3, seed=0, reference=truth, smoothing=1.0)
    ax = plot_noise_sweep(plain, smooth, ax=_axes())
    assert len(ax.lines) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()][2:] == [
        "ARI, smoothing",
        "Dice, smoothing",
    ]
    ax.figure.canvas.draw()  # Agg: the figure renders


def test_criteria_marks_chosen_k(gray):
    from napari_gmm.core._selection import select_n_components

    selection = select_n_components(gray[0], range(1, 5), random_state=0)
    ax = plot_criteria(selection, _axes())
    bic, aic, icl, marker = ax.lines
    np.testing.assert_allclose(bic.get_xdata(), selection.candidates)
    np.testing.assert_allclose(bic.get_ydata(), selection.bic)
    np.testing.assert_allclose(aic.get_ydata(), selection.aic)
    np.testing.assert_allclose(icl.get_ydata(), selection.icl)
    assert "BIC (chooses K)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert selection.best == 3
    assert list(marker.get_xdata()) == [3, 3]


def test_trace_and_threshold(gray):
    seg = ng.segment(gray[0], 3, random_state=0, init_params="random", tol=1e-4)
    ax, twin = plot_trace(seg.lower_bounds, 1e-4)
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == seg.n_iter
    delta, threshold = twin.lines
    assert len(delta.get_xdata()) == seg.n_iter - 1
    assert list(threshold.get_ydata()) == [1e-4, 1e-4]
    assert "tol = 0.0001" in [t.get_text() for t in twin.get_legend().get_texts()]
    _, twin2 = plot_trace([-3.0], 1e-3, _axes())  # a single iteration: no |Δ| line
    assert len(twin2.lines) == 1


def test_components_gray_histogram(gray):
    image, _ = gray
    seg = ng.segment(image, 3, random_state=0)
    (ax,) = plot_components(ng.pixel_features(image), seg.model, ax=_axes())
    assert len(ax.patches) > 10  # histogram bars
    assert len(ax.lines) == 4  # 3 weighted Gaussians + the mixture
    x, total = ax.lines[-1].get_xdata(), ax.lines[-1].get_ydata()
    assert np.trapezoid(total, x) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_components_multichannel_ellipses(kind):
    image, _ = make_class_image((40, 40), 3, sigma=10, seed=2, n_channels=3)
    seg = ng.segment(image, 3, channel_axis=-1, covariance_type=kind, random_state=0)
    assert full_covariances(seg.model).shape == (3, 3, 3)
    fig = Figure(layout="constrained")
    axes = plot_components(ng.pixel_features(image, channel_axis=-1), seg.model, fig=fig)
    assert len(axes) == 3  # channel pairs (0, 1), (0, 2), (1, 2)
    for ax in axes:
        assert sum(isinstance(p, Ellipse) for p in ax.patches) == 3
        assert len(ax.collections[0].get_offsets()) == 40 * 40
    assert axes[2].get_xlabel() == "channel 1" and axes[2].get_ylabel() == "channel 2"
    fig.canvas.draw()


def test_components_checks_channels(gray):
    seg = ng.segment(gray[0], 2, random_state=0)
    with pytest.raises(ValueError, match="channels"):
        plot_components(np.zeros((10, 3)), seg.model)
