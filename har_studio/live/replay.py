"""Replay of a recording as if it were streaming: the ``replay`` source of the Live tab and
``har-studio replay``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from .source import SampleBatch, Source, SourceStats

REPLAY_SPEEDS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, math.inf)


def parse_speed(text: str | float) -> float:
    """``"max"``/``"inf"`` -> inf, ``"2"``/``"2x"`` -> 2.0; raises ValueError for others."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower()
        if s in ("max", "inf", "maximum"):
            value = math.inf
        else:
            try:
                value = float(s[:-1] if s.endswith("x") else s)
            except ValueError:
                raise ValueError(f"speed must be a number or 'max', got {text!r}") from None
    if not value > 0:
        raise ValueError(f"speed must be positive or 'max', got {text!r}")
    return value


class ReplaySource(Source):
    """Replays a recording (a ``Dataset`` or a tidy frame) as if it were streaming.

    subject / activity: restrict to one subject and/or activity (name, or a list of names).
    channels: which channels to emit (default: all in the data).
    speed: 1, 2, 5, 10 ... or ``math.inf`` / ``"max"`` (as fast as the reader reads, at most
    ``max_batch`` samples per read). loop: start again at the end.
    window: the model's ``WindowConfig``; its ``rate_hz`` and ``max_gap_periods`` decide where a
    run breaks exactly as ``make_windows`` does (default: the recording's own rate).
    clock: monotonic clock in seconds (inject a fake one in tests).

    Timeline: recording time follows the timestamps within a run; at a run boundary (subject
    or activity change, a gap longer than ``max_gap_periods``, time going backwards) it
    advances by one sample period, so a replay never waits through a gap. ``read()`` returns
    the samples whose recording time <= (elapsed clock time) * speed, each with its truth label
    and ``breaks`` set at run boundaries. ``seek(s)`` and looping also start a new run; stream
    time ``t`` keeps increasing across seeks and loops (``stats().position_s`` is the position
    in the recording). Samples pass to the classifier unresampled when the recording's rate
    matches the model's (``nominal_rate_hz``).
    """

    kind = "replay"

    def __init__(self, data, *, subject: int | None = None, activity: str | list[str] | None = None,
                 channels: list[str] | tuple[str, ...] | None = None, speed: float | str = 1.0,
                 loop: bool = False, window=None, clock: Callable[[], float] = time.monotonic,
                 max_batch: int = 4096, name: str | None = None) -> None:
        import pandas as pd

        from ..data.activities import canonical_activity
        from ..data.dataset import ACCEL_CHANNELS, GYRO_CHANNELS
        from ..data.rates import nominal_rate
        from ..data.windows import WindowConfig, at_rate, run_starts

        frame = getattr(data, "frame", data)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError("ReplaySource needs a Dataset or a tidy DataFrame")
        report = getattr(data, "report", None)
        where = []
        if subject is not None:
            frame = frame[frame["subject"] == int(subject)]
            where.append(f"subject {subject}")
        if activity is not None:
            names = [activity] if isinstance(activity, str) else list(activity)
            names = [canonical_activity(a) for a in names]
            frame = frame[frame["activity"].astype(str).isin(names)]
            where.append(", ".join(names))
        if len(frame) == 0:
            raise ValueError(f"no samples to replay{' for ' + ' and '.join(where) if where else ''}")
        available = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in frame.columns]
        channels = tuple(channels) if channels else tuple(available)
        missing = [c for c in channels if c not in frame.columns]
        if missing:
            raise ValueError(f"the recording has no channel {', '.join(missing)} "
                             f"(it has {', '.join(available)})")
        self.channels = channels
        rate = float(window.rate_hz) if window is not None else 0.0
        data_rate = float(getattr(report, "sampling_hz", 0.0) or 0.0)
        if data_rate <= 0:
            dt = np.diff(frame["timestamp"].to_numpy(np.int64)) / 1e9
            good = dt[(dt > 0) & (dt < 1.0)]
            data_rate = float(1.0 / np.median(good)) if good.size else (rate or 20.0)
        # the sensor's rate (19.86 Hz measured is 20 Hz): what the classifier compares with
        # the model's to pass samples through unresampled; the timeline keeps the measured one
        self.nominal_rate_hz = nominal_rate(data_rate, data_rate)
        # a run recorded at another rate (one activity at 50 Hz in a 20 Hz recording) is put
        # on the recording's rate, so that what is announced holds for every sample
        frame = at_rate(frame, self.nominal_rate_hz, list(channels))
        self._values = np.ascontiguousarray(frame[list(channels)].to_numpy(np.float32))
        activity_col = frame["activity"].astype(str)
        codes, categories = pd.factorize(activity_col)
        self._truth_codes = codes
        self._truth_names = [str(c) for c in categories]
        ts = frame["timestamp"].to_numpy(np.int64)
        self.subjects = sorted(int(s) for s in frame["subject"].unique())
        # where another person's samples begin (and the first sample, when a loop comes back
        # to it from another person): a batch stops there and the next one says new_person
        self._subject = frame["subject"].to_numpy()
        self._person_starts = np.flatnonzero(self._subject[1:] != self._subject[:-1]) + 1

        run_config = window if window is not None else WindowConfig(size=2, step=1, rate_hz=data_rate)
        self._breaks = run_starts(frame, run_config)
        period = self._period = 1.0 / data_rate
        dt = np.diff(ts).astype(np.float64) / 1e9
        dt[self._breaks[1:]] = period
        self._rt = np.concatenate([[0.0], np.cumsum(dt)])
        self._n = len(self._rt)
        self.duration_s = float(self._rt[-1] + period)
        self.description = name or ("replay" + (f": {' / '.join(where)}" if where else ""))

        self._clock = clock
        self._speed = parse_speed(speed)
        self.loop = bool(loop)
        self._max_batch = max(1, int(max_batch))
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._running = False
        self._paused = False
        self._pos_base = 0.0     # recording position at _clock_base
        self._clock_base = 0.0
        self._next = 0           # index of the next sample to emit
        self._t_offset = 0.0     # stream time = recording time + offset (grows on loop/seek)
        self._last_t = -math.inf
        self._force_break = True
        self._new_person = False
        self._emitted = 0

    # -- controls (thread-safe)
    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float | str) -> None:
        """Change speed without jumping: the position carries on from where it is."""
        with self._lock:
            self._pos_base = self._position()
            self._clock_base = self._clock()
            self._speed = parse_speed(speed)
            self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._set_state(paused=True)

    def resume(self) -> None:
        self._set_state(paused=False)

    def _set_state(self, *, running: bool | None = None, paused: bool | None = None) -> None:
        """Start/stop and pause/resume alike: the position holds still from the moment the
        replay stops moving and carries on from there when it moves again."""
        with self._lock:
            was_moving = self._running and not self._paused
            if was_moving:
                self._pos_base = self._position()
            self._running = self._running if running is None else running
            self._paused = self._paused if paused is None else paused
            if self._running and not self._paused and not was_moving:
                self._clock_base = self._clock()
            self._wake.set()

    def seek(self, seconds: float) -> None:
        """Jump to `seconds` into the recording (clamped); a new run starts there."""
        with self._lock:
            seconds = min(max(0.0, float(seconds)), self._rt[-1])
            before = max(self._next - 1, 0)
            self._next = int(np.searchsorted(self._rt, seconds - 1e-9, side="left"))
            self._pos_base = max(seconds, float(self._rt[min(self._next, self._n - 1)]))
            self._clock_base = self._clock()
            self._force_break = True
            self._new_person |= self._person_at(self._next) != self._person_at(before)
            self._rebase_time()
            self._wake.set()

    @property
    def position_s(self) -> float:
        """Current position in the recording (seconds)."""
        with self._lock:
            pos = self._position()
            return min(pos, self.duration_s) if math.isfinite(pos) else (
                float(self._rt[self._next - 1]) if self._next else 0.0)

    # -- Source interface
    def start(self) -> None:
        self._set_state(running=True)

    def stop(self) -> None:
        self._set_state(running=False)

    @property
    def finished(self) -> bool:
        return not self.loop and self._next >= self._n

    def _position(self) -> float:
        if not self._running or self._paused:
            return self._pos_base
        if math.isinf(self._speed):
            return math.inf
        return self._pos_base + (self._clock() - self._clock_base) * self._speed

    def _rebase_time(self) -> None:
        """Keep stream time increasing: the next sample lands one period after the last."""
        if self._next < self._n and math.isfinite(self._last_t):
            self._t_offset = self._last_t + self._period - self._rt[self._next]

    def read(self) -> SampleBatch:
        with self._lock:
            chunks = []
            budget = self._max_batch
            pos = self._position()
            while budget > 0:
                if self._next >= self._n:
                    if not self.loop:
                        break
                    # Wrap around: the position moves back by one recording length.
                    self._next = 0
                    if math.isfinite(pos):
                        self._pos_base -= self.duration_s
                        pos -= self.duration_s
                    self._force_break = True
                    self._new_person |= self._person_at(0) != self._person_at(self._n - 1)
                    self._rebase_time()
                if chunks and (self._new_person or self._starts_person(self._next)):
                    break    # a batch is one person's
                end = int(np.searchsorted(self._rt, pos, side="right"))
                end = min(end, self._next + budget, self._n, self._next_person(self._next))
                if end <= self._next:
                    break
                chunks.append(self._slice(self._next, end))
                budget -= end - self._next
                self._next = end
                if not self.loop:
                    break
            if not chunks:
                return SampleBatch.empty(self.channels, nominal_rate_hz=self.nominal_rate_hz)
            if len(chunks) == 1:
                return chunks[0]
            return SampleBatch(np.concatenate([c.t for c in chunks]),
                               np.concatenate([c.values for c in chunks]),
                               [s for c in chunks for s in c.truth], channels=self.channels,
                               breaks=np.concatenate([c.breaks for c in chunks]),
                               arrival=np.concatenate([c.arrival for c in chunks]),
                               nominal_rate_hz=self.nominal_rate_hz,
                               new_person=chunks[0].new_person)

    def _starts_person(self, i: int) -> bool:
        return 0 < i < self._n and self._subject[i] != self._subject[i - 1]

    def _person_at(self, i: int) -> int:
        return int(self._subject[min(max(i, 0), self._n - 1)])

    def _next_person(self, i: int) -> int:
        """Index of the first sample after `i` that begins another person (n if none)."""
        k = int(np.searchsorted(self._person_starts, i, side="right"))
        return int(self._person_starts[k]) if k < len(self._person_starts) else self._n

    def _slice(self, lo: int, hi: int) -> SampleBatch:
        t = self._rt[lo:hi] + self._t_offset
        breaks = self._breaks[lo:hi].copy()
        if self._force_break:
            breaks[0] = True
            self._force_break = False
        names = self._truth_names
        truth = [names[c] for c in self._truth_codes[lo:hi]]
        self._last_t = float(t[-1])
        self._emitted += hi - lo
        arrival = np.full(hi - lo, time.monotonic())
        new_person = self._new_person or self._starts_person(lo)
        self._new_person = False
        return SampleBatch(t, self._values[lo:hi], truth, channels=self.channels, breaks=breaks,
                           arrival=arrival, nominal_rate_hz=self.nominal_rate_hz,
                           new_person=bool(new_person))

    def wait(self, timeout: float) -> bool:
        """Sleep until the next sample is due (or `timeout`), waking early on seek/speed/stop."""
        with self._lock:
            if not self._running or self._paused or self.finished:
                delay = timeout
            elif math.isinf(self._speed):
                return True
            else:
                nxt = self._rt[self._next] if self._next < self._n else self.duration_s
                delay = min(timeout, max(0.0, (nxt - self._position()) / self._speed))
            self._wake.clear()
        if delay > 0:
            self._wake.wait(delay)
        return True

    def stats(self) -> SourceStats:
        with self._lock:
            return SourceStats(samples=self._emitted, bad_packets=0, rate_hz=float(self.nominal_rate_hz),
                               connected=self._running and not self._paused,
                               address=self.description, last_error=None,
                               position_s=self.position_s, duration_s=self.duration_s,
                               finished=self.finished)
