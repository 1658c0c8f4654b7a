"""Run a core generator off the GUI thread and report back through signals.

The core writes long work as a plain generator that yields progress and returns a result
(``train(...)``, ``load(...)``). ``GeneratorWorker`` runs one in a QThread: every yielded item
arrives on the GUI thread as ``yielded``, the return value as ``returned``, an exception as
``errored``; ``abort()`` closes the generator between yields. All live workers are tracked so
the app can stop them cleanly on quit.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

_live: set[GeneratorWorker] = set()


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
        self.finished.connect(self._on_thread_finished)

    def start(self, *args) -> None:  # noqa: D401 - Qt name
        _live.add(self)
        super().start(*args)

    def abort(self) -> None:
        """Ask the work to stop at its next yield (never interrupts mid-step)."""
        self._abort = True

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
            pending = None
            while True:
                if self._abort:
                    gen.close()
                    self.aborted.emit()
                    return
                try:
                    item = next(gen)
                except StopIteration as stop:
                    if pending is not None:
                        self.yielded.emit(pending)
                    self.returned.emit(stop.value)
                    return
                now = time.monotonic()
                if now - last_emit >= self._min_interval_s:
                    self.yielded.emit(item)
                    last_emit = now
                    pending = None
                else:
                    pending = item
        except Exception as exc:  # reported to the GUI, never kills the app
            log.debug("worker failed", exc_info=True)
            self.errored.emit(exc, traceback.format_exc())

    def _on_thread_finished(self) -> None:
        _live.discard(self)


def live_workers() -> list[GeneratorWorker]:
    return list(_live)


def stop_all_workers(timeout_ms: int = 5000) -> None:
    """Abort every running worker and wait for it (connected to aboutToQuit)."""
    for worker in list(_live):
        worker.abort()
    for worker in list(_live):
        if not worker.wait(timeout_ms):
            log.warning("a background task did not stop within %d ms", timeout_ms)
