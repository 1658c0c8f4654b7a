"""The Live tab: classify a replayed recording or a phone's live stream, window by window.

The tab composes ``LivePanel`` (settings, Start/Stop), ``LiveView`` (what a session shows)
and ``LiveSession`` (the core's ``run_session`` in a worker, and the recording). Updates are
appended to the view as they arrive; a ``QTimer`` at about 30 Hz redraws the latest state, so
samples are never drawn one by one. The incoming stream can be recorded to a WISDM-format file
(written atomically when the recording stops) that the Data tab loads back.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from ...live.classifier import StreamingClassifier
from ...live.session import SessionSummary
from ..state import AppState
from ..widgets import configure_pyqtgraph, make_timer
from .calibrate import CalibrationGuide
from .models import ModelChoice
from .panel import LivePanel
from .recording import RecordingMixin
from .replay_file import ReplayFile, ReplayFileMixin
from .session import LiveSession
from .view import LiveView, summary_text

log = logging.getLogger(__name__)

REDRAW_INTERVAL_MS = 33          # ~30 Hz
# Panel and view widgets the tab offers by name (tests, the self-test, benches).
_WIDGETS = ("start_button", "stop_button", "model_combo", "open_model_button", "model_info",
            "source_combo", "subject_combo", "activity_combo", "speed_combo", "loop_check",
            "pause_button", "seek_slider", "position_label", "host_combo", "port_spin",
            "units_combo", "phone_combo", "address_label", "hop_spin", "smoothing_combo", "smooth_k_spin",
            "threshold_spin", "attention_check", "record_activity_combo", "record_subject_spin",
            "record_folder_edit", "record_button", "record_status")
_VIEWS = ("message", "current_label", "confidence_label", "status_label", "signal_plot",
          "attention_strip", "probability_bars", "timeline_ribbon", "accuracy_label",
          "stats_label", "summary_label")


class LiveTab(RecordingMixin, ReplayFileMixin, QWidget):
    """Live classification of a replay or a phone stream (see the module docstring)."""

    predictionMade = Signal(object)    # the latest Prediction (at most once per redraw tick)
    sessionStarted = Signal()
    sessionFinished = Signal(object)   # SessionSummary

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state
        self._kind = "replay"                        # the running session's source kind
        self.last_summary: SessionSummary | None = None
        self.listening_address: str | None = None
        self.recorded_paths: list[Path] = []

        self.panel, self.view, self.session = LivePanel(), LiveView(), LiveSession(self)
        self.models = ModelChoice(state, self.panel.model_combo, self.panel.model_info, self)
        self.calibration = CalibrationGuide(self, state)
        self.replay_file = ReplayFile(self)
        for name in _WIDGETS:
            setattr(self, name, getattr(self.panel, name))
        for name in _VIEWS:
            setattr(self, name, getattr(self.view, name))
        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(self.panel)
        outer.addWidget(self.view)
        outer.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)
        self._timer = make_timer(self, REDRAW_INTERVAL_MS, self._on_timer_timeout)

        p, m = self.panel, self.models
        connections = [
            (p.start_button.clicked, self._on_start_clicked),
            (p.stop_button.clicked, self._on_stop_clicked),
            (m.chosen, self._on_model_chosen), (m.opened, self._on_model_opened),
            (m.failed, self._error), (p.open_model_button.clicked, m.open_dialog),
            (p.speed_combo.currentIndexChanged, self._on_speed_changed),
            (p.loop_check.toggled, self._on_loop_toggled),
            (p.pause_button.toggled, self._on_pause_toggled),
            (p.seek_slider.sliderReleased, self._on_seek_released),
            *((signal, self._update_address_hint) for signal in (
                p.source_combo.currentIndexChanged, p.host_combo.currentIndexChanged,
                p.port_spin.valueChanged)),
            *((signal, self._on_classifier_setting_changed) for signal in (
                p.hop_spin.valueChanged, p.smoothing_combo.currentIndexChanged,
                p.smooth_k_spin.valueChanged, p.threshold_spin.valueChanged,
                p.attention_check.toggled)),
            (p.browse_button.clicked, self._on_browse_record_folder),
            (p.record_button.toggled, self._on_record_toggled),
            (p.calibrate_button.clicked, self.calibration.open_guide),
            (p.record_activity_combo.textActivated, self._on_record_activity_changed),
            (self.session.updated, self._on_session_updated),
            (self.session.ended, self._on_session_ended), (self.session.failed, self._error),
            (state.modelChanged, self._on_state_model_changed),
            (state.modelPathChanged, self._on_state_model_changed),
            (state.datasetChanged, self._on_state_dataset_changed),
            (p.replay_open_button.clicked, self._on_replay_open_clicked),
            (p.replay_data_button.clicked, self._on_replay_data_clicked),
            (self.replay_file.loaded, self._on_replay_file_loaded),
            (self.replay_file.failed, self._error),
        ]
        for signal, slot in connections:
            signal.connect(slot)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        for i in range(9):     # Alt+1…9: label what the person does now, while recording
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self).activated.connect(
                lambda i=i: self.label_now(i))
        self.models.refresh(select="state")
        p.set_recordings(state.dataset)
        self._update_address_hint()
        self._update_buttons()

    # ------------------------------------------------------------------ the view's state
    timeline = property(lambda self: self.view.timeline)
    truth_timeline = property(lambda self: self.view.truth_timeline)
    redraw_count = property(lambda self: self.view.redraw_count)
    running_accuracy = property(lambda self: self.view.running_accuracy)
    last_prediction = property(lambda self: self.view.last_prediction)
    last_stats = property(lambda self: self.view.last_stats)
    bad_packets = property(lambda self: self.view.bad_packets)

    # ------------------------------------------------------------------ public API
    @property
    def is_running(self) -> bool:
        return self.session.running

    @property
    def recording_samples(self) -> int:
        """Samples written by the recording in progress (0 when not recording)."""
        recorder = self.session.recorder
        return int(recorder.samples) if recorder is not None else 0

    @property
    def source_kind(self) -> str:
        return self.panel.source_kind

    def set_source(self, kind: str, **options) -> None:
        """Choose and configure the source as a user would (see ``LivePanel.set_source``)."""
        self.panel.set_source(kind, **options)

    def set_options(self, **options) -> None:
        """Set the classification settings, also while a session runs: hop, smoothing,
        smooth_k, threshold, attention."""
        self.panel.set_options(**options)

    def current_model(self):
        """The ModelBundle chosen in the model box (None when there is none)."""
        return self.models.current()

    def set_recording(self, enabled: bool, *, activity: str | None = None,
                      subject: int | None = None, folder: str | Path | None = None) -> None:
        """Arm (or start, while running) / stop recording, as the Record button does."""
        if activity is not None:
            self.record_activity_combo.setCurrentText(str(activity))
        if subject is not None:
            self.record_subject_spin.setValue(int(subject))
        if folder is not None:
            self.record_folder_edit.setText(str(folder))
        self.record_button.setChecked(bool(enabled))

    def start(self) -> bool:
        """Start a session with the current settings; False (and a message) if it cannot."""
        if self.is_running:
            return False
        self.message.clear()
        bundle = self.current_model()
        if bundle is None:
            self._error("No model to run: train one on the Train tab or open a model file.")
            return False
        kind = self.source_kind
        try:
            source = self.panel.make_source(bundle, self.replay_dataset)
            classifier = StreamingClassifier(bundle, **self.panel.classifier_options())
            problem = classifier.check_channels(source.channels)
            if problem:
                raise ValueError(problem)
        except (ValueError, TypeError, KeyError) as exc:
            self._error(f"Cannot start: {exc}")
            return False
        try:
            source.start()   # binds the port now, so "address in use" shows at once
        except OSError as exc:
            self._error(f"Cannot start: {exc}")
            return False
        self._kind = kind
        self.view.reset(bundle, self.threshold_spin.value())
        self.pause_button.setChecked(False)
        self.last_summary = None
        self.listening_address = source.address if kind != "replay" else None
        if kind == "replay":
            self.seek_slider.setRange(0, int(source.duration_s * 10))
            self.seek_slider.setValue(0)
        self.session.start(source, classifier)
        if self.record_button.isChecked():
            self._start_recording()
        self._timer.start()
        self.status_label.setText("Running" if kind == "replay"
                                  else f"Listening on {self.listening_address}")
        self._update_address_hint()
        self._update_buttons()
        log.info("live session started: %s", kind)
        self.sessionStarted.emit()
        return True

    def stop(self) -> None:
        """Ask the running session to stop; ``sessionFinished`` follows with its summary."""
        if self.is_running:
            self.session.stop()
            self.stop_button.setEnabled(False)
            self.status_label.setText("Stopping…")

    def shutdown(self) -> None:
        """Stop a session and save a recording in progress (tab closed, app quitting)."""
        self.session.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ model choice
    def open_model(self, path: str | Path) -> bool:
        """Load a model file (never executes code from it); a bad file gets a message naming
        it. Returns True when the model is now selected."""
        return self.models.open(path)

    def _on_state_model_changed(self, *_args) -> None:
        # a running session keeps its model; the new one is offered for the next start
        keep = self.model_combo.currentData()
        self.models.refresh(select=keep if self.is_running or self.state.model is None
                            else "state")

    def _on_model_opened(self, text: str) -> None:
        self.message.show_message(text, "info")

    def _on_model_chosen(self, bundle) -> None:
        if not self.is_running:   # a running session keeps its model and settings
            if bundle is not None:
                self.hop_spin.setRange(1, int(bundle.window.size))
                self.hop_spin.setValue(int(bundle.window.step))
                self._fill_record_activities(bundle.labels)
            self.view.prepare(bundle, self.threshold_spin.value())
        self._update_buttons()

    # ------------------------------------------------------------------ source choice
    def _update_address_hint(self, *_args) -> None:
        same = self.is_running and self._kind == self.source_kind
        self.panel.update_address_hint(self.listening_address if same else None)

    # ------------------------------------------------------------------ running controls
    def _replaying(self) -> bool:
        return self.is_running and self._kind == "replay"

    def _on_speed_changed(self, _index: int) -> None:
        if self._replaying():
            self.session.source.set_speed(float(self.speed_combo.currentData()))

    def _on_loop_toggled(self, on: bool) -> None:
        if self._replaying():
            self.session.source.loop = bool(on)

    def _on_pause_toggled(self, on: bool) -> None:
        self.pause_button.setText("Resume" if on else "Pause")
        if self.is_running:
            self.session.pause(on)
            self.status_label.setText("Paused" if on else "Running")

    def _on_seek_released(self) -> None:
        if self._replaying():
            self.session.source.seek(self.seek_slider.value() / 10.0)

    def _on_classifier_setting_changed(self, *_args) -> None:
        self.smooth_k_spin.setEnabled(self.smoothing_combo.currentData() != "none")
        self.probability_bars.set_threshold(self.threshold_spin.value())
        if self.is_running:
            self.session.send_options(**self.panel.classifier_options())
        self.attention_strip.setVisible(self.attention_check.isChecked())

    # ------------------------------------------------------------------ the session
    def _on_session_updated(self, update) -> None:
        self.view.ingest(update)

    def _on_timer_timeout(self) -> None:
        if self.view.new_prediction:
            self.view.new_prediction = False
            self.predictionMade.emit(self.view.last_prediction)
        if self.view.dirty and self.isVisible():
            self._redraw()

    def _redraw(self) -> None:
        """Draw the latest state (called by the ~30 Hz timer, never per sample)."""
        self.view.redraw(network=self._kind != "replay",
                         attention=self.attention_check.isChecked())
        stats = self.view.last_stats
        if stats is not None and self._kind == "replay" and not self.seek_slider.isSliderDown():
            self.seek_slider.setValue(int(stats.position_s * 10))
            self.position_label.setText(f"{stats.position_s:.1f} s of "
                                        f"{stats.duration_s or 0.0:.1f} s")

    def _on_session_ended(self, summary: SessionSummary | None) -> None:
        """Flush the view, save a recording, show the summary, re-enable the controls."""
        self._timer.stop()
        self._stop_recording()
        self.panel.set_record_checked(False)
        if self.view.new_prediction:
            self.view.new_prediction = False
            self.predictionMade.emit(self.view.last_prediction)
        if self.isVisible():
            self._redraw()
        self.last_summary = summary
        if summary is not None:
            self.summary_label.setText(summary_text(summary))
        finished = summary is not None and summary.stopped_reason == "finished"
        self.status_label.setText("Finished" if finished else "Stopped")
        self._update_buttons()
        self._update_address_hint()
        log.info("live session ended: %s", summary.to_dict() if summary else "no summary")
        if summary is not None:
            self.sessionFinished.emit(summary)

    # ------------------------------------------------------------------ helpers
    def _on_start_clicked(self) -> None:
        self.start()

    def _on_stop_clicked(self) -> None:
        self.stop()

    def _update_buttons(self) -> None:
        self.panel.set_running(self.is_running, self._replaying(),
                               self.current_model() is not None)

    def _error(self, text: str) -> None:
        self.message.show_message(text, "error")
        log.warning("%s", text)
