"""The Live tab's recording part: start and stop a recording of the incoming stream (at the
model's rate), and label it while streaming (Alt+1…9 or the record box's activity). An object
the tab owns; it drives the record box of the panel and the session's recorder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from ... import paths
from ...data.activities import WISDM_V11_ACTIVITIES, canonical_activity


class Recording(QObject):
    """Recording of the stream for `panel` (its record box) and `session` (``LiveSession``);
    `model()` gives the model the stream runs through (its rate is the file's).
    ``failed(text)``: one line to show the user."""

    failed = Signal(str)

    def __init__(self, panel, session, model: Callable[[], object],
                 owner: QWidget) -> None:
        super().__init__(owner)
        self.panel, self.session, self._model, self._owner = panel, session, model, owner
        self.paths: list[Path] = []       # the files of the last recording saved
        panel.browse_button.clicked.connect(self._on_browse_clicked)
        panel.record_button.toggled.connect(self._on_record_toggled)
        panel.record_activity_combo.textActivated.connect(self._on_activity_changed)

    @property
    def samples(self) -> int:
        """Samples written by the recording in progress (0 when not recording)."""
        recorder = self.session.recorder
        return int(recorder.samples) if recorder is not None else 0

    def set(self, enabled: bool, *, activity: str | None = None,
            subject: int | None = None, folder: str | Path | None = None) -> None:
        """Arm (or start, while running) / stop recording, as the Record button does."""
        p = self.panel
        if activity is not None:
            p.record_activity_combo.setCurrentText(str(activity))
        if subject is not None:
            p.record_subject_spin.setValue(int(subject))
        if folder is not None:
            p.record_folder_edit.setText(str(folder))
        p.record_button.setChecked(bool(enabled))

    def fill_activities(self, labels) -> None:
        """Offer the model's activities (then WISDM's) in the record box."""
        combo = self.panel.record_activity_combo
        current = combo.currentText()
        names = list(dict.fromkeys([*labels, *WISDM_V11_ACTIVITIES]))
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setCurrentText(current or (names[0] if names else ""))
        combo.blockSignals(False)

    def label_now(self, index: int) -> None:
        """Choose the `index`-th activity of the record box (and label from now on)."""
        combo = self.panel.record_activity_combo
        if 0 <= index < combo.count():
            combo.setCurrentIndex(index)
            self._on_activity_changed(combo.currentText())

    def _on_activity_changed(self, text: str) -> None:
        """While recording, the chosen activity labels the samples from now on (Alt+1…9
        pick the first nine)."""
        recorder = self.session.recorder
        if recorder is None or not text.strip():
            return
        try:
            recorder.set_activity(text)
        except ValueError as exc:
            self.failed.emit(f"Cannot label: {exc}")
            return
        self.panel.record_status.setText(f"Recording “{recorder.activity}” from now on "
                                         f"({recorder.samples} samples so far)…")

    def _on_browse_clicked(self) -> None:
        edit = self.panel.record_folder_edit
        folder = QFileDialog.getExistingDirectory(self._owner, "Save recordings in", edit.text())
        if folder:
            edit.setText(folder)

    def _on_record_toggled(self, on: bool) -> None:
        self.panel.record_button.setText("■ Stop recording" if on else "● Record")
        if not self.session.running:
            self.panel.record_status.setText("Recording starts with the session." if on else "")
        elif on:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        """Start recording the running session (Record armed at Start, or pressed)."""
        p = self.panel
        activity = canonical_activity(p.record_activity_combo.currentText())
        subject = p.record_subject_spin.value()
        folder = Path(p.record_folder_edit.text().strip()
                      or paths.user_data_dir() / "recordings").expanduser()
        try:
            model = self._model()   # the model the stream runs through
            rate = float(model.window.rate_hz) if model is not None else 20.0
            path = self.session.start_recording(folder, activity, subject, rate_hz=rate)
        except (ValueError, OSError) as exc:
            self.failed.emit(f"Cannot record: {exc}")
            p.set_record_checked(False)
            return
        p.record_status.setText(f"Recording “{activity}” (subject {subject}) to {path} …")

    def stop(self) -> None:
        """Stop and save a recording in progress (nothing happens when none is)."""
        try:
            stopped = self.session.stop_recording()
        except OSError as exc:
            self.failed.emit(f"Saving the recording failed: {exc}")
            return
        if stopped is None:
            return
        recorder, written = stopped
        if not written:
            self.panel.record_status.setText("Nothing was recorded: no samples arrived.")
            return
        self.paths = written
        self.panel.record_status.setText(
            f"Saved {recorder.samples} samples of “{recorder.activity}” at "
            f"{recorder.describe_rate()}, the model's rate, to "
            f"{' and '.join(str(p) for p in written)}. Load it on the Data tab to fine-tune a "
            "model.")
