"""Phones that are servers: SensorServer (WebSocket) and phyphox (HTTP polling), each tested
against a fake phone on 127.0.0.1 that speaks the app's exact wire format, and the QR helper.

No sleeps: waits poll a condition with a deadline or block on sockets with timeouts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from test_live_sources import wait_for

from har_studio.live.apps import PhyphoxSource, SensorServerSource
from har_studio.live.protocols import parse_phyphox_get, parse_sensorserver_message
from har_studio.live.registry import make_network_source

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


# ------------------------------------------------------------------------ SensorServer

def sensorserver_json(values, timestamp_ns: int, sensor: str | None = None) -> str:
    """What SensorServer's onSensorChanged sends (JsonUtil.toJSON of its message map)."""
    message = {"values": [float(np.float32(v)) for v in values], "timestamp": timestamp_ns,
               "accuracy": 3}
    if sensor is not None:
        message["type"] = sensor
    return json.dumps(message, separators=(",", ":"))


def server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame, as org.java_websocket sends them."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload


def read_client_frame(conn: socket.socket) -> tuple[int, bytes]:
    def exactly(k):
        data = b""
        while len(data) < k:
            chunk = conn.recv(k - len(data))
            assert chunk, "client closed"
            data += chunk
        return data
    b0, b1 = exactly(2)
    n = b1 & 0x7F
    assert b1 & 0x80, "client frames must be masked"
    if n == 126:
        (n,) = struct.unpack("!H", exactly(2))
    mask = exactly(4)
    return b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(n)))


