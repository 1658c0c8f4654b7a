"""Hostile and unlucky network clients against the live sources (issue 9, "Network sources").

Real sockets on 127.0.0.1 only; every wait polls a condition with a deadline or blocks on a
socket with a timeout, never a fixed sleep. The bench (bench/hostile_network.py) runs the same
attacks at full size (200 idle TCP, 300 half-open HTTP clients, a UDP flood).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading

import numpy as np
import pytest
from test_live_sources import address, post, sensor_logger_body, udp_send, wait_for

from har_studio.live.addresses import listen_warning
from har_studio.live.protocols import parse_json_batch, parse_lines
from har_studio.live.server import HttpSource, TcpSource
from har_studio.live.udp import UdpSource


@pytest.fixture
def sockets():
    opened: list[socket.socket] = []

    def connect(addr, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection(addr, timeout=timeout)
        opened.append(s)
        return s

    yield connect
    for s in opened:
        s.close()


def lines(n: int, t0_ms: int = 1_700_000_000_000) -> bytes:
    return "".join(f"{t0_ms + 50 * i},{i % 7},9.8,0.5\n" for i in range(n)).encode()


# ------------------------------------------------------------------------------ TCP

def test_idle_tcp_clients_do_not_lock_a_phone_out(started, sockets, caplog):
    src = started(TcpSource(port=0, max_clients=8))
    addr = address(src)
    idle = [sockets(addr) for _ in range(20)]      # more than max_clients: the quietest go
    assert wait_for(lambda: src.stats().evicted >= len(idle) - 8)
    assert not src.stats().connected                # idle clients are not a phone
    phone = sockets(addr)
    phone.sendall(lines(40))
    assert wait_for(lambda: src.stats().samples == 40 and src.stats().connected)
    assert src.stats().bad_packets == 0
    assert len(src.read()) == 40
    # Evicted clients were told: their next read ends (reset or closed), it does not hang.
    closed = 0
    for s in idle[:8]:
        try:
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
    assert closed == 8
    src.stop()    # with clients still connected; how quickly: bench/bench_responsiveness.py
    assert not [t for t in threading.enumerate() if t.name.startswith("har-tcp")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_silent_tcp_client_is_closed_after_the_idle_timeout(started, sockets):
    src = started(TcpSource(port=0, idle_timeout_s=0.2))
    client = sockets(address(src))
    assert client.recv(1) == b""                    # the server hung up (socket timeout: 5 s)
    assert wait_for(lambda: src.stats().evicted == 1)


def test_a_line_cut_off_by_a_disconnect_is_discarded_and_counted(started, sockets):
    src = started(TcpSource(port=0))
    client = sockets(address(src))
    client.sendall(b"1700050000000,0.25,9.8,0.1\n1700050010000,0.25,9.")
    assert wait_for(lambda: src.stats().samples == 1)
    client.close()
    assert wait_for(lambda: src.stats().bad_packets == 1)
    assert "cut off" in src.stats().last_error
    batch = src.read()
    assert len(batch) == 1 and batch.values[0].tolist() == pytest.approx([0.25, 9.8, 0.1])


# ------------------------------------------------------------------------------ values

@pytest.mark.parametrize("units, channels, good, bad", [
    ("ms2", ("x", "y", "z"), [b"0,9.8,0", b"-999,0,0"],
     [b"3e38,0,0", b"0,0,1000.5", b"1e308,1,1", b"1700050010000,0.25,9"]),
    ("g", ("x", "y", "z"), [b"0,1,0", b"101,0,0"], [b"102,0,0", b"0,0,-3e38"]),
    ("ms2", ("x", "y", "z", "gx", "gy", "gz"), [b"0,9.8,0,0,0,99"], [b"0,9.8,0,0,0,101"]),
])
def test_values_no_phone_reports_are_counted_as_bad(units, channels, good, bad, started):
    src = started(UdpSource(port=0, units=units, channels=channels))
    udp_send(address(src), b"\n".join(good + bad))
    assert wait_for(lambda: src.stats().packets == 1)
    stats = src.stats()
    assert stats.samples == len(good) and stats.bad_packets == len(bad)
    assert "out of range" in stats.last_error
    assert np.isfinite(src.read().values).all()


def test_parsers_never_raise_on_hostile_input():
    deep = parse_json_batch(b"[" * 100_000)
    assert deep.bad == 1 and "deep" in deep.last_error and not deep.sensors
    big = parse_json_batch(b'{"payload": [{"name": "accelerometer", "time": ' + b"9" * 400
                           + b', "values": {"x": 1, "y": 2, "z": 3}}]}')
    assert big.bad == 1 and not big.sensors
    huge = parse_json_batch(sensor_logger_body(0).replace(b'"payload": []', (
        b'"payload": [{"name": "accelerometer", "time": 1, "values": {"x": 1e308, "y": 0, "z": 0}},'
        b' {"name": "gyroscope", "time": 1, "values": {"x": 0, "y": 101, "z": 0}}]')))
    assert huge.bad == 2 and not huge.sensors and "out of range" in huge.last_error
    parsed, _ = parse_lines(b"1e39,0,0\n" + b"9" * 400 + b",1,1\n", 3)
    assert len(parsed) == 1 and parsed.bad == 1      # 400 nines: infinite, refused here
    assert not np.isfinite(parsed.values[0, 0])      # beyond float32: refused by the sources


# ------------------------------------------------------------------------------ HTTP

def test_half_open_http_requests_neither_starve_a_phone_nor_hold_threads(started, sockets, caplog):
    src = started(HttpSource(port=0, idle_timeout_s=1.0))
    addr = address(src)
    threads = set(threading.enumerate())
    half = []
    for i in range(30):
        s = sockets(addr)
        s.sendall(b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"payload\""
                  if i % 2 else b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Le")
        half.append(s)
    assert post(addr, sensor_logger_body(20)) == 200
    assert wait_for(lambda: src.stats().samples == 20 and src.stats().connected)
    assert not set(threading.enumerate()) - threads  # no thread per client
    for s in half[:10]:                             # these give up mid-request
        s.close()
    assert wait_for(lambda: src.stats().bad_packets == 10)
    assert "dropped mid-request" in src.stats().last_error
    # When their time is up the others are closed, each counted once, without a traceback.
    for s in half[10:]:
        try:
            assert s.recv(1) == b""
        except OSError:
            pass
    assert wait_for(lambda: src.stats().bad_packets == 30 and src.stats().evicted == 20)
    assert "not finished in time" in src.stats().last_error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_http_answers_hostile_bodies_with_400_and_keeps_serving(started, sockets, caplog):
    src = started(HttpSource(port=0))
    addr = address(src)
    assert post(addr, b"[" * 100_000) == 400
    number = b'{"payload": [{"name": "accelerometer", "time": 1, "values": {"x": %s, "y": 0, "z": 0}}]}'
    assert post(addr, number % (b"1" * 400)) == 400
    assert post(addr, number % b"1e308") == 400
    assert post(addr, b'{"payload": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}") == 400
    raw = sockets(addr)
    raw.sendall(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 100_000 + b"\r\n\r\n")
    assert raw.recv(64).startswith(b"HTTP/1.1 431")
    junk = sockets(addr)
    junk.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
    assert junk.recv(64).startswith(b"HTTP/1.1 400")
    assert post(addr, sensor_logger_body(3)) == 200
    assert wait_for(lambda: src.stats().samples == 3)
    assert src.stats().bad_packets == 6
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_http_keep_alive_and_expect_continue(started, sockets):
    src = started(HttpSource(port=0))
    conn = sockets(address(src))
    body = sensor_logger_body(2)
    for i in range(2):    # two requests on one connection, the second with Expect
        expect = b"Expect: 100-continue\r\n" if i else b""
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + expect
                     + b"Content-Length: %d\r\n\r\n" % len(body))
        if i:
            assert conn.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        reply = b""
        while not reply.endswith(b"ok\n"):
            chunk = conn.recv(4096)
            assert chunk
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 OK")
        body = sensor_logger_body(2, t0_ns=1_700_000_001_000_000_000)
    assert wait_for(lambda: src.stats().samples == 4)


# ------------------------------------------------------------------------------ UDP, warnings

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_RXQ_OVFL is Linux only")
def test_kernel_udp_drops_are_counted(started):
    src = UdpSource(port=0)
    src.RCVBUF = 4096                   # a tiny receive buffer overflows at once
    started(src)
    addr = address(src)
    payload = b"1,2,3\n" * 20
    with src._lock:                     # the reader stalls: the kernel must drop
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(300):
                s.sendto(payload, addr)
    assert wait_for(lambda: src.stats().packets >= 1)
    udp_send(addr, payload)             # the count arrives with the next datagram read
    assert wait_for(lambda: src.stats().kernel_dropped > 0)
    stats = src.stats()
    assert stats.packets + stats.kernel_dropped <= 301 and stats.kernel_dropped >= 100


def test_listening_on_every_interface_warns():
    assert listen_warning("127.0.0.1") is None
    text = listen_warning("0.0.0.0")
    assert text and "every network interface" in text and "\n" not in text
    assert UdpSource(host="0.0.0.0").stats().warning == text    # not started: binds nothing
    assert TcpSource().stats().warning is None


def test_json_output_is_always_finite(capsys):
    from har_studio import cli

    cli.print_json({"type": "prediction", "probabilities": [np.float32("nan"), 0.5],
                    "latency_ms": float("inf"), "label": "NaN"})
    text = capsys.readouterr().out
    assert json.loads(text) == {"type": "prediction", "probabilities": [None, 0.5],
                                "latency_ms": None, "label": "NaN"}
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON output"))
