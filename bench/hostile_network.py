"""Hostile network clients against the live sources (issue 9): prints a JSON list of cases.

Each case runs in its own Python process on 127.0.0.1 (server and attackers together) and
reports one line; the parent measures its peak memory (``wait4``) and wall time:

* ``phone_vs_idle_tcp_and_half_open_http``: 200 idle TCP clients and 300 half-sent HTTP
  requests stay connected while a good phone streams 200 lines over TCP and posts 5 Sensor
  Logger batches over HTTP: every sample must arrive, with no thread per client.
* ``udp_flood``: 50,000 datagrams as fast as one sender can: what the kernel dropped must be
  counted (``kernel_dropped``), and memory stays bounded.
* ``tcp_garbage`` / ``tcp_huge_line`` / ``tcp_cut_line``: 20 MB of binary noise, a 5 MB line
  without an end, a line cut off by a disconnect: counted as bad, nothing accepted.
* ``udp_out_of_range`` / ``http_out_of_range``: 3e38 and 1e308 counted as bad.
* ``http_deep_json`` / ``http_400_digits`` / ``http_no_length`` / ``http_huge_length`` /
  ``http_huge_headers``: answered 400/411/413/431, no traceback.
* ``sensorserver_huge_frame`` / ``phyphox_huge_reply``: a hostile "phone" announcing a 1 TB
  WebSocket message or answering 20 MB: refused, memory bounded.
* ``json_output_nan``: the CLI's JSON output writes NaN as null.

``run_cases()`` returns the list (``bench/bench_hostile.py`` appends it to its own table);
``python bench/hostile_network.py`` prints it. A case is ok when its check passed, in under
5 s and 1 GB. The file-descriptor soft limit is raised to the hard limit in each case.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_SECONDS = 5.0
MAX_MB = 1024.0
IDLE_TCP = 200
HALF_OPEN_HTTP = 300


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


def _addr(source) -> tuple[str, int]:
    host, port = source.stats().address.rsplit(":", 1)
    return host, int(port)


def _http(addr, body: bytes, headers: bytes | None = None, timeout: float = 5.0) -> int:
    """Status code of one raw HTTP POST (0 when no answer)."""
    if headers is None:
        headers = b"Content-Length: %d\r\n" % len(body)
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(b"POST /data HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n" + headers
                  + b"\r\n" + body)
        reply = s.recv(64)
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def _logger_body(n: int, t0_ns: int, values=(0.5, 9.8, 0.1)) -> bytes:
    payload = [{"name": "accelerometer", "time": t0_ns + i * 50_000_000,
                "values": dict(zip("xyz", values, strict=True))} for i in range(n)]
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": "d", "payload": payload}).encode()


def _lines(n: int, t0_ms: int = 1_700_000_000_000) -> bytes:
    return "".join(f"{t0_ms + 50 * i},0.5,9.8,0.1\n" for i in range(n)).encode()


# ------------------------------------------------------------------------------ cases
# Each returns (ok, one-line message); it runs in a fresh process.

def case_phone_vs_idle_tcp_and_half_open_http():
    from har_studio.live.server import HttpSource, TcpSource

    tcp, http = TcpSource(port=0), HttpSource(port=0)
    tcp.start()
    http.start()
    held = []
    try:
        threads = threading.active_count()
        for _ in range(IDLE_TCP):
            held.append(socket.create_connection(_addr(tcp), timeout=5))
        for i in range(HALF_OPEN_HTTP):
            s = socket.create_connection(_addr(http), timeout=5)
            s.sendall(b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n{\"pay"
                      if i % 2 else b"POST /data HTTP/1.1\r\nHost: x\r\nContent-")
            held.append(s)
        began = time.monotonic()
        with socket.create_connection(_addr(tcp), timeout=5) as phone:
            phone.sendall(_lines(200))
            tcp_ok = _wait_for(lambda: tcp.stats().samples == 200, 5)
        codes = [_http(_addr(http), _logger_body(20, 1_700_000_000_000_000_000 + k * 10**9))
                 for k in range(5)]
        http_ok = _wait_for(lambda: http.stats().samples == 100, 5)
        served_s = time.monotonic() - began
        extra_threads = threading.active_count() - threads
        t, h = tcp.stats(), http.stats()
        ok = tcp_ok and http_ok and codes == [200] * 5 and extra_threads == 0 and t.bad_packets == 0
        return ok, (f"good phone served in {served_s:.2f} s with {IDLE_TCP} idle TCP and "
                    f"{HALF_OPEN_HTTP} half-open HTTP clients connected: TCP {t.samples}/200 "
                    f"samples, HTTP {h.samples}/100 samples (answers {sorted(set(codes))}), "
                    f"{extra_threads} extra threads, evicted {t.evicted}+{h.evicted}")
    finally:
        for s in held:
            s.close()
        tcp.stop()
        http.stop()


def case_udp_flood(count: int = 50_000):
    from har_studio.live.udp import UdpSource

    src = UdpSource(port=0)
    src.start()
    try:
        payload = b"1700000000000,0.5,9.8,0.1\n" * 4
        addr = _addr(src)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(count):
                s.sendto(payload, addr)
            # Linux reports drops with the next datagram read: once the flood is read, one more.
            _quiet(src)
            s.sendto(payload, addr)
            _wait_for(lambda: src.stats().packets + src.stats().kernel_dropped >= count + 1, 2)
        total = count + 1
        st = src.stats()
        accounted = st.packets + st.kernel_dropped
        ok = (st.kernel_dropped > 0 or st.packets == total) and accounted >= 0.99 * total
        return ok, (f"UDP flood of {total} datagrams: {st.packets} read, {st.kernel_dropped} "
                    f"dropped by the kernel and counted ({100 * st.kernel_dropped / total:.0f} %), "
                    f"{accounted} of {total} accounted for, {st.dropped} samples dropped from "
                    f"the reader's queue")
    finally:
        src.stop()


def _quiet(src, settle: float = 0.1, timeout: float = 3.0) -> None:
    """Return once the source has read nothing new for `settle` seconds (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = src.stats().packets
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            return
        src.read()
        src.wait(0.01)


def _tcp_case(payload: bytes, expect_samples: int, min_bad: int, what: str, close: bool = True):
    from har_studio.live.server import TcpSource

    src = TcpSource(port=0)
    src.start()
    try:
        with socket.create_connection(_addr(src), timeout=5) as s:
            s.sendall(payload)
        _wait_for(lambda: src.stats().bad_packets >= min_bad and not src.stats().connected, 5)
        st = src.stats()
        ok = st.samples == expect_samples and st.bad_packets >= min_bad
        return ok, f"{what}: {st.samples} samples, {st.bad_packets} bad ({st.last_error})"
    finally:
        src.stop()


def case_tcp_garbage():
    noise = bytes(range(256)) * (20 * 4096)      # 20 MB of binary noise
    return _tcp_case(noise + b"\n" + _lines(5), 5, 1, "20 MB of binary noise then 5 good lines")


def case_tcp_huge_line():
    return _tcp_case(b"1," * (5 << 19) + b"\n", 0, 1, "a 5 MB line")


def case_tcp_cut_line():
    return _tcp_case(b"1700050010000,0.25,9.", 0, 1, "a line cut off by a disconnect")


def case_udp_out_of_range():
    from har_studio.live.udp import UdpSource

    src = UdpSource(port=0, units="g")
    src.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"3e38,0,0\n1e308,1,1\n0,0,-200\ninf,0,0\n0,1,0\n", _addr(src))
        _wait_for(lambda: src.stats().packets == 1, 5)
        st = src.stats()
        ok = st.samples == 1 and st.bad_packets == 4
        return ok, f"values no phone reports over UDP: {st.samples} sample kept, {st.bad_packets} bad ({st.last_error})"
    finally:
        src.stop()


