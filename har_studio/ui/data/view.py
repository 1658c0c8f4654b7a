"""The Data tab's right side: samples per activity, the signal of one subject doing one
activity, and the windows per split and class that the chosen settings give."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ...data.activities import activity_order
from ...data.dataset import ACCEL_CHANNELS, GYRO_CHANNELS
from ..widgets import BarChart, channel_pen, fill_table
from .spans import ActivityBands, SpanViewBox
from .summary import ranges

COUNT_HEADERS = ["Class", "Train", "Validation", "Test", "Total"]
WHOLE_RECORDING = "(whole recording)"


def _boxed(*widgets, stretch: int | None = None):
    """A margin-less column of `widgets` (the last one stretched by `stretch`)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        if i == len(widgets) - 1 and stretch is not None:
            layout.addWidget(widget, stretch)
        else:
            layout.addWidget(widget)
    return box, layout


def counts_text(counts) -> str:
    """Class balance and subjects per split, under the counts table."""
    text = []
    ratio = counts.imbalance()
    if np.isfinite(ratio):
        hi = counts.labels[int(np.argmax(counts.train))]
        lo = counts.labels[int(np.argmin(counts.train))]
        detail = "balanced" if hi == lo or ratio < 1.05 else f"{hi} vs {lo}"
        text.append(f"Class imbalance (train windows, max/min): {ratio:.1f}× ({detail}).")
    elif ratio == float("inf"):
        missing = [n for n, c in zip(counts.labels, counts.train, strict=True) if c == 0]
        text.append(f"No training windows for: {', '.join(missing)}.")
    sp = counts.split
    if sp.get("kind") == "subject":
        text.append(f"Subjects — train: {ranges(sp['train_subjects'])}; "
                    f"validation: {ranges(sp['val_subjects']) or 'none'}; "
                    f"test: {ranges(sp['test_subjects']) or 'none'}.")
    return " ".join(text)


