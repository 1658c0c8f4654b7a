"""The Live tab's right side: the current activity, scrolling signal, attention strip, class
probabilities, prediction timeline and statistics, and the session state they are drawn from.

Updates are only appended here (cheap, as they arrive); ``redraw`` draws the latest state and
is called by the tab's ~30 Hz timer, never per sample.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from ...data.dataset import CHANNEL_UNITS
from ...live.classifier import UNCERTAIN
from ...live.session import LiveUpdate, RunningFigures, SessionSummary
from ..widgets import InlineMessage
from .plots import (
    AttentionStrip,
    ProbabilityBars,
    SampleRing,
    SignalPlot,
    TimelineRibbon,
    class_colours,
)

SIGNAL_SPAN_S = 10.0             # seconds of signal shown
TIMELINE_MAX = 200_000           # predicted labels kept in `timeline` (oldest dropped beyond)
RECENT_QUEUE = 2000              # latest predictions whose queueing the stats line shows
QUEUEING = "queueing (windows waiting behind a faster-than-real-time replay)"


def _font(points: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(bold)
    return font


def plural(n: int, word: str) -> str:
    """ "1 sample", "2 samples"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_text(s: SessionSummary) -> str:
    """A finished session in one line (HTML)."""
    how = {"finished": "Replay finished", "stopped": "Stopped",
           "duration": "Time limit reached"}.get(s.stopped_reason, s.stopped_reason)
    parts = [f"<b>{how}</b>: {plural(s.windows, 'window')} from "
             f"{plural(s.samples, 'sample')} in {s.duration_s:.1f} s"]
    if s.accuracy is not None:
        parts.append(f"accuracy <b>{s.accuracy:.1%}</b> over {s.labelled_windows} "
                     "labelled windows")
    if s.latency_ms_p50 is not None:
        parts.append(f"latency p50 {s.latency_ms_p50:.1f} ms · p99 {s.latency_ms_p99:.1f} ms")
    if s.queue_ms_p50 is not None and (s.queue_ms_p99 or 0) >= 1.0:
        parts.append(f"{QUEUEING} p50 {s.queue_ms_p50:.1f} ms · p99 {s.queue_ms_p99:.1f} ms")
    if s.bad_packets or s.dropped:
        parts.append(f"{s.bad_packets} bad packets, {s.dropped} samples dropped")
    return "; ".join(parts) + "."