def _http_case(body: bytes, expect: int, what: str, headers: bytes | None = None):
    from har_studio.live.server import HttpSource

    src = HttpSource(port=0)
    src.start()
    try:
        code = _http(_addr(src), body, headers)
        good = _http(_addr(src), _logger_body(3, 1_700_000_000_000_000_000))
        _wait_for(lambda: src.stats().samples == 3, 5)
        st = src.stats()
        ok = code == expect and good == 200 and st.samples == 3 and st.bad_packets >= 1
        return ok, f"{what}: answered {code}, then a good batch {good} ({st.last_error})"
    finally:
        src.stop()


def case_http_deep_json():
    return _http_case(b"[" * 100_000 + b"]" * 100_000, 400, "JSON nested 100,000 deep")


def case_http_400_digits():
    body = _logger_body(1, 1).replace(b"0.5", b"9" * 400)
    return _http_case(body, 400, "a 400-digit number")


def case_http_out_of_range():
    return _http_case(_logger_body(3, 1, values=(1e308, 0.0, 0.0)), 400, "values of 1e308")


def case_http_no_length():
    return _http_case(b"{}", 411, "a POST without Content-Length", headers=b"")


def case_http_huge_length():
    return _http_case(b"", 413, "Content-Length of 10 GB", headers=b"Content-Length: 10000000000\r\n")


