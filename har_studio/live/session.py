"""Drive a source through a streaming classifier: the generator the Live tab's worker and the
``replay``/``stream`` commands run.

``run_session`` yields a ``LiveUpdate`` every poll (about 50 a second, also when nothing
arrived, so the UI can show the connection state and stop promptly) and returns a
``SessionSummary`` when the source ends (a replay that is not looping), ``control.stop()`` is
called, ``duration_s`` passed, or the generator is closed (``gen.close()``; no summary then).
Each update carries only the *new* samples and predictions: a consumer that drops updates
loses them (run it with ``GeneratorWorker(..., min_interval_s=0)``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from ..progress import RunControl
from .classifier import Prediction, StreamingClassifier
from .source import SampleBatch, Source, SourceStats

log = logging.getLogger(__name__)


class LiveControl(RunControl):
    """Thread-safe stop/pause for a running session, and the recorder it writes to.

    pause() pauses a replay where it is (a network source keeps receiving, but samples are
    discarded while paused). ``set_recorder(rec)`` starts saving incoming samples to a
    ``StreamRecorder`` from the next batch; ``set_recorder(None)`` returns the old recorder (the
    caller closes it).
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._recorder = None

    def set_recorder(self, recorder):
        """Install `recorder` (or None); returns the one it replaces."""
        with self._lock:
            old, self._recorder = self._recorder, recorder
        return old

    @property
    def recorder(self):
        with self._lock:
            return self._recorder


RUNNING_LATENCY_WINDOW = 2000   # latest predictions the running latency percentiles cover


@dataclass(frozen=True)
class RunningFigures:
    """The session's figures so far, for a display that runs along: windows classified,
    accuracy as in ``SessionSummary`` (None while no window had a known truth), and latency
    percentiles over the latest ``RUNNING_LATENCY_WINDOW`` predictions (latency now, not
    since the start)."""

    predictions: int = 0
    labelled: int = 0
    accuracy: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None


@dataclass
class LiveUpdate:
    """What happened since the previous update: new raw samples (as the source delivered them),
    new predictions, a stats snapshot of the source and the session's running figures."""

    samples: SampleBatch
    predictions: list[Prediction]
    stats: SourceStats
    running: RunningFigures = field(default_factory=RunningFigures)


@dataclass
class SessionSummary:
    """Totals of a finished session (also the CLI's summary line, ``to_dict()``).

    accuracy: share of windows whose top class equals the truth, over windows with a known
    truth that is one of the model's labels (None when there were none); latency: from a
    window's last sample's arrival to its prediction, less queueing; queue: time windows waited
    behind other windows classified with them (replay faster than real time, a backlog; see
    ``Prediction``), reported apart so latency means the same at any replay speed;
    stopped_reason: ``"finished"``, ``"stopped"``,
    ``"duration"``.
    """

    samples: int = 0
    predictions: int = 0
    bad_packets: int = 0
    accuracy: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None
    queue_ms_p50: float | None = None
    queue_ms_p99: float | None = None
    windows: int = 0
    dropped: int = 0
    labelled_windows: int = 0
    duration_s: float = 0.0
    stopped_reason: str = "finished"
    per_class_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {
            "samples": self.samples, "predictions": self.predictions,
            "bad_packets": self.bad_packets, "windows": self.windows, "dropped": self.dropped,
            "latency_ms_p50": _round(self.latency_ms_p50), "latency_ms_p99": _round(self.latency_ms_p99),
            "queue_ms_p50": _round(self.queue_ms_p50), "queue_ms_p99": _round(self.queue_ms_p99),
            "duration_s": round(self.duration_s, 3), "stopped_reason": self.stopped_reason,
            "predicted_counts": dict(self.per_class_counts),
        }
        if self.accuracy is not None:
            out["accuracy"] = round(self.accuracy, 6)
            out["labelled_windows"] = self.labelled_windows
        return out


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


