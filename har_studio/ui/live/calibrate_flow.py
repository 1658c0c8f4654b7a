"""The guided calibration's controller: one activity after another (prompt, countdown,
capture from the Live tab's sample stream), then the fine-tuning in a worker, the saved model
and "Use this model". It holds no widgets; ``calibrate.CalibrationGuide`` shows it.

Samples come from the Live tab's running session (``LiveSession.updated``): a phone stream as
it is, a replayed recording retargeted to the prompted activity (and only its samples kept,
by the replay's truth), so a demo needs no phone. Recordings made earlier (the Data tab's,
or files) skip the capture. The fine-tuning is ``training.jobs.calibrate_model``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ...data.activities import canonical_activity
from ..workers import JobRunner
from .calibrate_capture import (
    ALIASES,
    COUNTDOWN,
    Capture,
    calibration_seconds,
    capture_frame,
    model_file_for,
    person_subject,
    prompt_for,
    save_capture,
)

log = logging.getLogger(__name__)


def _job(bundle, data, config, control, subject, base_path, person, out):
    """The worker's job: load recording files when given, then ``calibrate_model``."""
    from ...training.jobs import calibrate_model

    if isinstance(data, list):          # recording files chosen by the user
        from ...data.loaders import load

        data = load(data)
    return (yield from calibrate_model(bundle, data, config, control=control, subject=subject,
                                       base_path=base_path, person=person, out=out))


