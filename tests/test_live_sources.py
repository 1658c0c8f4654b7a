"""Network sources over loopback, protocol parsing, robustness, and the recorder round trip.

No sleeps: every wait polls a condition with a deadline (or waits on the source's event).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig
from har_studio.live.addresses import local_addresses, parse_address
from har_studio.live.classifier import StreamingClassifier
from har_studio.live.protocols import parse_json_batch, parse_lines
from har_studio.live.recorder import StreamRecorder
from har_studio.live.registry import make_network_source
from har_studio.live.server import HttpSource, TcpSource
from har_studio.live.session import LiveControl, run_session
from har_studio.live.source import SampleBatch
from har_studio.live.udp import UdpSource
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle
from har_studio.model.vit import TimeSeriesViT

G = 9.80665
GARBAGE = [b"garbage", b"1,2", b"nan,1,2", b"1,inf,2", b"\xff\xfe\x80,1,2", b"1,2,3,4,5"]


def tiny_bundle() -> ModelBundle:
    torch.manual_seed(0)
    cfg = ViTConfig(series=32, modal=3, classes=3, embedding_dim=16, patch_size=4, head_num=2,
                    att_size=8, depth=2, head_width=32)
    return ModelBundle(TimeSeriesViT(cfg).eval(), cfg, WindowConfig(size=32, step=8, rate_hz=20.0),
                       ["x", "y", "z"], ["walking", "sitting", "standing"], Normaliser.identity(3))


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)  # polling with a deadline, not a fixed wait
    return condition()


def address(source) -> tuple[str, int]:
    return parse_address(source.stats().address)


def udp_send(addr, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, addr)


def post(addr, body: bytes, path: str = "/data") -> int:
    req = urllib.request.Request(f"http://{addr[0]}:{addr[1]}{path}", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def sensor_logger_body(n: int, t0_ns: int = 1_700_000_000_000_000_000, extra=()) -> bytes:
    payload = []
    for i in range(n):
        t = t0_ns + i * 50_000_000
        payload.append({"name": "accelerometer", "time": t, "values": {"x": i, "y": 9.8, "z": 0.5}})
        payload.append({"name": "gyroscope", "time": t + 1, "values": {"x": 0.1, "y": 0.2, "z": i}})
    payload.extend(extra)
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": "d", "payload": payload}).encode()


# ------------------------------------------------------------------------------ parsing

def test_parse_lines_handles_separators_timestamps_and_garbage():
    data = b"1,2,3\r\n1700000000000,4,5,6#7,8,9,0.1,0.2,0.3\n" + b"\n".join(GARBAGE) + b"\n10,11"
    parsed, tail = parse_lines(data, 3, final=False)
    np.testing.assert_allclose(parsed.values, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert np.isnan(parsed.ts[0]) and parsed.ts[1] == pytest.approx(1.7e9)
    assert parsed.bad == len(GARBAGE) and parsed.last_error
    assert tail == b"10,11"
    six, _ = parse_lines(b"1,2,3,4,5,6\n1,2,3\n", 6)
    assert six.values.shape == (1, 6) and six.bad == 1


def test_parse_json_batch_counts_other_sensors_and_bad_entries():
    body = sensor_logger_body(3, extra=[{"name": "magnetometer", "time": 1, "values": {"x": 1}},
                                        {"name": "accelerometer", "time": 5}])
    batch = parse_json_batch(body)
    assert len(batch.sensors["accelerometer"]) == 3 and len(batch.sensors["gyroscope"]) == 3
    assert batch.other == 1 and batch.bad == 1
    assert parse_json_batch(b"\x00not json").bad == 1
    assert parse_json_batch(b'{"payload": 5}').bad == 1


def test_addresses():
    assert parse_address("0.0.0.0:5555") == ("0.0.0.0", 5555)
    assert parse_address(":7000") == ("127.0.0.1", 7000)
    assert parse_address("8000") == ("127.0.0.1", 8000)
    with pytest.raises(ValueError):
        parse_address("host:port")
    addrs = local_addresses()
    assert addrs and all(a.count(".") == 3 for a in addrs)


# ------------------------------------------------------------------------------ sources

def test_udp_source_counts_garbage_and_converts_g(started):
    src = started(UdpSource(port=0, units="g"))
    addr = address(src)
    assert addr[0] == "127.0.0.1" and addr[1] > 0
    udp_send(addr, b"1,0,0\n" + b"\n".join(GARBAGE) + b"\n0,1,0#0,0,1#")
    udp_send(addr, bytes(range(128, 256)))   # binary noise
    assert wait_for(lambda: src.stats().samples == 3 and src.stats().bad_packets == len(GARBAGE) + 1)
    batch = src.read()
    np.testing.assert_allclose(batch.values, np.eye(3) * G, rtol=1e-6)
    assert batch.arrival is not None and np.all(np.diff(batch.t) > 0)
    stats = src.stats()
    assert stats.connected and stats.packets == 2 and stats.last_error


def test_udp_source_measures_rate_and_drops_out_of_order(started):
    src = started(UdpSource(port=0))
    addr = address(src)
    lines = [f"{1_700_000_000_000 + 50 * i},{i},0,9.8" for i in range(40)]
    lines.insert(20, f"{1_700_000_000_000 + 50 * 10},0,0,0")   # goes back in time
    udp_send(addr, "\n".join(lines).encode())
    assert wait_for(lambda: src.stats().samples == 40)
    stats = src.stats()
    assert stats.bad_packets == 1 and "out-of-order" in stats.last_error
    assert stats.rate_hz == pytest.approx(20.0, rel=0.01)
    batch = src.read()
    np.testing.assert_allclose(np.diff(batch.t), 0.05, atol=1e-6)


def test_bounded_queue_drops_the_oldest(started):
    src = started(UdpSource(port=0, max_pending=10))
    udp_send(address(src), "\n".join(f"{i},0,0" for i in range(50)).encode())
    assert wait_for(lambda: src.stats().samples == 50)
    batch = src.read()
    assert src.stats().dropped == 40
    np.testing.assert_array_equal(batch.values[:, 0], np.arange(40, 50))


def test_tcp_source_survives_split_lines_garbage_and_reconnects(started):
    src = started(TcpSource(port=0))
    addr = address(src)
    with socket.create_connection(addr) as c:
        c.sendall(b"1,2,3\n4,5")
        c.sendall(b",6\nnot,a,number\n")
        assert wait_for(lambda: src.stats().samples == 2 and src.stats().connected)
        c.sendall(b"7,8,9")                 # no terminator: cut off when the client hangs up
    assert wait_for(lambda: src.stats().bad_packets == 2 and not src.stats().connected)
    assert src.stats().samples == 2 and "cut off" in src.stats().last_error
    with socket.create_connection(addr) as c:
        c.sendall(b"10,11,12\n" + b"\x00" * 5000 + b"\n")
        assert wait_for(lambda: src.stats().samples == 3 and src.stats().bad_packets == 3)
    batch = src.read()
    np.testing.assert_allclose(batch.values[:, 0], [1, 4, 10])
    assert batch.breaks[0] and batch.breaks[2] and not batch.breaks[1]


def test_http_source_takes_sensor_logger_batches(started):
    src = started(HttpSource(port=0, channels=("x", "y", "z", "gx", "gy", "gz")))
    addr = address(src)
    body = sensor_logger_body(5, extra=[{"name": "magnetometer", "time": 1, "values": {"x": 1, "y": 2, "z": 3}},
                                        {"name": "accelerometer", "time": "x", "values": {}}])
    assert post(addr, body) == 200
    assert post(addr, b"{not json") == 400
    assert wait_for(lambda: src.stats().samples == 5)
    stats = src.stats()
    assert stats.other_sensors == 1 and stats.bad_packets == 2
    batch = src.read()
    assert batch.values.shape == (5, 6)
    np.testing.assert_allclose(batch.values[:, 0], np.arange(5))
    np.testing.assert_allclose(batch.values[1:, 5], np.arange(1, 5), atol=1e-3)  # gyro at accel times
    np.testing.assert_allclose(np.diff(batch.t), 0.05, atol=1e-6)
    with urllib.request.urlopen(f"http://{addr[0]}:{addr[1]}/", timeout=5) as resp:
        assert resp.status == 200


def test_http_prefers_total_acceleration(started):
    src = started(HttpSource(port=0))
    t = 1_700_000_000_000_000_000
    payload = [{"name": "accelerometer", "time": t, "values": {"x": 0, "y": 0, "z": 0}},
               {"name": "totalacceleration", "time": t, "values": {"x": 0, "y": 9.8, "z": 0}}]
    assert post(address(src), json.dumps({"payload": payload}).encode()) == 200
    assert wait_for(lambda: src.stats().samples == 1)
    assert src.read().values[0, 1] == pytest.approx(9.8)
    assert src.stats().other_sensors == 1


def test_a_silent_source_stops_and_a_busy_port_is_reported():
    src = make_network_source("udp", port=0)
    src.start()
    assert not src.wait(0.01)
    stats = src.stats()
    assert stats.samples == 0 and not stats.connected and len(src.read()) == 0
    src.stop()                    # how quickly: bench/bench_responsiveness.py (stop_s)
    assert not [t for t in threading.enumerate() if t.name == f"har-{src.kind}-source"]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(OSError, match="cannot listen"):
            TcpSource(port=busy.getsockname()[1]).start()


# ------------------------------------------------------------------------------ end to end

@pytest.mark.parametrize("kind", ["udp", "tcp", "http"])
def test_stream_to_classifier_gives_predictions_and_counts_bad_packets(kind, started):
    n = 80
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(n, 3)) + [0, 9.8, 0]
    src = started(make_network_source(kind, port=0))
    addr = address(src)
    clf = StreamingClassifier(tiny_bundle(), hop=4, smoothing="mean")
    control = LiveControl()
    gen = run_session(src, clf, control, poll_s=0.01)
    next(gen)
    if kind == "http":
        body = json.loads(sensor_logger_body(0))
        body["payload"] = [{"name": "accelerometer", "time": 1_700_000_000_000_000_000 + i * 50_000_000,
                            "values": dict(zip("xyz", map(float, v), strict=True))} for i, v in enumerate(vals)]
        assert post(addr, json.dumps(body).encode()) == 200
        assert post(addr, b"\xff garbage") == 400
        expected_bad = 1
    else:
        lines = [f"{1_700_000_000_000 + 50 * i},{v[0]:.5f},{v[1]:.5f},{v[2]:.5f}" for i, v in enumerate(vals)]
        for i, g in enumerate(GARBAGE):
            lines.insert(10 * i + 5, g.decode("latin-1"))
        if kind == "udp":   # datagrams of whole lines
            for i in range(0, len(lines), 9):
                udp_send(addr, "\n".join(lines[i:i + 9]).encode("latin-1"))
        else:               # a stream cut anywhere, even mid-line
            data = "\n".join(lines).encode("latin-1") + b"\n"
            with socket.create_connection(addr) as c:
                for i in range(0, len(data), 333):
                    c.sendall(data[i:i + 333])
        expected_bad = len(GARBAGE)
    predictions = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        update = next(gen)
        predictions += update.predictions
        if update.stats.samples >= n and len(predictions) >= (n - 32) // 4:
            break
    control.stop()
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        summary = stop.value
    assert summary.samples >= n - 1
    assert len(predictions) >= (n - 32) // 4
    assert all(p.label in (*clf.labels, "uncertain") for p in predictions)
    assert abs(sum(predictions[-1].probabilities) - 1) < 1e-4
    assert summary.bad_packets == expected_bad
    assert summary.stopped_reason == "stopped"


# ------------------------------------------------------------------------------ recorder

def test_recorder_round_trip_through_load(tmp_path):
    from har_studio.data.loaders import load

    path = tmp_path / "phone_walk.txt"
    rec = StreamRecorder(path, subject=5, activity="walking", channels=("x", "y", "z"))
    rng = np.random.default_rng(1)
    vals = (rng.normal(size=(60, 3)) + [0, 9.8, 0]).astype(np.float32)
    t = 12.0 + np.arange(60) / 20.0
    rec.write(SampleBatch(t[:25], vals[:25], channels=("x", "y", "z")))
    rec.write(SampleBatch(t[25:], vals[25:]))
    assert not path.exists()              # nothing half-written
    rec.close()
    frame = load(path).frame
    assert len(frame) == 60
    assert set(frame["subject"]) == {5} and set(frame["activity"].astype(str)) == {"walking"}
    np.testing.assert_allclose(frame[["x", "y", "z"]].to_numpy(), vals, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.diff(frame["timestamp"].to_numpy()), 50_000_000, atol=2)

    dropped = StreamRecorder(tmp_path / "never.txt", 1, "sitting")
    dropped.write(SampleBatch(t[:5], vals[:5]))
    dropped.discard()
    assert not list(tmp_path.glob("*never*"))
