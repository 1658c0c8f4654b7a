"""The Live tab's plots: scrolling signal, class probabilities, prediction timeline, attention.

Every plot creates its graphics items once and afterwards only feeds them new arrays
(``setData`` / ``setOpts`` / ``setImage``), because the tab redraws them from a ~30 Hz timer
while samples stream in. The data itself lives in small numpy ring buffers that the GUI
thread appends to cheaply as updates arrive; drawing reads the latest state only.
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ..widgets import channel_pen

log = logging.getLogger(__name__)

#: Colour of "uncertain" (below the confidence threshold) and of "no truth known".
UNCERTAIN_RGB = (150, 150, 150)
NO_TRUTH_RGB = (225, 225, 225)
EMPTY_RGB = (255, 255, 255)
EMPTY = -3   # timeline slot with no window yet


def class_colours(n: int) -> np.ndarray:
    """A distinct RGB colour per class (uint8 [n, 3]), stable for a given class count."""
    colours = np.zeros((max(n, 0), 3), np.uint8)
    for i in range(n):
        c = pg.intColor(i, hues=max(n, 1), values=1, maxValue=210, minValue=150, sat=220)
        colours[i] = (c.red(), c.green(), c.blue())
    return colours


class SampleRing:
    """A fixed-capacity ring of timestamped multichannel samples (float64 t, float32 values).

    ``append`` is O(batch); ``latest(seconds)`` returns the samples of the last `seconds` of
    stream time in order, as contiguous copies ready for plotting.
    """

    def __init__(self, channels: int, capacity: int = 4096) -> None:
        self.capacity = int(capacity)
        self.t = np.zeros(self.capacity, np.float64)
        self.values = np.zeros((self.capacity, channels), np.float32)
        self._head = 0       # next write position
        self._size = 0
        self.total = 0       # samples ever appended

    def __len__(self) -> int:
        return self._size

    @property
    def channels(self) -> int:
        return int(self.values.shape[1])

    def clear(self) -> None:
        self._head = 0
        self._size = 0
        self.total = 0

    def append(self, t: np.ndarray, values: np.ndarray) -> None:
        n = int(len(t))
        if n == 0:
            return
        if n >= self.capacity:  # keep only the newest `capacity` samples
            t, values = t[-self.capacity:], values[-self.capacity:]
            self.t[:] = t
            self.values[:] = values
            self._head = 0
            self._size = self.capacity
            self.total += n
            return
        end = self._head + n
        if end <= self.capacity:
            self.t[self._head:end] = t
            self.values[self._head:end] = values
        else:
            first = self.capacity - self._head
            self.t[self._head:] = t[:first]
            self.values[self._head:] = values[:first]
            self.t[:n - first] = t[first:]
            self.values[:n - first] = values[first:]
        self._head = end % self.capacity
        self._size = min(self.capacity, self._size + n)
        self.total += n

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        """All held samples, oldest first."""
        if self._size < self.capacity:
            return self.t[:self._size].copy(), self.values[:self._size].copy()
        idx = np.r_[self._head:self.capacity, 0:self._head]
        return self.t[idx], self.values[idx]

    def latest(self, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """The samples with t within `seconds` of the newest one, oldest first."""
        t, values = self.ordered()
        if len(t) == 0:
            return t, values
        first = int(np.searchsorted(t, t[-1] - seconds, side="left"))
        return t[first:], values[first:]


class SignalPlot(pg.PlotWidget):
    """The last `span_s` seconds of every channel, scrolling; x is seconds before now."""

    def __init__(self, span_s: float = 10.0, parent=None) -> None:
        super().__init__(parent=parent)
        self.span_s = float(span_s)
        item = _fixed_plot(self)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "seconds")
        item.setXRange(-self.span_s, 0.0, padding=0)
        self._legend = item.addLegend(offset=(5, 5), colCount=6)
        self.curves: list[pg.PlotDataItem] = []
        self.channel_names: list[str] = []

    def set_channels(self, names: list[str], unit: str = "") -> None:
        """Create one curve per channel (once per session; afterwards only setData)."""
        item = self.getPlotItem()
        for curve in self.curves:
            item.removeItem(curve)
        self._legend.clear()
        self.curves = []
        self.channel_names = list(names)
        for name in names:
            curve = item.plot([], [], pen=channel_pen(name, 1.2), name=name, skipFiniteCheck=True)
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self.curves.append(curve)
        item.setLabel("left", unit)

    def update_from(self, ring: SampleRing) -> None:
        """Redraw from the ring buffer's latest `span_s` seconds."""
        t, values = ring.latest(self.span_s)
        if len(t) == 0:
            for curve in self.curves:
                curve.setData([], [])
            return
        x = t - t[-1]
        for i, curve in enumerate(self.curves):
            if i < values.shape[1]:
                curve.setData(x, values[:, i], skipFiniteCheck=True)

    def clear_data(self) -> None:
        for curve in self.curves:
            curve.setData([], [])


