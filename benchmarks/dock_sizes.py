"""Dock sizes of the three napari-gmm docks, and screenshots of them (needs a display).

Run under Xvfb with a 1920x1080 screen::

    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/dock_sizes.py --prefix docs/after

Prints each dock's size hint and minimum size, and the window height with each dock alone
(1200x700 window) and with all three docked (stacked on the right, as napari docks them,
in a 1920x1040 window); saves
``<prefix>-segmentation.png``, ``<prefix>-noise-study.png``, ``<prefix>-diagnostics.png`` and
``<prefix>-all.png`` after running each widget once on the 2D sample.
"""

from __future__ import annotations

import argparse
import time

PLUGIN = "napari-gmm"
DOCKS = ("GMM Segmentation", "Noise study", "Model diagnostics")
FILES = ("segmentation", "noise-study", "diagnostics")


def _wait(widget, timeout=120.0):
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while widget.running and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.01)


def _settle(viewer):
    from qtpy.QtWidgets import QApplication

    for _ in range(30):
        QApplication.processEvents()
        time.sleep(0.01)


def _run(widget, name):
    if hasattr(widget, "run"):
        if name == "Noise study":
            widget.sigmas.value = "0:60:10"
            widget.smoothing.value = True
        widget.run()
        _wait(widget)


def main(argv=None) -> int:
    import napari
    from skimage.io import imsave

    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", default=None, help="save screenshots to PREFIX-*.png")
    args = parser.parse_args(argv)
    rows = []
    for name, file in zip(DOCKS, FILES, strict=True):
        viewer = napari.Viewer(show=True)
        viewer.window._qt_window.resize(1200, 700)
        viewer.open_sample(PLUGIN, "classes_2d")
        dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        _settle(viewer)
        rows.append((name, dock.sizeHint(), dock.minimumSizeHint(),
                     viewer.window._qt_window.height()))
        if args.prefix:
            _run(widget, name)
            _settle(viewer)
            imsave(f"{args.prefix}-{file}.png", viewer.screenshot(canvas_only=False),
                   check_contrast=False)
        viewer.close()
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1920, 1040)  # a 1920x1080 screen less a task bar
    viewer.open_sample(PLUGIN, "classes_2d")
    for name in DOCKS:
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=False)
        if args.prefix:
            _run(widget, name)
    _settle(viewer)
    total = viewer.window._qt_window.height()
    if args.prefix:
        imsave(f"{args.prefix}-all.png", viewer.screenshot(canvas_only=False),
               check_contrast=False)
    viewer.close()
    print(f"{'dock':20s} {'sizeHint':>12s} {'minimum':>12s} {'window h':>9s}")
    for name, hint, minimum, height in rows:
        print(f"{name:20s} {hint.width():5d}x{hint.height():<6d} "
              f"{minimum.width():5d}x{minimum.height():<6d} {height:9d}")
    print(f"{'all three docked':20s} {'':12s} {'':12s} {total:9d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
