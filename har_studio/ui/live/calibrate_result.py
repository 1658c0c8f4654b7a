"""The calibration guide's last page: the fine-tuning's progress, then what calibration did in
words: the held-back accuracy before and after, which activities and how many windows
calibrated and scored it, what the held-back windows still confuse (with a *Redo* of that
activity when it was captured here), where the capture was kept, and the confusion matrix."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .calibrate_capture import advice


def wrapped(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def fill_confusion(table: QTableWidget, metrics: dict | None) -> None:
    """Show a confusion matrix (rows: true activity, columns: predicted) in `table`."""
    labels = list((metrics or {}).get("labels") or [])
    cm = (metrics or {}).get("confusion") or []
    table.clear()
    table.setRowCount(len(labels))
    table.setColumnCount(len(labels))
    table.setHorizontalHeaderLabels(labels)
    table.setVerticalHeaderLabels(labels)
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            item = QTableWidgetItem(str(count))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if i == j:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(i, j, item)
    table.resizeColumnsToContents()


def windows_text(counts: dict[str, int]) -> str:
    """ "walking 40, sitting 38" (activities with windows only)."""
    return ", ".join(f"{name} {n}" for name, n in counts.items() if n) or "none"


def split_text(result) -> str:
    """Which activities, seconds and windows calibrated and scored the model (the core's
    split: the first ``seconds_per_activity`` of each activity calibrate, the rest is held
    back), and the command that splits a recording the same way."""
    seconds = float(result.record.get("seconds_per_activity") or 0.0)
    held = sum(result.held_back_windows.values())
    only = list((result.record.get("config") or {}).get("activities") or [])
    text = (f"Calibrated on the first {seconds:g} s of "
            f"{' and '.join(only) if only else 'each activity'} "
            f"({windows_text(result.calibration_windows)} windows); ")
    if held:
        text += (f"scored on what came after: {held} held-back windows "
                 f"({windows_text(result.held_back_windows)}).")
    else:
        text += "nothing came after it, so nothing was held back to score it."
    if result.record.get("kept_because"):
        text += " " + result.record["kept_because"] + "."
    others = result.record.get("others_before_after") or {}
    if others:
        text += (" The activities not captured, checked on the model's stored windows of "
                 "other people: " + ", ".join(f"{name} {b:.0%} → {a:.0%}"
                                              for name, (b, a) in others.items()) + ".")
    command = f"har-studio calibrate --seconds {seconds:g}" + (
        f" --activities {','.join(only)}" if only else "")
    return text + f" The same split as <i>{command}</i> on this recording."


class ResultPage(QWidget):
    """``redoRequested(activity)``: the user asked to capture that activity again."""

    redoRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.tuning_label = wrapped()
        self.tuning_bar = QProgressBar()
        self.tuning_bar.setRange(0, 1000)
        self.result_label = wrapped()
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        self.result_label.setFont(font)
        self.split_label = wrapped()
        self.advice_box = QVBoxLayout()
        self.advice_rows: dict[str, tuple[QLabel, QPushButton]] = {}
        self.capture_label = wrapped()
        self.confusion_table = QTableWidget()
        self.confusion_table.setToolTip("Held-back part after calibration: rows are the true "
                                        "activity, columns what the model said")
        row = QHBoxLayout()
        self.use_button = QPushButton("Use this model")
        self.again_button = QPushButton("Calibrate again…")
        row.addWidget(self.use_button)
        row.addWidget(self.again_button)
        for widget in (self.tuning_label, self.tuning_bar, self.result_label, self.split_label):
            layout.addWidget(widget)
        layout.addLayout(self.advice_box)
        layout.addWidget(self.capture_label)
        layout.addWidget(self.confusion_table, 1)
        layout.addLayout(row)

    def start(self) -> None:
        """A fine-tuning begins: empty the figures of the last one."""
        self.tuning_bar.setValue(0)
        for label in (self.result_label, self.split_label):
            label.setText("")
        self._clear_advice()
        self.confusion_table.clear()
        self.confusion_table.setRowCount(0)
        self.use_button.setEnabled(False)

    def show_progress(self, fraction: float, text: str) -> None:
        self.tuning_bar.setValue(int(1000 * fraction))
        self.tuning_label.setText(text)

    def show_capture(self, path: str) -> None:
        self.capture_label.setText(f"The capture is kept as a labelled recording: {path} "
                                   "(open it on the Data tab to train with it, or choose "
                                   "<i>Recording files…</i> to calibrate from it again).")

    def show_result(self, result, redo: list[str]) -> None:
        """`result`: the CalibrationResult; `redo`: the activities that can be captured
        again here."""
        before, after = result.before, result.after
        if before is not None and after is not None:
            self.result_label.setText(
                f"Held-back accuracy: {before['accuracy']:.0%} before, "
                f"<span style='color:#1a7f37'>{after['accuracy']:.0%} after</span> "
                f"calibration ({sum(result.held_back_windows.values())} windows)")
        else:
            self.result_label.setText("Calibrated; nothing was held back to score it.")
        self.split_label.setText(split_text(result))
        self._clear_advice()
        for label, text in advice(after):
            words = wrapped(text)
            button = QPushButton(f"Redo {label}")
            button.setVisible(label in redo)
            button.clicked.connect(lambda _=False, a=label: self.redoRequested.emit(a))
            row = QHBoxLayout()
            row.addWidget(words, 1)
            row.addWidget(button)
            self.advice_box.addLayout(row)
            self.advice_rows[label] = (words, button)
        for text in result.record.get("at_risk") or []:   # what a partial capture can cost
            row = QHBoxLayout()
            row.addWidget(wrapped(text + "."), 1)
            self.advice_box.addLayout(row)
        fill_confusion(self.confusion_table, after)
        self.use_button.setEnabled(True)

    def _clear_advice(self) -> None:
        while self.advice_box.count():
            row = self.advice_box.takeAt(0).layout()
            while row is not None and row.count():
                widget = row.takeAt(0).widget()
                if widget is not None:
                    widget.deleteLater()
        self.advice_rows = {}
