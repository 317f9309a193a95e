"""What ``python -m napari_gmm`` runs: napari with a sample and the GMM Segmentation widget.

With ``--screenshot PATH`` the widget is run once on the sample instead, and a screenshot of
the whole window is saved to PATH before exiting (needs a display, e.g. ``xvfb-run``).
"""

from __future__ import annotations

import argparse
import time

PLUGIN = "napari-gmm"
WIDGET = "GMM Segmentation"
SAMPLES = ("classes_2d", "blobs_3d", "immunohistochemistry")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m napari_gmm",
        description="Open napari with a sample image and the GMM Segmentation widget.",
    )
    parser.add_argument(
        "--sample",
        choices=SAMPLES,
        default="classes_2d",
        help="sample to open (default: %(default)s)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PATH",
        help="run the widget once, save a screenshot of the window to PATH (PNG) and exit",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the segmentation"
    )
    return parser


def open_viewer(sample: str = "classes_2d", *, show: bool = True):
    """A viewer showing `sample` with the widget docked; returns ``(viewer, widget)``."""
    import napari

    viewer = napari.Viewer(title="napari-gmm", show=show)
    viewer.open_sample(PLUGIN, sample)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    images = widget.image.choices
    if images:
        widget.image.value = images[0]
    return viewer, widget


def wait_for(widget, timeout: float) -> None:
    """Process GUI events until the widget's segmentation has finished."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while widget.running:
        if time.monotonic() > end:
            widget.cancel()
            raise TimeoutError(f"The segmentation took longer than {timeout} s.")
        QApplication.processEvents()
        time.sleep(0.01)
    QApplication.processEvents()


def _settle(seconds: float) -> None:
    """Process GUI events for a while (layout, redraws)."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def screenshot(path: str, sample: str = "classes_2d", timeout: float = 120.0) -> None:
    """Run the widget once on `sample` with noise and smoothing; save a screenshot."""
    viewer, widget = open_viewer(sample)
    try:
        widget.noise_sigma.value = 15.0
        widget.uncertainty.value = "margin"
        widget.smoothing.value = 1.0
        widget.sections.select("options")
        if widget.run() is None:
            raise RuntimeError("The segmentation did not start.")
        wait_for(widget, timeout)
        if widget.last_segmentation is None:
            raise RuntimeError(f"The segmentation failed: {widget.summary.value}")
        viewer.window.resize(1500, 950)
        _grid_view(viewer, widget.image.value.name)
        _settle(0.5)
        viewer.reset_view()
        _settle(0.5)
        viewer.screenshot(path=path, canvas_only=False)
    finally:
        viewer.close()


def _grid_view(viewer, source: str) -> None:
    """Show input, noisy input, labels, ground truth and the maps side by side."""
    order = [source, f"{source} noisy", f"{source} labels"]
    order += [layer.name for layer in viewer.layers if layer.name.endswith("truth")]
    order += [f"{source} probability", f"{source} uncertainty"]
    order = [name for name in order if name in viewer.layers]
    for index, name in enumerate(order):
        layer = viewer.layers[name]
        layer.visible = True
        viewer.layers.move(viewer.layers.index(layer), index)
    viewer.canvas.grid.shape = (2, 3)
    viewer.canvas.grid.stride = 1  # one layer per cell
    viewer.canvas.grid.spacing = 8
    viewer.canvas.grid.enabled = True


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.screenshot:
        screenshot(args.screenshot, args.sample, args.timeout)
        print(f"Wrote {args.screenshot}")
        return 0
    import napari

    open_viewer(args.sample)
    napari.run()
    return 0
