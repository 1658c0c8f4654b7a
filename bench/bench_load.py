"""Loading speed: our quirk-handling loader against a naive pandas.read_csv of the same files.

Usage: ``python bench/bench_load.py [FOLDER] [--repeat N]``, or
``python bench/bench_load.py --phone [--minutes 60] [--repeat N]``: a one-hour Sensor Logger
export (iPhone, 100 Hz: ``Accelerometer.csv`` + ``Gravity.csv`` in the app's layout, full
float64 digits as the app writes them), generated into a temporary folder, against the same
samples in one WISDM raw file (float32 digits); both loaded in this process, interleaved, best
of N; prints their seconds and the ratio (target <= 1.5). FOLDER defaults to
``../shared/data/wisdm2019/phone/accel`` resolved from the repository root (16 subjects,
about 1M lines). Prints one JSON object: our seconds, baseline seconds, their ratio, window
building seconds (``make_windows`` with the default config on the loaded frame), peak memory
(ru_maxrss, MB) and record counts. Each timing is the best of ``--repeat`` interleaved runs
(default 5), both measured in this process on the same files (files are read once before timing so the
OS cache is warm for both).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT = REPO / ".." / "shared" / "data" / "wisdm2019" / "phone" / "accel"
NAMES = ["subject", "activity", "timestamp", "x", "y", "z"]


def baseline(files: list[Path]) -> int:
    """The naive read: one read_csv per file, no quirk handling (the ';' stays in z)."""
    import pandas as pd

    rows = 0
    for f in files:
        rows += len(pd.read_csv(f, header=None, names=NAMES))
    return rows


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--phone", action="store_true",
                        help="time a generated Sensor Logger export against a WISDM file")
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.phone:
        return phone_bench(args.minutes, args.repeat)

    from har_studio.data.loaders import find_data_files, load
    from har_studio.data.windows import WindowConfig, make_windows

    folder = Path(args.folder).resolve()
    files = find_data_files(folder)
    for f in files:  # warm the OS cache for both contenders
        f.read_bytes()
    # Interleaved, best of N each: on a shared machine, load swings hit both alike.
    ours_s = base_s = float("inf")
    ds = base_rows = None
    for _ in range(args.repeat):
        t, ds = best_of(lambda: load(folder), 1)
        ours_s = min(ours_s, t)
        t, base_rows = best_of(lambda: baseline(files), 1)
        base_s = min(base_s, t)
    win_s, windows = best_of(lambda: make_windows(ds.frame, WindowConfig()), args.repeat)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "folder": str(folder),
        "files": len(files),
        "ours_s": round(ours_s, 3),
        "baseline_s": round(base_s, 3),
        "ratio": round(ours_s / base_s, 3),
        "windows_s": round(win_s, 3),
        "windows": len(windows),
        "records": ds.report.records,
        "records_read": ds.report.records_read,
        "baseline_rows": base_rows,
        "skipped": ds.report.skipped,
        "peak_rss_mb": round(peak_mb, 1),
    }))
    return 0


def _write_phone_and_wisdm(folder: Path, minutes: float) -> tuple[Path, Path, int]:
    """An iPhone Sensor Logger export (folder) and a WISDM file of the same samples."""
    import numpy as np

    n = int(minutes * 60 * 100)
    rng = np.random.default_rng(0)
    t = 1_662_729_295_900_810_000 + np.arange(n, dtype=np.int64) * 10_000_000
    k = np.arange(n) / 100.0
    grav = np.column_stack([np.full(n, 2.77), np.full(n, -3.17), np.full(n, -8.86)]) \
        + rng.normal(0, 0.01, (n, 3))    # a phone's gravity estimate wanders
    user = np.column_stack([np.sin(2 * np.pi * 1.8 * k), np.cos(2 * np.pi * 1.8 * k),
                            0.5 * np.sin(2 * np.pi * 3.6 * k)]) + rng.normal(0, 0.05, (n, 3))
    export = folder / "2022-09-09_13-14-55"
    export.mkdir()
    elapsed = (t - t[0]) / 1e9 + 0.0318
    for name, v in (("Accelerometer.csv", user), ("Gravity.csv", grav)):
        cols = np.column_stack([elapsed, v[:, 2], v[:, 1], v[:, 0]])
        with open(export / name, "w") as fh:
            fh.write("time,seconds_elapsed,z,y,x\n")
            body = "\n".join(f"{a},{r}" for a, r in zip(
                t.tolist(), (",".join(map(repr, row)) for row in cols.tolist()), strict=True))
            fh.write(body + "\n")
    (export / "Metadata.csv").write_text("version,device name,recording time,platform,appVersion\n"
                                         "3,iPhone 12 mini,2022-09-09_13-14-55,ios,1.10.4\n")
    android = -(user + grav)
    wisdm = folder / "same_samples.txt"
    with open(wisdm, "w") as fh:
        fh.write("".join(f"1,Walking,{a},{x:.8g},{y:.8g},{z:.8g};\n"
                         for a, (x, y, z) in zip(t.tolist(), android.tolist(), strict=True)))
    return export, wisdm, n


def phone_bench(minutes: float, repeat: int) -> int:
    """Load time of a Sensor Logger export against a WISDM file of the same samples."""
    import tempfile

    from har_studio.data.loaders import load

    with tempfile.TemporaryDirectory() as tmp:
        export, wisdm, n = _write_phone_and_wisdm(Path(tmp), minutes)
        phone_bytes = sum(f.stat().st_size for f in export.iterdir())
        for f in [*export.iterdir(), wisdm]:
            f.read_bytes()          # a warm OS cache for both
        phone_s = wisdm_s = float("inf")
        for _ in range(repeat):
            t, ds = best_of(lambda: load(export, subject=1, activity="walking"), 1)
            phone_s = min(phone_s, t)
            t, ref = best_of(lambda: load(wisdm), 1)
            wisdm_s = min(wisdm_s, t)
        same = bool(len(ds.frame) == len(ref.frame) == n)
        print(json.dumps({
            "samples": n, "minutes": minutes,
            "sensor_logger_mb": round(phone_bytes / 2**20, 1),
            "wisdm_mb": round(wisdm.stat().st_size / 2**20, 1),
            "sensor_logger_s": round(phone_s, 3), "wisdm_s": round(wisdm_s, 3),
            "ratio": round(phone_s / wisdm_s, 3), "same_rows": same,
            "note": [w for w in ds.report.warnings if "Hz" in w],
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