def _fixed_plot(widget: pg.PlotWidget):
    """No context menu, mouse zoom or auto-range button: the tab sets the view. Returns the
    widget's PlotItem."""
    widget.setMenuEnabled(False)
    widget.setMouseEnabled(x=False, y=False)
    widget.hideButtons()
    return widget.getPlotItem()


class ProbabilityBars(pg.PlotWidget):
    """One bar per class with its probability (a single BarGraphItem updated with setOpts)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        item = _fixed_plot(self)
        item.setYRange(0.0, 1.0, padding=0.02)
        item.setLabel("left", "probability")
        item.showGrid(y=True, alpha=0.2)
        self.labels: list[str] = []
        self._heights = np.zeros(0)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        item.addItem(self._bars)
        self._threshold_line = pg.InfiniteLine(pos=0.5, angle=0, movable=False,
                                               pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine))
        item.addItem(self._threshold_line)

    def set_labels(self, labels: list[str]) -> None:
        self.labels = list(labels)
        n = len(self.labels)
        self._heights = np.zeros(n)
        colours = class_colours(n)
        brushes = [pg.mkBrush(*c) for c in colours]
        self._bars.setOpts(x=np.arange(n), height=self._heights, width=0.7, brushes=brushes)
        axis = self.getPlotItem().getAxis("bottom")
        axis.setTicks([[(i, name) for i, name in enumerate(self.labels)]])
        self.getPlotItem().setXRange(-0.6, max(n - 1, 0) + 0.6, padding=0)

    def set_threshold(self, threshold: float) -> None:
        self._threshold_line.setValue(float(threshold))

    def set_probabilities(self, probabilities) -> None:
        heights = np.asarray(probabilities, dtype=float)
        if heights.shape != self._heights.shape:
            return
        self._heights = heights
        self._bars.setOpts(height=heights)

    def values(self) -> list[float]:
        """The bars' current heights (class probabilities, in label order)."""
        return [float(v) for v in self._heights]


class TimelineRibbon(pg.PlotWidget):
    """A colour ribbon of the latest predictions (top row) and, when known, the truth (bottom).

    Holds the last `capacity` predictions as class indices (-1 = uncertain, or a truth that
    is not one of the model's classes; -2 = no truth known; -3 = empty slot) and draws them
    as one ImageItem; newest on the right.
    """

    def __init__(self, capacity: int = 400, parent=None) -> None:
        super().__init__(parent=parent)
        self.capacity = int(capacity)
        item = _fixed_plot(self)
        item.hideAxis("bottom")
        left = item.getAxis("left")
        left.setTicks([[(0.5, "truth"), (1.5, "predicted")]])
        item.setYRange(0, 2, padding=0)
        item.setXRange(0, self.capacity, padding=0)
        self._image = pg.ImageItem(axisOrder="row-major")
        item.addItem(self._image)
        self.row_names = ("truth", "predicted")
        self._pred = np.full(self.capacity, EMPTY, np.int32)
        self._truth = np.full(self.capacity, EMPTY, np.int32)
        self._count = 0
        self._colours = class_colours(0)

    def set_classes(self, n: int) -> None:
        self._colours = class_colours(n)
        self.clear_data()

    def clear_data(self) -> None:
        self._pred[:] = EMPTY
        self._truth[:] = EMPTY
        self._count = 0
        self.redraw()

    def append(self, pred: int, truth: int) -> None:
        """Record one prediction (index, -1 uncertain) and its truth (index, -1 unknown
        activity, -2 no truth). Cheap: a roll of two small int arrays."""
        self._pred[:-1] = self._pred[1:]
        self._truth[:-1] = self._truth[1:]
        self._pred[-1] = pred
        self._truth[-1] = truth
        self._count += 1

    def extend(self, preds, truths) -> None:
        """Record many predictions at once (same codes as ``append``)."""
        k = len(preds)
        if k == 0:
            return
        if k >= self.capacity:
            self._pred[:] = np.asarray(preds[-self.capacity:], np.int32)
            self._truth[:] = np.asarray(truths[-self.capacity:], np.int32)
        else:
            self._pred[:-k] = self._pred[k:]
            self._truth[:-k] = self._truth[k:]
            self._pred[-k:] = preds
            self._truth[-k:] = truths
        self._count += k

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The held (predicted, truth) codes, oldest first (copies)."""
        return self._pred.copy(), self._truth.copy()

    def _rgb(self, codes: np.ndarray) -> np.ndarray:
        out = np.empty((len(codes), 3), np.uint8)
        out[:] = EMPTY_RGB
        out[codes == -2] = NO_TRUTH_RGB
        out[codes == -1] = UNCERTAIN_RGB
        known = codes >= 0
        if len(self._colours):
            out[known] = self._colours[np.clip(codes[known], 0, len(self._colours) - 1)]
        return out

    def set_row_names(self, truth: str, predicted: str) -> None:
        """Name the rows by what they show now, e.g. "true: walking", "predicted: jogging"."""
        if (truth, predicted) != self.row_names:
            self.row_names = (truth, predicted)
            self.getPlotItem().getAxis("left").setTicks([[(0.5, truth), (1.5, predicted)]])

    def redraw(self) -> None:
        rows = np.stack([self._rgb(self._truth), self._rgb(self._pred)])  # [2, capacity, 3]
        self._image.setImage(rows, autoLevels=False, levels=(0, 255))
        self._image.setRect(0, 0, self.capacity, 2)


# What a visitor reads for each input of the network (the attention strip's rows); the
# feature's own name stays in the tooltip.
READABLE_INPUTS = {
    "x": "x", "y": "y", "z": "z",
    "acc_mag": "motion", "body_mag": "body motion",
    "body_vert": "up-down motion", "body_horiz": "sideways motion",
    "body_x": "body x", "body_y": "body y", "body_z": "body z",
    "grav_x": "gravity x", "grav_y": "gravity y", "grav_z": "gravity z",
    "tilt_x": "tilt x", "tilt_y": "tilt y", "tilt_z": "tilt z",
    "gx": "rotation x", "gy": "rotation y", "gz": "rotation z",
    "gyro_mag": "rotation", "gyro_vert": "turning", "gyro_horiz": "swinging",
}


def readable_input(name: str) -> str:
    """An input channel's name as a visitor reads it ("acc_mag" -> "motion")."""
    return READABLE_INPUTS.get(name, name.replace("_", " "))


