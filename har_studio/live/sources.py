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
``stats().address`` reports the bound ``host:port``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from .protocols import (
    ACCEL_NAMES,
    GRAVITY_NAME,
    GYRO_NAME,
    ParsedSamples,
    parse_json_batch,
    parse_lines,
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
    """

    t: np.ndarray
    values: np.ndarray
    truth: list[str] | None = None
    channels: tuple[str, ...] | None = None
    breaks: np.ndarray | None = None
    arrival: np.ndarray | None = None
    nominal_rate_hz: float | None = None

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
        from ..data.windows import WindowConfig, run_starts

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
        self._values = np.ascontiguousarray(frame[list(channels)].to_numpy(np.float32))
        activity_col = frame["activity"].astype(str)
        codes, categories = pd.factorize(activity_col)
        self._truth_codes = codes
        self._truth_names = [str(c) for c in categories]
        ts = frame["timestamp"].to_numpy(np.int64)
        self.subjects = sorted(int(s) for s in frame["subject"].unique())

        rate = float(window.rate_hz) if window is not None else 0.0
        data_rate = float(getattr(report, "sampling_hz", 0.0) or 0.0)
        if data_rate <= 0:
            dt = np.diff(ts) / 1e9
            good = dt[(dt > 0) & (dt < 1.0)]
            data_rate = float(1.0 / np.median(good)) if good.size else (rate or 20.0)
        self.nominal_rate_hz = data_rate
        run_config = window if window is not None else WindowConfig(size=2, step=1, rate_hz=data_rate)
        self._breaks = run_starts(frame, run_config)
        period = 1.0 / data_rate
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
        with self._lock:
            if not self._paused:
                self._pos_base = self._position()
                self._paused = True

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._clock_base = self._clock()
                self._paused = False
                self._wake.set()

    def seek(self, seconds: float) -> None:
        """Jump to `seconds` into the recording (clamped); a new run starts there."""
        with self._lock:
            seconds = min(max(0.0, float(seconds)), self._rt[-1])
            self._next = int(np.searchsorted(self._rt, seconds - 1e-9, side="left"))
            self._pos_base = max(seconds, float(self._rt[min(self._next, self._n - 1)]))
            self._clock_base = self._clock()
            self._force_break = True
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
        with self._lock:
            if not self._running:
                self._clock_base = self._clock()
                self._running = True

    def stop(self) -> None:
        with self._lock:
            if self._running:
                self._pos_base = self._position()
            self._running = False
            self._wake.set()

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
            self._t_offset = self._last_t + 1.0 / self.nominal_rate_hz - self._rt[self._next]

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
                    self._rebase_time()
                end = int(np.searchsorted(self._rt, pos, side="right"))
                end = min(end, self._next + budget, self._n)
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
                               nominal_rate_hz=self.nominal_rate_hz)

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
        return SampleBatch(t, self._values[lo:hi], truth, channels=self.channels, breaks=breaks,
                           arrival=arrival, nominal_rate_hz=self.nominal_rate_hz)

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


class NetworkSource(Source):
    """Common machinery of the UDP, TCP and HTTP servers (see the module docstring).

    host / port: where to listen (``"0.0.0.0"`` = the local network; port 0 = any free port).
    channels: ``("x","y","z")`` or with ``("gx","gy","gz")`` when the model needs a gyroscope.
    units: accelerometer units the phone sends, ``"ms2"`` (m/s^2, as WISDM) or ``"g"``.
    ts_unit: unit of sender timestamps in text lines (``"auto"`` guesses from the magnitude).
    max_pending: most samples held for the reader; beyond, the oldest are dropped and counted.
    clock: monotonic clock stamping arrivals (must be the classifier's clock for latency).

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

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 channels: tuple[str, ...] | list[str] = DEFAULT_CHANNELS, units: str = "ms2",
                 ts_unit: str = "auto", max_pending: int = 20000, rate_window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if units not in ("ms2", "g"):
            raise ValueError(f"units must be 'ms2' or 'g', got {units!r}")
        self.host, self.port = host, int(port)
        self.channels = tuple(channels)
        self.units = units
        self.ts_unit = ts_unit
        self._scale = np.array([STANDARD_GRAVITY if (units == "g" and c in ACCEL_SET) else 1.0
                                for c in self.channels], np.float32)
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
        """Stamp, convert and queue parsed samples; never raises."""
        with self._lock:
            self._packets += 1
            self._last_arrival = arrival
            if parsed.bad:
                self._bad += parsed.bad
                self._last_error = parsed.last_error
            n = len(parsed)
            if n == 0:
                return
            values = parsed.values[:, :len(self.channels)] * self._scale
            ts = parsed.ts
            period = self._period()
            no_ts = np.isnan(ts)
            k = int(no_ts.sum())
            j = 0
            for i in range(n):
                brk = False
                if no_ts[i]:
                    t = arrival - (k - 1 - j) * period
                    j += 1
                    t = max(t, self._last_t + 1e-6)
                else:
                    if self._anchor is None:
                        self._anchor = (ts[i], arrival)
                        brk = True
                    t = self._anchor[1] + (ts[i] - self._anchor[0])
                    jumped = ts[i] - self._last_ts > self.MAX_SENDER_GAP_S
                    if jumped or t < self._last_t - 1.0 or t < arrival - self.MAX_LAG_S:
                        # The sender's clock restarted or jumped, or we lag far behind it.
                        t = max(arrival, self._last_t + 1e-6)
                        self._anchor = (ts[i] - (t - arrival), arrival)
                        brk = True
                    elif t <= self._last_t:
                        self._bad += 1
                        self._last_error = "out-of-order timestamp"
                        continue
                    self._last_ts = ts[i]
                if len(self._pending) == self._pending.maxlen:
                    self._dropped += 1
                self._pending.append((t, arrival, values[i], brk or self._pending_break))
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
        values = np.stack([it[2] for it in items]).astype(np.float32, copy=False)
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
                               packets=self._packets)

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


class UdpSource(_SelectorSource):
    """Lines of comma-separated values in UDP datagrams (HyperIMU and similar apps)."""

    kind = "udp"

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
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._selector.register(sock, selectors.EVENT_READ, "data")

    def _serve(self) -> None:
        width = len(self.channels)
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    return
                while True:
                    try:
                        data = self._sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # e.g. ICMP port unreachable echoes; keep serving
                        log.debug("udp recv: %s", exc)
                        break
                    arrival = self._clock()
                    parsed, _ = parse_lines(data, width, ts_unit=self.ts_unit, final=True)
                    self._ingest(parsed, arrival)


class TcpSource(_SelectorSource):
    """Lines of comma-separated values over TCP; clients may connect, drop and reconnect."""

    kind = "tcp"
    MAX_CLIENTS = 8

    def _open(self) -> None:
        super()._open()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(4)
        except OSError as exc:
            sock.close()
            self._close()
            raise self._bind_error(exc) from None
        sock.setblocking(False)
        self._server = sock
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._selector.register(sock, selectors.EVENT_READ, "accept")
        self._tails: dict[socket.socket, bytes] = {}

    def _is_connected(self) -> bool:
        return bool(getattr(self, "_tails", None))

    def _serve(self) -> None:
        width = len(self.channels)
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    return
                if key.data == "accept":
                    try:
                        conn, peer = self._server.accept()
                    except OSError:
                        continue
                    if len(self._tails) >= self.MAX_CLIENTS:
                        conn.close()
                        self._note_bad(1, "too many clients")
                        continue
                    conn.setblocking(False)
                    with self._lock:
                        self._tails[conn] = b""
                    self._selector.register(conn, selectors.EVENT_READ, "client")
                    self._mark_break()
                    log.info("tcp client connected from %s:%s", *peer[:2])
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                arrival = self._clock()
                if not data:
                    tail = self._tails.get(conn, b"")
                    self._drop_client(conn)
                    if tail.strip():
                        parsed, _ = parse_lines(tail, width, ts_unit=self.ts_unit, final=True)
                        self._ingest(parsed, arrival)
                    continue
                parsed, tail = parse_lines(self._tails.get(conn, b"") + data, width,
                                           ts_unit=self.ts_unit, final=False)
                with self._lock:
                    self._tails[conn] = tail
                self._ingest(parsed, arrival)

    def _drop_client(self, conn: socket.socket) -> None:
        with contextlib.suppress(Exception):
            self._selector.unregister(conn)
        with contextlib.suppress(OSError):
            conn.close()
        with self._lock:
            self._tails.pop(conn, None)
        log.info("tcp client disconnected")


class HttpSource(NetworkSource):
    """JSON batches POSTed by the Sensor Logger app (any path). Answers 200 at once.

    Accelerometer: ``totalacceleration`` (with gravity, as WISDM) when the phone sends it, else
    ``accelerometer`` (plus ``gravity`` when sent). Gyroscope values (for 6-channel models) are
    interpolated at the accelerometer times. Entries of other sensors are counted in
    ``stats().other_sensors``; bodies that are not such JSON count as bad packets (answered 400).
    """

    kind = "http"
    MAX_BODY = 8 << 20

    def _open(self) -> None:
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server name
                source._handle_post(self)

            def do_GET(self) -> None:  # noqa: N802
                self._reply(200, b"HAR Studio is listening: POST Sensor Logger JSON here\n")

            def _reply(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args) -> None:
                log.debug("http: " + fmt, *args)

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise self._bind_error(exc) from None
        self._server.daemon_threads = True
        self._server.timeout = 0.5
        host, port = self._server.server_address[:2]
        self.address = f"{host}:{port}"
        self._use_total = False
        self._last_gyro: tuple[float, np.ndarray] | None = None

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def _interrupt(self) -> None:
        self._server.shutdown()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._server.server_close()

    def _handle_post(self, handler) -> None:
        try:
            length = int(handler.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0 or length > self.MAX_BODY:
            self._note_bad(1, "POST without a usable Content-Length")
            handler._reply(411 if length < 0 else 413, b"need Content-Length\n")
            handler.close_connection = True
            return
        try:
            body = handler.rfile.read(length)
        except OSError:
            self._note_bad(1, "connection dropped mid-request")
            return
        arrival = self._clock()
        batch = parse_json_batch(body)
        ok = not (batch.bad and not batch.sensors and not batch.other)
        parsed = self._merge(batch)
        with self._lock:
            self._other += batch.other
        if parsed.bad == 0 and batch.bad:
            parsed.bad, parsed.last_error = batch.bad, batch.last_error
        self._ingest(parsed, arrival)   # well under a millisecond: then answer
        with contextlib.suppress(OSError):
            handler._reply(200 if ok else 400, b"ok\n" if ok else b"bad JSON\n")

    def _merge(self, batch) -> ParsedSamples:
        """Accelerometer samples (with gyroscope columns when needed) of one JSON batch."""
        sensors = batch.sensors
        if ACCEL_NAMES[0] in sensors:
            self._use_total = True
        accel_name = ACCEL_NAMES[0] if self._use_total else ACCEL_NAMES[1]
        unused = [n for n in ACCEL_NAMES if n != accel_name and n in sensors]
        batch.other += sum(len(sensors[n]) for n in unused)
        accel = sensors.get(accel_name)
        width = len(self.channels)
        if accel is None or len(accel) == 0:
            return ParsedSamples.empty(width)
        values = accel.values
        if accel_name == ACCEL_NAMES[1] and GRAVITY_NAME in sensors and len(sensors[GRAVITY_NAME]):
            g = sensors[GRAVITY_NAME]
            values = values + np.stack([np.interp(accel.ts, g.ts, g.values[:, c]) for c in range(3)],
                                       axis=1).astype(np.float32)
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


SOURCE_KINDS: dict[str, type[NetworkSource]] = {"udp": UdpSource, "tcp": TcpSource, "http": HttpSource}


def make_network_source(kind: str, host: str = "127.0.0.1", port: int = 0, **kw) -> NetworkSource:
    """``UdpSource``, ``TcpSource`` or ``HttpSource`` by name (``"udp"``, ``"tcp"``, ``"http"``)."""
    try:
        cls = SOURCE_KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r} (use udp, tcp or http)") from None
    return cls(host, port, **kw)
