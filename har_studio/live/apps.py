"""Phones that are servers: sources that connect to the phone app instead of listening.

* ``SensorServerSource``: the SensorServer Android app streams one JSON message per sensor
  event over a WebSocket, ``ws://PHONE:PORT/sensor/connect?type=android.sensor.accelerometer``
  (``/sensors/connect?types=[...]`` with the gyroscope for 6-channel models).
* ``PhyphoxSource``: phyphox's remote access (the "Acceleration with g" experiment) is polled
  with ``http://PHONE:8080/get?acc_time=T&accX=T|acc_time&...``, asking only for what is newer
  than the last time seen.

Both keep reconnecting until stopped (the phone may lock its screen or change network), read
with timeouts and size caps, and count what is malformed as bad packets, like the listening
sources. Units and axes: both apps report Android's convention (m/s^2 with gravity, x right,
y up, z out of the screen), which is WISDM's, so nothing is converted and the ``phone``
option is ignored: SensorServer is Android only, and phyphox's iOS app converts Core Motion's
g to m/s^2 with Android's sign on the phone (it multiplies by -9.81; see ``frames``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import struct
import urllib.parse

import numpy as np

from .network import NetworkSource
from .protocols import (
    PHYPHOX_ACCEL_BUFFERS,
    SENSORSERVER_ACCEL,
    SENSORSERVER_GYRO,
    ParsedSamples,
    parse_phyphox_get,
    parse_sensorserver_message,
)
from .source import DEFAULT_CHANNELS

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


class _ClientSource(NetworkSource):
    """A client on an asyncio loop in the source's thread; ``_session()`` talks to the phone
    once and returns or raises when the connection ends; it is retried every ``retry_s``."""

    TIMEOUT_S = 5.0
    RETRY_S = 1.0
    PHONE_SIGN_IN_SCALE = False   # the apps send Android's convention (module docstring)
    PHONE_NOTE = "Android's convention"

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, channels=DEFAULT_CHANNELS,
                 retry_s: float | None = None, timeout_s: float | None = None, **kw) -> None:
        super().__init__(host, port, channels=channels, **kw)
        self.warning = None   # connecting out exposes nothing
        self._phone_note = self.PHONE_NOTE
        self.retry_s = float(retry_s if retry_s is not None else self.RETRY_S)
        self.timeout_s = float(timeout_s if timeout_s is not None else self.TIMEOUT_S)
        self._open_now = False

    def _open(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop_async: asyncio.Event | None = None
        self.address = self.url()

    def url(self) -> str:
        raise NotImplementedError

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop_async = asyncio.Event()
        if self._stopping.is_set():
            return
        runner = asyncio.ensure_future(self._run())
        stopper = asyncio.ensure_future(self._stop_async.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        while not runner.done():   # Python 3.11's wait_for can swallow one cancellation
            runner.cancel()
            await asyncio.wait({runner}, timeout=0.1)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._session()
            except (OSError, EOFError, ValueError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, TimeoutError, asyncio.TimeoutError) as exc:
                with self._lock:
                    self._last_error = f"{self.kind}: {_reason(exc)}"
            finally:
                self._open_now = False
            await asyncio.sleep(self.retry_s)

    def _request_stop(self) -> None:
        if self._stop_async is not None:
            self._stop_async.set()

    def _interrupt(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._request_stop)

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.close()

    async def _session(self) -> None:
        raise NotImplementedError


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "the phone did not answer in time"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "the phone closed the connection"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing answers at that port)"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:100]


# ------------------------------------------------------------------------ SensorServer

class SensorServerSource(_ClientSource):
    """Samples from the SensorServer Android app (a WebSocket server on the phone).

    host / port: the phone's address as the app shows it (default port 8080). Timestamps are
    the phone's event times (nanoseconds). For a 6-channel model the gyroscope comes over the
    same connection and its latest reading is attached to each accelerometer sample.
    """

    kind = "sensorserver"
    PHONE_NOTE = "Android (SensorServer is an Android app)"
    MAX_MESSAGE = 64 << 10

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, **kw) -> None:
        super().__init__(host, port, **kw)
        self._gyro: tuple[float, float, float] | None = None

    def path(self) -> str:
        if len(self.channels) > 3:
            types = json.dumps([SENSORSERVER_ACCEL, SENSORSERVER_GYRO], separators=(",", ":"))
            return "/sensors/connect?types=" + urllib.parse.quote(types, safe="")
        return f"/sensor/connect?type={SENSORSERVER_ACCEL}"

    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.path()}"

    def _is_connected(self) -> bool:
        return self._open_now and super()._is_connected()

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=self.MAX_MESSAGE), self.timeout_s)
        try:
            await _ws_handshake(reader, writer, f"{self.host}:{self.port}", self.path(),
                                self.timeout_s)
            self._open_now = True
            self._mark_break()
            async for message in _ws_messages(reader, writer, self.MAX_MESSAGE):
                self._take(message, self._clock())
        finally:
            writer.transport.abort()

    def _take(self, message: bytes, arrival: float) -> None:
        width = len(self.channels)
        try:
            event = parse_sensorserver_message(message)
        except ValueError as exc:
            self._ingest(ParsedSamples(np.zeros(0), np.zeros((0, width), np.float32), 1, str(exc)),
                         arrival)
            return
        if event.sensor == SENSORSERVER_GYRO:
            self._gyro = event.values
            return
        if event.sensor not in (None, SENSORSERVER_ACCEL):
            with self._lock:
                self._other += 1
            return
        values = list(event.values)
        if width > 3:
            if self._gyro is None:
                return   # no gyroscope reading yet
            values += list(self._gyro)
        self._ingest(ParsedSamples(np.array([event.ts]), np.array([values[:width]], np.float32)),
                     arrival)


async def _ws_handshake(reader, writer, host: str, path: str, timeout: float) -> None:
    """RFC 6455 client handshake; raises ValueError when the phone does not accept it."""
    key = base64.b64encode(os.urandom(16))
    writer.write(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\nHost: " + host.encode("ascii")
                 + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                 + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    if len(lines[0].split()) < 2 or lines[0].split()[1] != "101":
        raise ValueError(f"the phone refused the WebSocket: {lines[0][:60]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    expected = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != expected:
        raise ValueError("the phone's WebSocket handshake is wrong")


def _ws_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A masked client frame (clients must mask)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


async def _ws_messages(reader, writer, max_size: int):
    """Text/binary messages of a WebSocket until the peer closes; answers pings. A message
    longer than `max_size` ends the connection (ValueError)."""
    parts: list[bytes] = []
    size = 0
    while True:
        b0, b1 = await reader.readexactly(2)
        opcode, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await reader.readexactly(8))
        if n > max_size or size + n > max_size:
            raise ValueError(f"a WebSocket message over {max_size} bytes")
        mask = await reader.readexactly(4) if b1 & 0x80 else None
        payload = await reader.readexactly(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode == 0x8:      # close: answer and end
            with contextlib.suppress(OSError):
                writer.write(_ws_frame(0x8, payload[:2]))
            return
        if opcode == 0x9:      # ping
            writer.write(_ws_frame(0xA, payload[:125]))
            continue
        if opcode == 0xA:      # pong
            continue
        if opcode in (0x0, 0x1, 0x2):
            parts.append(payload)
            size += n
            if b0 & 0x80:      # FIN
                yield b"".join(parts)
                parts, size = [], 0
            continue
        raise ValueError(f"unknown WebSocket opcode {opcode}")


# ----------------------------------------------------------------------------- phyphox

class PhyphoxSource(_ClientSource):
    """Samples from phyphox's remote access (experiment "Acceleration with g", with "Allow
    remote access" on). host / port: as the app shows them (``http://PHONE:8080``).

    Every ``poll_s`` it asks for the values newer than the last time it has (the first request
    asks for the last value only, so no history floods in). A new session on the phone (the
    experiment restarted or cleared) starts a new run. Accelerometer only (3 channels).
    """

    kind = "phyphox"
    PHONE_NOTE = "Android's convention (phyphox converts an iPhone's readings on the phone)"
    POLL_S = 0.1
    MAX_REPLY = 16 << 20
    RESTART_AFTER_S = 1.0

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, poll_s: float | None = None,
                 buffers: tuple[str, ...] = PHYPHOX_ACCEL_BUFFERS, **kw) -> None:
        super().__init__(host, port, **kw)
        if len(self.channels) != 3:
            raise ValueError("phyphox gives the accelerometer only: use a 3-channel model")
        self.poll_s = float(poll_s if poll_s is not None else self.POLL_S)
        self.buffers = tuple(buffers)
        self._since: float | None = None
        self._session_id: str | None = None

    def url(self) -> str:
        return f"http://{self.host}:{self.port}/get"

    def query(self) -> str:
        time_name, *value_names = self.buffers
        if self._since is None:   # the last values only: where the experiment is now
            return "&".join(f"{name}=" for name in self.buffers)
        t = repr(float(self._since))
        return "&".join([f"{time_name}={t}"] + [f"{v}={t}%7C{time_name}" for v in value_names])

    async def _session(self) -> None:
        quiet_since = None
        while True:
            body = await asyncio.wait_for(self._get("/get?" + self.query()), self.timeout_s)
            arrival = self._clock()
            self._open_now = True
            try:
                reply = parse_phyphox_get(body, self.buffers)
            except ValueError as exc:
                self._ingest(ParsedSamples(np.zeros(0), np.zeros((0, 3), np.float32), 1, str(exc)),
                             arrival)
                await asyncio.sleep(self.poll_s)
                continue
            samples = reply.samples
            if reply.session != self._session_id:     # another experiment or a restarted app
                if self._session_id is not None:
                    self._since = None
                self._session_id = reply.session
            if self._since is None:                   # the answer to a "last values" request
                if reply.last_time is not None:
                    self._since = reply.last_time
                    self._mark_break()
                with self._lock:
                    self._packets += 1
            else:
                self._ingest(samples, arrival)
                if reply.last_time is not None:
                    self._since = max(self._since, reply.last_time)
                    quiet_since = None
                elif reply.measuring:
                    # Measuring but nothing newer: the experiment was cleared and its clock
                    # began again at 0. After a second, ask where it is now.
                    quiet_since = quiet_since if quiet_since is not None else arrival
                    if arrival - quiet_since >= self.RESTART_AFTER_S:
                        self._since, quiet_since = None, None
            await asyncio.sleep(self.poll_s)

    async def _get(self, target: str) -> bytes:
        """One GET on a fresh connection (phyphox's server does not keep connections alive)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                         f"Connection: close\r\n\r\n".encode("ascii"))
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0]
            if len(status_line.split()) < 2 or status_line.split()[1] != b"200":
                raise ValueError(f"phyphox answered {status_line[:60].decode('latin-1')!r}")
            body = await reader.read(self.MAX_REPLY + 1)
            while len(body) <= self.MAX_REPLY:
                more = await reader.read(self.MAX_REPLY + 1 - len(body))
                if not more:
                    break
                body += more
            if len(body) > self.MAX_REPLY:
                raise ValueError(f"a phyphox answer over {self.MAX_REPLY >> 20} MiB")
            return body
        finally:
            writer.transport.abort()
