"""Live classification speed, a busy workstation and command start-up: prints one JSON object.

Model: the default preset's network (``aligned``: 6 derived inputs from x, y, z read in the
person's running alignment, window 128 at 20 Hz; ``--preset ensemble`` for the built-in
model's three networks), untrained weights (timing only), through ``ModelBundle`` as the app
runs it.

* ``limit``: what the model itself costs. Model alone and ``predict_proba`` (features,
  normalisation, model, softmax) at batch 1 (live threads, 1) and batch 256 (batch threads),
  as ms per call and windows/s. ``live_engine_batch_1``: the live engine's own call for one
  window (the whole-inference onnxruntime graph), back to back and spaced one phone sample
  period (20 ms) apart as a stream calls it, and the same for a graph that only copies its
  input: on a machine whose idle cores lose their caches (a virtual machine), the spaced
  figures are the floor of ``udp_latency``, and the empty graph is what any call costs there.
* ``udp_latency``: phone sample -> prediction through the real path (``UdpSource`` ->
  ``run_session`` -> ``StreamingClassifier``), HyperIMU lines ``ts,x,y,z`` one per datagram at
  50 Hz, hop 4, mean smoothing: ``idle`` and ``busy`` (beside one CPU-bound process that this
  bench starts, ``while True: pass``). Goals: p50 <= 2 ms, p99 <= 10 ms idle; p99 <= 20 ms busy.
  ``latency_ms`` is the app's figure: arrival of the window's last sample (stamped by the
  receiving thread after ``recv``) to its prediction, less queueing behind other windows.
* ``replay``: windows/s replaying a recording at maximum speed, hop 8 (due windows batched),
  against the batched ``predict_proba`` limit measured in the same run with the same threads
  (batches of 256; goal >= 0.8x), and against ``predict_proba`` on batches of the classifier's
  ``max_batch`` (``ratio_at_max_batch``: what is left outside the model).
* ``training``: ``bench/bench_train.py --busy-share`` (engine windows/s idle and beside the
  CPU-bound process; goal >= 0.45x).
* ``startup``: ``har-studio --help`` wall time (goal <= 0.15 s) and ``har-studio inspect`` on a
  generated 1.43 M-line WISDM v1.1 file against a naive ``pandas.read_csv`` process (goal
  <= 1.0x), medians of a few runs, the two commands interleaved.

Usage: ``nice -n 5 python bench/bench_live.py [--seconds 20] [--skip training,startup]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the app's OpenMP wait policy (har_studio/threads.py): must be set before torch loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from har_studio import threads as thread_policy  # noqa: E402
from har_studio.data.splits import Normaliser  # noqa: E402
from har_studio.data.windows import WindowConfig  # noqa: E402
from har_studio.live.addresses import parse_address  # noqa: E402
from har_studio.live.classifier import StreamingClassifier  # noqa: E402
from har_studio.live.replay import ReplaySource  # noqa: E402
from har_studio.live.session import LiveControl, run_session  # noqa: E402
from har_studio.live.udp import UdpSource  # noqa: E402
from har_studio.model.config import ViTConfig  # noqa: E402
from har_studio.model.io import ModelBundle  # noqa: E402
from har_studio.model.vit import build_network  # noqa: E402
from har_studio.training.presets import DEFAULT_PRESET, Preset, get_preset  # noqa: E402

LABELS = ["walking", "jogging", "upstairs", "downstairs", "sitting", "standing"]


def make_bundle(preset: Preset) -> ModelBundle:
    torch.manual_seed(0)
    window = WindowConfig(size=128, step=64, rate_hz=20.0)
    modal = 6
    cfg = ViTConfig(series=window.size, modal=modal, classes=len(LABELS), **preset.model)
    rng = np.random.default_rng(0)
    norm = Normaliser(rng.normal(size=modal).astype(np.float32),
                      (1 + rng.random(modal)).astype(np.float32))
    return ModelBundle(build_network(cfg).eval(), cfg, window, ["x", "y", "z"], list(LABELS),
                       norm, features=preset.features)


@contextlib.contextmanager
def cpu_hog():
    """One CPU-bound process beside the measurement (killed at the end)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def percentiles(values) -> dict:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p90_ms": round(float(np.percentile(a, 90)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "max_ms": round(float(a.max()), 3)}


