"""What every long job of the core shares, whatever it computes: the loop that drives a
progress generator to its result, and the thread-safe stop / pause switch a caller holds.

The core's long work is written as generators that yield progress records and return their
result (``data.loaders.load_iter``, ``training.engine.train``, ``training.crossval``,
``live.session.run_session``). Callers that only want the result (the command line, ``load``,
benchmarks, tests) drive them with ``run_to_end``; the GUI drives them in ``ui.workers``
instead (its loop also cancels, throttles and sends values in). Qt-free, imports nothing of
the project, so every layer may use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator


def run_to_end(gen: Generator, on_item: Callable[[object], None] | None = None):
    """Drive a progress generator to its end and return its result; each yielded item goes to
    `on_item` (e.g. to print it), or is discarded."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)


class RunControl:
    """Thread-safe stop / pause / resume for a running job (a training run, a live session).

    ``stop()`` also ends a pause; once stopped, ``pause()`` does nothing and ``paused`` is
    False, so a job never sits paused after it was told to stop.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._stop.is_set()

    def wait_resumed(self, timeout: float) -> bool:
        """Block up to `timeout` seconds while paused; True once running (or stopped)."""
        return self._running.wait(timeout)
