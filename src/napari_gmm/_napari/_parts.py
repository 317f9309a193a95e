"""Widget parts shared by the dock widgets: input choices, axis names, status, legend, tabs.

Only for the main (GUI) thread. The layer helpers read layers; they never change them.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import Container, Label, ProgressBar
from matplotlib.colors import to_hex
from napari.layers import Image
from qtpy.QtCore import QEvent, QObject, QRect, Qt
from qtpy.QtWidgets import QSizePolicy, QTabWidget

from ._layers import MARK

if TYPE_CHECKING:
    import napari

#: Axis labels (lower case) taken to mean time.
TIME_LABELS = ("t", "time", "frame", "frames")
#: Axis labels (lower case) taken to mean channels.
CHANNEL_LABELS = ("c", "ch", "channel", "channels")


def is_own_output(layer) -> bool:
    """Whether `layer` was made by this plugin (marked ``metadata["napari-gmm"]``)."""
    return isinstance(layer.metadata.get(MARK), dict)


def input_image_layers(viewer: napari.viewer.Viewer) -> list:
    """The Image layers that can be analysed: the plugin's own outputs are left out."""
    return [
        layer for layer in viewer.layers if isinstance(layer, Image) and not is_own_output(layer)
    ]


def axis_label(layer, axis: int) -> str:
    """The name of data axis `axis` of `layer` ('' when it only has napari's default name)."""
    labels = tuple(getattr(layer, "axis_labels", ()) or ())
    if layer.rgb or axis >= len(labels):
        return ""
    label = str(labels[axis]).strip()
    return "" if label.lstrip("-").isdigit() else label


def describe_axis(layer, axis: int) -> str:
    """A data axis described by its label, index and length, e.g. ``'t (axis 0, 30)'``."""
    size = layer.data.shape[axis]
    label = axis_label(layer, axis)
    return f"{label} (axis {axis}, {size})" if label else f"axis {axis} ({size})"


def find_axis(layer, names) -> int | None:
    """The first data axis whose label is one of `names` (case-insensitive), or None."""
    if layer is None or layer.multiscale:
        return None
    for axis in range(layer.ndim):
        if axis_label(layer, axis).lower() in names:
            return axis
    return None


def form(*widgets, **kwargs) -> Container:
    """A labelled column of fields (label on the left), without margins."""
    box = Container(widgets=widgets, labels=True, **kwargs)
    box.margins = (0, 0, 0, 0)
    return box


def row(*widgets, **kwargs) -> Container:
    """Widgets side by side, without labels or margins."""
    box = Container(widgets=widgets, layout="horizontal", labels=False, **kwargs)
    box.margins = (0, 0, 0, 0)
    return box


def never_widen(label) -> None:
    """A word-wrapped QLabel that takes the width it is given and never asks for more.

    A wrapped label still reports the width of its longest unbreakable run of text (e.g.
    ``'0.52–2.35,'`` or a path) as its size hint, which widened the dock's content past
    the dock and clipped the Cancel button and the combo boxes' arrows. Ignoring the
    label's horizontal hint lets the layout give it the dock's width, and the text wraps
    at that width (a single run longer than the whole dock is cut, never the dock).
    """
    label.setSizePolicy(QSizePolicy.Policy.Ignored, label.sizePolicy().verticalPolicy())
    label.setMinimumWidth(0)


class StatusPanel(Container):
    """Progress bar and result text; a failure keeps the last result, marked as previous."""

    def __init__(self, **kwargs):
        super().__init__(labels=False, **kwargs)
        self.progress = ProgressBar(name="progress", min=0, max=100, value=0)
        self.text = Label(name="summary", value="")
        self.text.native.setWordWrap(True)
        never_widen(self.text.native)
        self.margins = (0, 0, 0, 0)
        self.extend([self.progress, self.text])
        # nested layouts do not give a word-wrapped label its height: set it from the text
        self._resized = _OnResize(self._fit_text)
        self.text.native.installEventFilter(self._resized)
        self.text.changed.connect(self._fit_text)
        self._fit_text()
        self.result = ""  # the text of the last success

    def _fit_text(self, *_) -> None:
        label = self.text.native
        width = max(label.width(), 200)
        flags = int(Qt.TextFlag.TextWordWrap.value)
        rect = label.fontMetrics().boundingRect(QRect(0, 0, width, 100_000), flags, label.text())
        label.setMinimumHeight(max(rect.height(), 2 * label.fontMetrics().height()) + 4)

    def busy(self, text: str) -> None:
        self.progress.value = 0
        self.text.value = text

    def step(self, fraction: float, text: str | None = None) -> None:
        self.progress.value = round(100 * min(max(float(fraction), 0.0), 1.0))
        if text is not None:
            self.text.value = text

    def success(self, text: str) -> None:
        self.progress.value = 100
        self.result = self.text.value = text

    def failure(self, text: str) -> None:
        """Show `text`; the last result (still shown by its layers/plots) is marked previous."""
        self.progress.value = 0
        previous = f"\n(previous result, still shown: {self.result})" if self.result else ""
        self.text.value = f"⚠ {text}{previous}"