class CalibrationFlow(QObject):
    """The guided calibration of one person against the Live tab `tab` (see the module
    docstring). ``tick_ms``: the countdown's "second" (tests make it 1 ms)."""

    stepStarted = Signal(int, str, str)        # index, activity, prompt
    countdownTicked = Signal(int)              # seconds left before the capture
    captureProgressed = Signal(float, object)  # fraction of the step, SampleBatch-like (t, values)
    stepsFinished = Signal()                   # all activities captured or skipped
    tuningProgressed = Signal(float, str)
    calibrationFinished = Signal(object)       # CalibrationResult
    calibrationFailed = Signal(str)
    modelUsed = Signal(str)                    # path of the model now used on the Live tab
    captureSaved = Signal(str)                 # path of the capture kept as a recording
    noted = Signal(str)

    def __init__(self, tab, state, parent: QObject | None = None, *, tick_ms: int = 1000) -> None:
        super().__init__(parent)
        self.tab, self.state, self.tick_ms = tab, state, int(tick_ms)
        self._runner = JobRunner(self, receiver=self)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.phase = "idle"       # idle, countdown, capture, tuning, done
        self.captures: list[Capture] = []
        self.index = -1
        self.result = None
        self.model_path: Path | None = None
        self.capture_path: Path | None = None    # where the last capture was kept
        self.calib_seconds = 0.0                 # what the core calibrates on per activity
        self.calib_activities: tuple[str, ...] = ()   # calibrated on (empty: every one)
        self._only = False                       # capturing one activity again (Redo)
        self._control = None
        self._restart_replay: str | None = None
        self._restart_live = False
        self._replay_subject = None
        self._replay_before: dict | None = None   # the replay's settings before the guide
        tab.session.updated.connect(self._on_session_updated)
        # queued: the tab has finished with the ended session before a new one starts here
        tab.session.ended.connect(self._on_session_ended, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ set-up
    def begin(self, *, person: str, seconds: float, subject: int | None = None,
              activities: list[str] | None = None, hold_back: bool = True) -> None:
        """Start the guided capture of `seconds` per activity (`activities`, default all the
        model's) from the Live tab's source (a phone or a replay). With `hold_back` the
        last part of each is held back to score the model (``calibration_seconds``);
        without, all of it calibrates. Raises ValueError (one line) when it cannot start."""
        bundle = self.tab.current_model()
        if bundle is None:
            raise ValueError("choose a model on the Live tab first")
        self._take_source(subject)
        self._setup(bundle, person, seconds)
        window_s = bundle.window.size / bundle.window.rate_hz
        self.calib_seconds = (calibration_seconds(self.seconds, window_s) if hold_back
                              else self.seconds)
        # only some activities (the quick walk): the core calibrates on those alone, as
        # ``har-studio calibrate --activities``, and keeps what the model knew of the rest
        self.calib_activities = tuple(activities or ())
        self.captures = [Capture(label) for label in (activities or bundle.labels)]
        self._only = False
        self._start_step(0)

    def redo_activity(self, label: str) -> None:
        """After a calibration from a capture: capture `label` again, then fine-tune the
        base model again on all captures. ValueError when there is no such capture."""
        names = [cap.label for cap in self.captures]
        if self.phase != "done" or label not in names:
            raise ValueError(f"nothing captured of {label!r} to redo")
        self._take_source(self._replay_subject)
        self.result, self.model_path, self._only = None, None, True
        self._start_step(names.index(label))

    def _take_source(self, subject: int | None) -> None:
        """Check the Live tab's source can be captured from; keep the replay's settings to
        give back (the replay is the Live tab's: a file opened there, or the Data tab's)."""
        if self.tab.source_kind != "replay":
            return
        dataset = self.tab.replay_dataset
        if dataset is None:
            raise ValueError("no recording to replay: load one on the Data tab or Open… one "
                             "on the Live tab, or choose a phone source")
        if subject is not None and subject not in [int(s) for s in dataset.subjects]:
            raise ValueError(f"the replayed recording has no subject {subject}")
        self._replay_subject = subject if subject is not None else int(dataset.subjects[0])
        p = self.tab.panel
        self._replay_before = {"subject": p.subject_combo.currentData(),
                               "activity": p.activity_combo.currentData(),
                               "loop": p.loop_check.isChecked()}

    def calibrate_recordings(self, data, *, person: str, seconds: float,
                             subject: int | None = None) -> None:
        """Skip the capture: calibrate on recordings made earlier (a Dataset, or a list of
        file paths loaded in the worker)."""
        bundle = self.tab.current_model()
        if bundle is None:
            raise ValueError("choose a model on the Live tab first")
        self._setup(bundle, person, seconds)
        self.captures, self.capture_path = [], None
        self.calib_seconds = self.seconds       # as ``har-studio calibrate --seconds``
        self.calib_activities = ()
        self._tune(data, subject)

    def _setup(self, bundle, person: str, seconds: float) -> None:
        self.cancel()
        self.bundle, self.base_path = bundle, self.tab.models.current_path()
        self.person = person.strip() or "person"
        self.seconds = float(seconds)
        self.result, self.model_path = None, None

    # ------------------------------------------------------------------ capture steps
    @property
    def current(self) -> Capture | None:
        return self.captures[self.index] if 0 <= self.index < len(self.captures) else None

    def _start_step(self, index: int) -> None:
        self.index = index
        if index >= len(self.captures):
            self._finish_steps()
            return
        cap = self.captures[index] = Capture(self.captures[index].label)
        self.phase, self._left = "countdown", COUNTDOWN
        self.tab.show_capture_note(
            f"Calibrating to {self.person}: capturing “{cap.label}”"
            + (" (the replay plays one activity at a time, so no accuracy is shown)."
               if self.tab.source_kind == "replay" else "."))
        self.stepStarted.emit(index, cap.label, prompt_for(cap.label))
        self.countdownTicked.emit(self._left)
        if self.tab.source_kind == "replay":
            if not self._replay(cap.label):
                return
        elif not self.tab.is_running and not self.tab.start():
            self._fail(f"the phone stream did not start: {self.tab.message_text()}")
            return
        self._timer.start(self.tick_ms)

    def _replay(self, label: str) -> bool:
        """Point the replay at `label` of the chosen person (restarting the session)."""
        if self.tab.is_running:
            self._restart_replay = label
            self.tab.stop()
            return True
        for name in (label, *ALIASES.get(label, ())):
            try:
                self.tab.set_source("replay", subject=self._replay_subject, activity=name,
                                    loop=True)
                break
            except ValueError:
                continue
        else:
            self.noted.emit(f"The replayed recording has no “{label}”: skipped.")
            self.skip()
            return False
        if not self.tab.start():
            self._fail(f"the replay did not start: {self.tab.message_text()}")
            return False
        return True

    def _on_timer_timeout(self) -> None:
        if self.phase != "countdown":
            self._timer.stop()
            return
        self._left -= 1
        self.countdownTicked.emit(max(self._left, 0))
        if self._left <= 0:
            self._timer.stop()
            self.phase = "capture"

    def _on_session_updated(self, update) -> None:
        cap = self.current
        if self.phase != "capture" or cap is None:
            return
        batch = update.samples
        if len(batch) == 0:
            return
        keep = np.ones(len(batch), bool)
        if batch.truth is not None:
            names = {cap.label, *ALIASES.get(cap.label, ())}
            keep = np.array([bool(x) and canonical_activity(x) in names for x in batch.truth])
            if not keep.any():
                return
        names = list(batch.channels) if batch.channels else list(self.bundle.channels)
        cols = [names.index(c) for c in self.bundle.channels]
        breaks = (batch.breaks if batch.breaks is not None
                  else np.zeros(len(batch), bool))[keep]
        t, values = batch.t[keep], batch.values[keep][:, cols]
        n = cap.add(t, values, breaks, limit_s=self.seconds)
        self.captureProgressed.emit(min(cap.seconds / self.seconds, 1.0), (t[:n], values[:n]))
        if cap.seconds >= self.seconds:
            self._next_step()

    def _next_step(self) -> None:
        self._start_step(len(self.captures) if self._only else self.index + 1)

    def redo(self) -> None:
        """Capture the current activity again."""
        if self.phase in ("countdown", "capture"):
            self._timer.stop()
            self._start_step(self.index)

    def skip(self) -> None:
        """Leave the current activity out (the model keeps what it knew of it)."""
        if self.phase in ("countdown", "capture") and self.current is not None:
            self._timer.stop()
            self.current.skipped = True
            self._next_step()

    def _restore_replay(self) -> None:
        """Give the Live tab back the replay settings the guide changed."""
        before, self._replay_before = self._replay_before, None
        if self.tab.source_kind == "replay":
            if self.tab.is_running:
                self.tab.stop()
            if before is not None:
                try:
                    self.tab.set_source("replay", **before)
                except ValueError:   # the recording changed meanwhile: leave it
                    pass

    def _finish_steps(self) -> None:
        self._timer.stop()
        self.phase = "tuning"
        self._restore_replay()
        self.stepsFinished.emit()
        try:
            frame = capture_frame(self.captures, list(self.bundle.channels),
                                  subject=person_subject(self.person))
        except ValueError as exc:
            self._fail(f"Cannot calibrate: {exc}")
            return
        # calibrate on the kept recording itself: the app's figures are then those of
        # ``har-studio calibrate <file> --seconds <calib_seconds>`` (one held-back part)
        self._tune([str(self.capture_path)] if self._keep_capture(frame) else frame, None)

    def _keep_capture(self, frame) -> bool:
        """Save the capture as a labelled recording (a person calibrated once can be
        calibrated again, or added to training, from it); False when it could not be."""
        try:
            self.capture_path = save_capture(frame, self.person, self.bundle.window.rate_hz)
        except (OSError, ValueError) as exc:
            self.capture_path = None
            self.noted.emit(f"The capture could not be kept as a recording: {exc}")
            return False
        log.info("calibration capture kept as %s", self.capture_path)
        self.captureSaved.emit(str(self.capture_path))
        return True

    def _on_session_ended(self, _summary) -> None:
        if self._restart_replay is not None:
            label, self._restart_replay = self._restart_replay, None
            if self.phase in ("countdown", "capture"):
                self._replay(label)
        elif self._restart_live:
            self._restart_live = False
            self.tab.models.refresh(select="state")
            self.tab.start()
        elif self.phase in ("countdown", "capture"):
            self.noted.emit("The stream stopped: Redo to start it again, or Skip.")

    # ------------------------------------------------------------------ fine-tuning
    def _tune(self, data, subject) -> None:
        from ...training.calibration import CalibrationConfig
        from ...training.engine import TrainControl

        self.phase = "tuning"
        self.tab.show_capture_note(None)
        config = CalibrationConfig(seconds=self.calib_seconds, activities=self.calib_activities)
        control = self._control = TrainControl()
        out = model_file_for(self.person)
        bundle, base, person = self.bundle, self.base_path, self.person
        self.tuningProgressed.emit(0.0, "Starting the fine-tuning…")
        self._runner.start(lambda: _job(bundle, data, config, control, subject, base, person,
                                        out))

    def _on_runner_progressed(self, item) -> None:
        kind = type(item).__name__
        if kind == "CalibrationStep":
            self.tuningProgressed.emit(item.fraction, item.text)
        elif kind in ("BatchProgress", "EpochProgress"):
            done = (item.epoch - 1 + (item.batch / item.batches if kind == "BatchProgress"
                                      else 1.0)) / item.epochs
            self.tuningProgressed.emit(0.05 + 0.9 * done,
                                       f"Fine-tuning: epoch {item.epoch} of {item.epochs}")
        elif kind == "TrainNote" and item.level != "info":
            self.noted.emit(item.text)

    def _on_runner_succeeded(self, result) -> None:
        if result is None:
            self.phase = "idle"
            return
        self.phase, self.result = "done", result
        self.model_path = Path(result.record["model_path"])
        self.tuningProgressed.emit(1.0, f"Saved as {self.model_path}")
        log.info("calibrated model saved to %s", self.model_path)
        self.calibrationFinished.emit(result)

    def _on_runner_failed(self, exc, _tb: str) -> None:
        self._fail(f"Calibration failed: {str(exc).splitlines()[0] if str(exc) else exc!r}")

    def _fail(self, text: str) -> None:
        self._timer.stop()
        self.phase = "idle"
        self.tab.show_capture_note(None)
        log.warning("%s", text)
        self.calibrationFailed.emit(text)

    # ------------------------------------------------------------------ the result
    def use_model(self) -> None:
        """Make the calibrated model the current one: the Live tab switches to it (a running
        session restarts with it)."""
        if self.result is None:
            return
        self.state.set_model(self.result.bundle, str(self.model_path))
        if self.tab.is_running:
            self._restart_live = True
            self.tab.stop()
        else:
            self.tab.models.refresh(select="state")
        self.modelUsed.emit(str(self.model_path))

    def cancel(self) -> None:
        """Stop whatever runs (capture or fine-tuning)."""
        self._timer.stop()
        if self._control is not None:
            self._control.stop()
        self._runner.cancel()
        self._restart_replay = None
        if self.phase in ("countdown", "capture"):
            self._restore_replay()
            self.tab.show_capture_note(None)
        self.phase = "idle"

    @property
    def running(self) -> bool:
        return self.phase in ("countdown", "capture", "tuning")
