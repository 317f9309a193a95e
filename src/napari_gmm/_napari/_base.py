"""Base of the dock widgets: input layer picker, one worker at a time, status, closing.

A run reads everything it needs from the fields and layers when it starts, computes in a
napari worker thread, and touches layers only in the main thread when it returns, and only
if the input layer is still the one it started from: removing or replacing the input
layer, closing the dock or cancelling never adds layers; a failure leaves the previous
results as they were and says what happened.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, Container, PushButton
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea

from ._job import Job
from ._layers import _unwrap
from ._parts import StatusPanel, input_image_layers, row

if TYPE_CHECKING:
    import napari

_log = logging.getLogger(__name__)

#: Smallest height of a dock's scroll area (pixels), unless its content needs less.
MIN_HEIGHT = 240
#: Live dock widgets, so that one dock can find another in the same viewer.
_LIVE: weakref.WeakSet = weakref.WeakSet()


def find_widget(viewer: napari.viewer.Viewer, cls):
    """The open dock widget of type `cls` in `viewer`, or None."""
    for widget in list(_LIVE):
        if isinstance(widget, cls) and widget._viewer is viewer and not widget._closed:
            return widget
    return None


class DockWidget(Container):
    """A dock widget with an input Image layer, Run/Cancel buttons and a status panel.

    Subclasses build their fields, then call :meth:`_start` from ``run()`` and implement
    :meth:`_on_done` (main thread, result of the job).

    Attributes
    ----------
    image : ComboBox
        The input Image layer; the plugin's own output layers are not offered.
    run_button, cancel_button : PushButton
        Start ``run()`` / :meth:`cancel`.
    status : StatusPanel
        Progress (``status.progress``) and result text (``status.text``).
    """

    title = "analysis"
    #: Whether multiscale layers are accepted (else refused with a message).
    accepts_multiscale = False

    def __init__(self, viewer: napari.viewer.Viewer, *, run_text: str = "Run"):
        super().__init__(labels=False)
        self._viewer = viewer
        self._worker = None
        self._job: Job | None = None
        self._cancel = threading.Event()
        self._closed = False
        self.image = ComboBox(name="image", label="image", choices=self._image_choices,
                              tooltip="Image layer to analyse (this plugin's outputs are "
                              "not offered).")
        self.run_button = PushButton(name="run_button", text=run_text)
        self.cancel_button = PushButton(name="cancel_button", text="Cancel", enabled=False)
        self.buttons = row(self.run_button, self.cancel_button)
        self.status = StatusPanel(name="status")
        # Subclasses fill `body`, shown in a scroll area: the docks share the screen, and
        # none of them forces the window taller than it. (napari docks a magicgui widget's
        # inner widget, so magicgui's own `scrollable` would be lost.)
        self.body = Container(name="body", labels=False)
        self.body.margins = (0, 0, 0, 0)
        scroll = _Scroll()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.body.native)
        self.native.layout().addWidget(scroll)
        self.native.layout().setContentsMargins(0, 0, 0, 0)
        self._scroll = scroll
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(self._on_destroyed)
        self._watch = _UndockWatch(self._on_undocked)
        self.native.installEventFilter(self._watch)
        _LIVE.add(self)

    def _fit_width(self) -> None:
        """Make the dock at least as wide as its fields (no horizontal scrolling)."""
        self._scroll.setMinimumWidth(self._scroll.minimumSizeHint().width())

    def reset_choices(self, *_) -> None:
        """Refresh the layer choices of every field (napari calls it when layers change)."""
        super().reset_choices()
        self.body.reset_choices()

    # aliases kept for scripts and tests
    @property
    def progress(self):
        """The progress bar (in percent)."""
        return self.status.progress

    @property
    def summary(self):
        """The result text (a Label)."""
        return self.status.text

    def _image_choices(self, _widget=None) -> list:
        return input_image_layers(self._viewer)

    def confirm(self, question: str) -> bool:
        """Ask the user a yes/no question (a modal dialog); scripts may replace this method."""
        from qtpy.QtWidgets import QMessageBox

        answer = QMessageBox.question(self.native, f"napari-gmm: {self.title}", question)
        return answer == QMessageBox.StandardButton.Yes

    def _check_image(self):
        """The chosen image layer, or None (with a message) if it cannot be analysed."""
        layer = self.image.value
        if layer is None:
            show_info("Add or select an image layer first.")
        elif layer.multiscale and not self.accepts_multiscale:
            show_error(
                f"Layer {layer.name!r} is multiscale; the {self.title} needs a single-scale "
                "image. Add one resolution level as a new layer and use that."
            )
            layer = None
        return layer

    # ------------------------------------------------------------------- worker
    @property
    def running(self) -> bool:
        """Whether a run started by ``run()`` has not finished (cleared in the main thread)."""
        return self._worker is not None

    def run(self, *_):  # pragma: no cover - overridden
        raise NotImplementedError

    def _start(self, job: Job, function, *args, **kwargs):
        """Run ``function(*args, **kwargs)`` (a generator) in a worker; `job` is kept."""
        if self._worker is not None:
            show_info(f"The {self.title} is already running; cancel it or wait for it.")
            return self._worker
        self._cancel.clear()
        worker = create_worker(function, *args, _ignore_errors=True, **kwargs)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker, self._job = worker, job
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.busy(job.busy or f"{self.title}…")
        worker.start()
        return worker

    def cancel(self, *_) -> None:
        """Stop the running job at its next step; no layer or result is kept from it."""
        if self._worker is not None:
            self._cancel.set()
            self._worker.quit()
            self.status.text.value = "cancelling…"

    def _input_gone(self) -> str | None:
        """Why the job's input can no longer take results (removed or replaced), or None."""
        layer = self._job.layer if self._job else None
        if layer is None:
            return None
        if not any(_unwrap(other) is _unwrap(layer) for other in self._viewer.layers):
            return f"the input layer {self._job.source!r} was removed during the run"
        ref = self._job.data_ref
        if ref is not None and layer.data is not ref:
            return f"the data of {self._job.source!r} was replaced during the run"
        return None

    def _on_yielded(self, step) -> None:
        if self._closed:
            return
        fraction, stage = step
        self.status.step(fraction, None if stage is None else f"{stage}…")

    def _on_returned(self, result) -> None:
        if self._closed or self._worker is None or self._worker.abort_requested:
            return  # cancelled or closed: keep the viewer as it was
        if result is None:
            return
        # a JobResult (segment, diagnostics) or a dict (noise study) may carry an error
        error = result.get("error") if isinstance(result, dict) else result.error
        if error is not None:
            self._fail(f"{self.title} of {self._job.source!r} failed: {error}")
            return
        gone = self._input_gone()
        if gone:
            self._fail(f"Results discarded: {gone}. Run again on the layer you want.")
            return
        self._on_done(result)

    def _fail(self, message: str) -> None:
        show_error(message)
        if not self._closed:
            self.status.failure(message)

    def _on_done(self, result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_errored(self, exc: Exception) -> None:
        """An unexpected error (a bug, not bad input): message, and traceback to the log."""
        source = self._job.source if self._job else "the image"
        _log.error("%s of %r failed", self.title, source, exc_info=exc)
        self._fail(f"The {self.title} of {source!r} failed unexpectedly: "
                   f"{type(exc).__name__}: {exc}")

    def _on_aborted(self) -> None:
        if not self._closed:
            self.status.progress.value = 0
            self.status.text.value = "cancelled" + (
                f" (previous result, still shown: {self.status.result})"
                if self.status.result
                else ""
            )

    def _on_finished(self) -> None:
        self._worker = None
        self._job = None
        if not self._closed:
            self.run_button.enabled, self.cancel_button.enabled = True, False
            if self._cancel.is_set():  # also when the job stopped itself on cancellation
                self._on_aborted()

    def _on_undocked(self) -> None:
        """The dock was closed (napari takes the widget out of it): stop the running job."""
        if self._worker is not None:
            self.cancel()
            show_info(f"The {self.title} dock was closed; its run was cancelled.")

    def _on_destroyed(self, *_) -> None:
        """The dock (or the viewer) was closed: stop the job, touch no widget any more."""
        self._closed = True
        if self._worker is not None:
            self._cancel.set()
            self._worker.quit()


class _Scroll(QScrollArea):
    """A vertical scroll area asking for the size of its content, and at least a few rows.

    Docks stacked in a short window share its height in proportion to their size hints;
    each keeps at least :data:`MIN_HEIGHT` pixels (its first fields) visible.
    """

    def sizeHint(self) -> QSize:
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self.verticalScrollBar().sizeHint().width(), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = self.widget().minimumSizeHint()
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(hint.width() + bar, min(hint.height(), MIN_HEIGHT))


class _UndockWatch(QObject):
    """Calls `callback` when the watched widget loses its parent (its dock was closed)."""

    def __init__(self, callback):
        super().__init__()
        self._callback = callback

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ParentChange and obj.parent() is None:
            self._callback()
        return False
