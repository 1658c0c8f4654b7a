"""Hostile inputs, each opened by the real CLI in its own process: exit code, one-line
message, peak memory and seconds per case, as JSON (one object per line, then a summary).

    python bench/bench_hostile.py [--big-lines N] [--keep DIR]

Cases: every hostile model and data file of ``tests/hostile.py`` (``har-studio evaluate`` /
``inspect``), plus a large valid data file of N lines (default 10,000,000; 0 skips it) whose
inspection must stay within the memory target. Peak memory is the child's own ru_maxrss
(``os.wait4``; the cases are generated in another process so that this one stays small: a
child's peak starts at its parent's size). Target: every hostile case refused (exit 1) with one line, none above 1 GB or
5 s. Network cases: when ``bench/hostile_network.py`` exists, its ``run_cases()`` rows (same
keys) are appended.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

MAX_PEAK_MB = 1024
MAX_SECONDS = 5.0


def run_case(name: str, args: list[str], expect: str | None, note: str = "",
             want_exit: int = 1, timeout: float = 120.0, max_seconds: float = MAX_SECONDS) -> dict:
    """Run ``python -m har_studio ARGS`` and measure it. `expect`: a fragment the one-line
    refusal must hold (None: the command must succeed)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "har_studio", *args], stdout=out,
                                stderr=err, cwd=ROOT,
                                env={**os.environ, "HAR_STUDIO_HOME": tempfile.gettempdir()
                                     + "/har_bench_hostile_home"})
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = [ln for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    message = lines[-1] if lines else ""
    if expect is None:
        ok = proc.returncode == want_exit
    else:
        ok = (proc.returncode == want_exit and len(lines) == 1
              and expect.lower() in message.lower())
    ok = ok and peak_mb <= MAX_PEAK_MB and seconds <= max_seconds
    return {"name": name, "exit_code": proc.returncode, "message": message[:200],
            "stderr_lines": len(lines), "peak_mb": round(peak_mb, 1),
            "seconds": round(seconds, 2), "ok": bool(ok), "note": note}


TRAIN_ARGS = ["--window", "40", "--step", "20", "--embedding", "32", "--head-width", "64",
              "--blocks", "2", "--heads", "2", "--att-size", "16", "--patch-size", "4",
              "--batch-size", "32", "--patience", "0", "--device", "cpu", "--precision", "fp32",
              "--preset", "reference", "--test-subjects", "5", "--val-subjects", "4"]


def kill_runs(folder: Path, kills: int, seed: int = 0) -> list[dict]:
    """SIGKILL `kills` training runs at random moments; after each, the run must be listed as
    interrupted with a loadable checkpoint of its last finished epoch (or, killed before the
    first epoch ended, no checkpoint), and no stray temporary file once the CLI starts again."""
    import random
    import signal

    from hostile import write_small_data

    rng = random.Random(seed)
    data = write_small_data(folder / "train.txt", subjects=(1, 2, 3, 4, 5), rows=600)
    check = ("import json, sys\nfrom har_studio.training import runs\n"
             "from har_studio.model.io import load_model\n"
             "(info,) = runs.list_runs(sys.argv[1])\n"
             "epoch = None\n"
             "if info.checkpoint_path:\n"
             "    epoch = load_model(info.checkpoint_path).recipe['checkpoint']['epoch']\n"
             "print(json.dumps({'status': info.status, 'epochs': info.epochs, "
             "'checkpoint_epoch': epoch}))\n")
    rows = []
    for i in range(kills):
        root = folder / f"kill{i}"
        run = root / "run"
        proc = subprocess.Popen([sys.executable, "-m", "har_studio", "train", "--data",
                                 str(data), "--epochs", "40", "--out", str(run), *TRAIN_ARGS],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        t0 = time.perf_counter()
        # Kill mid-run whatever this machine's speed: wait for a random number of finished
        # epochs (rows in history.csv), then a random part of the next epoch.
        target = rng.randint(1, 36)
        rows_seen, last_row_at, epoch_s = 0, t0, 1.0
        while proc.poll() is None and time.perf_counter() - t0 < 300:
            history = run / "history.csv"
            done = (max(0, len(history.read_text().splitlines()) - 1)
                    if history.exists() else 0)
            if done > rows_seen:
                now = time.perf_counter()
                if rows_seen:
                    epoch_s = (now - last_row_at) / (done - rows_seen)
                rows_seen, last_row_at = done, now
            if rows_seen >= target:
                break
            time.sleep(0.02)
        at = rng.uniform(0.0, epoch_s)   # somewhere inside the next epoch
        try:
            proc.wait(timeout=at)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        at += last_row_at - t0
        temps = [p.name for p in run.glob(".*.tmp")] if run.exists() else []
        out = subprocess.run([sys.executable, "-c", check, str(root)], capture_output=True,
                             text=True, cwd=ROOT)
        state = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-200:]}
        finished = state.get("epochs", 0)
        ok = (out.returncode == 0 and state["status"] == "interrupted"
              and (state["checkpoint_epoch"] in (finished, finished - 1) if finished
                   else state["checkpoint_epoch"] is None))
        rows.append({"name": f"kill_run_{i}", "exit_code": proc.returncode,
                     "message": json.dumps(state), "seconds": round(at, 2), "peak_mb": 0.0,
                     "ok": bool(ok), "note": f"SIGKILL at {at:.1f} s; temp files left: "
                                             f"{len(temps)} (cleared at the next start)"})
    return rows


