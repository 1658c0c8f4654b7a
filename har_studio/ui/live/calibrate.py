""""Calibrate to this person…": the Live tab's guided calibration window.

Three pages: who and from what (the person's name, seconds per activity, the Live tab's
source, or recordings made earlier; the page says what it will capture from and which part
scores the model); each activity in turn (a prompt, a countdown, the live signal and a
progress bar; Redo, Skip); the fine-tuning and its result (``calibrate_result.ResultPage``).
*Quick: walk 20 s* captures walking only. The work is done by
``calibrate_flow.CalibrationFlow``; this module is widgets only.
"""

from __future__ import annotations

from pathlib import Path

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
    QVBoxLayout,
    QWidget,
)

from .calibrate_capture import calibration_seconds, captures_folder
from .calibrate_flow import CalibrationFlow
from .calibrate_result import ResultPage, wrapped
from .plots import SampleRing, SignalPlot

SOURCES = (
    ("live", "The Live tab's source (a phone, or a replayed recording)"),
    ("data", "Recordings loaded on the Data tab (e.g. made with Record)"),
    ("files", "Recording files…"),
)


QUICK_ACTIVITY, QUICK_SECONDS = "walking", 20     # the demo's quick calibration


def _big(points: int) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(True)
    return font


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
        self.result_page = ResultPage()
        for page in (self._intro_page(), self._capture_page(), self.result_page):
            self.pages.addWidget(page)
        r = self.result_page
        r.use_button.clicked.connect(self.flow.use_model)
        r.again_button.clicked.connect(self.open_guide)
        r.redoRequested.connect(self.redo_activity)
        self.message = wrapped()
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
                (f.captureSaved, r.show_capture),
                (f.noted, self.message.setText)):
            signal.connect(slot)

    # ------------------------------------------------------------------ pages
    def _intro_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.intro_label = wrapped()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("the person's name (names the saved model)")
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(4, 600)
        self.seconds_spin.setValue(60)
        self.seconds_spin.setSuffix(" s per activity")
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.subject_combo = QComboBox()
        self.subject_combo.setToolTip("Which person of the replayed or loaded recording")
        self.from_label = wrapped()       # what it captures from, and which part scores it
        self.begin_button = QPushButton("Begin")
        self.quick_button = QPushButton(f"Quick: walk {QUICK_SECONDS} s")
        self.quick_button.setToolTip(f"Capture only {QUICK_ACTIVITY}, for {QUICK_SECONDS} s, "
                                     "and calibrate on all of it (a demo: nothing is held "
                                     "back to score it)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.begin_button)
        buttons.addWidget(self.quick_button)
        form.addRow(self.intro_label)
        form.addRow("Name", self.name_edit)
        form.addRow("Record", self.seconds_spin)
        form.addRow("From", self.source_combo)
        form.addRow("Person", self.subject_combo)
        form.addRow(self.from_label)
        form.addRow(buttons)
        self.begin_button.clicked.connect(self._on_begin_clicked)
        self.quick_button.clicked.connect(self._on_quick_clicked)
        self.source_combo.currentIndexChanged.connect(self._on_source_combo_changed)
        self.seconds_spin.valueChanged.connect(self._describe_source)
        self.subject_combo.currentIndexChanged.connect(self._describe_source)
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
                f"Calibrates <b>{self.tab.panel.model_combo.currentText()}</b> to one "
                f"person: they do each of its {len(bundle.labels)} activities "
                f"({', '.join(bundle.labels)}) in turn, then the model is fine-tuned on it.")
        self.begin_button.setEnabled(bundle is not None)
        self.quick_button.setEnabled(bundle is not None and QUICK_ACTIVITY in bundle.labels)
        self._fill_people()
        self.message.clear()
        self.pages.setCurrentIndex(0)
        self.show()
        self.raise_()

    def begin(self, *, person: str | None = None, seconds: float | None = None,
              source: str | None = None, files: list[str] | None = None,
              subject: int | None = None) -> bool:
        """Start as the Begin button does (tests and scripts may set the fields here)."""
        self._set_fields(person, source, subject)
        if seconds is not None:
            self.seconds_spin.setValue(int(seconds))
        return self._begin(files)

    def quick_walk(self, *, person: str | None = None, subject: int | None = None) -> bool:
        """*Quick: walk 20 s*: capture only walking, for 20 s, from the Live tab's source,
        and calibrate on all of it (``CalibrationConfig(seconds=20)``)."""
        self._set_fields(person, "live", subject)
        return self._begin(None, quick=True)

    def redo_activity(self, label: str) -> bool:
        """Capture `label` again (after a calibration from a capture), then fine-tune again."""
        try:
            self._show_capture_page()
            self.flow.redo_activity(label)
            return True
        except ValueError as exc:
            self.pages.setCurrentIndex(2)
            self.message.setText(f"Cannot redo: {exc}")
            return False

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        """Closing stops a capture in progress (a fine-tuning goes on and is saved)."""
        if self.flow.phase in ("countdown", "capture"):
            self.flow.cancel()
        super().closeEvent(event)

    # ------------------------------------------------------------------ the first page
    def _set_fields(self, person, source, subject) -> None:
        if person is not None:
            self.name_edit.setText(person)
        if source is not None:
            self.source_combo.setCurrentIndex(self.source_combo.findData(source))
        if subject is not None:
            self.subject_combo.setCurrentIndex(self.subject_combo.findData(int(subject)))

    def _people_from(self):
        """The recording the chosen "From" reads its person from (None: a phone, or files
        chosen at Begin, or nothing loaded)."""
        source = self.source_combo.currentData()
        if source == "live":
            return self.tab.replay_dataset if self.tab.source_kind == "replay" else None
        return self.state.dataset if source == "data" else None

    def _fill_people(self) -> None:
        """Offer the people of what the guide will read (the Live tab's replay, a file it
        opened included; the Data tab's recordings), the Live tab's choice first."""
        combo = self.subject_combo
        chosen = combo.currentData() if self.isVisible() else None
        combo.blockSignals(True)
        combo.clear()
        dataset = self._people_from()
        for s in (dataset.subjects if dataset is not None else []):
            combo.addItem(f"Subject {s}", int(s))
        for current in (chosen, self.tab.panel.subject_combo.currentData()):
            if current is not None and combo.findData(current) >= 0:
                combo.setCurrentIndex(combo.findData(current))
                break
        source = self.source_combo.currentData()
        if combo.count() == 0:
            combo.addItem("the files' own person" if source == "files" else
                          "the person holding the phone" if dataset is None
                          and source == "live" and self.tab.source_kind != "replay"
                          else "nothing loaded", None)
        combo.setEnabled(combo.count() > 1)
        combo.blockSignals(False)
        self._describe_source()

    def _on_source_combo_changed(self, _index: int) -> None:
        self._fill_people()

    def _describe_source(self, *_args) -> None:
        """Say what the guide captures from, and which part of it scores the model."""
        bundle = self.tab.current_model()
        source, seconds = self.source_combo.currentData(), float(self.seconds_spin.value())
        if bundle is None:
            self.from_label.setText("")
            return
        if source == "live":
            person = self.subject_combo.currentText()
            what = (f"a replay of {self.tab.replay_file.describe()}, {person}"
                    if self.tab.source_kind == "replay"
                    else f"the phone on the Live tab ({self.tab.panel.source_combo.currentText()})")
            window_s = bundle.window.size / bundle.window.rate_hz
            calib = calibration_seconds(seconds, window_s)
            self.from_label.setText(
                f"Captures from {what}: {seconds:g} s of each activity; the first {calib:g} s "
                f"calibrate and the last {seconds - calib:g} s are held back to score the "
                "model before and after. The capture is kept as a labelled recording in "
                f"{captures_folder()}.")
        else:
            what = ("the Data tab's recordings, " + self.subject_combo.currentText()
                    if source == "data" else "the recording files you choose at Begin")
            self.from_label.setText(
                f"Reads {what}: the first {seconds:g} s of each activity calibrate, the rest "
                "is held back to score the model (the same split as <i>har-studio calibrate "
                f"--seconds {seconds:g}</i>).")

    # ------------------------------------------------------------------ slots
    def _on_begin_clicked(self) -> None:
        self._begin(None)

    def _on_quick_clicked(self) -> None:
        self.quick_walk()

    def _show_capture_page(self) -> None:
        channels = list(self.tab.current_model().channels)
        self._ring = SampleRing(len(channels), capacity=4096)
        self.signal_plot.set_channels(channels)
        self.pages.setCurrentIndex(1)

    def _begin(self, files: list[str] | None, *, quick: bool = False) -> bool:
        self.message.clear()
        person = self.name_edit.text().strip()
        if not person:
            self.message.setText("Type the person's name first: it names the saved model.")
            return False
        source, seconds = self.source_combo.currentData(), float(self.seconds_spin.value())
        subject = self.subject_combo.currentData()
        try:
            if self.tab.current_model() is None:
                raise ValueError("choose a model on the Live tab first")
            if source == "live":
                self._show_capture_page()
                if quick:
                    self.flow.begin(person=person, seconds=QUICK_SECONDS, subject=subject,
                                    activities=[QUICK_ACTIVITY], hold_back=False)
                else:
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
            self.result_page.start()
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

    def _on_flow_steps_finished(self) -> None:
        self.pages.setCurrentIndex(2)
        self.result_page.start()

    def _on_flow_tuning_progressed(self, fraction: float, text: str) -> None:
        self.result_page.show_progress(fraction, text)

    def _on_flow_calibration_finished(self, result) -> None:
        redo = [c.label for c in self.flow.captures]     # captured here: can be redone
        self.result_page.show_result(result, redo)

    def _on_flow_calibration_failed(self, text: str) -> None:
        self.message.setText(text)
        self.pages.setCurrentIndex(0)

    def _on_flow_model_used(self, path: str) -> None:
        self.message.setText(f"The Live tab now uses {Path(path).name}.")
