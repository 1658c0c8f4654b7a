"""How quickly things that must feel instant happen: the timings the unit tests used to assert.

The unit tests check what happens (a source stops and leaves no thread, a hostile file is
refused in one line); how long it takes depends on the machine and its load, so it is measured
here, against the targets the tests used to hold (with slack for a loaded 2-core box):

- ``demo_dataset_s``: the default demo data (36 people-activities x 60 s), target < 0.5 s idle
  (the test allowed 2 s).
- ``load_20mb_one_line_s``: a 20 MB WISDM v1.1 file of ~350,000 records on one line, and
  ``load_bad_file_s``: the slowest refusal of ``tests/wisdm_files.BAD_KINDS``; target < 8 s.
- ``model_size_estimate_ms``: the Train tab's parameter and multiply-add count of the reference
  model (``ui.train.form_helpers.size_estimate``, on the GUI thread at every form edit), target
  < 16 ms (one frame; the test allowed 200 ms for the whole update).
- ``stop_s``: ``stop()`` of a silent UDP source, of a TCP source with 20 idle clients still
  connected, and of a SensorServer source waiting 5 s to retry an absent phone; target < 1 s
  (TCP with clients: < 2 s).

Prints one JSON object: every figure is the median of ``--repeats`` runs, with its target.

    .venv/bin/python bench/bench_responsiveness.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))   # the hostile-file writers the tests use
os.environ.setdefault("HAR_STUDIO_HOME", tempfile.mkdtemp(prefix="har_bench_resp_"))

from hostile_network import _wait_for  # noqa: E402 - the same wait as the hostile-network bench


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _median(fn, repeats: int) -> float:
    return round(statistics.median(_seconds(fn) for _ in range(repeats)), 4)


def loading(repeats: int, folder: Path) -> dict:
    import wisdm_files as W

    from har_studio.data.dataset import DataError
    from har_studio.data.demo import demo_dataset
    from har_studio.data.loaders import load

    long_line = folder / "oneline.txt"
    W.write_long_line_v11(long_line)
    bad = [W.write_bad_file(folder / f"bad_{kind}.csv", kind) for kind in W.BAD_KINDS]

    def refuse(path: Path) -> None:
        try:
            load(path)
        except DataError:
            return
        raise SystemExit(f"{path} was not refused")

    from har_studio.model.config import ViTConfig
    from har_studio.ui.train.form_helpers import size_estimate

    size_estimate(ViTConfig())   # imports torch's meta device once
    return {
        "model_size_estimate_ms": {
            "median": round(1000 * _median(lambda: size_estimate(ViTConfig()), repeats), 2),
            "target": 16.0},
        "demo_dataset_s": {"median": _median(demo_dataset, repeats), "target": 0.5},
        "load_20mb_one_line_s": {"median": _median(lambda: load(long_line), repeats),
                                 "target": 8.0},
        "load_bad_file_s": {"median": max(_median(lambda p=p: refuse(p), repeats)
                                          for p in bad), "target": 8.0},
    }


def _stop_udp() -> float:
    from har_studio.live import make_network_source

    src = make_network_source("udp", port=0)
    src.start()
    src.wait(0.01)
    return _seconds(src.stop)


def _stop_tcp_with_clients() -> float:
    from har_studio.live import TcpSource, parse_address

    src = TcpSource(port=0, max_clients=8)
    src.start()
    addr = parse_address(src.stats().address)
    clients = [socket.create_connection(addr, timeout=5.0) for _ in range(20)]
    try:
        _wait_for(lambda: src.stats().evicted >= len(clients) - 8)
        return _seconds(src.stop)
    finally:
        for c in clients:
            c.close()


def _stop_sensorserver_waiting_to_retry() -> float:
    from har_studio.live.apps import SensorServerSource

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens there
    src = SensorServerSource("127.0.0.1", port, retry_s=5.0)
    src.start()
    _wait_for(lambda: src.stats().last_error is not None)
    return _seconds(src.stop)


def stopping(repeats: int) -> dict:
    cases = {"udp_silent": (_stop_udp, 1.0), "tcp_20_idle_clients": (_stop_tcp_with_clients, 2.0),
             "sensorserver_waiting_to_retry": (_stop_sensorserver_waiting_to_retry, 1.0)}
    return {name: {"median": round(statistics.median(fn() for _ in range(repeats)), 4),
                   "target": target}
            for name, (fn, target) in cases.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="har_bench_resp_files_") as folder:
        result = {"load_average_1min": round(os.getloadavg()[0], 2),
                  **loading(args.repeats, Path(folder)), "stop_s": stopping(args.repeats)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
