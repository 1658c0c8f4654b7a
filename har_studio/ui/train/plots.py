"""Plots of the Train tab: live loss/accuracy curves, per-class accuracy bars, confusion heatmap.

Every plot item is created once; updates only call ``setData`` / ``setImage`` so a redraw
costs a fraction of a frame even while training streams progress in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QHBoxLayout, QWidget

log = logging.getLogger(__name__)

# Colours chosen to stay apart for the common kinds of colour blindness (Okabe-Ito).
TRAIN_COLOUR = "#0072B2"
VAL_COLOUR = "#E69F00"
BATCH_COLOUR = (0, 114, 178, 150)
STAR_SIZE = 12           # px, the kept-weights star
STAR_ROOM = 0.08         # of the accuracy axis above 1.0, so a star at 1.0 is drawn whole


class EpochAxis(pg.AxisItem):
    """An epoch axis: ticks on whole epochs only (a 3-epoch run has no "1.5")."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        levels = [(spacing, offset) for spacing, offset in super().tickSpacing(minVal, maxVal, size)
                  if spacing >= 1 and float(spacing).is_integer()]
        return levels or [(1.0, 0.0)]


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w", axisItems={"bottom": EpochAxis("bottom")})
    item = widget.getPlotItem()
    for side in ("left", "bottom"):   # no "loss (x0.001)": the numbers are the values
        item.getAxis(side).enableAutoSIPrefix(False)
    item.setTitle(title, color="#333", size="10pt")
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setMenuEnabled(False)
    widget.setMinimumSize(220, 160)
    return widget