class _OnResize(QObject):
    """Calls `callback` after the watched widget was resized."""

    def __init__(self, callback):
        super().__init__()
        self._callback = callback

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._callback()
        return False


class ClassLegend(Label):
    """A legend of the classes: label number, colour swatch and the class's mean intensity."""

    def __init__(self, **kwargs):
        super().__init__(value="", **kwargs)
        self.native.setWordWrap(True)
        never_widen(self.native)
        self.rows: list[tuple[int, str, str]] = []
        self.names: tuple[str, ...] | None = None  # class names shown with the numbers
        self.visible = False

    def show_classes(self, labels_layer, means, names=None) -> None:
        """One row per class k = 1..K: colour of label k in `labels_layer`, `means[k-1]`
        (and ``names[k-1]``, if the classes are named; default: :attr:`names`)."""
        names = self.names if names is None else names
        self.rows = []
        means = np.atleast_1d(means)
        empty = set(_empty_classes(labels_layer.data, len(means)))
        for k, mean in enumerate(means, start=1):
            colour = to_hex(labels_layer.get_color(k), keep_alpha=False)
            values = np.atleast_1d(mean)
            text = ", ".join(f"{v:.4g}" for v in values)
            text = text if values.size == 1 else f"({text})"
            if float(np.asarray(labels_layer.get_color(k))[3]) == 0.0:
                text += " (transparent)"
            if k in empty:  # fitted, but no pixel has it: never shown as a fine class
                text += " — EMPTY: no pixel has this class"
            self.rows.append((k, colour, text))
        named = {k: f" {html.escape(n)}" for k, n in enumerate(names or (), start=1)}
        cells = "".join(
            f"<tr><td style='background:{c}'>&nbsp;&nbsp;&nbsp;&nbsp;"
            f"</td><td>&nbsp;class {k}{named.get(k, '')}: mean {m}</td></tr>"
            for k, c, m in self.rows
        )
        self.value = f"<table cellspacing='2'>{cells}</table>"
        self.visible = bool(self.rows)

    def clear(self) -> None:
        self.rows, self.value, self.visible = [], "", False


def _empty_classes(data, n_classes: int) -> list[int]:
    """Classes 1..K without a pixel in in-memory labels (lazy labels: not computed)."""
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "iu":
        return []
    from ..core import empty_classes

    return empty_classes(data, n_classes)


class Tabs(Container):
    """A magicgui container holding a Qt tab widget; each page a magicgui widget (or Qt one).

    Sections of a dock go in tabs so that the dock stays short enough to share the screen.
    """

    def __init__(self, pages: list[tuple[str, object]], **kwargs):
        super().__init__(labels=False, **kwargs)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.pages = [page for _, page in pages if isinstance(page, Container)]
        for title, page in pages:
            if isinstance(page, Container):  # fields at the top of the page, not spread out
                page.native.layout().addStretch(1)
            self.tabs.addTab(getattr(page, "native", page), title)
        self.native.layout().addWidget(self.tabs)
        self.native.layout().setContentsMargins(0, 0, 0, 0)

    def reset_choices(self, *_) -> None:
        """Refresh the choices of the fields on every page (they are not magicgui children)."""
        for page in self.pages:
            page.reset_choices()

    def select(self, title: str) -> None:
        """Show the page called `title`."""
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == title:
                self.tabs.setCurrentIndex(index)
