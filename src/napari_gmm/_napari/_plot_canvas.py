"""A matplotlib canvas for the dock widgets, drawn in the colours of napari's theme.

Only for the main (GUI) thread.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy

if TYPE_CHECKING:
    import napari


class PlotCanvas(FigureCanvasQTAgg):
    """A matplotlib canvas that fills its dock and draws in the colours of napari's theme."""

    def __init__(self, viewer: napari.viewer.Viewer, *, min_height: int = 180):
        super().__init__(Figure(figsize=(4, 2.5), layout="constrained"))
        self._viewer = viewer
        self._applied: dict[str, str] | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, min_height)
        viewer.events.theme.connect(self._theme_changed)
        self.destroyed.connect(lambda *_: _disconnect(viewer.events.theme, self._theme_changed))

    def colours(self) -> dict[str, str]:
        """Background, panel, text and grid colours of the viewer's theme."""
        from napari.utils.theme import get_theme

        theme = get_theme(self._viewer.theme)
        return {
            "background": theme.background.as_hex(),
            "panel": theme.foreground.as_hex(),
            "text": theme.text.as_hex(),
            "grid": theme.secondary.as_hex(),
        }

    def redraw(self) -> None:
        """Apply the theme to everything drawn in the figure, then draw."""
        colours = self.colours()
        style_figure(self.figure, colours, previous=self._applied)
        self._applied = colours
        self.draw_idle()

    def _theme_changed(self, *_) -> None:
        self.redraw()


def _disconnect(emitter, callback) -> None:
    with contextlib.suppress(RuntimeError, TypeError, ValueError):  # gone with the viewer
        emitter.disconnect(callback)


def style_figure(figure: Figure, colours: dict[str, str], previous=None) -> None:
    """Colour a drawn figure: backgrounds, spines, ticks, labels, legends.

    Text and lines drawn in black (matplotlib's default) or in the `previous` theme's text
    colour take the text colour, so that they stay readable on a dark background.
    """
    text = colours["text"]
    plain = {(0.0, 0.0, 0.0)}
    if previous is not None:
        plain.add(to_rgba(previous["text"])[:3])
    figure.set_facecolor(colours["background"])
    for sub in getattr(figure, "subfigs", []):
        sub.set_facecolor(colours["background"])
    for artist in figure.legends:
        _style_legend(artist, colours)
    for ax in figure.get_axes():
        ax.set_facecolor(colours["panel"])
        for spine in ax.spines.values():
            spine.set_color(colours["grid"])
        ax.tick_params(colors=text, which="both")
        for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if to_rgba(label.get_color())[:3] in plain:
                label.set_color(text)
        ax.yaxis.get_offset_text().set_color(text)
        for line in ax.get_lines():
            if to_rgba(line.get_color())[:3] in plain:
                line.set_color(text)
        if ax.get_legend() is not None:
            _style_legend(ax.get_legend(), colours)


def _style_legend(legend, colours) -> None:
    legend.get_frame().set_facecolor(colours["panel"])
    legend.get_frame().set_edgecolor(colours["grid"])
    for item in legend.get_texts():
        item.set_color(colours["text"])

