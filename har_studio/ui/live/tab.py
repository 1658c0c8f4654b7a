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
from .recording import Recording
from .replay_file import ReplayFile
from .session import LiveSession
from .view import LiveView, summary_text

log = logging.getLogger(__name__)

REDRAW_INTERVAL_MS = 33          # ~30 Hz


class LiveTab(QWidget):
    """Live classification of a replay or a phone stream (see the module docstring).

    Its parts: ``panel`` (the settings' widgets), ``view`` (what a session shows),
    ``session``, ``models`` (the model box), ``recording`` (the record box),
    ``replay_file`` (what a replay reads) and ``calibration`` (the guide). Tests and the
    self-test reach widgets through ``panel`` and ``view``."""

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
        self._shown = None                           # the model the view is set up for
        self._hold_until_end = False                 # the guide's note goes when it ends

        self.panel, self.view, self.session = LivePanel(), LiveView(), LiveSession(self)
        self.models = ModelChoice(state, self.panel.model_combo, self.panel.model_info, self)
        self.recording = Recording(self.panel, self.session, self.current_model, self)
        self.replay_file = ReplayFile(self.panel, state, self)
        self.calibration = CalibrationGuide(self, state)
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
            (p.calibrate_button.clicked, self.calibration.open_guide),
            (self.recording.failed, self._error),
            (self.session.updated, self._on_session_updated),
            (self.session.ended, self._on_session_ended), (self.session.failed, self._error),
            (state.modelChanged, self._on_state_model_changed),
            (state.modelPathChanged, self._on_state_model_changed),
            (self.replay_file.changed, self._on_replay_changed),
            (self.replay_file.failed, self._error),
        ]
        for signal, slot in connections:
            signal.connect(slot)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        for i in range(9):     # Alt+1…9: label what the person does now, while recording
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self).activated.connect(
                lambda i=i: self.recording.label_now(i))
        self.models.refresh(select="state")
        p.set_recordings(state.dataset)
        self._update_address_hint()
        self._update_buttons()

    # ------------------------------------------------------------------ public API
    @property
    def timeline(self) -> list[str]:
        """The predicted label of every window of the session, in order."""
        return self.view.timeline

    @property
    def is_running(self) -> bool:
        return self.session.running

    def message_text(self) -> str:
        """The tab's inline message (an error, or what was done), '' when none shows."""
        return self.view.message.text()

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

    def set_recording(self, enabled: bool, **options) -> None:
        """Arm (or start, while running) / stop recording, as the Record button does
        (``activity``, ``subject``, ``folder``: see ``Recording.set``)."""
        self.recording.set(enabled, **options)

    def open_replay_file(self, path: str | Path) -> None:
        """Replay `path` (loaded in the background) without touching the Data tab."""
        self.replay_file.open(path)

    @property
    def replay_dataset(self):
        """The recording a replay reads: a file opened here, else the Data tab's data."""
        return self.replay_file.dataset

    def show_capture_note(self, text: str | None) -> None:
        """While the calibration guide captures, `text` stands where the running accuracy
        would (a replay retargeted activity by activity is no test of the model); None
        gives the figures back, cleared (once the capture's session has ended)."""
        self._hold_until_end = text is None and self.is_running
        if not self._hold_until_end:
            self.view.set_hold_note(text)

    def start(self) -> bool:
        """Start a session with the current settings; False (and a message) if it cannot."""
        if self.is_running:
            return False
        self.view.message.clear()
        bundle = self.current_model()
        if bundle is None:
            self._error("No model to run: train one on the Train tab or open a model file.")
            return False
        kind = self.source_kind
        if kind == "replay" and self.replay_file.loading:
            self._error("Still loading the recording to replay: Start once it shows as "
                        "the Replay file.")
            return False
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
        p = self.panel
        self.view.reset(bundle, p.threshold_spin.value())
        self._shown = bundle
        p.pause_button.setChecked(False)
        self.last_summary = None
        self.listening_address = source.address if kind != "replay" else None
        if kind == "replay":
            p.seek_slider.setRange(0, int(source.duration_s * 10))
            p.seek_slider.setValue(0)
        self.session.start(source, classifier)
        if p.record_button.isChecked():
            self.recording.start()
        self._timer.start()
        self.view.status_label.setText("Running" if kind == "replay"
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
            self.panel.stop_button.setEnabled(False)
            self.view.status_label.setText("Stopping…")

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
        keep = self.panel.model_combo.currentData()
        self.models.refresh(select=keep if self.is_running or self.state.model is None
                            else "state")

    def _on_model_opened(self, text: str) -> None:
        self.view.message.show_message(text, "info")

    def _on_model_chosen(self, bundle) -> None:
        if not self.is_running:   # a running session keeps its model and settings
            p = self.panel
            if bundle is not None:
                p.hop_spin.setRange(1, int(bundle.window.size))
                p.hop_spin.setValue(int(bundle.window.step))
                self.recording.fill_activities(bundle.labels)
            if bundle is not self._shown:   # the last session's figures describe another
                self._shown = bundle
                shown = self.view.timeline or self.view.last_prediction is not None
                self.view.clear_figures(bundle, p.threshold_spin.value(), "Model changed: "
                                        "Start to classify with it." if shown else "")
        self._update_buttons()

    def _on_replay_changed(self, _dataset) -> None:
        """Other data to replay: the last replay's position and figures no longer apply."""
        if self.is_running:
            return               # a running session's figures are its own
        p = self.panel
        p.seek_slider.setRange(0, 0)
        p.position_label.setText("")
        if self.view.timeline or self.view.last_prediction is not None:
            self.view.clear_figures(self.current_model(), p.threshold_spin.value(),
                                    "Other data to replay: Start to classify it.")

    # ------------------------------------------------------------------ source choice
    def _update_address_hint(self, *_args) -> None:
        same = self.is_running and self._kind == self.source_kind
        self.panel.update_address_hint(self.listening_address if same else None)

    # ------------------------------------------------------------------ running controls
    def _replaying(self) -> bool:
        return self.is_running and self._kind == "replay"

    def _on_speed_changed(self, _index: int) -> None:
        if self._replaying():
            self.session.source.set_speed(float(self.panel.speed_combo.currentData()))

    def _on_loop_toggled(self, on: bool) -> None:
        if self._replaying():
            self.session.source.loop = bool(on)

    def _on_pause_toggled(self, on: bool) -> None:
        self.panel.pause_button.setText("Resume" if on else "Pause")
        if self.is_running:
            self.session.pause(on)
            self.view.status_label.setText("Paused" if on else "Running")

    def _on_seek_released(self) -> None:
        if self._replaying():
            self.session.source.seek(self.panel.seek_slider.value() / 10.0)

    def _on_classifier_setting_changed(self, *_args) -> None:
        p = self.panel
        p.smooth_k_spin.setEnabled(p.smoothing_combo.currentData() != "none")
        self.view.probability_bars.set_threshold(p.threshold_spin.value())
        if self.is_running:
            self.session.send_options(**p.classifier_options())
        self.view.attention_strip.setVisible(p.attention_check.isChecked())

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
        p = self.panel
        self.view.redraw(network=self._kind != "replay",
                         attention=p.attention_check.isChecked())
        stats = self.view.last_stats
        if stats is not None and self._kind == "replay" and not p.seek_slider.isSliderDown():
            p.seek_slider.setValue(int(stats.position_s * 10))
            p.position_label.setText(f"{stats.position_s:.1f} s of "
                                        f"{stats.duration_s or 0.0:.1f} s")

    def _on_session_ended(self, summary: SessionSummary | None) -> None:
        """Flush the view, save a recording, show the summary, re-enable the controls."""
        self._timer.stop()
        self.recording.stop()
        self.panel.set_record_checked(False)
        if self.view.new_prediction:
            self.view.new_prediction = False
            self.predictionMade.emit(self.view.last_prediction)
        if self.isVisible():
            self._redraw()
        self.last_summary = summary
        view = self.view
        if view.hold_note is not None:
            view.summary_label.setText("")
        elif summary is not None:
            view.summary_label.setText(summary_text(summary))
        if self._hold_until_end:        # the guide's last capture: its figures stay hidden
            self._hold_until_end = False
            view.set_hold_note(None)
        finished = summary is not None and summary.stopped_reason == "finished"
        view.status_label.setText("Finished" if finished else "Stopped")
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
        self.view.message.show_message(text, "error")
        log.warning("%s", text)