class AttentionStrip(pg.PlotWidget):
    """The model's attention over the current window's time patches: channels x patches."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        item = _fixed_plot(self)
        item.setLabel("bottom", "time patch (oldest → newest)")
        item.getAxis("bottom").enableAutoSIPrefix(False)   # patch numbers, never "(x0.001)"
        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setColorMap(pg.colormap.get("inferno"))
        item.addItem(self._image)
        self.channel_names: list[str] = []
        self.row_names: list[str] = []      # what the rows are called on screen
        self.last: np.ndarray | None = None
        self._show_empty()

    def _show_empty(self) -> None:
        """Before any attention: the row names over an axis without numbers."""
        item = self.getPlotItem()
        item.getAxis("bottom").setStyle(showValues=False)
        item.setXRange(0, 1, padding=0)
        item.setYRange(0, max(1, len(self.channel_names)), padding=0)

    def set_channels(self, names: list[str]) -> None:
        self.channel_names = list(names)
        # a readable row per input, and room under them for the axis and its title
        self.setMinimumHeight(52 + 15 * len(names))
        self.setMaximumHeight(max(130, self.minimumHeight() + 20))
        left = self.getPlotItem().getAxis("left")
        self.row_names = [readable_input(n) for n in names]
        left.setTicks([[(i + 0.5, n) for i, n in enumerate(self.row_names)]])
        left.setToolTip("Rows: " + ", ".join(f"{r} ({n})" for r, n in zip(
            self.row_names, names, strict=True) if r != n))
        self.last = None
        self._image.clear()
        self._show_empty()

    def set_attention(self, attention: np.ndarray | None) -> None:
        """Show an attention map [channels, patches] (each row rescaled to its own max so the
        strongest patch of every axis stands out)."""
        if attention is None:
            return
        a = np.asarray(attention, dtype=np.float32)
        if a.ndim != 2 or a.size == 0:
            return
        peak = a.max(axis=1, keepdims=True)
        a = np.divide(a, peak, out=np.zeros_like(a), where=peak > 0)
        self.last = a
        self._image.setImage(a, autoLevels=False, levels=(0.0, 1.0))
        self._image.setRect(0, 0, a.shape[1], a.shape[0])
        item = self.getPlotItem()
        item.getAxis("bottom").setStyle(showValues=True)
        item.setXRange(0, a.shape[1], padding=0)
        item.setYRange(0, a.shape[0], padding=0)


def grey_colour() -> QColor:
    """The text colour of an 'uncertain' current label."""
    return QColor(*UNCERTAIN_RGB)