def network_rows() -> list[dict]:
    """Rows of bench/hostile_network.py (another module's network cases), when it exists."""
    path = Path(__file__).with_name("hostile_network.py")
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location("hostile_network", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.run_cases())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-lines", type=int, default=10_000_000,
                        help="lines of the large valid data file (0: skip)")
    parser.add_argument("--keep", metavar="DIR", help="write the cases here and keep them")
    parser.add_argument("--kills", type=int, default=5,
                        help="training runs to SIGKILL at random moments (0: none)")
    parser.add_argument("--generate", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate:  # (in a child process: imports torch to write the model files)
        from hostile import data_cases, model_cases, write_small_data

        folder = Path(args.generate)
        data = write_small_data(folder / "small.txt")
        cases = model_cases(folder / "models", data) + data_cases(folder / "data")
        print(json.dumps([{"name": c.name, "args": c.args, "expect": c.expect, "note": c.note}
                          for c in cases]))
        return 0

    from hostile import write_many_lines

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch)
        made = subprocess.run([sys.executable, __file__, "--generate", str(folder)],
                              capture_output=True, text=True, check=True)
        cases = [argparse.Namespace(**c) for c in json.loads(made.stdout)]
        data = folder / "small.txt"
        rows = []
        # the floor under the present machine load: an interpreter that imports the CLI
        rows.append(run_case("startup_floor", ["--version"], None,
                             "baseline: har-studio --version (Python start-up under this load)",
                             want_exit=0, max_seconds=600))
        print(json.dumps(rows[-1]), flush=True)
        # the baseline: a valid model evaluates (so refusals are not the only thing measured)
        valid = folder / "models" / "valid.harmodel"
        rows.append(run_case("valid_model_evaluates", ["evaluate", "--model", str(valid),
                                                        "--data", str(data)], None,
                             "baseline: a good file, exit 0 (seconds not judged)",
                             want_exit=0, max_seconds=600))
        print(json.dumps(rows[-1]), flush=True)
        for case in cases:
            rows.append(run_case(case.name, case.args, case.expect, case.note))
            print(json.dumps(rows[-1]), flush=True)
        if args.big_lines:
            big = write_many_lines(folder / "many.txt", args.big_lines)
            size_mb = big.stat().st_size / 2**20
            kept_mb = args.big_lines * 29 / 2**20  # the frame: int64 x2, float32 x3, a code
            row = run_case(f"inspect_{args.big_lines}_lines", ["inspect", str(big)], None,
                           f"valid file of {size_mb:.0f} MB, {kept_mb:.0f} MB kept as the frame "
                           "(judged: exit 0, peak under 4x the frame; seconds not judged)",
                           want_exit=0, timeout=600, max_seconds=600)
            row["ok"] = row["exit_code"] == 0 and row["peak_mb"] <= 4 * kept_mb
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
            big.unlink()
        for row in kill_runs(folder, args.kills):
            rows.append(row)
            print(json.dumps(row), flush=True)
    for row in network_rows():
        rows.append(row)
        print(json.dumps(row), flush=True)
    failed = [r["name"] for r in rows if not r.get("ok")]
    print(json.dumps({"summary": True, "cases": len(rows), "ok": len(rows) - len(failed),
                      "failed": failed,
                      "max_peak_mb": max(r.get("peak_mb", 0) for r in rows),
                      "max_seconds_refusals": max(r.get("seconds", 0) for r in rows
                                                  if r.get("exit_code") == 1)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
