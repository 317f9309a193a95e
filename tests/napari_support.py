"""Helpers shared by the napari tests (fixtures are in tests/napari/conftest.py)."""

TIMEOUT_MS = 30_000


def run_and_wait(qtbot, widget, **kwargs):
    """Start a dock's run, wait for it to finish; return its worker."""
    worker = widget.run(**kwargs)
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)  # let the worker's signals finish before the viewer closes
    return worker
