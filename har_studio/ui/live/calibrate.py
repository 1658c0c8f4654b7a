""""Calibrate to this person…": the Live tab's guided calibration window.

Three pages: who and from what (the person's name, seconds per activity, the Live tab's
source, or recordings made earlier); each activity in turn (a prompt, a countdown, the live
signal and a progress bar; Redo, Skip); the fine-tuning's progress, the held-back accuracy
before and after with its confusion matrix, and "Use this model". The work is done by
``calibrate_flow.CalibrationFlow``; this module is widgets only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .calibrate_flow import CalibrationFlow
from .plots import SampleRing, SignalPlot

SOURCES = (
    ("live", "The Live tab's source (a phone, or a replayed recording)"),
    ("data", "Recordings loaded on the Data tab (e.g. made with Record)"),
    ("files", "Recording files…"),
)


def _big(points: int) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(True)
    return font


def _wrap(text: str = "") -> QLabel:
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


class CalibrationGuide(QDialog):
    """The guided calibration of one person (see the module docstring); `tab`: the Live tab,
    `state`: the AppState the calibrated model is handed to."""

    def __init__(self, tab, state, parent: QWidget | None = None, *, tick_ms: int = 1000) -> None:
        super().__init__(parent or tab)
        self.setWindowTitle("Calibrate to this person")
        self.setModal(False)
        self.resize(620, 560)
        self.tab, self.state = tab, state
        self.flow = CalibrationFlow(tab, state, self, tick_ms=tick_ms)
        self.pages = QStackedWidget()
        for page in (self._intro_page(), self._capture_page(), self._result_page()):
            self.pages.addWidget(page)
        self.message = _wrap()
        self.message.setStyleSheet("color: #a04000;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.message)
        f = self.flow
        for signal, slot in (
                (f.stepStarted, self._on_flow_step_started),
                (f.countdownTicked, self._on_flow_countdown_ticked),
                (f.captureProgressed, self._on_flow_capture_progressed),
                (f.stepsFinished, self._on_flow_steps_finished),
                (f.tuningProgressed, self._on_flow_tuning_progressed),
                (f.calibrationFinished, self._on_flow_calibration_finished),
                (f.calibrationFailed, self._on_flow_calibration_failed),
                (f.modelUsed, self._on_flow_model_used),
                (f.noted, self.message.setText)):
            signal.connect(slot)

    # ------------------------------------------------------------------ pages
    def _intro_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.intro_label = _wrap()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("the person's name (names the saved model)")
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(4, 600)
        self.seconds_spin.setValue(60)
        self.seconds_spin.setSuffix(" s per activity")
        self.seconds_spin.setToolTip("The last quarter of each activity is held back to score "
                                     "the model before and after calibration")
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.subject_combo = QComboBox()
        self.subject_combo.setToolTip("Which person of a replayed or loaded recording")
        self.begin_button = QPushButton("Begin")
        form.addRow(self.intro_label)
        form.addRow("Name", self.name_edit)
        form.addRow("Record", self.seconds_spin)
        form.addRow("From", self.source_combo)
        form.addRow("Person in the recording", self.subject_combo)
        form.addRow(self.begin_button)
        self.begin_button.clicked.connect(self._on_begin_clicked)
        return page

    def _capture_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.step_label = QLabel("")
        self.prompt_label = QLabel("")
        self.prompt_label.setFont(_big(22))
        self.countdown_label = QLabel("")
        self.countdown_label.setFont(_big(16))
        self.signal_plot = SignalPlot(10.0)
        self._ring = SampleRing(3, capacity=4096)
        self.capture_bar = QProgressBar()
        self.capture_bar.setRange(0, 1000)
        row = QHBoxLayout()
        self.redo_button = QPushButton("Redo")
        self.skip_button = QPushButton("Skip")
        self.cancel_button = QPushButton("Cancel")
        for button in (self.redo_button, self.skip_button, self.cancel_button):
            row.addWidget(button)
        for widget in (self.step_label, self.prompt_label, self.countdown_label):
            layout.addWidget(widget)
        layout.addWidget(self.signal_plot, 1)
        layout.addWidget(self.capture_bar)
        layout.addLayout(row)
        self.redo_button.clicked.connect(self.flow.redo)
        self.skip_button.clicked.connect(self.flow.skip)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.tuning_label = _wrap("")
        self.tuning_bar = QProgressBar()
        self.tuning_bar.setRange(0, 1000)
        self.result_label = _wrap("")
        self.result_label.setFont(_big(13))
        self.confusion_table = QTableWidget()
        self.confusion_table.setToolTip("Held-back part after calibration: rows are the true "
                                        "activity, columns what the model said")
        row = QHBoxLayout()
        self.use_button = QPushButton("Use this model")
        self.again_button = QPushButton("Calibrate again…")
        row.addWidget(self.use_button)
        row.addWidget(self.again_button)
        for widget in (self.tuning_label, self.tuning_bar, self.result_label):
            layout.addWidget(widget)
        layout.addWidget(self.confusion_table, 1)
        layout.addLayout(row)
        self.use_button.clicked.connect(self.flow.use_model)
        self.again_button.clicked.connect(self.open_guide)
        return page

    # ------------------------------------------------------------------ public
    def open_guide(self) -> None:
        """Show the first page, describing the model and source the guide will use (a
        calibration in progress is shown as it is)."""
        if self.flow.running:
            self.show()
            self.raise_()
            return
        self.flow.cancel()
        bundle = self.tab.current_model()
        if bundle is None:
            self.intro_label.setText("Choose a model on the Live tab first.")
        else:
            self.intro_label.setText(
                f"Calibrates <b>{self.tab.model_combo.currentText()}</b> to one person: "
                f"they do each of its {len(bundle.labels)} activities "
                f"({', '.join(bundle.labels)}) in turn, then the model is fine-tuned on it.")
        self.begin_button.setEnabled(bundle is not None)
        self.subject_combo.clear()
        dataset = self.state.dataset
        for s in (dataset.subjects if dataset is not None else []):
            self.subject_combo.addItem(f"Subject {s}", int(s))
        current = self.tab.subject_combo.currentData()
        if current is not None and self.subject_combo.findData(current) >= 0:
            self.subject_combo.setCurrentIndex(self.subject_combo.findData(current))
        self.message.clear()
        self.pages.setCurrentIndex(0)
        self.show()
        self.raise_()

    def begin(self, *, person: str | None = None, seconds: float | None = None,
              source: str | None = None, files: list[str] | None = None) -> bool:
        """Start as the Begin button does (tests and scripts may set the fields here)."""
        if person is not None:
            self.name_edit.setText(person)
        if seconds is not None:
            self.seconds_spin.setValue(int(seconds))
        if source is not None:
            self.source_combo.setCurrentIndex(self.source_combo.findData(source))
        return self._begin(files)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        """Closing stops a capture in progress (a fine-tuning goes on and is saved)."""
        if self.flow.phase in ("countdown", "capture"):
            self.flow.cancel()
        super().closeEvent(event)

    # ------------------------------------------------------------------ slots
    def _on_begin_clicked(self) -> None:
        self._begin(None)

    def _begin(self, files: list[str] | None) -> bool:
        self.message.clear()
        person = self.name_edit.text().strip()
        if not person:
            self.message.setText("Type the person's name first: it names the saved model.")
            return False
        source, seconds = self.source_combo.currentData(), float(self.seconds_spin.value())
        subject = self.subject_combo.currentData()
        try:
            if source == "live":
                self._ring = SampleRing(len(self.tab.current_model().channels), capacity=4096)
                self.signal_plot.set_channels(list(self.tab.current_model().channels))
                self.pages.setCurrentIndex(1)
                self.flow.begin(person=person, seconds=seconds, subject=subject)
                return True
            if source == "data":
                if self.state.dataset is None:
                    raise ValueError("no recording is loaded on the Data tab")
                data = self.state.dataset
            else:
                if files is None:
                    files, _ = QFileDialog.getOpenFileNames(
                        self, "Recordings of the person", str(Path.home()),
                        "WISDM recordings (*.txt *.csv);;All files (*)")
                if not files:
                    return False
                data, subject = list(files), None
            self.pages.setCurrentIndex(2)
            self._show_tuning()
            self.flow.calibrate_recordings(data, person=person, seconds=seconds, subject=subject)
            return True
        except ValueError as exc:
            self.pages.setCurrentIndex(0)
            self.message.setText(f"Cannot calibrate: {exc}")
            return False

    def _on_cancel_clicked(self) -> None:
        self.flow.cancel()
        self.pages.setCurrentIndex(0)

    def _on_flow_step_started(self, index: int, label: str, prompt: str) -> None:
        self.step_label.setText(f"Activity {index + 1} of {len(self.flow.captures)}: {label}")
        self.prompt_label.setText(prompt)
        self.capture_bar.setValue(0)
        self._ring.clear()
        self.signal_plot.update_from(self._ring)

    def _on_flow_countdown_ticked(self, left: int) -> None:
        self.countdown_label.setText(f"Get ready… {left}" if left > 0 else "Go!")

    def _on_flow_capture_progressed(self, fraction: float, samples) -> None:
        t, values = samples
        self._ring.append(t, values)
        self.capture_bar.setValue(int(1000 * fraction))
        self.countdown_label.setText(f"Recording… {self.flow.current.seconds:.0f} s of "
                                     f"{self.flow.seconds:.0f} s"
                                     if self.flow.current is not None else "")
        self.signal_plot.update_from(self._ring)

    def _show_tuning(self) -> None:
        self.tuning_bar.setValue(0)
        self.result_label.setText("")
        self.confusion_table.clear()
        self.confusion_table.setRowCount(0)
        self.use_button.setEnabled(False)

    def _on_flow_steps_finished(self) -> None:
        self.pages.setCurrentIndex(2)
        self._show_tuning()

    def _on_flow_tuning_progressed(self, fraction: float, text: str) -> None:
        self.tuning_bar.setValue(int(1000 * fraction))
        self.tuning_label.setText(text)

    def _on_flow_calibration_finished(self, result) -> None:
        before, after = result.before, result.after
        if before is not None and after is not None:
            self.result_label.setText(
                f"Held-back accuracy: {before['accuracy']:.0%} before, "
                f"<span style='color:#1a7f37'>{after['accuracy']:.0%} after</span> "
                f"calibration ({sum(result.held_back_windows.values())} windows)")
        else:
            self.result_label.setText("Calibrated; nothing was held back to score it.")
        fill_confusion(self.confusion_table, after)
        self.use_button.setEnabled(True)

    def _on_flow_calibration_failed(self, text: str) -> None:
        self.message.setText(text)
        self.pages.setCurrentIndex(0)

    def _on_flow_model_used(self, path: str) -> None:
        self.message.setText(f"The Live tab now uses {Path(path).name}.")