def _timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def limit(bundle: ModelBundle, batch_threads: int) -> dict:
    rng = np.random.default_rng(1)
    out = {}
    for batch, threads, repeats in ((1, thread_policy.live_threads(), 200), (256, batch_threads, 5)):
        thread_policy.use_threads(threads)
        X = (rng.normal(size=(batch, 128, 3)) + (0, 9.8, 0)).astype(np.float32)
        xn = torch.from_numpy(bundle.normaliser.apply(bundle.derive(X)))
        with torch.inference_mode():
            model_s = _timed(lambda xn=xn: bundle.model(xn), repeats)
        proba_s = _timed(lambda X=X: bundle.predict_proba(X), repeats)
        out[f"batch_{batch}"] = {"threads": threads,
                                 "model_ms": round(model_s * 1000, 3),
                                 "predict_proba_ms": round(proba_s * 1000, 3),
                                 "predict_proba_windows_per_s": round(batch / proba_s, 1)}
    return out


def _spaced(fn, calls: int, gap_s: float) -> float:
    """Median seconds of `calls` calls of `fn`, each `gap_s` after the last ended: a live
    window's call, made after the thread slept since the previous sample."""
    fn()
    times = []
    for _ in range(calls):
        time.sleep(gap_s)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def live_engine(bundle: ModelBundle, rate_hz: float = 50.0, calls: int = 100) -> dict:
    """The live engine's own call for one window (``onnx_sessions.onnx_sessions``: the whole
    inference graph, live threads), back to back and spaced one phone sample period apart,
    as a stream calls it; and the same for a graph that only copies its input: what one call
    costs on this machine when its core has been idle (caches refilled after the sleep)."""
    from har_studio.live.onnx_sessions import onnx_sessions

    sessions = onnx_sessions(bundle, threads=thread_policy.live_threads())
    if sessions is None:
        return {"error": "onnxruntime unavailable"}
    rng = np.random.default_rng(2)
    raw = (rng.normal(size=(1, 128, 3)) + (0, 9.8, 0)).astype(np.float32)
    feeds = {"windows": raw}
    if sessions.inputs and "rotation" in sessions.inputs:
        feeds.update(rotation=np.eye(3, dtype=np.float32), scale=np.ones(1, np.float32))
    output = ["probabilities"] if sessions.whole else ["logits"]
    if not sessions.whole:
        feeds["windows"] = bundle.normaliser.apply(bundle.derive(raw))
    calls_of = {"graph": lambda: sessions.run(output, feeds)}
    empty = _empty_graph_session()
    if empty is not None:
        calls_of["empty_graph"] = lambda: empty.run(None, {"x": raw})
    gap = 1.0 / rate_hz
    out: dict = {"gap_ms": round(gap * 1000, 1), "calls": calls}
    for name, fn in calls_of.items():
        out[name] = {"back_to_back_ms": round(_timed(fn, calls) * 1000, 3),
                     "spaced_ms": round(_spaced(fn, calls, gap) * 1000, 3)}
    return out