class _Tally:
    """Running totals for the updates' figures and the summary (latencies kept in a bounded
    reservoir for the summary, the latest ones apart for the running figures)."""

    MAX_LATENCIES = 200_000

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)
        self.known = set(labels)
        self.samples = 0
        self.predictions = 0
        self.correct = 0
        self.labelled = 0
        self.latencies: list[float] = []
        self.queues: list[float] = []
        self.counts: dict[str, int] = {}
        self.recent: deque[float] = deque(maxlen=RUNNING_LATENCY_WINDOW)
        self.running = RunningFigures()

    @property
    def accuracy(self) -> float | None:
        return (self.correct / self.labelled) if self.labelled else None

    def add(self, samples: int, predictions: list[Prediction]) -> None:
        self.samples += samples
        for p in predictions:
            self.predictions += 1
            self.counts[p.label] = self.counts.get(p.label, 0) + 1
            if len(self.latencies) < self.MAX_LATENCIES:
                self.latencies.append(p.latency_ms)
                self.queues.append(p.queue_ms)
            self.recent.append(p.latency_ms)
            if p.truth is not None and p.truth in self.known:
                self.labelled += 1
                self.correct += int(self.labels[p.class_index] == p.truth)
        if predictions:   # unchanged otherwise: an idle poll costs nothing
            p50, p99 = np.percentile(np.fromiter(self.recent, np.float64, len(self.recent)),
                                     [50, 99])
            self.running = RunningFigures(self.predictions, self.labelled, self.accuracy,
                                          float(p50), float(p99))

    def summary(self, stats: SourceStats, windows: int, seconds: float, reason: str) -> SessionSummary:
        lat = np.asarray(self.latencies, np.float64)
        queue = np.asarray(self.queues, np.float64)
        return SessionSummary(
            samples=self.samples, predictions=self.predictions, bad_packets=stats.bad_packets,
            accuracy=self.accuracy,
            latency_ms_p50=float(np.percentile(lat, 50)) if lat.size else None,
            latency_ms_p99=float(np.percentile(lat, 99)) if lat.size else None,
            queue_ms_p50=float(np.percentile(queue, 50)) if queue.size else None,
            queue_ms_p99=float(np.percentile(queue, 99)) if queue.size else None,
            windows=windows, dropped=stats.dropped, labelled_windows=self.labelled,
            duration_s=seconds, stopped_reason=reason, per_class_counts=dict(self.counts))


def run_session(source: Source, classifier: StreamingClassifier, control: LiveControl | None = None,
                poll_s: float = 0.02, *, duration_s: float | None = None,
                clock: Callable[[], float] = time.monotonic,
                ) -> Generator[LiveUpdate, None, SessionSummary]:
    """Start `source`, classify what it delivers, yield a ``LiveUpdate`` per poll, stop it at
    the end. Raises ValueError at once when the source lacks channels the model needs."""
    problem = classifier.check_channels(source.channels)
    if problem:
        raise ValueError(problem)
    control = control or LiveControl()
    tally = _Tally(classifier.labels)
    began = clock()
    reason = "finished"
    source.start()
    was_paused = False
    try:
        while True:
            if control.stopped:
                reason = "stopped"
                break
            if duration_s is not None and clock() - began >= duration_s:
                reason = "duration"
                break
            paused = control.paused
            if paused != was_paused and hasattr(source, "pause"):
                source.pause() if paused else source.resume()
            was_paused = paused
            source.wait(poll_s)
            batch = source.read()
            predictions: list[Prediction] = []
            if len(batch):
                if paused and not hasattr(source, "pause"):
                    batch = SampleBatch.empty(source.channels)
                else:
                    recorder = control.recorder
                    if recorder is not None:
                        try:
                            recorder.write(batch)
                        except OSError as exc:  # a full disk must not stop the session
                            log.warning("recording failed: %s", exc)
                            control.set_recorder(None)
                    predictions = classifier.push(batch)
            tally.add(len(batch), predictions)
            stats = source.stats()
            yield LiveUpdate(batch, predictions, stats, tally.running)
            if source.finished and len(batch) == 0:
                reason = "finished"
                break
    finally:
        source.stop()
    return tally.summary(source.stats(), classifier.windows, clock() - began, reason)
