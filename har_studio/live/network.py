"""What every network source shares: phone samples stamped onto the local clock, converted
to m/s^2 and Android's axes, checked against what a phone sensor can report, and queued
(bounded) for the reader; the source's thread and its start/stop. The transports (``udp``,
``server``, ``apps``) only receive bytes and hand parsed samples to ``_ingest``.

``stats().address`` reports the bound ``host:port``; ``stats().warning`` says when every
network interface is listened on (``addresses.listen_warning``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from .addresses import listen_warning
from .frames import STANDARD_GRAVITY, check_phone
from .protocols import ParsedSamples, sensor_limit
from .source import DEFAULT_CHANNELS, SampleBatch, Source, SourceStats

log = logging.getLogger(__name__)

ACCEL_SET = frozenset(("x", "y", "z"))


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