class TrainingCurves(QWidget):
    """Loss and accuracy per epoch (training and validation) plus a smoothed per-batch loss.

    ``curves`` maps ``train_loss``, ``val_loss``, ``batch_loss``, ``train_acc``, ``val_acc`` to
    their PlotDataItems. Batch points sit at fractional epochs (epoch 2, batch 5 of 10 -> 1.5)
    so they share the x axis with the epoch points (drawn at the end of each epoch).

    Axis ranges are set by hand, not auto-ranged: a range change makes pyqtgraph lay out and
    redraw the axes, ticks and grid, which costs several times more than drawing the curves.
    The x axis spans the planned epochs; the loss axis is refitted at epoch ends and only
    when a batch point falls outside it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Loss", "loss", "epoch")
        self.acc_plot = _plot("Accuracy", "accuracy", "epoch")
        loss_item = self.loss_plot.getPlotItem()
        acc_item = self.acc_plot.getPlotItem()
        for item in (loss_item, acc_item):
            item.disableAutoRange()
        # room above 1.0 and after the last epoch: the kept-weights star is drawn whole
        acc_item.setYRange(-0.02, 1.0 + STAR_ROOM, padding=0)
        self._planned_epochs = 1
        loss_item.addLegend(offset=(-8, 8), labelTextColor="#333")
        acc_item.addLegend(offset=(-8, -8), labelTextColor="#333")
        self.curves: dict[str, pg.PlotDataItem] = {
            "batch_loss": loss_item.plot(pen=pg.mkPen(BATCH_COLOUR, width=1), name="batch (smoothed)",
                                         skipFiniteCheck=True),
            "train_loss": loss_item.plot(pen=pg.mkPen(TRAIN_COLOUR, width=2), symbol="o",
                                         symbolSize=5, symbolBrush=TRAIN_COLOUR, name="training"),
            "val_loss": loss_item.plot(pen=pg.mkPen(VAL_COLOUR, width=2), symbol="s",
                                       symbolSize=5, symbolBrush=VAL_COLOUR, name="validation"),
            "train_acc": acc_item.plot(pen=pg.mkPen(TRAIN_COLOUR, width=2), symbol="o",
                                       symbolSize=5, symbolBrush=TRAIN_COLOUR, name="training"),
            "val_acc": acc_item.plot(pen=pg.mkPen(VAL_COLOUR, width=2), symbol="s",
                                     symbolSize=5, symbolBrush=VAL_COLOUR, name="validation"),
        }
        batch = self.curves["batch_loss"]
        batch.setClipToView(True)
        batch.setDownsampling(auto=True, method="peak")
        self.kept_star = acc_item.plot(pen=None, symbol="star", symbolSize=STAR_SIZE,
                                   symbolBrush="#009E73", name="kept weights")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.acc_plot)

        self.set_planned_epochs(1)
        loss_item.setYRange(0.0, 2.0, padding=0)

    def clear(self) -> None:
        for curve in (*self.curves.values(), self.kept_star):
            curve.setData([], [])

    def set_planned_epochs(self, epochs: int) -> None:
        """Span the x axes over `epochs` (the run's maximum; early stopping may end sooner)."""
        self._planned_epochs = max(1, int(epochs))
        end = self._planned_epochs + max(0.25, 0.05 * self._planned_epochs)
        for plot in (self.loss_plot, self.acc_plot):
            plot.getPlotItem().setXRange(0.0, end, padding=0)

    def fit_loss_range(self, force: bool = True) -> None:
        """Fit the loss axis to the data; with `force` False only when data fall outside."""
        finite = [y[np.isfinite(y)] for curve in (self.curves["train_loss"],
                                                   self.curves["val_loss"],
                                                   self.curves["batch_loss"])
                  for y in (curve.getData()[1],) if y is not None and len(y)]
        finite = [y for y in finite if len(y)]
        if not finite:
            return
        lo = float(min(y.min() for y in finite))
        hi = float(max(y.max() for y in finite))
        view = self.loss_plot.getPlotItem().getViewBox()
        y0, y1 = view.viewRange()[1]
        if force or lo < y0 or hi > y1:
            pad = max((hi - lo) * 0.08, 0.02)
            view.setYRange(max(0.0, lo - pad), hi + pad, padding=0)

    def set_epochs(self, rows: Sequence[dict]) -> None:
        """Draw the per-epoch curves from rows with epoch, train/val loss/acc, is_best."""
        epochs = np.array([float(r.get("epoch", i + 1)) for i, r in enumerate(rows)], float)

        def column(key: str) -> np.ndarray:
            return np.array([_num(r.get(key)) for r in rows], float)

        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            values = column(key)
            keep = np.isfinite(values)
            self.curves[key].setData(epochs[keep], values[keep])
        # The star marks the epoch whose weights are kept (the best validation loss with
        # "keep best", else the latest epoch); older history files only have is_best.
        key = "kept" if rows and "kept" in rows[0] else "is_best"
        best = [i for i, r in enumerate(rows) if _truthy(r.get(key))]
        acc = float("nan")
        if best:
            acc = _num(rows[best[-1]].get("val_acc"))
            if not np.isfinite(acc):
                acc = _num(rows[best[-1]].get("train_acc"))
        if np.isfinite(acc):
            self.kept_star.setData([epochs[best[-1]]], [acc])
        else:
            self.kept_star.setData([], [])
        if len(epochs) and epochs.max() > self._planned_epochs:
            self.set_planned_epochs(int(np.ceil(epochs.max())))
        self.fit_loss_range(force=True)

    def set_batches(self, x: np.ndarray, loss: np.ndarray) -> None:
        self.curves["batch_loss"].setData(x, loss)
        self.fit_loss_range(force=False)


def _shorten(name: str, width: int) -> str:
    return name if len(name) <= width else name[:width - 1] + "."


def _truthy(value) -> bool:
    """True for True, 1 and the strings "true"/"1" (history.csv stores booleans as text)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class _CategoryAxis(pg.AxisItem):
    """An axis that labels integer positions with names (activities)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._names: list[str] = []

    def set_names(self, names: Sequence[str]) -> None:
        self._names = list(names)
        self.setTicks([[(i, n) for i, n in enumerate(self._names)]])

    def names_shown(self) -> list[tuple[int, str]]:
        return list(enumerate(self._names))


class TextLayer(pg.GraphicsObject):
    """Many short labels at data positions, painted by one item at a fixed font size.

    One pg.TextItem per label costs about 1 ms to create; an 18-class confusion matrix has 324
    cells. This item paints every label in device coordinates (so text never stretches with
    the view) and takes well under a millisecond to update.
    """

    def __init__(self, font_size: int = 9) -> None:
        super().__init__()
        self._font = QFont()
        self._font.setPointSize(font_size)
        self._labels: list[tuple[float, float, str, QColor, float]] = []
        self._rect = QRectF()

    def set_labels(self, labels: Sequence[tuple], rect: QRectF, *, anchor_x: float = 0.5,
                   font_size: int | None = None) -> None:
        """`labels`: (x, y, text, colour) or (x, y, text, colour, anchor); an anchor of 0 puts
        the text right of x, 0.5 centres it, 1 ends it at x (default `anchor_x`)."""
        self.prepareGeometryChange()
        if font_size is not None:
            self._font.setPointSize(font_size)
        self._labels = [(float(label[0]), float(label[1]), str(label[2]), QColor(label[3]),
                         float(label[4]) if len(label) > 4 else anchor_x) for label in labels]
        self._rect = QRectF(rect)
        self.update()

    def texts(self) -> list[str]:
        return [label[2] for label in self._labels]

    def boundingRect(self) -> QRectF:
        return self._rect

    @staticmethod
    def _text_rect(point: QPointF, text: str, metrics, anchor_x: float) -> QRectF:
        width = metrics.horizontalAdvance(text) + 2
        height = metrics.height()
        return QRectF(point.x() - anchor_x * width, point.y() - height / 2, width, height)

    def label_rects(self) -> list[QRectF]:
        """Where each label is painted, in scene coordinates (to check it is in view)."""
        metrics = QFontMetricsF(self._font)
        return [self._text_rect(self.mapToScene(QPointF(x, y)), text, metrics, anchor)
                for x, y, text, _colour, anchor in self._labels]

    def paint(self, painter: QPainter, *_args) -> None:
        if not self._labels:
            return
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self._font)
        metrics = painter.fontMetrics()
        for x, y, text, colour, anchor_x in self._labels:
            painter.setPen(colour)
            painter.drawText(self._text_rect(transform.map(QPointF(x, y)), text, metrics,
                                             anchor_x), Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


VALUE_INSIDE_FROM = 0.45    # a bar at least this long holds its value


def _value_text(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "–"


class PerClassBars(QWidget):
    """Test accuracy of each class as a horizontal bar (names stay readable), value beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._axis = _CategoryAxis("left")
        self.plot = pg.PlotWidget(background="w", axisItems={"left": self._axis})
        item = self.plot.getPlotItem()
        item.setTitle("Per-class test accuracy", color="#333", size="10pt")
        item.setXRange(0, 1.02, padding=0)
        item.setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertY(True)
        item.showGrid(x=True, alpha=0.25)
        self.plot.setMinimumSize(220, 160)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=TRAIN_COLOUR)
        item.addItem(self.bars)
        self.value_labels = TextLayer()
        item.addItem(self.value_labels)
        self.names: list[str] = []
        self.values = np.zeros(0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_values(self, per_class: dict[str, float] | Sequence[tuple[str, float]]) -> None:
        pairs = list(per_class.items()) if isinstance(per_class, dict) else list(per_class)
        self.names = [str(n) for n, _ in pairs]
        values = np.array([_num(v) for _, v in pairs], float)
        self.values = values
        shown = np.where(np.isfinite(values), values, 0.0)
        n = len(self.names)
        self._axis.set_names(self.names)
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=shown, height=0.7)
        item = self.plot.getPlotItem()
        # the value at the end of its bar: inside a long bar (white), after a short one, so
        # it is never cut by the plot's edge
        inside = shown >= VALUE_INSIDE_FROM
        self.value_labels.set_labels(
            [(shown[i] - 0.01, i, _value_text(v), "#fff", 1.0) if inside[i] else
             (shown[i] + 0.01, i, _value_text(v), "#333", 0.0) for i, v in enumerate(values)],
            QRectF(0.0, -0.5, 1.02, max(n, 1)))
        if n:
            item.setYRange(-0.6, n - 0.4, padding=0)

    def clear(self) -> None:
        self.set_values({})


class ConfusionHeatmap(QWidget):
    """Confusion matrix: colours normalised per true class (row), counts written in each cell.

    Rows are true classes (top to bottom), columns predicted classes (left to right).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._x_axis = _CategoryAxis("bottom")
        self._y_axis = _CategoryAxis("left")
        self.plot = pg.PlotWidget(background="w",
                                  axisItems={"bottom": self._x_axis, "left": self._y_axis})
        item = self.plot.getPlotItem()
        item.setTitle("Confusion (rows true, columns predicted)", color="#333", size="9pt")
        item.setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertY(True)
        item.setAspectLocked(False)
        self.plot.setMinimumSize(200, 200)
        self.image = pg.ImageItem(axisOrder="row-major")
        # White (never predicted) to dark blue (always predicted): counts stay readable.
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [(255, 255, 255), (8, 48, 107)]))
        item.addItem(self.image)
        self.cell_labels = TextLayer()
        item.addItem(self.cell_labels)
        self.counts = np.zeros((0, 0), np.int64)
        self.labels: list[str] = []
        item.getViewBox().sigResized.connect(self._fit_column_names)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    @property
    def class_count(self) -> int:
        return len(self.labels)

    def set_matrix(self, counts, labels: Sequence[str]) -> None:
        counts = np.asarray(counts, dtype=np.int64).reshape(len(labels), len(labels)) \
            if len(labels) else np.zeros((0, 0), np.int64)
        self.counts = counts
        self.labels = [str(n) for n in labels]
        item = self.plot.getPlotItem()
        n = len(self.labels)
        self._y_axis.set_names([_shorten(name, 14) for name in self.labels])
        self._fit_column_names()
        if n == 0:
            self.image.clear()
            self.cell_labels.set_labels([], QRectF())
            return
        rows = counts.sum(axis=1, keepdims=True)
        normalised = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
        self.image.setImage(normalised, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, n, n)
        item.setXRange(-0.5, n - 0.5, padding=0)   # every row and column in view
        item.setYRange(-0.5, n - 0.5, padding=0)
        white, black = QColor("#fff"), QColor("#111")
        self.cell_labels.set_labels(
            [(c, r, str(int(counts[r, c])), white if normalised[r, c] > 0.5 else black)
             for r in range(n) for c in range(n)],
            QRectF(-0.5, -0.5, n, n), font_size=8 if n > 8 else 9)
        item.setXRange(-0.5, n - 0.5, padding=0)
        item.setYRange(-0.5, n - 0.5, padding=0)

    def clear(self) -> None:
        self.set_matrix([], [])

    def column_names(self) -> list[str]:
        """The column (predicted class) names as shown: shortened to fit their column."""
        return [name for _, name in self._x_axis.names_shown()]

    def _fit_column_names(self, *_args) -> None:
        """Columns are narrow: each name is cut (with "…") to its column's width, so no name
        runs into the next one or off the plot; the rows keep the full names."""
        n = len(self.labels)
        width = self.plot.getPlotItem().getViewBox().width() / max(n, 1) - 2
        metrics = QFontMetricsF(self._x_axis.font())
        # tall enough for the names' descenders ("jogging" lost its g's)
        self._x_axis.setHeight(int(metrics.height() + metrics.descent()) + 10)
        self._x_axis.set_names([metrics.elidedText(name, Qt.TextElideMode.ElideRight,
                                                   max(width, 8.0)) for name in self.labels])


