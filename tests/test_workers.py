"""The one worker contract (ui/workers.py): a cancelled job delivers nothing afterwards, a new
job replaces the old, progress is throttled, values can be sent into a running job."""

from __future__ import annotations

import threading

from har_studio.ui.workers import JobRunner, live_workers

TIMEOUT = 10_000


class _Recorder:
    def __init__(self, runner: JobRunner) -> None:
        self.items: list = []
        self.results: list = []
        self.failures: list = []
        self.cancels = 0
        runner.progressed.connect(self.items.append)
        runner.succeeded.connect(self.results.append)
        runner.failed.connect(lambda exc, tb: self.failures.append(exc))
        runner.cancelled.connect(self._on_cancelled)

    def _on_cancelled(self) -> None:
        self.cancels += 1


def _counting(release: threading.Event, n: int = 200):
    """Yields 0..n-1, pausing after 3 until `release` is set; returns "done"."""
    for i in range(n):
        if i == 3:
            release.wait(5)
        yield i
    return "done"


def test_a_cancelled_job_delivers_nothing_after_the_cancel(qtbot):
    runner = JobRunner()
    seen = _Recorder(runner)
    release = threading.Event()
    worker = runner.start(lambda: _counting(release))
    qtbot.waitUntil(lambda: len(seen.items) >= 2, timeout=TIMEOUT)
    # the job runs to its end while the GUI thread does not look: its remaining items and
    # its result now wait in the event queue
    release.set()
    assert worker.wait(TIMEOUT)
    assert runner.running
    assert runner.cancel() is True
    delivered = list(seen.items)
    assert len(delivered) < 200
    assert seen.cancels == 1 and not runner.running
    qtbot.wait(50)                      # process whatever the worker queued before it stopped
    assert seen.items == delivered      # nothing after the cancel...
    assert seen.results == [] and seen.failures == []   # ...neither result nor error
    assert seen.cancels == 1
    assert runner.cancel() is False     # nothing left to cancel


def test_starting_a_new_job_cancels_and_disconnects_the_old(qtbot):
    runner = JobRunner()
    seen = _Recorder(runner)
    hold = threading.Event()

    def endless():
        while True:
            hold.wait(0.01)
            yield "old"

    old = runner.start(endless)
    qtbot.waitUntil(lambda: "old" in seen.items, timeout=TIMEOUT)
    with qtbot.waitSignal(runner.succeeded, timeout=TIMEOUT) as blocker:
        runner.start(lambda: iter_and_return(["new"], 42))
    assert blocker.args == [42]
    assert old.wait(TIMEOUT) and old.is_aborting      # the old job was stopped
    qtbot.wait(50)
    last_old = max(i for i, item in enumerate(seen.items) if item == "old")
    assert seen.items[last_old + 1:] == ["new"]
    assert seen.results == [42] and seen.cancels == 1
    qtbot.waitUntil(lambda: old not in live_workers(), timeout=TIMEOUT)


def iter_and_return(items, value):
    yield from items
    return value


def test_progress_is_throttled_but_the_last_item_kept(qtbot):
    runner = JobRunner(min_interval_s=60.0)
    seen = _Recorder(runner)
    with qtbot.waitSignal(runner.succeeded, timeout=TIMEOUT):
        runner.start(lambda: iter_and_return(range(1000), "end"))
    assert seen.items == [0, 999]
    assert seen.results == ["end"]


def test_values_sent_reach_the_running_job(qtbot):
    runner = JobRunner()
    seen = _Recorder(runner)

    def listener():
        received = []
        while len(received) < 2:
            value = yield len(received)
            if value is not None:
                received.append(value)
        return received

    with qtbot.waitSignal(runner.succeeded, timeout=TIMEOUT):
        runner.start(listener)
        runner.send({"hop": 4})
        runner.send({"smoothing": "ema"})
    assert seen.results == [[{"hop": 4}, {"smoothing": "ema"}]]


def test_an_exception_is_delivered_as_failed(qtbot):
    runner = JobRunner()
    seen = _Recorder(runner)

    def broken():
        yield 1
        raise RuntimeError("inside the job")

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT):
        runner.start(broken)
    assert [str(e) for e in seen.failures] == ["inside the job"]
    assert not runner.running and seen.results == []
