"""The Train tab's right-hand side: progress bar, ETA, device, status line and messages above
the live curves, the results and the run's notes."""

from __future__ import annotations

import logging
import math
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..widgets import InlineMessage
from .controller import format_duration
from .plots import TrainingCurves

log = logging.getLogger("har_studio.ui.train")

_LEVELS = {"warning": logging.WARNING, "error": logging.ERROR}


class RunView(QWidget):
    """Progress and notes of a run around `results` (the results view, shown between the
    curves and the notes)."""

    def __init__(self, results: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.status_label = QLabel("Not started")
        self.eta_label = QLabel("")
        self.device_label = QLabel("")
        self.device_label.setToolTip("Where training runs and with which number format")
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress_bar, 3)
        status_row.addWidget(self.eta_label)
        status_row.addWidget(self.device_label)
        self.message = InlineMessage(self)
        self.plots = TrainingCurves()
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("Training notes appear here")
        self._drawn_epochs = -1
        split = QSplitter(Qt.Orientation.Vertical)
        for widget in (self.plots, results, self.log_view):
            split.addWidget(widget)
        split.setSizes([300, 330, 110])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(status_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)

    def reset(self, planned_epochs: int = 1, *, clear_log: bool = True) -> None:
        self.plots.clear()
        self.plots.set_planned_epochs(planned_epochs)
        self._drawn_epochs = -1
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.eta_label.setText("")
        if clear_log:
            self.log_view.clear()

    def set_progress(self, fraction: float, eta_s: float | None, *, running: bool) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0) if math.isfinite(fraction) else 0.0
        self.progress_bar.setValue(int(round(fraction * 1000)))
        self.progress_bar.setFormat(f"{fraction * 100:.0f} %")
        if running:
            self.eta_label.setText(f"ETA {format_duration(eta_s)}")

    def show_end(self, history: list[dict], reason: str | None) -> None:
        """Where a run ended, from its epochs (EpochProgress dicts or history.csv rows): the
        bar at the last finished epoch of those planned, and in words ("Stopped at epoch 4 of
        20"), never a full bar for a run that stopped early."""
        self.eta_label.setText("")
        if not history:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Stopped before an epoch finished"
                                        if reason == "stopped" else "")
            return
        done = int(_number(history[-1].get("epoch"), len(history)))
        planned = max(int(_number(history[-1].get("epochs"), done)), done, 1)
        self.progress_bar.setValue(int(round(1000 * done / planned)))
        self.progress_bar.setFormat(end_text(reason, done, planned))

    def draw(self, controller) -> None:
        """Redraw the curves from the controller's buffers if they changed."""
        if not controller.dirty:
            return
        controller.dirty = False
        if len(controller.history) != self._drawn_epochs:   # epoch curves change per epoch
            self._drawn_epochs = len(controller.history)
            self.plots.set_epochs(controller.history)
        self.plots.set_batches(*controller.batches())

    def append_log(self, text: str, level: str = "info", *, to_logger: bool = True) -> None:
        prefix = {"warning": "⚠ ", "error": "✖ "}.get(level, "")
        self.log_view.appendPlainText(f"{time.strftime('%H:%M:%S')}  {prefix}{text}")
        if to_logger:
            log.log(_LEVELS.get(level, logging.INFO), "%s", text)


def _number(value, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def end_text(reason: str | None, done: int, planned: int) -> str:
    """The progress bar's words for a run that ended after `done` of `planned` epochs."""
    if reason == "stopped":
        return f"Stopped at epoch {done} of {planned}"
    if reason == "early_stopping":
        return f"Stopped early at epoch {done} of {planned}: no better validation loss"
    if reason == "diverged":
        return f"Diverged at epoch {done} of {planned}"
    return f"Finished: {done} of {planned} epochs"
