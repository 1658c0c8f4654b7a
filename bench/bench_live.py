"""Live classification speed: prints one JSON object.

* ``udp_latency``: time from a sample's arrival on a loopback UDP socket (stamped by the
  receiving thread right after ``recv``) to its prediction, at hop 1 (a prediction per sample)
  at 20 Hz, through the real path: ``UdpSource`` -> ``run_session`` -> ``StreamingClassifier``
  (resampling, windowing, normalisation, model). A sender thread first sends ``size - 1``
  samples at once (so the first window is full at once instead of after 6.4 s), then one
  sample every 50 ms for ``--seconds``. Target: p99 < 20 ms.
* ``replay``: windows per second replaying a recording at maximum speed at the model's step
  (all due windows of a read are classified in one batch). Target: >= 500.
* ``ui_redraw``: TODO for the lead: CPU share of the Live tab redrawing at 30 Hz offscreen.

Untrained weights are fine for timing. ``--configs reference,tiny``: the reference ViT
(window 128, 3 channels, 6 classes, embedding 256, 3 blocks) and a tiny one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from har_studio.data.splits import Normaliser  # noqa: E402
from har_studio.data.windows import WindowConfig  # noqa: E402
from har_studio.live import (  # noqa: E402
    LiveControl,
    ReplaySource,
    StreamingClassifier,
    UdpSource,
    parse_address,
    run_session,
)
from har_studio.model.config import ViTConfig  # noqa: E402
from har_studio.model.io import ModelBundle  # noqa: E402
from har_studio.model.vit import TimeSeriesViT  # noqa: E402

LABELS = ["walking", "jogging", "upstairs", "downstairs", "sitting", "standing"]
CONFIGS = {
    "reference": {},
    "tiny": {"embedding_dim": 32, "head_num": 2, "att_size": 16, "depth": 2, "head_width": 64},
}


def make_bundle(name: str) -> ModelBundle:
    torch.manual_seed(0)
    cfg = ViTConfig(series=128, modal=3, classes=6, **CONFIGS[name])
    return ModelBundle(TimeSeriesViT(cfg).eval(), cfg, WindowConfig(size=128, step=64, rate_hz=20.0),
                       ["x", "y", "z"], list(LABELS),
                       Normaliser(np.array([0, 9.8, 0], np.float32), np.array([4, 4, 4], np.float32)))


def percentiles(values) -> dict:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p90_ms": round(float(np.percentile(a, 90)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "max_ms": round(float(a.max()), 3)}


def udp_latency(bundle: ModelBundle, seconds: float, rate_hz: float = 20.0,
                engine: str = "torch") -> dict:
    source = UdpSource(port=0)
    clf = StreamingClassifier(bundle, hop=1, smoothing="mean", engine=engine)
    control = LiveControl()
    gen = run_session(source, clf, control, poll_s=0.05)
    next(gen)                                   # the source is listening now
    addr = parse_address(source.stats().address)
    prefill = bundle.window.size - 1
    total = prefill + int(seconds * rate_hz)
    stop = threading.Event()
    rng = np.random.default_rng(0)

    def line(i: int) -> bytes:
        x, y, z = rng.normal(size=3) + (0, 9.8, 0)
        return f"{1_700_000_000_000 + int(i * 1000 / rate_hz)},{x:.4f},{y:.4f},{z:.4f}\n".encode()

    def sender() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for start in range(0, prefill, 16):
                s.sendto(b"".join(line(i) for i in range(start, min(prefill, start + 16))), addr)
            began = time.monotonic()
            for k, i in enumerate(range(prefill, total)):
                delay = began + k / rate_hz - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
                s.sendto(line(i), addr)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    latencies, inference = [], []
    deadline = time.monotonic() + seconds + 30
    last_seen = time.monotonic()
    while time.monotonic() < deadline:
        update = next(gen)
        for p in update.predictions:
            latencies.append(p.latency_ms)
            inference.append(p.inference_ms)
        if update.predictions:
            last_seen = time.monotonic()
        if not thread.is_alive() and time.monotonic() - last_seen > 0.5:
            break
    control.stop()
    stop.set()
    try:
        while True:
            next(gen)
    except StopIteration as end:
        summary = end.value
    thread.join(2)
    # the first predictions come from the pre-filled burst: report steady state separately
    steady = latencies[1:] if len(latencies) > 1 else latencies
    return {"samples_sent": total, "samples_received": summary.samples,
            "bad_packets": summary.bad_packets, "dropped": summary.dropped,
            "predictions": summary.predictions, "hop": 1, "rate_hz": rate_hz,
            "arrival_to_prediction": percentiles(steady),
            "inference_per_window": percentiles(inference),
            "target_p99_ms": 20.0,
            "meets_target": bool(steady) and float(np.percentile(steady, 99)) < 20.0}


def replay_throughput(bundle: ModelBundle, subjects: int = 6, seconds: float = 60.0,
                      engine: str = "torch") -> dict:
    try:
        from har_studio.data.demo import demo_frame

        frame = demo_frame(subjects=subjects, seconds_per_activity=seconds)
    except ImportError:  # pragma: no cover - the demo module is another helper's
        raise SystemExit("har_studio.data.demo is missing") from None
    out = {"samples": len(frame)}
    for hop in (bundle.window.step, 8):
        src = ReplaySource(frame, speed="max", window=bundle.window)
        clf = StreamingClassifier(bundle, hop=hop, smoothing="none", engine=engine)
        began = time.perf_counter()
        gen = run_session(src, clf, poll_s=0.0)
        try:
            while True:
                next(gen)
        except StopIteration as end:
            summary = end.value
        elapsed = time.perf_counter() - began
        out[f"hop_{hop}"] = {"windows": summary.windows, "seconds": round(elapsed, 3),
                             "windows_per_s": round(summary.windows / elapsed, 1),
                             "samples_per_s": round(summary.samples / elapsed, 1)}
    out["target_windows_per_s"] = 500
    out["meets_target"] = out[f"hop_{bundle.window.step}"]["windows_per_s"] >= 500
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="real-time UDP streaming (s)")
    parser.add_argument("--configs", default="reference,tiny", help="reference and/or tiny")
    parser.add_argument("--engines", default="torch,onnx", help="torch and/or onnx")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a shared 2-core machine more threads "
                             "spin against each other; 0 = torch default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"bench": "live", "python": platform.python_version(), "torch": torch.__version__,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "machine": platform.machine(), "configs": {}}
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        bundle = make_bundle(name)
        bundle.predict_proba(np.zeros((4, 128, 3), np.float32))   # warm-up
        entry = result["configs"][name] = {
            "parameters": int(sum(p.numel() for p in bundle.model.parameters()))}
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            used = StreamingClassifier(bundle, engine=engine).engine
            entry[used] = {"udp_latency": udp_latency(bundle, args.seconds, engine=engine),
                           "replay": replay_throughput(bundle, engine=engine)}
    result["ui_redraw"] = "measured by bench/bench_live_tab.py (it needs Qt; this script does not)"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
