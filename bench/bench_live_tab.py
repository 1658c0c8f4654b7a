"""CPU cost of the Live tab while a phone streams: UDP at 20 Hz, hop 1, redraw at ~30 Hz.

Runs the real tab offscreen, sends ``timestamp,x,y,z`` lines over UDP at 20 Hz from a thread
for `--seconds`, and measures process CPU time / wall time (all threads: sockets, inference,
GUI), the GUI thread's own CPU (taking updates, redrawing, Qt painting), and the CPU spent
inside the timer-driven redraw call itself. Shares are of one core. A second run
with the tab hidden (the timer then skips drawing) gives the same figures without drawing, so
the difference is what drawing costs. Prints one JSON object.

    python bench/bench_live_tab.py [--seconds 10] [--model reference|small]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _bundle(kind: str):
    import torch

    from har_studio.data import WISDM_V11_ACTIVITIES, Normaliser, WindowConfig
    from har_studio.model.config import ViTConfig
    from har_studio.model.io import ModelBundle
    from har_studio.model.vit import TimeSeriesViT

    torch.manual_seed(0)
    if kind == "reference":
        config = ViTConfig(series=128, modal=3, classes=6)          # the reference size
        window = WindowConfig(size=128, step=64)
    else:
        config = ViTConfig(series=32, modal=3, classes=6, embedding_dim=16, head_num=2,
                           att_size=8, depth=1, head_width=32)
        window = WindowConfig(size=32, step=16)
    model = TimeSeriesViT(config).eval()
    return ModelBundle(model, config, window, ["x", "y", "z"], list(WISDM_V11_ACTIVITIES),
                       Normaliser.identity(3))


def _sender(port: int, stop: threading.Event, rate_hz: float = 20.0) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    period = 1.0 / rate_hz
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        next_t = time.monotonic()
        i = 0
        while not stop.is_set():
            ts_ms = time.time() * 1000.0
            x, y, z = 0.5 + rng.normal(0, 0.3), 9.6 + 3 * np.sin(i * 0.6), 1.0 + rng.normal(0, 0.3)
            sock.sendto(f"{ts_ms:.1f},{x:.4f},{y:.4f},{z:.4f}\n".encode(), ("127.0.0.1", port))
            i += 1
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))


def _run(app, tab, seconds: float, visible: bool) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer

    if visible:
        tab.show()
    else:
        tab.hide()
    redraw_cpu = [0.0]
    original = tab._redraw

    def timed_redraw() -> None:
        began = time.thread_time()
        original()
        redraw_cpu[0] += time.thread_time() - began

    tab._redraw = timed_redraw
    tab.set_source("udp", host="127.0.0.1", port=0)
    tab.set_options(hop=1, smoothing="mean", smooth_k=3, attention=True)
    if not tab.start():
        raise SystemExit(f"cannot start: {tab.message_text()}")
    port = int(tab.listening_address.rpartition(":")[2])
    stop = threading.Event()
    sender = threading.Thread(target=_sender, args=(port, stop), daemon=True)
    sender.start()
    # warm up 1 s (first inference, first paint), then measure
    loop = QEventLoop()
    QTimer.singleShot(1000, loop.quit)
    loop.exec()
    redraws0, windows0 = tab.view.redraw_count, len(tab.timeline)
    redraw_cpu[0] = 0.0
    wall0, cpu0, gui0 = time.perf_counter(), time.process_time(), time.thread_time()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    gui = time.thread_time() - gui0
    redraws, windows = tab.view.redraw_count - redraws0, len(tab.timeline) - windows0
    stop.set()
    sender.join()
    finished = []
    tab.sessionFinished.connect(finished.append)
    tab.stop()
    deadline = time.monotonic() + 10
    while not finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    tab._redraw = original
    return {
        "visible": visible,
        "wall_s": round(wall, 2),
        "process_cpu_share": round(cpu / wall, 4),
        "gui_thread_cpu_share": round(gui / wall, 4),
        "redraw_cpu_share": round(redraw_cpu[0] / wall, 4),
        "redraws_per_s": round(redraws / wall, 1),
        "redraw_ms_mean": round(1000 * redraw_cpu[0] / redraws, 3) if redraws else None,
        "windows_per_s": round(windows / wall, 1),
        "latency_ms_p50": finished[0].latency_ms_p50 if finished else None,
        "latency_ms_p99": finished[0].latency_ms_p99 if finished else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--model", choices=("reference", "small"), default="reference")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    import tempfile

    os.environ.setdefault("HAR_STUDIO_HOME", tempfile.mkdtemp(prefix="har_bench_"))
    import torch
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication([])
    from har_studio.ui.live import LiveTab
    from har_studio.ui.state import AppState

    state = AppState()
    state.set_model(_bundle(args.model))
    tab = LiveTab(state)
    tab.resize(1400, 900)
    drawn = _run(app, tab, args.seconds, visible=True)
    hidden = _run(app, tab, args.seconds, visible=False)
    tab.close()
    result = {
        "bench": "live_tab_udp_20hz_hop1",
        "model": args.model,
        "torch_threads": args.threads,
        "cpus": os.cpu_count(),
        "drawing": drawn,
        "not_drawing": hidden,
        # the GUI thread does nothing but take updates and draw: its difference is the cost of
        # drawing (timer redraws plus Qt's paint events); the process figures also move with
        # inference and torch's worker threads, so they are noisier on a shared machine.
        "drawing_cost_cpu_share": round(drawn["gui_thread_cpu_share"]
                                        - hidden["gui_thread_cpu_share"], 4),
        "process_cpu_share_difference": round(drawn["process_cpu_share"]
                                              - hidden["process_cpu_share"], 4),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
