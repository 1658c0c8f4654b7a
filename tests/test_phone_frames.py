"""Units and axes per phone app: every sender below reproduces what the app puts on the wire
(Android and iPhone), and the samples handed to the model must be in Android's convention,
m/s^2 with gravity: a phone lying flat screen up gives z ~ +9.81 whoever sent it.

Sensor Logger's payload and units follow its documentation (awesome-sensor-logger UNITS.md
and CROSSPLATFORM.md): ``accelerometer`` without gravity and ``gravity`` in m/s^2, iOS signs
opposite to Android unless "Standardise Units & Frames" is on, ``totalacceleration`` from
Android only, ``accelerometeruncalibrated`` in g on iOS.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_live_sources import address, post, udp_send, wait_for
from test_phone_apps import FakePhyphox, FakeSensorServer, sensorserver_json, server_frame

from har_studio.live.frames import sensor_logger_frame
from har_studio.live.protocols import parse_json_batch
from har_studio.live.registry import make_network_source
from har_studio.live.server import HttpSource

G = 9.80665


T0 = 1_732_780_000_000_000_000       # ns since the epoch, as Sensor Logger's "time"


def entry(name: str, i: int, xyz) -> dict:
    x, y, z = (float(v) for v in xyz)
    return {"name": name, "time": T0 + i * 20_000_000, "values": {"x": x, "y": y, "z": z}}


def push(entries: list[dict], message_id: int = 0) -> bytes:
    """One Sensor Logger HTTP push body."""
    return json.dumps({"messageId": message_id, "sessionId": "8a3f3c8e-1d1b-4a55-9d37-0c1c2e1d2f10",
                       "deviceId": "ad7e4997-ac64-4072-94f4-ebfbf84118ca",
                       "payload": entries}).encode()


# A phone lying flat, screen up, pushed to the right (+x) with 2 m/s^2, in Android's terms.
USER = np.array([2.0, 0.0, 0.0])
GRAVITY = np.array([0.0, 0.0, G])
EXPECTED = USER + GRAVITY


def android_push(n: int = 10) -> bytes:
    rows = []
    for i in range(n):
        rows += [entry("accelerometer", i, USER), entry("gravity", i, GRAVITY),
                 entry("totalacceleration", i, EXPECTED), entry("gyroscope", i, (0.1, 0, 0)),
                 entry("accelerometeruncalibrated", i, EXPECTED + 0.05)]
    rows.append({"name": "orientation", "time": T0, "values": {"qz": 0, "qy": 0, "qx": 0,
                 "qw": 1, "roll": 0, "pitch": 0, "yaw": 0}})
    return push(rows)


def iphone_push(n: int = 10, *, uncalibrated: bool = True, in_g: bool = False,
                standardised: bool = False, start: int = 0) -> bytes:
    """iOS with default settings: every accelerometer axis negated; the raw one in g."""
    sign = 1.0 if standardised else -1.0
    unit = 1.0 / G if in_g else 1.0
    rows = []
    for i in range(start, start + n):
        rows += [entry("accelerometer", i, sign * USER * unit),
                 entry("gravity", i, sign * GRAVITY * unit),
                 entry("gyroscope", i, (0.1, 0, 0))]
        if uncalibrated:
            raw = sign * EXPECTED if standardised else sign * EXPECTED / G
            rows.append(entry("accelerometeruncalibrated", i, raw))
    return push(rows)


def received(src, body: bytes, n: int = 10) -> np.ndarray:
    assert post(address(src), body) == 200
    assert wait_for(lambda: src.stats().samples >= n)
    return src.read().values


@pytest.mark.parametrize("body, phone, note", [
    (android_push(), "auto", "Android (it sends total"),
    (iphone_push(), "auto", "iPhone (its raw accelerometer is in g"),
    (iphone_push(uncalibrated=False), "auto", "iPhone (acceleration and gravity"),
    (iphone_push(uncalibrated=False, in_g=True), "auto", "iPhone"),
    (iphone_push(standardised=True), "auto", "Android's frame"),
    (iphone_push(uncalibrated=False, standardised=True), "android", "Android (chosen)"),
    (iphone_push(uncalibrated=False), "iphone", "iPhone (chosen"),
])
def test_sensor_logger_android_and_iphone_give_android_m_s2_with_gravity(started, body, phone,
                                                                           note):
    src = started(HttpSource(port=0, phone=phone))
    values = received(src, body)
    np.testing.assert_allclose(values, np.tile(EXPECTED, (10, 1)), atol=1e-4)
    assert values[:, 2].min() > 9.7                 # flat, screen up: z ~ +9.81
    assert src.stats().phone.startswith(note)


def test_the_platform_is_told_once_and_kept(started):
    src = started(HttpSource(port=0))
    # An iPhone with "Standardise Units & Frames" on: the raw accelerometer in m/s^2 says so.
    first = received(src, iphone_push(standardised=True))
    # A later batch without it would, alone, read as an iPhone's default frame: not re-told.
    second = received(src, iphone_push(uncalibrated=False, standardised=True, start=10), 10)
    np.testing.assert_allclose(np.vstack([first, second]), np.tile(EXPECTED, (20, 1)), atol=1e-4)


def test_six_channels_keep_the_gyroscope_sign_on_an_iphone(started):
    src = started(HttpSource(port=0, channels=("x", "y", "z", "gx", "gy", "gz")))
    values = received(src, iphone_push(), 10)
    np.testing.assert_allclose(values[:, :3], np.tile(EXPECTED, (10, 1)), atol=1e-4)
    np.testing.assert_allclose(values[:, 3], 0.1, atol=1e-6)   # same sign on both platforms


def test_acceleration_without_gravity_is_reported(started):
    src = started(HttpSource(port=0))
    received(src, push([entry("accelerometer", i, -USER) for i in range(5)]), 5)
    assert "without gravity" in src.stats().phone


def test_frame_rules_without_a_network():
    def frame(body):
        return sensor_logger_frame(parse_json_batch(body).sensors)
    assert frame(push([])) is None                                  # "Tap to Test Pushing"
    assert frame(android_push()).sign == 1.0
    ios = frame(iphone_push(uncalibrated=False, in_g=True))
    assert ios.sign == -1.0 and ios.scale == pytest.approx(G)
    with pytest.raises(ValueError, match="phone must be one of"):
        HttpSource(port=0, phone="nokia")


@pytest.mark.parametrize("phone, units, line, expected", [
    ("auto", "ms2", "0.0,0.0,9.81", (0, 0, 9.81)),        # HyperIMU (Android), m/s^2
    ("android", "g", "0.0,0.0,1.0", (0, 0, G)),           # HyperIMU set to g
    ("iphone", "g", "0.0,0.0,-1.0", (0, 0, G)),           # an iOS app: Core Motion's g and sign
])
def test_lines_from_android_and_ios_apps(started, phone, units, line, expected):
    src = started(make_network_source("udp", port=0, units=units, phone=phone))
    udp_send(address(src), (line + "\n").encode())
    assert wait_for(lambda: src.stats().samples == 1)
    np.testing.assert_allclose(src.read().values[0], expected, rtol=1e-5)


def test_sensorserver_and_phyphox_need_no_conversion(started):
    stoppers = []
    try:
        def script(conn, path):
            for i in range(5):   # Android's onSensorChanged: flat, screen up
                conn.sendall(server_frame(0x1, sensorserver_json((0.0, 0.0, 9.80665),
                                                                 10_000_000_000 + i * 20_000_000).encode()))
            conn.recv(1)
        server = FakeSensorServer(script)
        stoppers.append(server)
        # phone="iphone" is ignored: these apps send Android's convention whatever the phone
        src = started(make_network_source("sensorserver", "127.0.0.1", server.port, phone="iphone"))
        assert wait_for(lambda: src.stats().samples == 5)
        assert src.read().values[:, 2].min() > 9.7 and "Android" in src.stats().phone
        # phyphox on an iPhone: its iOS app multiplies Core Motion's g by -9.81 before the
        # buffers, so flat screen up is +9.81 in accZ there too.
        phone = FakePhyphox()
        stoppers.append(phone)
        phone.add(0.0, 0.0, 0.0, 9.81)
        src = started(make_network_source("phyphox", "127.0.0.1", phone.port, poll_s=0.01))
        assert wait_for(lambda: len(phone.queries) >= 2)
        for i in range(1, 6):
            phone.add(i / 100, 0.0, 0.0, 9.81)
        assert wait_for(lambda: src.stats().samples == 5)
        assert src.read().values[:, 2].min() > 9.7 and "phyphox" in src.stats().phone
    finally:
        for item in stoppers:
            item.close()
