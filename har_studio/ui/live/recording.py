"""The Live tab's recording slots: start and stop a recording of the incoming stream (at the
model's rate), and label it while streaming (Alt+1…9 or the record box's activity). A mixin
of ``LiveTab``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ... import paths
from ...data.activities import WISDM_V11_ACTIVITIES, canonical_activity


class RecordingMixin:
    def _fill_record_activities(self, labels) -> None:
        combo = self.record_activity_combo
        current = combo.currentText()
        names = list(dict.fromkeys([*labels, *WISDM_V11_ACTIVITIES]))
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setCurrentText(current or (names[0] if names else ""))
        combo.blockSignals(False)

    def label_now(self, index: int) -> None:
        """Choose the `index`-th activity of the record box (and label from now on)."""
        combo = self.record_activity_combo
        if 0 <= index < combo.count():
            combo.setCurrentIndex(index)
            self._on_record_activity_changed(combo.currentText())

    def _on_record_activity_changed(self, text: str) -> None:
        """While recording, the chosen activity labels the samples from now on (Alt+1…9
        pick the first nine)."""
        recorder = self.session.recorder
        if recorder is None or not text.strip():
            return
        try:
            recorder.set_activity(text)
        except ValueError as exc:
            self._error(f"Cannot label: {exc}")
            return
        self.record_status.setText(f"Recording “{recorder.activity}” from now on "
                                   f"({recorder.samples} samples so far)…")

    def _on_browse_record_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save recordings in",
                                                  self.record_folder_edit.text())
        if folder:
            self.record_folder_edit.setText(folder)

    def _on_record_toggled(self, on: bool) -> None:
        self.record_button.setText("■ Stop recording" if on else "● Record")
        if not self.is_running:
            self.record_status.setText("Recording starts with the session." if on else "")
        elif on:
            self._start_recording()
        else:
            self._stop_recording()

    def _start_recording(self) -> None:
        activity = canonical_activity(self.record_activity_combo.currentText())
        subject = self.record_subject_spin.value()
        folder = Path(self.record_folder_edit.text().strip()
                      or paths.user_data_dir() / "recordings").expanduser()
        try:
            model = self.current_model()   # the model the stream runs through
            rate = float(model.window.rate_hz) if model is not None else 20.0
            path = self.session.start_recording(folder, activity, subject, rate_hz=rate)
        except (ValueError, OSError) as exc:
            self._error(f"Cannot record: {exc}")
            self.panel.set_record_checked(False)
            return
        self.record_status.setText(f"Recording “{activity}” (subject {subject}) to {path} …")

    def _stop_recording(self) -> None:
        try:
            stopped = self.session.stop_recording()
        except OSError as exc:
            self._error(f"Saving the recording failed: {exc}")
            return
        if stopped is None:
            return
        recorder, written = stopped
        if not written:
            self.record_status.setText("Nothing was recorded: no samples arrived.")
            return
        self.recorded_paths = written
        self.record_status.setText(
            f"Saved {recorder.samples} samples of “{recorder.activity}” at "
            f"{recorder.describe_rate()}, the model's rate, to "
            f"{' and '.join(str(p) for p in written)}. Load it on the Data tab to fine-tune a "
            "model.")