def _empty_graph_session():
    """An onnxruntime session of a graph that copies its input (one Identity node)."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "empty",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def udp_latency(bundle: ModelBundle, seconds: float, rate_hz: float = 50.0, hop: int = 4,
                engine: str = "auto") -> dict:
    source = UdpSource(port=0)
    clf = StreamingClassifier(bundle, hop=hop, smoothing="mean", engine=engine)
    control = LiveControl()
    gen = run_session(source, clf, control)
    next(gen)                                   # the source is listening now
    addr = parse_address(source.stats().address)
    prefill = int(bundle.window.size * rate_hz / bundle.window.rate_hz) + 5
    total = prefill + int(seconds * rate_hz)
    stop = threading.Event()
    rng = np.random.default_rng(0)

    def line(i: int) -> bytes:   # HyperIMU: timestamp (ms), x, y, z
        x, y, z = rng.normal(size=3) + (0, 9.8, 0)
        return f"{1_700_000_000_000 + int(i * 1000 / rate_hz)},{x:.4f},{y:.4f},{z:.4f}\n".encode()

    def sender() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for start in range(0, prefill, 32):   # fill the first window at once
                s.sendto(b"".join(line(i) for i in range(start, min(prefill, start + 32))), addr)
            began = time.monotonic()
            for k, i in enumerate(range(prefill, total)):
                delay = began + k / rate_hz - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
                s.sendto(line(i), addr)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    latencies, queue, inference = [], [], []
    deadline = time.monotonic() + seconds + 30
    last_seen = time.monotonic()
    while time.monotonic() < deadline:
        update = next(gen)
        for p in update.predictions:
            latencies.append(p.latency_ms)
            queue.append(p.queue_ms)
            inference.append(p.inference_ms)
        if update.predictions:
            last_seen = time.monotonic()
        if not thread.is_alive() and time.monotonic() - last_seen > 0.5:
            break
    control.stop()
    stop.set()
    summary = None
    try:
        while True:
            next(gen)
    except StopIteration as end:
        summary = end.value
    thread.join(2)
    steady = slice(3, None)   # the first windows come from the pre-filled burst
    return {"engine": clf.engine, "samples_sent": total, "samples_received": summary.samples,
            "dropped": summary.dropped, "predictions": summary.predictions, "hop": hop,
            "rate_hz": rate_hz, "latency": percentiles(latencies[steady]),
            "queue": percentiles(queue[steady]),
            "inference_per_window": percentiles(inference[steady])}


def replay_throughput(bundle: ModelBundle, batch_threads: int, hop: int = 8) -> dict:
    from har_studio.data.demo import demo_frame

    frame = demo_frame(subjects=4, seconds_per_activity=60)
    src = ReplaySource(frame, speed="max", window=bundle.window)
    clf = StreamingClassifier(bundle, hop=hop, smoothing="none")
    began = time.perf_counter()
    gen = run_session(src, clf, poll_s=0.0)
    try:
        while True:
            next(gen)
    except StopIteration as end:
        summary = end.value
    elapsed = time.perf_counter() - began
    # the limit, measured now with the same threads: predict_proba on batches of 256 (the
    # issue's limit), and on batches of the classifier's max_batch (what replay calls)
    thread_policy.use_threads(batch_threads)
    X = (np.random.default_rng(2).normal(size=(256, 128, 3)) + (0, 9.8, 0)).astype(np.float32)
    limit_s = _timed(lambda: bundle.predict_proba(X), 5)
    limit_wps = 256 / limit_s
    mb = min(clf.max_batch, 256)
    same_s = _timed(lambda: [bundle.predict_proba(X[i:i + mb]) for i in range(0, 256, mb)], 5)
    same_wps = 256 / same_s
    wps = summary.windows / elapsed
    return {"hop": hop, "samples": summary.samples, "windows": summary.windows,
            "seconds": round(elapsed, 3), "windows_per_s": round(wps, 1),
            "batched_limit_windows_per_s": round(limit_wps, 1),
            "ratio": round(wps / limit_wps, 3), "threads": batch_threads,
            "max_batch": clf.max_batch, "limit_at_max_batch_windows_per_s": round(same_wps, 1),
            "ratio_at_max_batch": round(wps / same_wps, 3),
            "latency": {"p50_ms": summary.latency_ms_p50, "p99_ms": summary.latency_ms_p99},
            "queue": {"p50_ms": summary.queue_ms_p50, "p99_ms": summary.queue_ms_p99},
            "goal_ratio": 0.8}


def _run_s(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def write_v11(path: Path, lines: int = 1_430_000) -> None:
    """A WISDM v1.1 raw file: ``user,activity,timestamp,x,y,z;`` lines."""
    rng = np.random.default_rng(3)
    acts = np.array(["Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing"])
    per = 2000
    with open(path, "w") as f:
        for lo in range(0, lines, 100_000):
            n = min(100_000, lines - lo)
            k = np.arange(lo, lo + n)
            user = 1 + (k // (per * 6)) % 36
            act = acts[(k // per) % 6]
            ts = 49105962326000 + k * 50_000_000
            v = rng.normal(size=(n, 3)) * 4 + (0, 9.8, 0)
            f.write("".join(f"{u},{a},{t},{x:.8g},{y:.8g},{z:.8g};\n"
                            for u, a, t, (x, y, z) in zip(user, act, ts, v, strict=True)))


def startup(repeats: int = 5) -> dict:
    exe = str(Path(sys.executable).with_name("har-studio"))
    cmd = [exe] if Path(exe).exists() else [sys.executable, "-m", "har_studio"]
    # har_studio's bytecode, as an installed (or PyInstaller-built) app has it: where
    # PYTHONDONTWRITEBYTECODE is set (this machine), every run would otherwise compile the
    # modules it imports (~25 ms for inspect), which pandas in the naive process never does
    import compileall

    import har_studio
    compiled = compileall.compile_dir(Path(har_studio.__file__).parent, quiet=1)
    out = {"bytecode": "compiled" if compiled else "not compiled",
           "help_s": round(_run_s([*cmd, "--help"], repeats), 3), "help_goal_s": 0.15}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "WISDM_ar_v1.1_raw.txt"
        write_v11(path)
        naive = [sys.executable, "-c", "import sys, pandas; pandas.read_csv(sys.argv[1], header=None)",
                 str(path)]
        # interleaved (inspect, naive, inspect, ...): a machine whose load changes during the
        # runs weighs on both alike
        runs = max(3, repeats)
        inspect_t, naive_t = [], []
        for _ in range(runs):
            inspect_t.append(_run_s([*cmd, "inspect", str(path)], 1))
            naive_t.append(_run_s(naive, 1))
        inspect_s, naive_s = float(np.median(inspect_t)), float(np.median(naive_t))
        out.update({"inspect_lines": 1_430_000, "inspect_s": round(inspect_s, 3),
                    "naive_pandas_s": round(naive_s, 3), "runs": runs,
                    "inspect_vs_naive": round(inspect_s / naive_s, 3), "inspect_goal_ratio": 1.0})
    return out


def training(windows: int) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_train.py"), "--busy-share",
                           "--compare-windows", str(windows)], capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="UDP streaming per case (s)")
    parser.add_argument("--train-windows", type=int, default=1536,
                        help="training windows per epoch (3 epochs per case)")
    parser.add_argument("--skip", default="", help="comma list: limit, latency, replay, training, "
                                                   "startup")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="whose network to time (ensemble: the built-in model's)")
    args = parser.parse_args(argv)
    preset = get_preset(args.preset)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    batch_threads = thread_policy.training_threads()
    bundle = make_bundle(preset)
    result: dict = {"bench": "live", "python": platform.python_version(), "torch": torch.__version__,
                    "machine": platform.machine(), "load_average_1min": round(os.getloadavg()[0], 2),
                    "policy": {**thread_policy.describe(), "batch_threads": batch_threads},
                    "model": {"preset": preset.name, "inputs": bundle.input_channels,
                              "parameters": int(sum(p.numel() for p in bundle.model.parameters()))}}
    if "limit" not in skip:
        result["limit"] = limit(bundle, batch_threads)
        result["limit"]["live_engine_batch_1"] = live_engine(bundle)
    if "latency" not in skip:
        result["udp_latency"] = {"idle": udp_latency(bundle, args.seconds)}
        with cpu_hog():
            result["udp_latency"]["busy"] = udp_latency(bundle, args.seconds)
        result["udp_latency"]["goals"] = {"idle_p50_ms": 2.0, "idle_p99_ms": 10.0, "busy_p99_ms": 20.0}
    if "replay" not in skip:
        result["replay"] = replay_throughput(bundle, batch_threads)
    if "training" not in skip:
        result["training"] = training(args.train_windows)
    if "startup" not in skip:
        result["startup"] = startup()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