class FakeSensorServer:
    """Accepts WebSocket connections like the app, then runs `script(conn, path)`."""

    def __init__(self, script):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.paths: list[str] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(10)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        head += conn.recv(4096)
                    lines = head.decode().split("\r\n")
                    path = lines[0].split()[1]
                    key = next(ln.split(":", 1)[1].strip() for ln in lines
                               if ln.lower().startswith("sec-websocket-key"))
                    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
                    conn.sendall(b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
                                 b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                    self.paths.append(path)
                    self.script(conn, path)
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    self.errors.append(exc)

    def close(self):
        self.sock.close()


@pytest.fixture
def stoppers():
    items = []
    yield items.append
    for item in items:
        (item.stop if hasattr(item, "stop") else item.close)()


def test_sensorserver_single_sensor_stream_ping_and_reconnect(stoppers):
    t0 = 3_925_657_519_043_709
    sent = [(0.31892395 + i, -0.97802734, 10.049896) for i in range(30)]
    pongs = []

    def script(conn, path):
        first = len(server.paths) == 1
        part = range(20) if first else range(20, 30)
        for i in part:
            conn.sendall(server_frame(0x1, sensorserver_json(sent[i], t0 + i * 20_000_000).encode()))
        conn.sendall(server_frame(0x9, b"hi"))                  # ping: the client must answer
        pongs.append(read_client_frame(conn))
        bad = b'{"values":[1e39,0,0],"timestamp":1,"accuracy":3}'  # impossible value: refused
        conn.sendall(server_frame(0x1, bad) + server_frame(0x1, b"not json"))
        if first:   # the app's stop button: a close frame, then the next connection
            conn.sendall(server_frame(0x8, struct.pack("!H", 4004) + b"Server stopped"))
            assert read_client_frame(conn)[0] == 0x8
            return
        conn.recv(1)                            # keep the connection open until the client goes

    server = FakeSensorServer(script)
    stoppers(server)
    src = make_network_source("sensorserver", "127.0.0.1", server.port, retry_s=0.02)
    assert isinstance(src, SensorServerSource)
    src.start()
    stoppers(src)
    assert wait_for(lambda: src.stats().samples == 30 and src.stats().bad_packets == 4)
    assert server.paths[0] == "/sensor/connect?type=android.sensor.accelerometer"
    assert len(server.paths) == 2 and pongs == [(0xA, b"hi"), (0xA, b"hi")]
    stats = src.stats()
    assert stats.bad_packets == 4 and stats.connected and stats.warning is None
    assert stats.address == f"ws://127.0.0.1:{server.port}/sensor/connect?type=android.sensor.accelerometer"
    batch = src.read()
    np.testing.assert_allclose(batch.values, np.asarray(sent, np.float32), rtol=1e-6)
    np.testing.assert_allclose(np.diff(batch.t), 0.02, atol=1e-6)   # the phone's event times
    assert batch.breaks[0] and batch.breaks[20] and not batch.breaks[1:20].any()
    assert not server.errors


def test_sensorserver_with_gyroscope_uses_one_connection(stoppers):
    t0 = 10_000_000_000

    def script(conn, path):
        acc, gyro = "android.sensor.accelerometer", "android.sensor.gyroscope"
        conn.sendall(server_frame(0x1, sensorserver_json((0, 9.8, 0), t0, acc).encode()))
        for i in range(10):
            t = t0 + (i + 1) * 10_000_000
            conn.sendall(server_frame(0x1, sensorserver_json((0.1 * i, 0, 0), t - 1, gyro).encode()))
            conn.sendall(server_frame(0x1, sensorserver_json((i, 9.8, 0), t, acc).encode()))
        conn.sendall(server_frame(0x1, sensorserver_json((1, 2, 3), t0, "android.sensor.light").encode()))
        conn.recv(1)

    server = FakeSensorServer(script)
    stoppers(server)
    src = SensorServerSource("127.0.0.1", server.port, channels=("x", "y", "z", "gx", "gy", "gz"))
    src.start()
    stoppers(src)
    assert wait_for(lambda: src.stats().samples == 10 and src.stats().other_sensors == 1)
    types = json.loads(urllib.parse.unquote(server.paths[0].split("types=", 1)[1]))
    assert server.paths[0].startswith("/sensors/connect?types=")
    assert types == ["android.sensor.accelerometer", "android.sensor.gyroscope"]
    batch = src.read()
    np.testing.assert_allclose(batch.values[:, 0], np.arange(10))
    np.testing.assert_allclose(batch.values[:, 3], 0.1 * np.arange(10), rtol=1e-6)


def test_sensorserver_parser_refuses_hostile_messages():
    assert parse_sensorserver_message(sensorserver_json((1, 2, 3), 5_000_000_000)).ts == 5.0
    for bad in (b"[" * 100_000, b'{"values":[1,2],"timestamp":1}', b'{"values":[1,2,3]}',
                b'{"values":[1,2,"x"],"timestamp":1}', b'{"values":[2000,0,0],"timestamp":1}',
                b'{"values":[0,0,101],"timestamp":1,"type":"android.sensor.gyroscope"}',
                b'{"values":[1,2,3],"timestamp":' + b"9" * 400 + b"}", b"\xff\xfe"):
        with pytest.raises(ValueError):
            parse_sensorserver_message(bad)


def test_a_phone_that_is_not_there_is_retried_and_reported(stoppers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens there
    src = SensorServerSource("127.0.0.1", port, retry_s=3600.0)
    src.start()
    assert wait_for(lambda: src.stats().last_error is not None)
    assert src.stats().last_error.startswith("sensorserver:") and not src.stats().connected
    # stop() ends the hour's wait to retry (a stop that waited it out would still be going
    # when the minute is up); how quickly: bench/bench_responsiveness.py (stop_s)
    stopper = threading.Thread(target=src.stop, daemon=True)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive()


# ----------------------------------------------------------------------------- phyphox

def phyphox_number(v: float) -> str:
    """Java DecimalFormat("0.#######E0") in Locale.ENGLISH, as phyphox formats buffers."""
    if v == 0:
        return "0E0"
    exp = math.floor(math.log10(abs(v)))
    mant = round(v / 10 ** exp, 7)
    if abs(mant) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:.7f}".rstrip("0").rstrip(".") + f"E{exp}"


class FakePhyphox:
    """phyphox's RemoteServer /get, from its handleGet: buffers acc_time, accX..Z."""

    def __init__(self):
        self.buffers = {"acc_time": [], "accX": [], "accY": [], "accZ": []}
        self.session = "0a1b2c"
        self.measuring = True
        self.queries: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.queries.append(self.path)
                body = fake.answer(self.path).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def add(self, t, x, y, z):
        with self.lock:
            for name, v in zip(self.buffers, (t, x, y, z), strict=True):
                self.buffers[name].append(v)

    def answer(self, path: str) -> str:
        query = urllib.parse.urlsplit(path).query
        parts = []
        with self.lock:
            for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
                data = self.buffers[name]
                if value == "":
                    mode, out = "single", [data[-1]] if data else [math.nan]
                elif value == "full":
                    mode, out = "full", list(data)
                else:
                    thr, _, ref = value.partition("|")
                    thr = float(thr)
                    thr += 10 ** math.floor(math.log10(abs(thr) / 1e7)) if thr else 0
                    reference = self.buffers[ref or name]
                    mode = "partial"
                    out = [v for v, r in zip(data, reference, strict=False) if r > thr]
                text = ",".join("null" if not math.isfinite(v) else phyphox_number(v) for v in out)
                parts.append(f'"{name}":{{"size":0,"updateMode":"{mode}", "buffer":[{text}]}}')
            return ('{"buffer":{\n' + ",\n".join(parts) + '\n},\n"status":{\n'
                    f'"session":"{self.session}", "measuring":{str(self.measuring).lower()}, '
                    '"timedRun":false, "countDown":0\n}\n}\n')

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_phyphox_polls_only_what_is_new(stoppers):
    phone = FakePhyphox()
    stoppers(phone)
    for i in range(100):                       # history before we connect: not replayed
        phone.add(i / 100, 0.0, 9.81, 0.0)
    src = make_network_source("phyphox", "127.0.0.1", phone.port, poll_s=0.01)
    assert isinstance(src, PhyphoxSource)
    src.start()
    stoppers(src)
    assert wait_for(lambda: len(phone.queries) >= 2)
    assert phone.queries[0] == "/get?acc_time=&accX=&accY=&accZ="
    assert phone.queries[1] == ("/get?acc_time=0.99&accX=0.99%7Cacc_time&accY=0.99%7Cacc_time"
                                "&accZ=0.99%7Cacc_time")
    rng = np.random.default_rng(0)
    new = rng.normal(size=(50, 3)) * 3 + [0, 9.81, 0]
    for i, v in enumerate(new):
        phone.add(1.0 + i / 100, *v)
    phone.add(1.5, math.nan, 0.0, 0.0)         # phyphox writes null for NaN: a bad row
    assert wait_for(lambda: src.stats().samples == 50 and src.stats().bad_packets == 1)
    batch = src.read()
    np.testing.assert_allclose(batch.values, new, rtol=1e-6, atol=1e-6)   # 8 digits
    np.testing.assert_allclose(np.diff(batch.t), 0.01, atol=1e-6)
    assert src.stats().connected and src.stats().address == f"http://127.0.0.1:{phone.port}/get"
    # The experiment is cleared on the phone: its clock starts again at 0.
    with phone.lock:
        for data in phone.buffers.values():
            data.clear()
    src.RESTART_AFTER_S = 0.05
    phone.add(0.0, 1.0, 9.81, 0.0)
    assert wait_for(lambda: phone.queries[-1] == "/get?acc_time=&accX=&accY=&accZ=")
    assert wait_for(lambda: phone.queries[-1].startswith("/get?acc_time=0.0&"))
    for i in range(1, 11):
        phone.add(i / 100, 2.0, 9.81, 0.0)
    assert wait_for(lambda: src.stats().samples == 60)
    later = src.read()
    assert later.breaks[0] and np.allclose(later.values[:, 0], 2.0)


def test_phyphox_parser_takes_the_exact_format_and_refuses_the_rest():
    body = ('{"buffer":{\n"acc_time":{"size":0,"updateMode":"partial", "buffer":[1.2E0,1.21E0]},\n'
            '"accX":{"size":0,"updateMode":"partial", "buffer":[-1.2345678E-1,null]},\n'
            '"accY":{"size":0,"updateMode":"partial", "buffer":[9.81E0,9.8E0]},\n'
            '"accZ":{"size":0,"updateMode":"partial", "buffer":[0E0,1E-3]}\n},\n'
            '"status":{\n"session":"0a1b2c", "measuring":true, "timedRun":false, "countDown":0\n}\n}\n')
    reply = parse_phyphox_get(body.encode())
    assert reply.session == "0a1b2c" and reply.measuring
    assert reply.samples.ts.tolist() == [1.2] and reply.samples.bad == 1
    np.testing.assert_allclose(reply.samples.values, [[-0.12345678, 9.81, 0.0]], rtol=1e-6)
    for bad in (b"[" * 100_000, b'{"buffer": 5}', b'{"buffer": {"acc_time": {"buffer": []}}}',
                b"<html>", b'{"buffer":{"acc_time":{"buffer":[' + b"9" * 400 + b"]}}}"):
        with pytest.raises(ValueError):
            parse_phyphox_get(bad)
    huge = body.replace("9.81E0", "2E3")
    assert len(parse_phyphox_get(huge.encode()).samples) == 0


# ------------------------------------------------------------------------------ QR code

def test_qr_code_of_the_listening_address():
    from har_studio.live.qr import phone_url, qr_code

    assert phone_url("http", "127.0.0.1:8000") == "http://127.0.0.1:8000/"
    assert phone_url("udp", "127.0.0.1:5555") == "127.0.0.1:5555"
    lan = phone_url("tcp", "0.0.0.0:5555")
    assert not lan.startswith("0.0.0.0") and lan.endswith(":5555")
    svg = qr_code("http://192.168.1.5:8000/")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    png = qr_code("http://192.168.1.5:8000/", "png", scale=4)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    assert width == (25 + 2 * 2) * 4          # version 2 (25 modules) + quiet zone, at scale 4
    with pytest.raises(ValueError):
        qr_code("x", "gif")
