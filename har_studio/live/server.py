"""The listening stream servers: TCP (lines of values) and HTTP (Sensor Logger's JSON POSTs),
both on one asyncio event loop in the source's thread.

A hostile or broken client cannot starve a phone: TCP and HTTP clients share the event loop
(no thread per client), idle ones are closed after a timeout and the quietest is evicted
when too many are connected; a line cut off by a disconnect, a value no phone sensor can
report and a request that is not what a phone app sends are each counted, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

import numpy as np

from .frames import PhoneFrame, sensor_logger_frame
from .network import NetworkSource
from .protocols import (
    ACCEL_NAMES,
    GRAVITY_NAME,
    GYRO_NAME,
    UNCALIBRATED_NAME,
    ParsedSamples,
    parse_json_batch,
    parse_lines,
)

log = logging.getLogger(__name__)


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