class LiveView(QWidget):
    """What a session shows, and the state it is drawn from (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = InlineMessage(self)
        self.current_label = QLabel("—")
        self.current_label.setFont(_font(26, bold=True))
        self.current_label.setMinimumWidth(260)
        self.confidence_label = QLabel("")
        self.confidence_label.setFont(_font(13))
        self.status_label = QLabel("Idle")
        head = QHBoxLayout()
        head.addWidget(self.current_label)
        head.addWidget(self.confidence_label)
        head.addStretch(1)
        head.addWidget(self.status_label)

        self.signal_plot = SignalPlot(SIGNAL_SPAN_S)
        self.attention_strip = AttentionStrip()
        self.attention_strip.setToolTip(
            "Where in the current window the model looked: attention received by each time "
            "patch of each axis (first transformer block, averaged over heads); bright = more.")
        self.probability_bars = ProbabilityBars()
        self.timeline_ribbon = TimelineRibbon()
        self.timeline_ribbon.setMaximumHeight(80)
        self.timeline_ribbon.setToolTip("Latest predictions, newest on the right (top) and "
                                        "the true activity of a labelled replay (bottom); "
                                        "grey = uncertain.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.signal_plot, 3)
        upper_layout.addWidget(self.attention_strip, 1)
        splitter.addWidget(upper)
        splitter.addWidget(self.probability_bars)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.accuracy_label = QLabel("")
        self.stats_label = QLabel("")
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.accuracy_label, self.stats_label):
            # text changes every redraw: never let its width re-run the layout
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.accuracy_label.setWordWrap(True)      # the per-activity figures run long
        self.stats_label.setWordWrap(True)         # and so does latency with queueing
        self.stats_label.setToolTip("latency: from a sample's arrival to its prediction; "
                                    "queueing: how long windows waited behind others of a "
                                    "faster-than-real-time replay (not latency)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message)
        layout.addLayout(head)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.timeline_ribbon)
        for label in (self.accuracy_label, self.stats_label, self.summary_label):
            layout.addWidget(label)

        self.timeline: list[str] = []             # predicted label of every window, in order
        self.truth_timeline: list[str | None] = []
        self.redraw_count = 0
        self.running = RunningFigures()           # the session's own figures, as it sent them
        self.recent_queue_ms: deque = deque(maxlen=RECENT_QUEUE)   # the predictions' queue_ms
        self.last_prediction = None
        self.last_stats = None
        self.bad_packets = 0
        self.dirty = False
        self.new_prediction = False
        self._ring = SampleRing(3)
        self._plot_cols: dict[tuple, list[int]] = {}
        self._label_index: dict[str, int] = {}
        self.per_class: dict[str, list[int]] = {}   # truth -> [correct, windows] (replay)
        self._drawn_prediction = None
        self._colours = class_colours(0)
        self.hold_note: str | None = None         # shown instead of the running accuracy

    @property
    def running_accuracy(self) -> float | None:
        """The session's running accuracy (None while no window had a known activity)."""
        return self.running.accuracy

    def prepare(self, bundle, threshold: float) -> None:
        """Set up the plots for a model's labels and channels (no data)."""
        labels = list(bundle.labels) if bundle is not None else []
        channels = list(bundle.channels) if bundle is not None else ["x", "y", "z"]
        self._label_index = {name: i for i, name in enumerate(labels)}
        self._colours = class_colours(len(labels))
        self.probability_bars.set_labels(labels)
        self.probability_bars.set_threshold(threshold)
        self.timeline_ribbon.set_classes(len(labels))
        units = sorted({CHANNEL_UNITS.get(c, "") for c in channels} - {""})
        self.signal_plot.set_channels(channels, " · ".join(units))
        # The attention has one row per input of the network (derived features, if any).
        self.attention_strip.set_channels(list(bundle.input_channels) if bundle is not None
                                          else channels)
        self._ring = SampleRing(len(channels), capacity=8192)
        self._plot_cols = {}

    def reset(self, bundle, threshold: float) -> None:
        """A new session: empty state and cleared labels."""
        self.prepare(bundle, threshold)
        self.timeline, self.truth_timeline = [], []
        self.last_prediction = self.last_stats = None
        self.per_class = {}
        self.running = RunningFigures()
        self.recent_queue_ms.clear()
        self.bad_packets = 0
        self.dirty, self.new_prediction = True, False
        self._drawn_prediction = None
        self.timeline_ribbon.redraw()
        self.current_label.setText("…")
        self.current_label.setStyleSheet("")
        for label in (self.confidence_label, self.accuracy_label, self.stats_label,
                      self.summary_label):
            label.setText("")
        self.accuracy_label.setText(self.hold_note or "")

    def clear_figures(self, bundle, threshold: float, note: str) -> None:
        """What is shown describes a model or data no longer chosen: empty it (signal,
        label, confidence, accuracy, statistics) and say why in the summary line."""
        self.reset(bundle, threshold)
        self.dirty = False
        self.signal_plot.update_from(self._ring)
        self.current_label.setText("—")
        self.status_label.setText("Idle")
        self.summary_label.setText(note)

    def set_hold_note(self, text: str | None) -> None:
        """Show `text` where the running accuracy goes (None: the figures again, from the
        next prediction on)."""
        self.hold_note = text
        self.accuracy_label.setText(text or "")
        if text is not None:
            self.summary_label.setText("")

    def ingest(self, update: LiveUpdate) -> None:
        """Append what arrived (cheap, GUI thread); ``redraw`` draws it."""
        batch = update.samples
        changed = update.stats != self.last_stats
        if len(batch):
            self._ring.append(batch.t, self._plot_values(batch))
            changed = True
        if update.predictions:
            self._ingest_predictions(update.predictions)
            self.running = update.running
            changed = True
        if changed:   # an idle poll (nothing arrived, same stats) needs no redraw
            self.last_stats = update.stats
            self.bad_packets = int(update.stats.bad_packets)
            self.dirty = True

    def _plot_values(self, batch) -> np.ndarray:
        names = tuple(self.signal_plot.channel_names)
        key = tuple(batch.channels) if batch.channels else None
        if key is None or key == names:
            return batch.values[:, :len(names)]
        cols = self._plot_cols.get(key)
        if cols is None:
            cols = self._plot_cols[key] = [key.index(c) for c in names]
        return batch.values[:, cols]

    def _ingest_predictions(self, predictions) -> None:
        index = self._label_index
        preds, truths = [], []
        self.recent_queue_ms.extend(p.queue_ms for p in predictions)
        for p in predictions:
            self.timeline.append(p.label)
            self.truth_timeline.append(p.truth)
            preds.append(p.class_index if p.label != UNCERTAIN else -1)
            t = -2 if p.truth is None else index.get(p.truth, -1)
            truths.append(t)
            if t >= 0:     # per true activity, for the replay's breakdown
                tally = self.per_class.setdefault(p.truth, [0, 0])
                tally[0] += int(p.class_index == t)
                tally[1] += 1
        if len(self.timeline) > TIMELINE_MAX * 1.1:
            cut = len(self.timeline) - TIMELINE_MAX
            del self.timeline[:cut]
            del self.truth_timeline[:cut]
        self.timeline_ribbon.extend(preds, truths)
        self.last_prediction = predictions[-1]
        self.new_prediction = True

    def redraw(self, *, network: bool, attention: bool) -> None:
        """Draw the latest state."""
        self.dirty = False
        self.redraw_count += 1
        self.signal_plot.update_from(self._ring)
        p = self.last_prediction
        if p is not None and p is not self._drawn_prediction:
            self._drawn_prediction = p
            if p.label == UNCERTAIN:
                text, style = "uncertain", "color: #9a9a9a;"
            else:
                r, g, b = (int(v) for v in self._colours[p.class_index]) if (
                    0 <= p.class_index < len(self._colours)) else (0, 0, 0)
                text, style = p.label, f"color: rgb({r * 3 // 4}, {g * 3 // 4}, {b * 3 // 4});"
            self.current_label.setText(text)
            if style != self.current_label.styleSheet():   # restyling is not free
                self.current_label.setStyleSheet(style)
            self.confidence_label.setText(f"{p.confidence:.0%} confident")
            self.probability_bars.set_probabilities(p.probabilities)
            if p.attention is not None and attention:
                self.attention_strip.set_attention(p.attention)
            if p.truth is not None:
                self.timeline_ribbon.set_row_names(f"true: {p.truth}", f"predicted: {text}")
            self.timeline_ribbon.redraw()
        running = self.running
        if self.hold_note is not None:
            self.accuracy_label.setText(self.hold_note)
        elif running.accuracy is not None:
            self.accuracy_label.setText(
                f"Running accuracy {running.accuracy:.1%} over {running.labelled} windows "
                f"with a known activity · per activity: {self.per_class_text()}")
        self.stats_label.setText(self._stats_text(network))

    def per_class_text(self) -> str:
        """E.g. "walking 95% (40), jogging 80% (25)": accuracy and windows per true activity."""
        return ", ".join(f"{name} {c / n:.0%} ({n})" for name, (c, n) in
                         sorted(self.per_class.items(), key=lambda kv: -kv[1][1]) if n)

    def queue_percentiles(self) -> tuple[float, float] | None:
        """p50 and p99 of ``Prediction.queue_ms`` over the latest predictions, or None."""
        if not self.recent_queue_ms:
            return None
        q = np.fromiter(self.recent_queue_ms, np.float64, len(self.recent_queue_ms))
        p50, p99 = np.percentile(q, [50, 99])
        return float(p50), float(p99)

    def _stats_text(self, network: bool) -> str:
        running = self.running
        parts = [f"windows {running.predictions}"]
        if running.latency_ms_p50 is not None:
            parts.append(f"latency p50 {running.latency_ms_p50:.1f} ms · "
                         f"p99 {running.latency_ms_p99:.1f} ms")
        queue = self.queue_percentiles()
        if queue is not None and queue[1] >= 1.0:   # the wait is not latency: named apart
            parts.append(f"queueing p50 {queue[0]:.1f} ms · p99 {queue[1]:.1f} ms")
        p = self.last_prediction
        if p is not None and p.pocket is not None:   # a model that aligns each person
            parts.append(pocket_text(p.pocket))
        stats = self.last_stats
        if stats is not None:
            parts.append(f"input {stats.rate_hz:.1f} Hz")
            parts.append(f"samples {stats.samples}")
            parts.append(f"bad packets {stats.bad_packets}")
            parts.append(f"dropped {stats.dropped}")
            if network:
                parts.append("connected" if stats.connected else "waiting for data")
                if stats.packets and not stats.samples:   # Sensor Logger's test push
                    parts.append("test received: the phone reaches this computer")
                if stats.warning:
                    parts.append(f"⚠ {stats.warning}")
                if stats.phone:
                    parts.append(f"phone: {stats.phone}")
                if stats.last_error and stats.bad_packets:
                    parts.append(f"last error: {stats.last_error}")
        return "  |  ".join(parts)


def pocket_text(moving: int) -> str:
    """The stats line's word on the person's alignment (``Prediction.pocket``)."""
    from ...data.alignment import MIN_MOVING

    if moving < MIN_MOVING:
        return "pocket: taken as upright until the person walks"
    return f"pocket: aligned from {moving} moving windows"
