"""``har-studio replay`` and ``har-studio stream`` from the command line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from har_studio.cli import run_cli
from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig, make_windows
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle, load_model, save_model
from har_studio.model.vit import TimeSeriesViT

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    cfg = ViTConfig(series=32, modal=3, classes=3, embedding_dim=16, patch_size=4, head_num=2,
                    att_size=8, depth=2, head_width=32)
    bundle = ModelBundle(TimeSeriesViT(cfg).eval(), cfg, WindowConfig(size=32, step=8, rate_hz=20.0),
                         ["x", "y", "z"], ["walking", "sitting", "standing"],
                         Normaliser(np.array([0, 5, 0], np.float32), np.array([3, 3, 3], np.float32)))
    return save_model(tmp_path_factory.mktemp("model") / "tiny.harmodel", bundle)


@pytest.fixture(scope="module")
def recording_file(tmp_path_factory) -> Path:
    """WISDM v1.1 raw text: two subjects, three activities, a gap inside one run."""
    rng = np.random.default_rng(5)
    lines = []
    for subject in (4, 9):
        t0 = 10**12 * subject
        for activity, n in (("Walking", 80), ("Sitting", 70), ("Standing", 60)):
            ts = t0 + np.arange(n, dtype=np.int64) * 50_000_000
            if activity == "Sitting":
                ts[35:] += 3_000_000_000
            base = {"Walking": 0.0, "Sitting": 4.0, "Standing": -4.0}[activity]
            x = rng.normal(size=n) + base
            y = rng.normal(size=n) + 9.0
            z = np.cos(np.arange(n) / 4.0)
            lines += [f"{subject},{activity},{t},{a:.4f},{b:.4f},{c:.4f};"
                      for t, a, b, c in zip(ts, x, y, z, strict=True)]
            t0 = int(ts[-1]) + 10_000_000_000
    path = tmp_path_factory.mktemp("data") / "rec.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_replay_json_lines_match_offline_prediction(model_file, recording_file, capsys):
    from har_studio.data.loaders import load

    rc = run_cli(["replay", "--model", str(model_file), "--data", str(recording_file), "--json",
                  "--threshold", "0"])
    out = json_lines(capsys.readouterr().out)
    assert rc == 0
    preds, summary = out[:-1], out[-1]
    assert summary["type"] == "summary" and all(p["type"] == "prediction" for p in preds)

    bundle = load_model(model_file)
    windows = make_windows(load(recording_file).frame, bundle.window, labels=bundle.labels)
    expected = bundle.predict(windows.X)
    assert len(preds) == len(windows) == summary["windows"]
    assert [p["predicted"] for p in preds] == [bundle.labels[i] for i in expected]
    assert [p["truth"] for p in preds] == [bundle.labels[i] for i in windows.y]
    assert summary["accuracy"] == pytest.approx(float(np.mean(expected == windows.y)), abs=1e-6)
    assert summary["latency_ms_p99"] >= summary["latency_ms_p50"] >= 0
    first = preds[0]
    assert set(first["probabilities"]) == set(bundle.labels)
    assert sum(first["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert first["t"] == pytest.approx((bundle.window.size - 1) / bundle.window.rate_hz, abs=1e-3)


def test_replay_one_subject_and_activity_with_a_hop(model_file, recording_file, capsys):
    rc = run_cli(["replay", "--model", str(model_file), "--data", str(recording_file), "--json",
                  "--subject", "9", "--activity", "walking", "--hop", "3", "--smoothing", "mean"])
    out = json_lines(capsys.readouterr().out)
    assert rc == 0
    assert out[-1]["windows"] == (80 - 32) // 3 + 1 == len(out) - 1
    assert {p["truth"] for p in out[:-1]} == {"walking"}


@pytest.mark.parametrize("args, needle", [
    (["--model", "MISSING.harmodel"], "MISSING.harmodel"),
    (["--speed", "fast"], "speed"),
    (["--subject", "12345"], "subject 12345"),
    (["--hop", "0"], "hop"),
])
def test_replay_bad_input_is_one_line(model_file, recording_file, capsys, args, needle):
    base = {"--model": str(model_file), "--data": str(recording_file)}
    extra = []
    for i in range(0, len(args), 2):
        if args[i] in base:
            base[args[i]] = args[i + 1]
        else:
            extra += args[i:i + 2]
    argv = ["replay", *[x for kv in base.items() for x in kv], *extra]
    rc = run_cli(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and needle in err


def test_replay_of_a_garbage_model_file_fails_cleanly(tmp_path, recording_file, capsys):
    bad = tmp_path / "bad.harmodel"
    bad.write_bytes(os.urandom(300))
    assert run_cli(["replay", "--model", str(bad), "--data", str(recording_file)]) == 1
    err = capsys.readouterr().err.strip()
    assert "bad.harmodel" in err and len(err.splitlines()) == 1


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def udp_sender(port: int, lines, pause_s: float = 0.01):
    """A thread sending datagrams to 127.0.0.1:`port` while the block runs: each holds
    ``lines(i)`` (i: samples sent so far, 10 a datagram), then waits `pause_s`."""
    stop = threading.Event()

    def send():
        i = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                s.sendto("\n".join(lines(i)).encode(), ("127.0.0.1", port))
                i += 10
                stop.wait(pause_s)   # pace the sender thread

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@pytest.fixture
def ends_when(monkeypatch):
    """``ends_when(condition)``: the `stream` command's session ends as ``--duration`` ends it,
    but once ``condition(source, classifier)`` holds rather than after that much real time
    (the session's clock stands still until then; after a minute without it, the session ends
    and the test's assertions say what was missing). It ends at the clock reading after the
    one that saw the condition, so the session has read what the source had received by then
    (a source can count samples its session has not read yet). Timing belongs to the
    benches."""
    from har_studio.live import session

    real = session.run_session

    def install(condition) -> None:
        def run(source, classifier, control=None, *args, duration_s=None, **kw):
            deadline = time.monotonic() + 60.0
            calls, seen = [], []

            def clock() -> float:
                calls.append(None)
                if seen or time.monotonic() > deadline:
                    return float(duration_s)
                if len(calls) > 1 and condition(source, classifier):
                    seen.append(True)
                return 0.0

            return real(source, classifier, control, *args, duration_s=duration_s, clock=clock,
                        **kw)

        monkeypatch.setattr(session, "run_session", run)

    return install


def test_stream_cli_with_duration_over_udp(model_file, capsys, ends_when):
    port = free_udp_port()

    def lines(i):
        out = [f"{1_700_000_000_000 + 50 * (i + k)},{k % 3},9.8,0.1" for k in range(10)]
        return [*out, "not,a,number"] if i % 100 == 0 else out

    ends_when(lambda source, classifier: source.stats().samples > 32
              and source.stats().bad_packets >= 1 and classifier.windows > 0)
    with udp_sender(port, lines, pause_s=0.003):
        rc = run_cli(["stream", "--model", str(model_file), "--udp", f"127.0.0.1:{port}", "--json",
                      "--duration", "1.0", "--hop", "4"])
    captured = capsys.readouterr()
    out = json_lines(captured.out)
    assert rc == 0
    assert f"127.0.0.1:{port}" in captured.err
    summary = out[-1]
    assert summary["type"] == "summary" and summary["stopped_reason"] == "duration"
    assert summary["samples"] > 32 and summary["bad_packets"] >= 1
    assert summary["predictions"] == len(out) - 1 > 0


def test_stream_cli_bad_address_and_busy_port(model_file, capsys):
    assert run_cli(["stream", "--model", str(model_file), "--udp", "nowhere"]) == 1
    assert "nowhere" in capsys.readouterr().err
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        assert run_cli(["stream", "--model", str(model_file), "--udp", f"127.0.0.1:{port}"]) == 1
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_stream_cli_prints_a_summary_on_sigterm(model_file, tmp_path):
    record = tmp_path / "rec.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "har_studio", "stream", "--model", str(model_file), "--tcp",
         "127.0.0.1:0", "--json", "--hop", "8", "--record", str(record), "--activity", "walking"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        line = proc.stderr.readline()
        assert "listening for TCP on 127.0.0.1:" in line
        port = int(line.split("127.0.0.1:")[1].split()[0])
        n = 100
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall("".join(f"{1_700_000_000_000 + 50 * i},{i % 5},9.8,0\n" for i in range(n)).encode())
            c.sendall(b"garbage\n")
            first = json.loads(proc.stdout.readline())   # a prediction: the stream is flowing
        assert first["type"] == "prediction"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json_lines(out)[-1]
    assert summary["type"] == "summary" and summary["stopped_reason"] == "stopped"
    assert summary["samples"] >= 32 and summary["predictions"] >= 1
    frame = pd.read_csv(record, header=None, lineterminator="\n")
    assert len(frame) == summary["samples"]


# ------------------------------------------------- phones that are servers, and their axes

def _phone_run(argv, capsys):
    rc = run_cli(argv)
    captured = capsys.readouterr()
    return rc, json_lines(captured.out), captured.err


def test_stream_cli_reads_sensorserver(model_file, capsys, ends_when):
    from test_phone_apps import FakeSensorServer, sensorserver_json, server_frame

    def script(conn, path):   # Android events, 50 Hz of sender time, flat on a table
        for i in range(150):
            message = sensorserver_json((0.1 * (i % 7), 0.2, 9.81), 5_000_000_000 + i * 20_000_000)
            conn.sendall(server_frame(0x1, message.encode()))
        conn.recv(1)

    ends_when(lambda source, classifier: source.stats().samples >= 150 and classifier.windows)
    server = FakeSensorServer(script)
    try:
        rc, out, err = _phone_run(["stream", "--model", str(model_file), "--sensorserver",
                                   f"127.0.0.1:{server.port}", "--json", "--duration", "1.0"],
                                  capsys)
    finally:
        server.close()
    assert rc == 0, err
    assert f"SensorServer on ws://127.0.0.1:{server.port}/sensor/connect" in err
    assert out[-1]["type"] == "summary" and out[-1]["samples"] == 150
    assert out[-1]["predictions"] == len(out) - 1 > 0
    assert server.paths == ["/sensor/connect?type=android.sensor.accelerometer"]


def test_stream_cli_reads_phyphox(model_file, capsys, ends_when):
    from test_phone_apps import FakePhyphox

    phone = FakePhyphox()
    phone.add(0.0, 0.0, 0.0, 9.81)
    stop = threading.Event()

    def experiment():   # new values once the command has asked where the experiment is
        while not stop.is_set() and not phone.queries:
            stop.wait(0.01)
        for i in range(1, 101):
            phone.add(i / 50, 0.1 * (i % 5), 0.3, 9.81)

    ends_when(lambda source, classifier: source.stats().samples >= 100 and classifier.windows)
    thread = threading.Thread(target=experiment, daemon=True)
    thread.start()
    try:   # a URL as phyphox shows it works as the address
        rc, out, err = _phone_run(["stream", "--model", str(model_file), "--phyphox",
                                   f"http://127.0.0.1:{phone.port}", "--json", "--duration",
                                   "1.0"], capsys)
    finally:
        stop.set()
        thread.join(5)
        phone.close()
    assert rc == 0, err
    assert f"phyphox on http://127.0.0.1:{phone.port}/get" in err
    assert out[-1]["samples"] == 100 and out[-1]["predictions"] > 0


@pytest.mark.parametrize("option, address, needle", [
    ("--sensorserver", "", "not a phone address"),
    ("--sensorserver", "0.0.0.0:8080", "not a phone address"),
    ("--phyphox", "phone:http", "not a PHONE:PORT address"),
    ("--phyphox", "192.168.1.20:70000", "port out of range"),
    ("--phyphox", "http://[::1", "not a phone address"),
    ("--sensorserver", "8080", "not a phone address"),
])
def test_stream_cli_bad_phone_address_is_one_line(model_file, capsys, option, address, needle):
    rc = run_cli(["stream", "--model", str(model_file), option, address])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and needle in err and option in err


@pytest.mark.parametrize("option, scheme", [("--sensorserver", "ws"), ("--phyphox", "http")])
def test_stream_cli_unreachable_phone_is_one_line(model_file, capsys, option, scheme):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: no phone there
    rc = run_cli(["stream", "--model", str(model_file), option, f"127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert f"cannot read the phone at {scheme}://127.0.0.1:{port}" in err


def test_stream_cli_phone_iphone_records_android_axes(model_file, tmp_path, capsys, ends_when):
    """--phone iphone: an iOS app's lines (Core Motion: g, flat screen up is z = -1) reach the
    model, and the recording, as Android's m/s^2: z = +9.81."""
    from har_studio.data.loaders import load

    port = free_udp_port()
    out_file = tmp_path / "ios.txt"
    ends_when(lambda source, classifier: classifier.windows > 0)
    with udp_sender(port, lambda i: [f"{1_700_000_000_000 + 50 * (i + k)},0.0,0.0,-1.0"
                                     for k in range(10)]):
        rc = run_cli(["stream", "--model", str(model_file), "--udp", f"127.0.0.1:{port}",
                      "--units", "g", "--phone", "iphone", "--duration", "1.0",
                      "--record", str(out_file), "--activity", "sitting"])
    assert rc == 0, capsys.readouterr().err
    z = load(out_file).frame["z"].to_numpy()
    assert len(z) > 5 and np.allclose(z, 9.80665, atol=0.01)
