"""Run a core generator off the GUI thread: one worker contract for every tab.

The core writes long work as a plain generator that yields progress and returns a result
(``train(...)``, ``load(...)``). Two pieces run it:

- ``GeneratorWorker`` (a QThread) drives one generator: items arrive on the GUI thread as
  ``yielded`` (throttled to ``min_interval_s``, the last one before the end always kept), the
  return value as ``returned``, an exception as ``errored``. ``abort()`` closes the generator
  at its next yield; ``send(value)`` hands a value to it there (``value = yield item``).
- ``JobRunner`` is what a tab's controller owns: one job at a time. ``start(factory)`` cancels
  and disconnects the job before it, ``cancel()`` guarantees that nothing of that job is
  delivered afterwards, and its signals (``progressed``, ``succeeded``, ``failed``) always
  speak for the current job, so slots never ask who sent them.

Every worker is kept alive in a module-level set until its thread ends, so a replaced job can
finish in the background, and ``stop_all_workers`` (connected to ``aboutToQuit``) stops them.
"""

from __future__ import annotations

import logging
import queue
import time
import traceback
from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

_live: set[GeneratorWorker] = set()
_NOTHING = object()


class GeneratorWorker(QThread):
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object, str)  # exception, formatted traceback
    aborted = Signal()

    def __init__(self, factory: Callable[[], Generator | object], *, min_interval_s: float = 0.0,
                 parent: QObject | None = None) -> None:
        """`factory()` makes the generator (or returns a plain result). Items yielded closer
        together than `min_interval_s` are dropped, except the last before the end."""
        super().__init__(parent)
        self._factory = factory
        self._min_interval_s = min_interval_s
        self._abort = False
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.finished.connect(self._on_thread_finished)

    def start(self, *args) -> None:  # noqa: D401 - Qt name
        _live.add(self)
        super().start(*args)

    def abort(self) -> None:
        """Ask the work to stop at its next yield (never interrupts mid-step)."""
        self._abort = True

    def send(self, value) -> None:
        """Give `value` to the running generator at its next yield (``value = yield item``)."""
        self._inbox.put(value)

    @property
    def is_aborting(self) -> bool:
        return self._abort

    def run(self) -> None:  # runs in the worker thread
        try:
            gen = self._factory()
            if not isinstance(gen, Generator):
                self.returned.emit(gen)
                return
            last_emit = 0.0
            pending = _NOTHING
            started = False
            while True:
                if self._abort:
                    gen.close()
                    self.aborted.emit()
                    return
                try:
                    item = gen.send(self._next_message()) if started else next(gen)
                    started = True
                except StopIteration as stop:
                    if pending is not _NOTHING:
                        self.yielded.emit(pending)
                    self.returned.emit(stop.value)
                    return
                now = time.monotonic()
                if now - last_emit >= self._min_interval_s:
                    self.yielded.emit(item)
                    last_emit = now
                    pending = _NOTHING
                else:
                    pending = item
        except Exception as exc:  # reported to the GUI, never kills the app
            log.debug("worker failed", exc_info=True)
            self.errored.emit(exc, traceback.format_exc())

    def _next_message(self):
        try:
            return self._inbox.get_nowait()
        except queue.Empty:
            return None

    def _on_thread_finished(self) -> None:
        _live.discard(self)


class _Delivery(QObject):
    """The GUI-thread end of one job: passes its worker's signals to the runner until the
    job is cancelled or replaced (then it drops them, whatever is still queued)."""

    def __init__(self, runner: JobRunner, worker: GeneratorWorker) -> None:
        super().__init__(runner)
        self._runner: JobRunner | None = runner
        worker.yielded.connect(self._on_worker_yielded)
        worker.returned.connect(self._on_worker_returned)
        worker.errored.connect(self._on_worker_errored)
        worker.aborted.connect(self._on_worker_aborted)

    def revoke(self) -> None:
        self._runner = None

    def _on_worker_yielded(self, item) -> None:
        if self._runner is not None:
            self._runner.progressed.emit(item)

    def _on_worker_returned(self, result) -> None:
        runner = self._end()
        if runner is not None:
            runner.succeeded.emit(result)

    def _on_worker_errored(self, exc, tb: str) -> None:
        runner = self._end()
        if runner is not None:
            runner.failed.emit(exc, tb)

    def _on_worker_aborted(self) -> None:
        runner = self._end()   # after runner.cancel() this is None: the cancel was reported
        if runner is not None:  # aborted from outside (stop_all_workers on quit)
            runner.cancelled.emit()

    def _end(self) -> JobRunner | None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner._job_ended(self)
        self.deleteLater()
        return runner


class JobRunner(QObject):
    """One background job at a time for a controller: start, cancel, send, and signals that
    only ever carry the current job's progress and outcome."""

    progressed = Signal(object)        # an item the job yielded (throttled)
    succeeded = Signal(object)         # the job's return value
    failed = Signal(object, str)       # exception, formatted traceback
    cancelled = Signal()               # cancel() stopped a running job (emitted at once)

    def __init__(self, parent: QObject | None = None, *, min_interval_s: float = 0.0,
                 receiver: QObject | None = None) -> None:
        """`receiver` implements any of ``_on_runner_progressed(item)``,
        ``_on_runner_succeeded(result)``, ``_on_runner_failed(exc, traceback)`` and
        ``_on_runner_cancelled()``; each is connected to its signal."""
        super().__init__(parent)
        self._min_interval_s = min_interval_s
        for name in ("progressed", "succeeded", "failed", "cancelled"):
            slot = getattr(receiver, f"_on_runner_{name}", None)
            if slot is not None:
                getattr(self, name).connect(slot)
        self._worker: GeneratorWorker | None = None
        self._delivery: _Delivery | None = None
        self._last_worker: GeneratorWorker | None = None

    @property
    def running(self) -> bool:
        """True from start() until the job's outcome was delivered (or it was cancelled)."""
        return self._delivery is not None

    @property
    def worker(self) -> GeneratorWorker | None:
        return self._worker

    def start(self, factory: Callable[[], Generator | object]) -> GeneratorWorker:
        """Cancel the current job (if any), then run `factory()` in a new worker."""
        self.cancel()
        worker = GeneratorWorker(factory, min_interval_s=self._min_interval_s)
        self._worker = self._last_worker = worker
        self._delivery = _Delivery(self, worker)
        worker.start()
        return worker

    def cancel(self) -> bool:
        """Stop the current job at its next yield; nothing it yields or returns is delivered
        after this call. True when a job was running."""
        delivery, worker = self._delivery, self._worker
        if delivery is None:
            return False
        delivery.revoke()
        self._delivery = self._worker = None
        if worker is not None:
            worker.abort()
        self.cancelled.emit()
        return True

    def send(self, value) -> None:
        """Hand `value` to the running job at its next yield (ignored when none runs)."""
        if self._worker is not None:
            self._worker.send(value)

    def wait(self, timeout_ms: int) -> bool:
        """Block until the last started worker's thread ended (True) or `timeout_ms` passed."""
        worker = self._last_worker
        return worker is None or worker.wait(timeout_ms)

    def _job_ended(self, delivery: _Delivery) -> None:
        if delivery is self._delivery:
            self._delivery = self._worker = None


def live_workers() -> list[GeneratorWorker]:
    return list(_live)


def stop_all_workers(timeout_ms: int = 5000) -> None:
    """Abort every running worker and wait for it (connected to aboutToQuit)."""
    for worker in list(_live):
        worker.abort()
    for worker in list(_live):
        if not worker.wait(timeout_ms):
            log.warning("a background task did not stop within %d ms", timeout_ms)