def case_http_huge_headers():
    return _http_case(b"{}", 431, "100 KB of headers", headers=b"X: " + b"a" * 100_000 + b"\r\n")


def _fake_phone(reply: bytes):
    """A listening socket that answers every connection with `reply` after reading the request
    head (a hostile phone for the client sources)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    key = next((ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
                                if ln.lower().startswith(b"sec-websocket-key")), b"")
                    accept = base64.b64encode(hashlib.sha1(
                        key + b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65").digest())
                    conn.sendall(reply.replace(b"ACCEPT", accept))
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return server


def case_sensorserver_huge_frame():
    from har_studio.live.apps import SensorServerSource

    hello = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ACCEPT\r\n\r\n"
    frame = bytes([0x81, 127]) + (1 << 40).to_bytes(8, "big")   # announces a 1 TB message
    phone = _fake_phone(hello + frame + b"x" * 65536)
    src = SensorServerSource("127.0.0.1", phone.getsockname()[1], retry_s=0.05)
    src.start()
    try:
        _wait_for(lambda: src.stats().last_error is not None, 5)
        st = src.stats()
        ok = st.samples == 0 and st.last_error is not None and "over" in st.last_error
        return ok, f"a WebSocket frame announcing 1 TB: refused ({st.last_error}), {st.samples} samples"
    finally:
        src.stop()
        phone.close()


def case_phyphox_huge_reply():
    from har_studio.live.apps import PhyphoxSource

    body = b'{"buffer":{"acc_time":{"buffer":[' + b"1E0," * (5 << 20) + b"1E0]}}}"
    phone = _fake_phone(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + body)
    src = PhyphoxSource("127.0.0.1", phone.getsockname()[1], retry_s=0.05)
    src.start()
    try:
        _wait_for(lambda: src.stats().last_error is not None, 5)
        st = src.stats()
        ok = st.samples == 0 and st.last_error is not None and "MiB" in st.last_error
        return ok, f"a 20 MB phyphox answer: refused ({st.last_error}), {st.samples} samples"
    finally:
        src.stop()
        phone.close()


def case_json_output_nan():
    import contextlib
    import io

    from har_studio import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.print_json({"probabilities": [float("nan"), 0.5], "latency_ms": float("inf")})
    text = out.getvalue()
    try:
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        ok = True
    except ValueError:
        ok = False
    return ok, f"--json prediction with NaN printed as {text.strip()}"


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def _run_one(name: str) -> int:
    _raise_fd_limit()
    import har_studio.cli  # noqa: F401 - start-up, not part of the case's time
    import har_studio.live.registry  # noqa: F401 - every transport

    began = time.monotonic()
    try:
        ok, message = CASES[name]()
    except Exception as exc:   # a failure of the source shows as a failed case, not a crash
        ok, message = False, f"{type(exc).__name__}: {exc}"
    sys.stdout.write(json.dumps({"ok": bool(ok), "message": " ".join(str(message).split()),
                                 "seconds": round(time.monotonic() - began, 3)}) + "\n")
    return 0 if ok else 1


def run_cases(names: list[str] | None = None, timeout: float = 60.0) -> list[dict]:
    """Each case in its own process: name, exit_code (None if it had to be killed), one-line
    message, peak_mb (that process's peak RSS), seconds (the case itself, without start-up)
    and ok (passed, under 5 s and 1 GB)."""
    results = []
    for name in names or list(CASES):
        began = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--case", name],
                                    stdout=out, stderr=err, cwd=ROOT)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            _, status, usage = os.wait4(proc.pid, 0)   # this child's own peak memory
            timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        killed = proc.returncode < 0
        try:
            report = json.loads(stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            report = {"ok": False, "message": tail, "seconds": time.monotonic() - began}
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024   # ru_maxrss: bytes / KiB
        peak_mb = round(usage.ru_maxrss / scale, 1)
        seconds = float(report.get("seconds", time.monotonic() - began))
        results.append({
            "name": f"network/{name}", "exit_code": None if killed else proc.returncode,
            "message": report["message"], "peak_mb": peak_mb, "seconds": round(seconds, 3),
            "ok": bool(report["ok"]) and not killed and seconds < MAX_SECONDS and peak_mb < MAX_MB,
        })
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--case":
        return _run_one(argv[1])
    results = run_cases(argv or None)
    print(json.dumps(results, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
