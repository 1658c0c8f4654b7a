"""Classify a stream of samples window by window, exactly as offline evaluation would.

``StreamingClassifier`` keeps the latest samples of the current *run* at the model's sampling
rate and classifies a window every ``hop`` samples. Window boundaries follow
``make_windows``: the first window ends ``size`` samples after the run's first sample, the next
ones every ``hop`` samples after that. A run ends where a batch marks a break
(``SampleBatch.breaks``: replay marks subject/activity changes and gaps), where time jumps
backwards or by more than the model's ``max_gap_periods``; the buffer and smoothing restart.

Replayed recordings at the model's rate pass through unresampled (``SampleBatch.nominal_rate_hz``
equals ``bundle.window.rate_hz``), so replay at ``hop = bundle.window.step`` with
``smoothing="none"`` gives the very windows and probabilities of ``make_windows`` +
``bundle.predict_proba``. Other streams are resampled onto the model's rate first.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..data.alignment import RunningAlignment
from .onnx_sessions import onnx_sessions
from .ring import Resampler, RingBuffer
from .source import SampleBatch

log = logging.getLogger(__name__)

UNCERTAIN = "uncertain"
SMOOTHING_MODES = ("none", "mean", "majority")


ENGINES = ("torch", "onnx", "auto")
SMALL_BATCH = 8   # at most this many windows in a push: live threads (threads.py)


@dataclass
class Prediction:
    """One classified window.

    ``t``: stream time (s) of the window's last sample; ``label``: the (smoothed) class name, or
    ``"uncertain"`` when ``confidence < threshold``; ``class_index``: index of the most likely
    (smoothed) class in ``labels`` regardless of the threshold; ``probabilities``: one per
    class in the model's label order (smoothed); ``truth``: the activity of the window's first
    sample when the source knows it (replay), else None; ``latency_ms``: from the arrival of the
    window's last sample (or the ``push`` call) to this prediction, less ``queue_ms``;
    ``queue_ms``: the part of that time the window waited behind other windows classified in
    the same push (a replay faster than real time, a backlog): 0 for a window classified on its
    own, so ``latency_ms`` is what one window costs from arrival to prediction (the same figure
    as ``bench/bench_live.py``); ``inference_ms``: model time
    per window of the batch it was classified in; ``attention``: ``[C, patches]`` when asked
    for; ``window_start_t``: stream time of the window's first sample; ``index``: ordinal of the
    window since the classifier was made; ``pocket``: for a model that aligns each person
    (``data.alignment``), how many moving windows the person's upright comes from so far (0:
    the phone is taken as upright until the person moves); None for other models.
    """

    t: float
    label: str
    confidence: float
    probabilities: list[float]
    truth: str | None = None
    latency_ms: float = 0.0
    attention: np.ndarray | None = None
    class_index: int = -1
    inference_ms: float = 0.0
    window_start_t: float = 0.0
    index: int = 0
    queue_ms: float = 0.0
    pocket: int | None = None

    def to_dict(self, labels: list[str]) -> dict:
        """The JSON line the CLI prints."""
        out = {
            "t": round(self.t, 4),
            "predicted": self.label,
            "confidence": round(self.confidence, 5),
            "probabilities": {name: round(float(p), 5) for name, p in zip(labels, self.probabilities, strict=False)},
            "latency_ms": round(self.latency_ms, 3),
            "queue_ms": round(self.queue_ms, 3),
        }
        if self.truth is not None:
            out["truth"] = self.truth
        if self.pocket is not None:
            out["pocket_windows"] = self.pocket
        return out


class StreamingClassifier:
    """Windows a stream at the model's rate and classifies every ``hop`` samples.

    bundle: a ``ModelBundle`` (``window``, ``channels``, ``labels``, ``predict_proba``, ``model``).
    hop: samples between classified windows (default ``bundle.window.step``; 1 = every sample).
    smoothing: ``"none"``, ``"mean"`` (average probabilities of the last ``smooth_k`` windows) or
    ``"majority"`` (most frequent top class of the last ``smooth_k`` windows, ties to the latest;
    probabilities are the mean, confidence the mean probability of the voted class).
    threshold: below this confidence the label is ``"uncertain"``.
    attention: also compute the attention strip (``Prediction.attention``).
    max_batch: most windows classified in one model call (all due windows are batched, in
    calls of at most this many). 64 by measurement: the attention's score matrices of a
    bigger batch leave the CPU caches (replay at hop 8, robust model, one thread: 910-930
    windows/s at 64 or 128, 677 at 512; ``bench/bench_live.py``).
    clock: monotonic clock (seconds) used for latency; the same clock that stamps arrivals.
    engine: ``"torch"`` (exact: the same numbers as ``bundle.predict_proba``), ``"onnx"``
    (onnxruntime, within 1e-4 of torch; falls back to torch when onnxruntime or the export is
    unavailable; ``self.engine`` says which runs) or ``"auto"`` (onnxruntime, one thread, for a
    push of at most ``SMALL_BATCH`` windows: live streaming, where it is about twice as fast as
    torch at batch 1; torch for bigger batches, where the two are on par). The attention strip
    always comes from torch.
    threads: torch CPU threads for inference; None follows the thread policy (``threads.py``):
    one thread for a few windows (live streaming), the training count for bigger batches
    (replay faster than real time). Applied in the thread that calls ``push``.
    """

    def __init__(self, bundle, hop: int | None = None, smoothing: str = "mean", smooth_k: int = 3,
                 threshold: float = 0.5, attention: bool = False, *, max_batch: int = 64,
                 clock: Callable[[], float] = time.monotonic, engine: str = "torch",
                 threads: int | None = None) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.bundle = bundle
        from ..threads import live_threads, training_threads

        self.threads = threads
        self._live_threads = live_threads()
        self._batch_threads = training_threads()
        self._onnx = None
        if engine != "torch":
            onnx_threads = threads or (self._live_threads if engine == "auto" else None)
            self._onnx = onnx_sessions(bundle, onnx_threads)
        self.engine = engine if self._onnx is not None else "torch"
        window = bundle.window
        self.size = int(window.size)
        self.rate_hz = float(window.rate_hz)
        self.max_gap_s = float(window.max_gap_periods) / self.rate_hz
        self._labels = [str(x) for x in bundle.labels]
        self._channels = [str(c) for c in bundle.channels]
        self.max_batch = max(1, int(max_batch))
        self._clock = clock
        self.hop = int(window.step)
        self.smoothing = "mean"
        self.smooth_k = 3
        self.threshold = 0.5
        self.attention = False
        self.set_options(hop=hop if hop is not None else int(window.step), smoothing=smoothing,
                         smooth_k=smooth_k, threshold=threshold, attention=attention)
        width = len(self._channels)
        self._resampler = Resampler(self.rate_hz, self.max_gap_s)
        self._ring = RingBuffer(self.size, width)
        self._t_ring = RingBuffer(self.size, None, np.float64)
        self._truth_ring = RingBuffer(self.size, None, np.int64)
        self._truth_code: dict[str, int] = {}
        self._truth_name: list[str] = []
        self._history: deque = deque(maxlen=self.smooth_k)
        self._run_count = 0
        self._run_id = 0
        self._last_t: float | None = None
        self._windows = 0
        self._column_cache: dict[tuple[str, ...], list[int]] = {}
        features = getattr(bundle, "features", None)
        # a model trained on per-person aligned inputs: this person's alignment, kept up to
        # date from the stream itself (data.alignment); None for other models
        self._alignment = (RunningAlignment(self._channels)
                           if getattr(features, "aligns", False) else None)
        # a live window (one per push) is read with the alignment of the windows before it and
        # taken into the estimate after its prediction, on a push that completes no window
        # (the running alignment costs 0.1-0.3 ms a window: off the sample-to-prediction path)
        self._unsettled: np.ndarray | None = None

    # -- read-only facts for the UI
    @property
    def labels(self) -> list[str]:
        """Class names in probability order."""
        return list(self._labels)

    @property
    def channels(self) -> list[str]:
        """Channel names the model needs, in order."""
        return list(self._channels)

    @property
    def windows(self) -> int:
        """Windows classified so far."""
        return self._windows

    def check_channels(self, channels: list[str] | tuple[str, ...] | None) -> str | None:
        """None if a source with these channels can feed the model, else a one-line reason."""
        if channels is None:
            return None
        missing = [c for c in self._channels if c not in channels]
        if missing:
            return (f"the model needs channel{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                    f"but the source has {', '.join(channels) or 'none'}")
        return None

    def set_options(self, *, hop: int | None = None, smoothing: str | None = None,
                    smooth_k: int | None = None, threshold: float | None = None,
                    attention: bool | None = None) -> None:
        """Change settings between pushes (each takes effect at the next push)."""
        if hop is not None:
            if int(hop) < 1:
                raise ValueError(f"hop must be at least 1 sample, got {hop}")
            self.hop = int(hop)
        if smoothing is not None:
            if smoothing not in SMOOTHING_MODES:
                raise ValueError(f"smoothing must be one of {', '.join(SMOOTHING_MODES)}, got {smoothing!r}")
            self.smoothing = smoothing
        if smooth_k is not None:
            if int(smooth_k) < 1:
                raise ValueError(f"smoothing length must be at least 1, got {smooth_k}")
            self.smooth_k = int(smooth_k)
            if hasattr(self, "_history"):
                self._history = deque(self._history, maxlen=self.smooth_k)
        if threshold is not None:
            if not 0.0 <= float(threshold) <= 1.0:
                raise ValueError(f"threshold must be within 0..1, got {threshold}")
            self.threshold = float(threshold)
        if attention is not None:
            self.attention = bool(attention)

    def reset(self) -> None:
        """Forget buffered samples and smoothing history (a new run starts)."""
        self._ring.clear()
        self._t_ring.clear()
        self._truth_ring.clear()
        self._history.clear()
        self._run_count = 0
        self._run_id += 1
        self._last_t = None
        self._resampler.reset()
        if self._alignment is not None:
            self._alignment.reset()
        self._unsettled = None

    @property
    def alignment(self):
        """The person's current ``Alignment`` (``data.alignment``) for a model that aligns
        per person, else None."""
        if self._alignment is None:
            return None
        self._settle()
        return self._alignment.current

    def _settle(self) -> None:
        """Take the last live window into the running alignment, if it is still waiting."""
        if self._unsettled is not None:
            X, self._unsettled = self._unsettled, None
            self._alignment.update(X)

    # -- the work
    def _select(self, batch: SampleBatch) -> SampleBatch:
        """The batch with the model's channels, in the model's order."""
        width = len(self._channels)
        if batch.channels:
            key = tuple(batch.channels)
            cols = self._column_cache.get(key)
            if cols is None:
                problem = self.check_channels(key)
                if problem:
                    raise ValueError(problem)
                cols = self._column_cache[key] = [key.index(c) for c in self._channels]
            if cols == list(range(len(key))):
                return batch
            return replace(batch, values=batch.values[:, cols], channels=tuple(self._channels))
        if batch.values.shape[1] < width:
            raise ValueError(f"the model needs {width} channels, the stream has {batch.values.shape[1]}")
        if batch.values.shape[1] == width:
            return batch
        return replace(batch, values=batch.values[:, :width])

    def _code(self, name: str | None) -> int:
        if name is None:
            return -1
        code = self._truth_code.get(name)
        if code is None:
            code = self._truth_code[name] = len(self._truth_name)
            self._truth_name.append(name)
        return code

    def push(self, batch: SampleBatch) -> list[Prediction]:
        """Append new samples; classify every due window (batched in one model call)."""
        pushed_at = self._clock()
        if len(batch) == 0:
            return []
        if batch.new_person and self._alignment is not None:
            self._alignment.reset()     # another person's pocket (replay of several people)
            self._unsettled = None
        batch = self._resampler.push(self._select(batch))
        n = len(batch)
        if n == 0:
            return []
        if n == 1:
            done = self._push_one(batch, pushed_at)
            if done is not None:
                if not done:
                    self._settle()      # between windows: the previous one joins the estimate
                return done
        t = np.asarray(batch.t, np.float64)
        values = np.asarray(batch.values, np.float32)
        arrival = np.asarray(batch.arrival, np.float64) if batch.arrival is not None else None
        codes = (np.fromiter((self._code(x) for x in batch.truth), np.int64, n)
                 if batch.truth is not None else np.full(n, -1, np.int64))
        cut = np.zeros(n, dtype=bool) if batch.breaks is None else np.asarray(batch.breaks, bool).copy()
        prev = np.concatenate([[self._last_t if self._last_t is not None else t[0]], t[:-1]])
        dt = t - prev
        cut |= (dt < 0) | (dt > self.max_gap_s * (1 + 1e-6) + 1e-9)
        self._last_t = float(t[-1])
        bounds = np.append(np.flatnonzero(cut), n)
        if bounds[0] != 0:
            bounds = np.concatenate(([0], bounds))

        due_x, due_meta = [], []   # windows to classify, and arrays (t, start_t, truth, arrival, run)
        size, hop = self.size, self.hop
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi <= lo:
                continue
            if cut[lo]:
                self._ring.clear()
                self._t_ring.clear()
                self._truth_ring.clear()
                self._run_count = 0
                self._run_id += 1
            held = len(self._ring)
            c0 = self._run_count
            counts = c0 + np.arange(1, hi - lo + 1)
            ends = np.flatnonzero((counts >= size) & ((counts - size) % hop == 0))
            if ends.size:
                all_v = np.concatenate([self._ring.latest(), values[lo:hi]])
                all_t = np.concatenate([self._t_ring.latest(), t[lo:hi]])
                all_c = np.concatenate([self._truth_ring.latest(), codes[lo:hi]])
                stop = held + ends + 1       # exclusive end of each window within all_*
                view = np.lib.stride_tricks.sliding_window_view(all_v, size, axis=0)  # [m, C, size]
                due_x.append(view[stop - size])
                arr = arrival[lo + ends] if arrival is not None else np.full(ends.size, pushed_at)
                due_meta.append((all_t[stop - 1], all_t[stop - size], all_c[stop - size], arr,
                                 np.full(ends.size, self._run_id)))
            self._ring.append(values[lo:hi])
            self._t_ring.append(t[lo:hi])
            self._truth_ring.append(codes[lo:hi])
            self._run_count = c0 + (hi - lo)
        if not due_meta:
            self._settle()
            return []
        X = np.ascontiguousarray(np.concatenate(due_x).transpose(0, 2, 1), dtype=np.float32)
        return self._classify(X, due_meta, pushed_at)

    def _push_one(self, batch: SampleBatch, pushed_at: float) -> list[Prediction] | None:
        """One sample continuing the run (the live case: a phone's sample at a time): the same
        windows and predictions as the general path of ``push`` without its per-push arrays.
        None: the sample starts a new run, the general path handles it."""
        t = float(batch.t[0])
        if batch.breaks is not None and batch.breaks[0]:
            return None
        if self._last_t is not None:
            dt = t - self._last_t
            if dt < 0 or dt > self.max_gap_s * (1 + 1e-6) + 1e-9:
                return None
        self._last_t = t
        self._ring.append_row(batch.values[0])
        self._t_ring.append_row(t)
        self._truth_ring.append_row(self._code(batch.truth[0]) if batch.truth is not None else -1)
        self._run_count += 1
        count, size = self._run_count, self.size
        if count < size or (count - size) % self.hop:
            return []
        X = self._ring.latest()[None]   # [1, size, C], oldest first
        start_t = float(self._t_ring.back(size))
        start_code = int(self._truth_ring.back(size))
        arrived = float(batch.arrival[0]) if batch.arrival is not None else pushed_at
        meta = [(np.array([t]), np.array([start_t]), np.array([start_code], np.int64),
                 np.array([arrived]), np.array([self._run_id]))]
        return self._classify(X, meta, pushed_at)

    def _infer(self, X: np.ndarray, defer: bool = False
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities ``[n, classes]`` (and attention ``[n, C, patches]`` when asked).
        `defer`: read the window with the alignment so far and take it into the estimate
        later (``_settle``), the live case of one window a push."""
        extra = {}
        if self._alignment is not None:
            self._settle()
            if defer:
                extra["alignment"] = self._alignment.current
                self._unsettled = X
            else:
                extra["alignment"] = self._alignment.update(X)
        if not self.attention:
            if self._onnx is not None and (self.engine == "onnx" or len(X) <= SMALL_BATCH):
                if self._onnx.whole:
                    feeds = {"windows": np.ascontiguousarray(X, np.float32)}
                    if extra:   # a model that aligns: the person's rotation and gain
                        alignment = extra["alignment"]
                        feeds["rotation"] = np.asarray(alignment.rotation, np.float32)
                        feeds["scale"] = np.array([alignment.scale], np.float32)
                    probs = self._onnx.run(["probabilities"], feeds)[0]
                    return probs.astype(np.float64), None
                aligned = self.bundle.align(X, **extra) if extra else X
                inputs = self.bundle.normaliser.apply(self.bundle.derive(aligned))
                logits = self._onnx.run(["logits"], {"windows": inputs})[0]
                logits = logits.astype(np.float64)
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True), None
            return np.asarray(self.bundle.predict_proba(X, **extra), np.float64), None
        probs, attention = self.bundle.predict_proba_with_attention(X, **extra)
        return np.asarray(probs, np.float64), np.asarray(attention)

    def _use_threads(self, n: int) -> None:
        if self.engine == "onnx" or (self.engine == "auto" and n <= SMALL_BATCH
                                     and not self.attention):
            return
        from ..threads import use_threads

        use_threads(self.threads or (self._live_threads if n <= SMALL_BATCH else self._batch_threads))

    def _classify(self, X: np.ndarray, meta: list[tuple], pushed_at: float) -> list[Prediction]:
        """Classify windows `X` (all due windows of a push, in batches of ``max_batch``); `meta`:
        per segment, arrays of end time, start time, truth code, arrival and run id."""
        probs_parts, att_parts = [], []
        self._use_threads(len(X))
        began = time.perf_counter()
        for i in range(0, len(X), self.max_batch):
            p, a = self._infer(X[i:i + self.max_batch], defer=len(X) == 1)
            probs_parts.append(p)
            att_parts.append(a)
        per_window_ms = (time.perf_counter() - began) * 1000.0 / len(X)
        probs = np.concatenate(probs_parts)
        attention = np.concatenate(att_parts) if att_parts[0] is not None else None
        done = self._clock()
        # Latency: the newest sample's wait for this push plus one window's share of the push;
        # the rest of a window's time from arrival to prediction is queueing behind the others.
        t_end, t_start, codes, arrived, runs = (np.concatenate(col) for col in zip(*meta, strict=True))
        n = len(X)
        own_ms = (max(0.0, pushed_at - float(arrived.max())) + (done - pushed_at) / n) * 1000.0
        total_ms = np.maximum(0.0, (done - arrived) * 1000.0)
        latency = np.minimum(own_ms, total_ms).tolist()
        queue = np.maximum(0.0, total_ms - own_ms).tolist()
        if self.smoothing == "none":   # the whole batch at once
            top = np.argmax(probs, axis=1)
            conf = probs[np.arange(n), top]
            smoothed = [(int(i), float(c), p) for i, c, p in zip(top, conf, probs, strict=True)]
            for run_id, p in zip(runs[-self.smooth_k:].tolist(), probs[-self.smooth_k:], strict=True):
                if self._history and self._history[-1][0] != run_id:
                    self._history.clear()
                self._history.append((run_id, p))
        else:
            smoothed = []
            for run_id, p in zip(runs.tolist(), probs, strict=True):
                if self._history and self._history[-1][0] != run_id:
                    self._history.clear()
                self._history.append((run_id, p))
                smoothed.append(self._smooth(p))
        first = self._windows
        self._windows += n
        names, labels, threshold = self._truth_name, self._labels, self.threshold
        pocket = None if self._alignment is None else self._alignment.current.moving
        return [Prediction(
                    t=te, label=labels[idx] if conf >= threshold else UNCERTAIN,
                    confidence=conf, probabilities=shown.tolist(),
                    truth=names[code] if code >= 0 else None,
                    latency_ms=lat, queue_ms=q,
                    attention=attention[i] if attention is not None else None,
                    class_index=idx, inference_ms=per_window_ms, window_start_t=ts,
                    index=first + i, pocket=pocket)
                for i, (te, ts, code, lat, q, (idx, conf, shown)) in enumerate(zip(
                    t_end.tolist(), t_start.tolist(), codes.tolist(), latency, queue, smoothed,
                    strict=True))]

    def _smooth(self, current: np.ndarray) -> tuple[int, float, np.ndarray]:
        """(class index, confidence, probabilities shown) after smoothing."""
        if self.smoothing == "none" or len(self._history) == 1:
            idx = int(np.argmax(current))
            return idx, float(current[idx]), current
        stack = np.stack([p for _, p in self._history])
        mean = stack.mean(axis=0)
        if self.smoothing == "mean":
            idx = int(np.argmax(mean))
            return idx, float(mean[idx]), mean
        votes = np.argmax(stack, axis=1)
        counts = np.bincount(votes, minlength=stack.shape[1])
        best = np.flatnonzero(counts == counts.max())
        # ties go to the most recent window's vote among the tied classes
        idx = next((int(v) for v in votes[::-1] if v in best), int(best[0]))
        return idx, float(mean[idx]), mean
