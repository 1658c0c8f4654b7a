"""Loading speed: our quirk-handling loader against a naive pandas.read_csv of the same files.

Usage: ``python bench/bench_load.py [FOLDER] [--repeat N]``. FOLDER defaults to
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
