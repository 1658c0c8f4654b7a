"""The contract every live source keeps, and the samples it hands over.

Every source has the same small interface: ``start()``, ``stop()``, ``read() -> SampleBatch``
(non-blocking: what arrived since the last read), ``wait(timeout)`` (block until something
may be ready), ``stats() -> SourceStats`` and ``finished``. Sources never raise on bad data:
malformed packets are counted (``bad_packets``, ``last_error``), queues are bounded (the
oldest samples are dropped and counted when a reader falls behind), and ``stop()`` closes
sockets and joins threads promptly. Only ``start()`` raises ``OSError`` when the address
cannot be bound, so the caller can tell the user.

Where samples come from: ``replay`` (a recording), ``udp``, ``server`` (TCP and HTTP),
``apps`` (SensorServer, phyphox: the phone is the server); ``registry`` makes a network
source from a kind and an address. This module imports nothing else of the package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

DEFAULT_CHANNELS: tuple[str, ...] = ("x", "y", "z")

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
