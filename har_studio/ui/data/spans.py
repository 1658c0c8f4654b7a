"""The signal plot's parts for labelling: a view box where a left drag selects a time span
and a click marks a point, and coloured bands showing which activity each stretch has."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from ...data.labels import UNLABELLED

MAX_BANDS = 200   # a subject with more runs than this shows the first ones only
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
            "#8c8c8c", "#ccb974", "#64b5cd")


class SpanViewBox(pg.ViewBox):
    """A left drag selects a span (``spanDragged(x0, x1, finished)``), a left click marks a
    point (``pointClicked(x)``); the wheel and a right drag zoom as usual."""

    spanDragged = Signal(float, float, bool)
    pointClicked = Signal(float)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 (Qt's name)
        if ev.button() != Qt.MouseButton.LeftButton or axis is not None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        x0 = self.mapSceneToView(ev.buttonDownScenePos()).x()
        x1 = self.mapSceneToView(ev.scenePos()).x()
        self.spanDragged.emit(min(x0, x1), max(x0, x1), bool(ev.isFinish()))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.pointClicked.emit(self.mapSceneToView(ev.scenePos()).x())
            return
        super().mouseClickEvent(ev)


def activity_color(name: str, index: int) -> str:
    """Grey for samples not labelled, else a palette colour by class index."""
    return "#b0b0b0" if name == UNLABELLED else _PALETTE[index % len(_PALETTE)]


class ActivityBands:
    """Translucent bands behind the curves, one per run of one activity, with its name."""

    def __init__(self, plot_item) -> None:
        self._plot = plot_item
        self._items: list = []
        self.runs: list[tuple[float, float, str]] = []   # (start s, end s, activity) shown

    def clear(self) -> None:
        for item in self._items:
            self._plot.removeItem(item)
        self._items = []
        self.runs = []

    def show_runs(self, t: np.ndarray, codes: np.ndarray, names: dict[int, str]) -> None:
        """Bands for the runs of equal `codes` along the times `t` (seconds, ascending)."""
        self.clear()
        if len(t) == 0:
            return
        begin = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
        end = np.append(begin[1:], len(t))
        for b, e in list(zip(begin, end, strict=True))[:MAX_BANDS]:
            name = names.get(int(codes[b]), "?")
            x0, x1 = float(t[b]), float(t[e - 1])
            color = pg.mkColor(activity_color(name, int(codes[b])))
            color.setAlpha(40)
            band = pg.LinearRegionItem((x0, x1), movable=False, brush=color,
                                       pen=pg.mkPen(None))
            band.setZValue(-20)
            text = pg.TextItem(name, color="#333333", anchor=(0, 0))
            text.setPos(x0, 0)
            text.setZValue(-10)
            self._plot.addItem(band)
            self._plot.addItem(text, ignoreBounds=True)
            self._items += [band, text]
            self.runs.append((x0, x1, name))