class DataView(QSplitter):
    """Charts and the counts table; ``show_dataset`` returns the subjects and activities."""

    plotChanged = Signal()   # the user chose another subject or activity to plot

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.activity_chart = BarChart(x_label="samples")
        self.activity_chart.setMinimumHeight(140)
        self.plot_subject = QComboBox()
        self.plot_subject.currentIndexChanged.connect(self._on_plot_choice_changed)
        self.plot_activity = QComboBox()
        self.plot_activity.currentIndexChanged.connect(self._on_plot_choice_changed)
        for combo in (self.plot_subject, self.plot_activity):   # data arrives after show
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        choose_row = QHBoxLayout()
        for widget in (QLabel("Subject"), self.plot_subject, QLabel("Activity"),
                       self.plot_activity):
            choose_row.addWidget(widget)
        choose_row.addStretch(1)
        self.span_box = SpanViewBox()
        self.accel_plot = pg.PlotWidget(viewBox=self.span_box)
        self.gyro_plot = pg.PlotWidget()
        self.plot_curves: dict[str, pg.PlotDataItem] = {}
        for widget, chans, unit in ((self.accel_plot, ACCEL_CHANNELS, "m/s²"),
                                    (self.gyro_plot, GYRO_CHANNELS, "rad/s")):
            item = widget.getPlotItem()
            item.setClipToView(True)
            item.setDownsampling(auto=True, mode="peak")
            item.showGrid(x=True, y=True, alpha=0.2)
            item.addLegend(offset=(5, 5))
            item.setLabel("left", "accelerometer" if unit == "m/s²" else "gyroscope", units=unit)
            item.setLabel("bottom", "time", units="s")
            for c in chans:
                self.plot_curves[c] = widget.plot(pen=channel_pen(c), name=c, skipFiniteCheck=True)
        self.gyro_plot.setXLink(self.accel_plot)
        self.bands = ActivityBands(self.accel_plot.getPlotItem())
        self.gyro_plot.hide()
        plot_box, plot_layout = _boxed()
        plot_layout.addLayout(choose_row)
        self.plot_layout = plot_layout   # the labelling bar goes under the choice row
        plot_layout.addWidget(self.accel_plot, 1)
        plot_layout.addWidget(self.gyro_plot, 1)

        self.counts_table = QTableWidget()
        self.counts_table.verticalHeader().setVisible(False)
        self.counts_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.counts_table.setAlternatingRowColors(True)
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        table_box, table_layout = _boxed(QLabel("<b>Windows per split and class</b>"),
                                         self.counts_table, stretch=1)
        table_layout.addWidget(self.counts_label)
        chart_box, _ = _boxed(QLabel("<b>Samples per activity</b>"), self.activity_chart)
        for widget, stretch in ((chart_box, 1), (plot_box, 3), (table_box, 2)):
            self.addWidget(widget)
            self.setStretchFactor(self.count() - 1, stretch)
        self.setSizes([150, 400, 280])
        self._arrays: dict[str, np.ndarray] = {}
        self._activity_codes: dict[str, int] = {}
        self._origin_ns = 0

    def show_dataset(self, dataset) -> tuple[list[int], list[str]]:
        """Show `dataset` (None: nothing); its subjects and activities (present, in order)."""
        if dataset is None:
            self._arrays = {}
            self.activity_chart.set_data([], [])
            self.plot_subject.clear()
            self.plot_activity.clear()
            self._update_plot()
            return [], []
        # the loader already listed the subjects: a unique() over 1M rows costs ~20 ms
        return self.show_frame(dataset.frame, dataset.channels, dataset.report.subjects)

    def show_frame(self, frame, channels, subjects=None) -> tuple[list[int], list[str]]:
        """Show the tidy `frame` (an edited one, say), keeping the plot's subject and activity
        where they are still there; its subjects and activities (present, in order)."""
        activity = frame["activity"]
        if hasattr(activity, "cat"):
            categories = [str(c) for c in activity.cat.categories]
            codes = activity.cat.codes.to_numpy()
        else:
            codes_, uniques = np.unique(activity.astype(str).to_numpy(), return_inverse=True)
            categories, codes = [str(u) for u in codes_], uniques
        self._arrays = {
            "subject": frame["subject"].to_numpy(), "code": codes,
            "timestamp": frame["timestamp"].to_numpy(),
            **{c: frame[c].to_numpy() for c in channels},
        }
        self._activity_codes = {name: i for i, name in enumerate(categories)}
        counts = np.bincount(codes[codes >= 0], minlength=len(categories))
        by_name = dict(zip(categories, counts, strict=True))
        order = activity_order([n for n, c in by_name.items() if c > 0])
        subjects = sorted(int(s) for s in (subjects or np.unique(self._arrays["subject"])))
        # a readable row per activity (18 for WISDM 2019), never overlapping labels
        self.activity_chart.setMinimumHeight(max(140, 15 * len(order) + 45))
        self.activity_chart.set_data(order, [int(by_name[n]) for n in order])
        self.gyro_plot.setVisible(any(c in GYRO_CHANNELS for c in channels))
        was = self.plot_subject.currentData(), self.plot_activity.currentData()
        self.plot_subject.blockSignals(True)
        self.plot_activity.blockSignals(True)
        try:
            self.plot_subject.clear()
            for s in subjects:
                self.plot_subject.addItem(str(s), s)
            self.plot_activity.clear()
            for name in order:
                self.plot_activity.addItem(name, name)
            self.plot_activity.addItem(WHOLE_RECORDING, "")
            self.plot_subject.setCurrentIndex(max(0, self.plot_subject.findData(was[0])))
            self.plot_activity.setCurrentIndex(max(0, self.plot_activity.findData(was[1])))
        finally:
            self.plot_subject.blockSignals(False)
            self.plot_activity.blockSignals(False)
        self._update_plot()
        return subjects, order

    def _on_plot_choice_changed(self, _index: int) -> None:
        self._update_plot()
        self.plotChanged.emit()

    def select_plot(self, subject: int, activity: str) -> None:
        """Show `subject` doing `activity` ("": the subject's whole recording)."""
        i = self.plot_subject.findData(int(subject))
        j = self.plot_activity.findData(str(activity))
        if i < 0 or j < 0:
            raise ValueError(f"no subject {subject} or activity {activity!r} in the data")
        self.plot_subject.blockSignals(True)
        self.plot_subject.setCurrentIndex(i)
        self.plot_subject.blockSignals(False)
        self.plot_activity.setCurrentIndex(j)
        self._update_plot()

    def plot_selection(self) -> tuple[int | None, str, int]:
        """(subject, activity or "" for the whole recording, timestamp in ns at time 0)."""
        return self.plot_subject.currentData(), self.plot_activity.currentData() or "", \
            self._origin_ns

    def _update_plot(self) -> None:
        a = self._arrays
        subject = self.plot_subject.currentData()
        activity = self.plot_activity.currentData()
        self.bands.clear()
        if not a or subject is None or activity is None:
            for curve in self.plot_curves.values():
                curve.setData([], [])
            return
        rows = a["subject"] == subject
        if activity:
            rows &= a["code"] == self._activity_codes.get(activity, -1)
        index = np.flatnonzero(rows)
        index = index[np.argsort(a["timestamp"][index], kind="stable")]
        title = f"Subject {subject}, {activity or 'whole recording'}"
        if len(index) == 0:
            title += " — no samples"
            t = np.zeros(0)
        else:
            ts = a["timestamp"][index]
            self._origin_ns = int(ts[0])
            t = (ts - ts[0]) / 1e9
            title += f" — {len(index):,} samples, {t[-1]:.0f} s"
            if not activity:
                names = {i: n for n, i in self._activity_codes.items()}
                self.bands.show_runs(t, a["code"][index], names)
        for c, curve in self.plot_curves.items():
            if c in a and len(index):
                curve.setData(t, a[c][index])
            else:
                curve.setData([], [])
        self.accel_plot.setTitle(title, size="9pt")
        self.accel_plot.enableAutoRange()
        self.gyro_plot.enableAutoRange()

    def set_counts(self, counts) -> None:
        """Fill the counts table (None: empty)."""
        if counts is None:
            fill_table(self.counts_table, COUNT_HEADERS, [])
            self.counts_label.setText("")
            return
        rows = []
        for i, name in enumerate(counts.labels):
            t, v, te = counts.train[i], counts.val[i], counts.test[i]
            rows.append([name, t, v, te, t + v + te])
        tr, va, te = sum(counts.train), sum(counts.val), sum(counts.test)
        rows.append(["Total", tr, va, te, tr + va + te])
        fill_table(self.counts_table, COUNT_HEADERS, rows)
        self.counts_label.setText(counts_text(counts) if counts.total else "")

    def counts_rows(self) -> list[list[str]]:
        """The counts table as text (for tests)."""
        t = self.counts_table
        return [[t.item(r, c).text() if t.item(r, c) else "" for c in range(t.columnCount())]
                for r in range(t.rowCount())]
