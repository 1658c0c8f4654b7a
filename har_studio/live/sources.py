"""Where live samples come from: a replayed recording, or a phone over the network.

Every source has the same small interface: ``start()``, ``stop()``, ``read() -> SampleBatch``
(non-blocking: what arrived since the last read), ``wait(timeout)`` (block until something
may be ready), ``stats() -> SourceStats`` and ``finished``. Sources never raise on bad data:
malformed packets are counted (``bad_packets``, ``last_error``), queues are bounded (the
oldest samples are dropped and counted when a reader falls behind), and ``stop()`` closes
sockets and joins threads promptly. Only ``start()`` raises ``OSError`` when the address
cannot be bound, so the caller can tell the user.

Network servers bind 127.0.0.1 unless told ``host="0.0.0.0"`` (listen on the local network);
``local_addresses()`` lists what to type into the phone. Port 0 picks a free port;
``stats().address`` reports the bound ``host:port``; ``stats().warning`` says when every
network interface is listened on.

A hostile or broken client cannot starve a phone: TCP and HTTP clients share an asyncio event
loop (no thread per client), idle ones are closed after a timeout and the quietest is evicted
when too many are connected; a line cut off by a disconnect, a value no phone sensor can
report and a request that is not what a phone app sends are each counted, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import selectors
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .frames import PhoneFrame, check_phone, sensor_logger_frame
from .protocols import (
    ACCEL_NAMES,
    GRAVITY_NAME,
    GYRO_NAME,
    UNCALIBRATED_NAME,
    ParsedSamples,
    parse_json_batch,
    parse_lines,
    sensor_limit,
)

log = logging.getLogger(__name__)

STANDARD_GRAVITY = 9.80665
REPLAY_SPEEDS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, math.inf)
DEFAULT_CHANNELS: tuple[str, ...] = ("x", "y", "z")
ACCEL_SET = frozenset(("x", "y", "z"))


@dataclass
class SampleBatch:
    """Samples that arrived together.

    t: float64 seconds [n], stream time (replay: recording time since the start of the replay;
    network: the source's clock, from sender timestamps when given, else arrival times).
    values: float32 [n, C] in ``channels`` order (accelerometer m/s^2, gyroscope rad/s).
    truth: activity name per sample (replay), else None.
    channels: channel names of ``values`` columns (None: the model's own order).
    breaks: bool [n], True where a new run begins (subject/activity change, gap, seek, loop,
    reconnect): the classifier restarts its window there. None: no marked breaks.
    arrival: float64 [n], monotonic clock time when each sample reached this process (for
    latency), None if unknown.
    nominal_rate_hz: the rate the samples are already on (replay: the recording's rate), or None
    for irregular streams that the classifier must resample.
    new_person: the first sample begins another person's recording (replay: another subject;
    a batch never holds two people): per-person state, the running alignment, starts again.
    """

    t: np.ndarray
    values: np.ndarray
    truth: list[str] | None = None
    channels: tuple[str, ...] | None = None
    breaks: np.ndarray | None = None
    arrival: np.ndarray | None = None
    nominal_rate_hz: float | None = None
    new_person: bool = False

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls, channels: int | tuple[str, ...] = 3, **kw) -> SampleBatch:
        n = channels if isinstance(channels, int) else len(channels)
        if not isinstance(channels, int):
            kw.setdefault("channels", tuple(channels))
        return cls(np.zeros(0, np.float64), np.zeros((0, n), np.float32), **kw)


@dataclass(frozen=True)
class SourceStats:
    """A snapshot of a source, cheap to take and safe to hand to another thread.

    samples: samples delivered so far; bad_packets: malformed lines/entries/requests;
    rate_hz: measured sampling rate over the last few seconds (replay: the recording's rate);
    connected: data is flowing (a TCP client connected, a packet in the last 2 s, replay running);
    address: ``host:port`` listened on (replay: a description); last_error: reason of the last
    bad packet; dropped: samples dropped because the reader fell behind; other_sensors: JSON
    entries of sensors that are not used; packets: datagrams/chunks/requests received;
    position_s / duration_s: replay position and length; finished: a replay reached its end.
    kernel_dropped: datagrams the operating system dropped before they were read (Linux UDP);
    evicted: connections closed for being idle or to make room for another client;
    warning: a caution the user should see (listening on every network interface);
    phone: the phone convention the values were read in, when known (see ``frames``).
    """

    samples: int = 0
    bad_packets: int = 0
    rate_hz: float = 0.0
    connected: bool = False
    address: str | None = None
    last_error: str | None = None
    dropped: int = 0
    other_sensors: int = 0
    packets: int = 0
    position_s: float = 0.0
    duration_s: float | None = None
    finished: bool = False
    kernel_dropped: int = 0
    evicted: int = 0
    warning: str | None = None
    phone: str | None = None


class Source:
    """Base class of every sample source (see the module docstring)."""

    kind = "source"
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    nominal_rate_hz: float | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def read(self) -> SampleBatch:
        raise NotImplementedError

    def stats(self) -> SourceStats:
        raise NotImplementedError

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until data may be ready; True if it is."""
        time.sleep(max(0.0, timeout))
        return True

    @property
    def finished(self) -> bool:
        """True when no more data will ever come (a replay that reached its end)."""
        return False

    def __enter__(self) -> Source:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


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


# ---------------------------------------------------------------------------------- replay

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


# --------------------------------------------------------------------------------- network

def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"HOST:PORT"``, ``":PORT"`` or ``"PORT"`` -> (host, port); ValueError when malformed."""
    s = str(text).strip()
    host, sep, port_text = s.rpartition(":")
    if not sep:
        host, port_text = "", s
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"not a HOST:PORT address: {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def local_addresses() -> list[str]:
    """This machine's IPv4 addresses on the local network (what to type into the phone);
    ``["127.0.0.1"]`` when there is none. Sends nothing."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("10.255.255.255", 1))  # picks the default route's interface, no packet
            found.add(s.getsockname()[0])
        finally:
            s.close()
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    lan = sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")
    return lan or ["127.0.0.1"]


def listen_warning(host: str) -> str | None:
    """A one-line caution when `host` exposes the source to every network interface."""
    if host in ("0.0.0.0", "", "::"):
        return ("listening on every network interface: anyone on this network can send "
                "samples; use 127.0.0.1 unless a phone must connect, and only on a trusted network")
    return None


class NetworkSource(Source):
    """Common machinery of the UDP, TCP and HTTP servers (see the module docstring).

    host / port: where to listen (``"0.0.0.0"`` = the local network; port 0 = any free port).
    channels: ``("x","y","z")`` or with ``("gx","gy","gz")`` when the model needs a gyroscope.
    units: accelerometer units the phone sends, ``"ms2"`` (m/s^2, as WISDM) or ``"g"``.
    phone: ``"auto"``, ``"android"`` or ``"iphone"``: whose axis signs the values have; iPhone
    accelerometer axes are negated to Android's convention (``frames`` says what each app
    sends; HTTP tells Sensor Logger's platform itself under "auto").
    ts_unit: unit of sender timestamps in text lines (``"auto"`` guesses from the magnitude).
    max_pending: most samples held for the reader; beyond, the oldest are dropped and counted.
    clock: monotonic clock stamping arrivals (must be the classifier's clock for latency).
    idle_timeout_s / max_clients (TCP, HTTP): a client silent that long is closed; beyond that
    many clients, the quietest is evicted (defaults ``IDLE_TIMEOUT_S``, ``MAX_CLIENTS``).

    Samples with a value no phone sensor reports (over 1000 m/s^2 or 100 rad/s, after unit
    conversion) are dropped as bad packets.

    Stream time: sender timestamps are mapped onto the local clock from the first sample on
    (bursts keep their sender spacing); a sample whose timestamp goes backwards a little (or
    repeats) is dropped as a bad packet; sender time jumping back by more than a second or
    ahead by more than ``MAX_SENDER_GAP_S`` re-anchors at the arrival time and starts a new run
    (e.g. the phone app restarted). Without sender timestamps, samples of one packet are spread back
    from the arrival time at the measured rate.
    """

    kind = "network"
    CONNECTED_WITHIN_S = 2.0
    MAX_SENDER_GAP_S = 10.0   # a longer jump of sender time starts a new run
    MAX_LAG_S = 30.0          # stream time further behind arrival than this is re-anchored
    PHONE_SIGN_IN_SCALE = True   # lines: an iPhone's sign is fixed per stream

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 channels: tuple[str, ...] | list[str] = DEFAULT_CHANNELS, units: str = "ms2",
                 ts_unit: str = "auto", max_pending: int = 20000, rate_window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, idle_timeout_s: float | None = None,
                 max_clients: int | None = None, phone: str = "auto") -> None:
        self.phone = check_phone(phone)
        self._phone_note: str | None = "iPhone (axes negated)" if self.phone == "iphone" else None
        if units not in ("ms2", "g"):
            raise ValueError(f"units must be 'ms2' or 'g', got {units!r}")
        self.idle_timeout_s = float(idle_timeout_s or getattr(self, "IDLE_TIMEOUT_S", 15.0))
        self.max_clients = max(1, int(max_clients or getattr(self, "MAX_CLIENTS", 256)))
        self.warning = listen_warning(host)
        self._limit_list = [float(np.float32(sensor_limit(c))) for c in channels]
        self._kernel_dropped = 0
        self._evicted = 0
        self.host, self.port = host, int(port)
        self.channels = tuple(channels)
        self.units = units
        self.ts_unit = ts_unit
        sign = -1.0 if self.phone == "iphone" and self.PHONE_SIGN_IN_SCALE else 1.0
        self._scale_list = [float(np.float32((STANDARD_GRAVITY if units == "g" else 1.0) * sign))
                            if c in ACCEL_SET else 1.0 for c in self.channels]
        self._clock = clock
        self._lock = threading.Lock()
        self._data_ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: deque = deque(maxlen=max(1, int(max_pending)))
        self._rate_t: deque = deque(maxlen=8192)
        self._rate_window_s = rate_window_s
        self._samples = 0
        self._bad = 0
        self._dropped = 0
        self._other = 0
        self._packets = 0
        self._last_error: str | None = None
        self._last_arrival = -math.inf
        self._anchor: tuple[float, float] | None = None   # (sender seconds, local seconds)
        self._last_t = -math.inf
        self._last_ts = -math.inf     # last sender timestamp (seconds)
        self._pending_break = True
        self.address: str | None = None

    # -- ingestion (called from server threads)
    def _note_bad(self, count: int, reason: str | None) -> None:
        if count:
            with self._lock:
                self._bad += count
                self._last_error = reason

    def _ingest(self, parsed: ParsedSamples, arrival: float) -> None:
        """Stamp, convert and queue parsed samples; never raises. Plain Python per sample: a
        phone sends one or a few samples a packet, for which numpy's calls cost more than
        the work (0.1 ms on an idle core, between the arrival and the classifier)."""
        with self._lock:
            self._packets += 1
            self._last_arrival = arrival
            if parsed.bad:
                self._bad += parsed.bad
                self._last_error = parsed.last_error
            if len(parsed) == 0:
                return
            scale, limits = self._scale_list, self._limit_list
            samples = []
            for ts, row in zip(parsed.ts.tolist(), parsed.values.tolist(), strict=True):
                # the channels' values (a row may carry more), scaled: exact in float64
                values = [v * s for v, s in zip(row, scale, strict=False)]
                if all(abs(v) <= limit for v, limit in zip(values, limits, strict=True)):  # NaN: no
                    samples.append((ts, values))
                else:
                    self._bad += 1
                    self._last_error = "value out of range for a phone sensor"
            if not samples:
                return
            k = sum(1 for ts, _ in samples if ts != ts)   # samples without a sender time
            period = self._period() if k else 0.0
            j = 0
            for ts, values in samples:
                brk = False
                if ts != ts:
                    t = arrival - (k - 1 - j) * period
                    j += 1
                    t = max(t, self._last_t + 1e-6)
                else:
                    if self._anchor is None:
                        self._anchor = (ts, arrival)
                        brk = True
                    t = self._anchor[1] + (ts - self._anchor[0])
                    jumped = ts - self._last_ts > self.MAX_SENDER_GAP_S
                    if jumped or t < self._last_t - 1.0 or t < arrival - self.MAX_LAG_S:
                        # The sender's clock restarted or jumped, or we lag far behind it.
                        t = max(arrival, self._last_t + 1e-6)
                        self._anchor = (ts - (t - arrival), arrival)
                        brk = True
                    elif t <= self._last_t:
                        self._bad += 1
                        self._last_error = "out-of-order timestamp"
                        continue
                    self._last_ts = ts
                if len(self._pending) == self._pending.maxlen:
                    self._dropped += 1
                self._pending.append((t, arrival, values, brk or self._pending_break))
                self._pending_break = False
                self._last_t = t
                self._rate_t.append(t)
                self._samples += 1
            self._data_ready.set()

    def _period(self) -> float:
        rate = self._rate_locked()
        return 1.0 / rate if rate > 0 else 1.0 / 20.0

    def _rate_locked(self) -> float:
        q = self._rate_t
        while len(q) > 2 and q[-1] - q[0] > self._rate_window_s:
            q.popleft()
        if len(q) < 2 or q[-1] <= q[0]:
            return 0.0
        return (len(q) - 1) / (q[-1] - q[0])

    def _mark_break(self) -> None:
        """The next sample starts a new run (a client (re)connected)."""
        with self._lock:
            self._pending_break = True

    # -- Source interface
    def read(self) -> SampleBatch:
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
            self._data_ready.clear()
        if not items:
            return SampleBatch.empty(self.channels)
        t = np.fromiter((it[0] for it in items), np.float64, len(items))
        arrival = np.fromiter((it[1] for it in items), np.float64, len(items))
        values = np.array([it[2] for it in items], np.float32)
        breaks = np.fromiter((it[3] for it in items), bool, len(items))
        return SampleBatch(t, values, None, channels=self.channels, breaks=breaks, arrival=arrival)

    def wait(self, timeout: float) -> bool:
        return self._data_ready.wait(max(0.0, timeout))

    def stats(self) -> SourceStats:
        with self._lock:
            return SourceStats(samples=self._samples, bad_packets=self._bad,
                               rate_hz=float(self._rate_locked()), connected=self._is_connected(),
                               address=self.address, last_error=self._last_error,
                               dropped=self._dropped, other_sensors=self._other,
                               packets=self._packets, kernel_dropped=self._kernel_dropped,
                               evicted=self._evicted, warning=self.warning,
                               phone=self._phone_note)

    def _is_connected(self) -> bool:
        return self._clock() - self._last_arrival <= self.CONNECTED_WITHIN_S

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._open()
        self._thread = threading.Thread(target=self._serve_safely, name=f"har-{self.kind}-source",
                                        daemon=True)
        self._thread.start()
        log.info("%s source listening on %s", self.kind, self.address)
        if self.warning:
            log.warning("%s", self.warning)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._interrupt()
        self._thread.join(timeout=3.0)
        if self._thread.is_alive():  # pragma: no cover - would be a bug
            log.warning("%s source thread did not stop", self.kind)
        self._thread = None
        self._close()
        self._data_ready.set()

    def _serve_safely(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # a server thread must never die silently
            log.exception("%s source failed", self.kind)
            with self._lock:
                self._last_error = f"server stopped: {exc}"

    def _bind_error(self, exc: OSError) -> OSError:
        return OSError(f"cannot listen on {self.kind} {self.host}:{self.port}: {exc.strerror or exc}")

    # subclasses
    def _open(self) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        raise NotImplementedError

    def _interrupt(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class _SelectorSource(NetworkSource):
    """A socket server driven by a selector, woken for stop through a socket pair."""

    def _open(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            for key in list(self._selector.get_map().values()):
                with contextlib.suppress(Exception):
                    key.fileobj.close()
            self._selector.close()
        with contextlib.suppress(OSError):
            self._wake_w.close()


# Linux reports datagrams the kernel dropped (receive buffer full) with every received one.
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40 if sys.platform.startswith("linux") else None)


class UdpSource(_SelectorSource):
    """Lines of comma-separated values in UDP datagrams (HyperIMU and similar apps).

    Where the OS says so (Linux ``SO_RXQ_OVFL``), datagrams the kernel dropped because they came
    faster than they were read are counted in ``stats().kernel_dropped``.
    """

    kind = "udp"
    RCVBUF = 1 << 20

    def _open(self) -> None:
        super()._open()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            self._close()
            raise self._bind_error(exc) from None
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
        self._ovfl = False
        if SO_RXQ_OVFL is not None and hasattr(sock, "recvmsg"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                self._ovfl = True
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._selector.register(sock, selectors.EVENT_READ, "data")

    def _receive(self) -> bytes:
        if not self._ovfl:
            return self._sock.recv(65536)
        data, ancillary, _, _ = self._sock.recvmsg(65536, socket.CMSG_SPACE(4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                dropped = int.from_bytes(payload[:4], sys.byteorder)  # since the socket opened
                with self._lock:
                    self._kernel_dropped = max(self._kernel_dropped, dropped)
        return data

    def _serve(self) -> None:
        width = len(self.channels)
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    return
                while True:
                    try:
                        data = self._receive()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # e.g. ICMP port unreachable echoes; keep serving
                        log.debug("udp recv: %s", exc)
                        break
                    arrival = self._clock()
                    parsed, _ = parse_lines(data, width, ts_unit=self.ts_unit, final=True)
                    self._ingest(parsed, arrival)


class _StreamServerSource(NetworkSource):
    """A TCP server on an asyncio event loop in the source's thread: one coroutine per client,
    no thread per client. A client silent for ``idle_timeout_s`` is closed; when
    ``max_clients`` are connected, a new client evicts the one that has been quiet longest
    (both counted in ``stats().evicted``). Idle or half-sent connections therefore never lock
    a phone out, however many there are."""

    IDLE_TIMEOUT_S = 15.0
    MAX_CLIENTS = 512
    READ_LIMIT = 64 << 10

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if os.name != "nt":   # on Windows this would let another program share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(max(128, min(self.max_clients, 4096)))   # a full backlog drops SYNs
        except OSError as exc:
            sock.close()
            raise self._bind_error(exc) from None
        sock.setblocking(False)
        self._listen_sock = sock
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._loop = asyncio.new_event_loop()
        self._stop_async: asyncio.Event | None = None
        self._clients: dict[asyncio.StreamWriter, float] = {}   # -> last activity (monotonic)
        self._talking: set[asyncio.StreamWriter] = set()         # clients that sent data

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())

    async def _main(self) -> None:
        self._stop_async = asyncio.Event()
        if self._stopping.is_set():
            return
        server = await asyncio.start_server(self._client, sock=self._listen_sock,
                                            limit=self.READ_LIMIT)
        try:
            await self._stop_async.wait()
        finally:
            server.close()
            for writer in list(self._clients):
                writer.transport.abort()
            # Aborted connections end their tasks; cancelling them instead would make asyncio's
            # stream callback log an error per client.
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=1.0)
                for t in late:
                    t.cancel()
                if late:
                    await asyncio.wait(late, timeout=1.0)

    def _request_stop(self) -> None:
        if self._stop_async is not None:
            self._stop_async.set()

    def _interrupt(self) -> None:
        with contextlib.suppress(RuntimeError):   # the loop already ended
            self._loop.call_soon_threadsafe(self._request_stop)

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.close()
        with contextlib.suppress(OSError):
            self._listen_sock.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        now = time.monotonic()
        if len(self._clients) >= self.max_clients:
            quietest = min(self._clients, key=self._clients.__getitem__)
            quietest.transport.abort()
            self._clients.pop(quietest, None)
            self._talking.discard(quietest)
            with self._lock:
                self._evicted += 1
        self._clients[writer] = now
        try:
            await self._converse(reader, writer)
        except (TimeoutError, asyncio.TimeoutError):
            with self._lock:
                self._evicted += 1
            log.debug("%s client idle for %.0f s: closed", self.kind, self.idle_timeout_s)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:   # a bug must not end the server
            log.exception("%s client failed", self.kind)
        finally:
            self._clients.pop(writer, None)
            self._talking.discard(writer)
            writer.transport.abort()

    def _touch(self, writer: asyncio.StreamWriter) -> None:
        if writer in self._clients:
            self._clients[writer] = time.monotonic()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class TcpSource(_StreamServerSource):
    """Lines of comma-separated values over TCP; clients may connect, drop and reconnect.

    A line not finished when its client disconnects (or is closed) is discarded and counted as
    a bad packet: ``1700050010000,0.25,9.`` cut off mid-number is not a sample.
    """

    kind = "tcp"

    def _is_connected(self) -> bool:
        """A client that has sent data is still connected (idle ones are not a phone)."""
        return bool(getattr(self, "_talking", None))

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        width = len(self.channels)
        tail = b""
        first = True
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), self.idle_timeout_s)
                if not data:
                    return
                arrival = self._clock()
                self._touch(writer)
                if first:
                    first = False
                    self._talking.add(writer)
                    self._mark_break()
                    log.info("tcp client sending from %s", _peer(writer))
                parsed, tail = parse_lines(tail + data, width, ts_unit=self.ts_unit, final=False)
                self._ingest(parsed, arrival)
        finally:
            if tail.strip():
                self._note_bad(1, "line cut off by a disconnect (discarded)")
            if not first:
                log.info("tcp client disconnected")


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"


_HTTP_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                 408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
                 431: "Request Header Fields Too Large", 503: "Service Unavailable"}


class HttpSource(_StreamServerSource):
    """JSON batches POSTed by the Sensor Logger app (any path). Answers 200 at once.

    Accelerometer: ``totalacceleration`` (with gravity, as WISDM) when the phone sends it, else
    ``accelerometer`` (plus ``gravity`` when sent). iPhone values are negated to Android's
    convention and g converted to m/s^2, the platform told from what the app sends unless
    ``phone`` says it (``frames.sensor_logger_frame``; ``stats().phone`` says which).
    Gyroscope values (for 6-channel models) are interpolated at the accelerometer times. Entries of other sensors are counted in
    ``stats().other_sensors``; bodies that are not such JSON count as bad packets (answered 400).

    A small HTTP/1.1 server (keep-alive, ``Content-Length`` bodies, ``Expect: 100-continue``)
    on the source's event loop: a request must arrive whole within ``idle_timeout_s``, headers
    are capped at 64 KiB, a body at ``MAX_BODY``, and bodies being received at once at
    ``MAX_BODIES`` bytes (the slowest upload is cut off to make room). Nothing a client sends
    produces a traceback.
    """

    kind = "http"
    PHONE_SIGN_IN_SCALE = False   # told per stream from the payload in _merge
    MAX_BODY = 8 << 20
    MAX_BODIES = 64 << 20

    def _open(self) -> None:
        super()._open()
        self._use_total = False
        self._frame: PhoneFrame | None = None
        self._last_gyro: tuple[float, np.ndarray] | None = None
        self._uploads: dict[asyncio.StreamWriter, tuple[float, int]] = {}  # -> (start, bytes)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        keep_alive = True
        while keep_alive:
            try:
                keep_alive = await asyncio.wait_for(self._request(reader, writer),
                                                    self.idle_timeout_s)
            except (TimeoutError, asyncio.TimeoutError):
                if getattr(reader, "_buffer", None):   # a request was half-sent
                    self._note_bad(1, "request not finished in time")
                raise
            finally:
                self._uploads.pop(writer, None)
            self._touch(writer)

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                self._note_bad(1, "connection dropped mid-request")
            return False
        except asyncio.LimitOverrunError:
            self._note_bad(1, "request headers too long")
            await self._reply(writer, 431, b"headers too long\n", close=True)
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._note_bad(1, "not an HTTP request")
            await self._reply(writer, 400, b"not HTTP\n", close=True)
            return False
        method, version = parts[0].upper(), parts[2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        if method in ("GET", "HEAD"):
            await self._reply(writer, 200, b"HAR Studio is listening: POST Sensor Logger JSON here\n",
                              close=not keep, head=method == "HEAD")
            return keep
        if method != "POST":
            await self._reply(writer, 405, b"POST JSON here\n", close=True)
            return False
        text = headers.get("content-length", "")
        length = int(text) if text.isdigit() and len(text) < 12 else -1
        if length < 0 or "transfer-encoding" in headers or length > self.MAX_BODY:
            self._note_bad(1, "POST without a usable Content-Length")
            await self._reply(writer, 413 if length > self.MAX_BODY else 411,
                              b"need a Content-Length of at most 8 MiB\n", close=True)
            return False
        self._make_room(length)
        self._uploads[writer] = (time.monotonic(), length)
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            self._note_bad(1, "connection dropped mid-request")
            return False
        finally:
            self._uploads.pop(writer, None)
        ok = self._take_body(body, self._clock())
        await self._reply(writer, 200 if ok else 400, b"ok\n" if ok else b"bad JSON\n",
                          close=not keep)
        return keep

    def _make_room(self, length: int) -> None:
        """Cut off the oldest uploads until `length` more body bytes fit in ``MAX_BODIES``."""
        while self._uploads and sum(n for _, n in self._uploads.values()) + length > self.MAX_BODIES:
            oldest = min(self._uploads, key=lambda w: self._uploads[w][0])
            self._uploads.pop(oldest)
            oldest.transport.abort()
            with self._lock:
                self._evicted += 1

    async def _reply(self, writer: asyncio.StreamWriter, code: int, body: bytes, *,
                     close: bool = False, head: bool = False) -> None:
        header = (f"HTTP/1.1 {code} {_HTTP_REASONS.get(code, 'Error')}\r\n"
                  f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                  + ("Connection: close\r\n" if close else "") + "\r\n")
        writer.write(header.encode("latin-1") + (b"" if head else body))
        await writer.drain()

    def _take_body(self, body: bytes, arrival: float) -> bool:
        """Queue the samples of one POST body; False when it is not Sensor Logger JSON."""
        batch = parse_json_batch(body)
        ok = not (batch.bad and not batch.sensors and not batch.other)
        parsed = self._merge(batch)
        with self._lock:
            self._other += batch.other
        if parsed.bad == 0 and batch.bad:
            parsed.bad, parsed.last_error = batch.bad, batch.last_error
        self._ingest(parsed, arrival)   # well under a millisecond: then answer
        return ok

    def _merge(self, batch) -> ParsedSamples:
        """Accelerometer samples (with gyroscope columns when needed) of one JSON batch."""
        sensors = batch.sensors
        if ACCEL_NAMES[0] in sensors:
            self._use_total = True
        accel_name = ACCEL_NAMES[0] if self._use_total else ACCEL_NAMES[1]
        unused = [n for n in (*ACCEL_NAMES, UNCALIBRATED_NAME) if n != accel_name and n in sensors]
        batch.other += sum(len(sensors[n]) for n in unused)
        accel = sensors.get(accel_name)
        width = len(self.channels)
        if accel is None or len(accel) == 0:
            return ParsedSamples.empty(width)
        factor = self._accel_factor(sensors)
        values = accel.values * factor
        if accel_name == ACCEL_NAMES[1] and GRAVITY_NAME in sensors and len(sensors[GRAVITY_NAME]):
            g = sensors[GRAVITY_NAME]
            values = values + factor * np.stack(
                [np.interp(accel.ts, g.ts, g.values[:, c]) for c in range(3)], axis=1)
        values = values.astype(np.float32)
        if width <= 3:
            return ParsedSamples(accel.ts, values[:, :width])
        gyro = sensors.get(GYRO_NAME)
        gt_list, gv_list = [], []
        if self._last_gyro is not None:
            gt_list.append(np.array([self._last_gyro[0]]))
            gv_list.append(self._last_gyro[1][None])
        if gyro is not None and len(gyro):
            gt_list.append(gyro.ts)
            gv_list.append(gyro.values)
            self._last_gyro = (float(gyro.ts[-1]), gyro.values[-1].copy())
        if not gt_list:
            return ParsedSamples.empty(width)   # no gyroscope yet: wait for it
        gt, gv = np.concatenate(gt_list), np.concatenate(gv_list)
        gyro_at = np.stack([np.interp(accel.ts, gt, gv[:, c]) for c in range(3)], axis=1)
        return ParsedSamples(accel.ts, np.concatenate([values, gyro_at.astype(np.float32)], axis=1))

    def _accel_factor(self, sensors) -> float:
        """Sign and scale taking this stream's accelerometer values to Android's m/s^2; the
        platform is told once per stream, from the first batch that can tell."""
        if self._frame is None:
            self._frame = sensor_logger_frame(sensors, self.phone)
            note = self._frame.describe if self._frame is not None else None
            accel = sensors.get(ACCEL_NAMES[1])
            if note is None and not self._use_total and accel is not None and len(accel) \
                    and GRAVITY_NAME not in sensors \
                    and float(np.median(np.linalg.norm(accel.values, axis=1))) < 3.0:
                note = ("acceleration without gravity: turn on Gravity in Sensor Logger "
                        "(the model needs it)")
            with self._lock:
                self._phone_note = note
        if self._frame is None:
            return 1.0
        return self._frame.sign * (self._frame.scale if self.units == "ms2" else 1.0)


SOURCE_KINDS: dict[str, type[NetworkSource]] = {"udp": UdpSource, "tcp": TcpSource, "http": HttpSource}


def make_network_source(kind: str, host: str = "127.0.0.1", port: int = 0, **kw) -> NetworkSource:
    """``UdpSource``, ``TcpSource`` or ``HttpSource`` by name (``"udp"``, ``"tcp"``, ``"http"``);
    ``"sensorserver"`` and ``"phyphox"`` connect to the phone at host:port instead."""
    if kind.lower() in ("sensorserver", "phyphox"):
        from .apps import PhyphoxSource, SensorServerSource

        cls = SensorServerSource if kind.lower() == "sensorserver" else PhyphoxSource
        return cls(host, port or 8080, **kw)
    try:
        cls = SOURCE_KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r} "
                         f"(use udp, tcp, http, sensorserver or phyphox)") from None
    return cls(host, port, **kw)
