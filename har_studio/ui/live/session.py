"""The Live tab's session controller: runs the core's ``run_session`` in a worker, with
back-pressure towards the GUI, classifier settings sent into the running session, and the
recording of the incoming stream. It holds no widgets.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ...live.recorder import StreamRecorder, recording_path
from ...live.session import LiveControl, LiveUpdate, SessionSummary
from ..workers import JobRunner

log = logging.getLogger(__name__)


class _InFlight:
    """Back-pressure between the session thread and the GUI: at most `limit` updates may wait
    in the GUI's event queue. A replay at maximum speed produces updates faster than any GUI
    draws them; without this the queue (and memory) would grow without bound and Stop would
    wait for the backlog."""

    def __init__(self, control: LiveControl, limit: int = 16) -> None:
        self.limit = int(limit)
        self._control = control
        self._count = 0
        self._cond = threading.Condition()
        self._cancelled = False

    def acquire(self) -> None:
        """Called by the session thread before yielding an update."""
        with self._cond:
            while (self._count >= self.limit and not self._cancelled
                   and not self._control.stopped):
                self._cond.wait(0.05)
            self._count += 1

    def release(self) -> None:
        """Called by the GUI thread when it has taken an update."""
        with self._cond:
            self._count = max(0, self._count - 1)
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()


def _session(source, classifier, control: LiveControl, inflight: _InFlight):
    """The worker's generator: ``run_session`` with back-pressure; classifier settings sent
    in (``runner.send(dict)``) apply before the next batch. Returns the session's summary.
    (Not ``run_to_end``: it re-yields every update to the worker and takes values sent in.)"""
    from ...live.session import run_session

    gen = run_session(source, classifier, control)
    try:
        while True:
            try:
                update = next(gen)
            except StopIteration as stop:
                return stop.value
            inflight.acquire()
            options = yield update
            if options:
                try:
                    classifier.set_options(**options)
                except ValueError as exc:  # the spin boxes keep values in range; be safe
                    log.warning("live setting ignored: %s", exc)
    finally:
        gen.close()


class LiveSession(QObject):
    """One live session at a time: ``updated`` per LiveUpdate, then ``ended`` with the
    SessionSummary (None when it stopped without one) or ``failed`` with the reason."""

    updated = Signal(object)      # LiveUpdate
    ended = Signal(object)        # SessionSummary | None
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = JobRunner(self, receiver=self)
        self.control: LiveControl | None = None
        self.source = None
        self.recorder: StreamRecorder | None = None
        self._inflight: _InFlight | None = None

    @property
    def running(self) -> bool:
        return self.control is not None

    def start(self, source, classifier) -> None:
        """Run `classifier` over `source` (already started) until stopped or finished."""
        control = self.control = LiveControl()
        self.source = source
        inflight = self._inflight = _InFlight(control)
        self._runner.start(lambda: _session(source, classifier, control, inflight))

    def stop(self) -> None:
        """Ask the session to stop; ``ended`` follows with its summary."""
        if self.control is not None:
            self.control.stop()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop now and wait for the worker (tab closed, app quitting); ``ended(None)``."""
        if self.control is None:
            return
        self.control.stop()
        self._inflight.cancel()
        if not self._runner.wait(wait_ms):
            log.warning("the live session did not stop within %d ms", wait_ms)
        self._finish(None)

    def send_options(self, **options) -> None:
        """New classifier settings for the running session (applied before its next batch)."""
        self._runner.send(options)

    def pause(self, paused: bool) -> None:
        if self.control is not None:
            self.control.pause() if paused else self.control.resume()

    # ------------------------------------------------------------------ recording
    def start_recording(self, folder: Path, activity: str, subject: int,
                        rate_hz: float = 20.0) -> Path:
        """Save incoming samples from the next batch on, resampled to `rate_hz` (the model's
        rate); the file's path. Raises ValueError/OSError when it cannot be opened."""
        channels = tuple(self.source.channels)
        path = recording_path(folder, activity, subject, channels)
        recorder = StreamRecorder(path, subject, activity, channels=channels, rate_hz=rate_hz)
        old = self.control.set_recorder(recorder)
        if old is not None:
            old.close()
        self.recorder = recorder
        log.info("recording to %s", path)
        return path

    def stop_recording(self) -> tuple[StreamRecorder, list[Path]] | None:
        """Stop recording: (recorder, files written; [] when nothing arrived), or None when
        there was no recording. Raises OSError when saving fails."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        if self.control is not None:
            self.control.set_recorder(None)
        if recorder.samples == 0:
            recorder.discard()
            return recorder, []
        return recorder, list(recorder.close())

    # ------------------------------------------------------------------ runner
    def _on_runner_progressed(self, update) -> None:
        if self._inflight is not None:
            self._inflight.release()
        if isinstance(update, LiveUpdate):
            self.updated.emit(update)

    def _on_runner_succeeded(self, summary) -> None:
        self._finish(summary if isinstance(summary, SessionSummary) else None)

    def _on_runner_failed(self, exc, _tb: str) -> None:
        log.warning("live session failed: %s", exc)
        self.failed.emit(f"The live session stopped: {exc}")
        self._finish(None)

    def _on_runner_cancelled(self) -> None:
        self._finish(None)

    def _finish(self, summary: SessionSummary | None) -> None:
        if self.control is None:
            return
        self.control = None
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        self._runner.cancel()        # nothing of this session is delivered from here on
        if self.source is not None:
            try:
                self.source.stop()   # idempotent: run_session already stopped it
            except Exception:
                log.debug("stopping the source failed", exc_info=True)
        self.ended.emit(summary)
