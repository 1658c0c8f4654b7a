"""Parallel cross-validation on Ray and 2-process DDP against one process (prints JSON).

1. 4-fold leave-subjects-out cross-validation of the default recipe (robust preset) on the
   WISDM 2019 phone recordings (activities A-E, windows 128 / 64), in this one process:
   sequentially as ``har-studio train --cv 4`` runs it (torch's default threads), and with
   ``--parallel ray`` (a local Ray started by the run, one fold per core, one torch thread
   each): the speed-up, Ray's start-up included. The fold results are compared with a
   sequential run at one torch thread, the parallel tasks' setting (float sums in other
   orders give other roundings, so different thread counts are not bit-identical).
2. ``torchrun --nproc-per-node 2 -m har_studio train --ddp`` (gloo, one thread each) against
   one process (torch's default threads) with the same global batch: per-epoch training and
   validation loss, the largest relative difference, and the training throughput ratio.

    nice -n 5 .venv/bin/python bench/bench_parallel.py [--quick]

--quick trains fewer epochs (2 per fold, 3 for DDP) instead of the recipe's 20 (10 for DDP).
The machine's load average is reported before and after: other work on the cores slows both
sides but not equally, so read the speed-up with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTIVITIES = ["walking", "jogging", "stairs", "sitting", "standing"]
# The development recordings lie in a `shared` folder beside the repository (or above it).
DEFAULT_DATA = next((d / "shared" / "data" / "wisdm2019" / "phone" / "accel"
                     for d in Path(__file__).resolve().parents
                     if (d / "shared" / "data" / "wisdm2019").is_dir()), Path("wisdm2019"))


def _load() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _cv(dataset, preset, epochs: int, k: int, parallel: bool, threads: int | None) -> dict:
    import torch

    from har_studio.data.windows import WindowConfig
    from har_studio.training.crossval import FoldProgress, cross_validate
    from har_studio.training.engine import run_to_end
    from har_studio.training.parallel import cross_validate_parallel

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    kwargs = dict(k=k, window=WindowConfig(128, 64), activities=ACTIVITIES,
                  channels=["x", "y", "z"], features=preset.features,
                  model_overrides=preset.model_overrides(),
                  train_config=preset.train_config(epochs=epochs, seed=0), seed=0)
    started: list[float] = []
    t0 = time.perf_counter()

    def on_item(item) -> None:
        if parallel and not started and isinstance(item, FoldProgress):
            started.append(time.perf_counter() - t0)   # Ray up, tasks submitted
        if type(item).__name__ == "FoldFinished":
            print(f"{'parallel' if parallel else 'sequential'}: fold {item.fold}/{item.folds} "
                  f"accuracy {item.accuracy:.3f} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)

    gen = (cross_validate_parallel(dataset, cpus=os.cpu_count(), **kwargs) if parallel
           else cross_validate(dataset, **kwargs))
    cv = run_to_end(gen, on_item)
    wall = time.perf_counter() - t0
    torch.set_num_threads(before)
    return {"wall_s": wall, "startup_s": started[0] if started else 0.0,
            "threads": 1 if parallel else torch.get_num_threads() if not threads else threads,
            "accuracy_mean": cv.accuracy_mean,
            "folds": [{k: v for k, v in row.items() if k != "seconds"} for row in cv.folds],
            "fold_seconds": [row["seconds"] for row in cv.folds]}


def _history(folder: Path) -> list[dict]:
    with open(folder / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _train_run(cmd: list[str], out: Path, env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    return {"wall_s": time.perf_counter() - t0, "history": _history(out),
            "windows_per_s": report.get("windows_per_s"),
            "accuracy": report["metrics"]["accuracy"]}


def _ddp(data: list[str], epochs: int, batch: int, home: Path) -> dict:
    flags = ["--data", *data, "--activities", ",".join(ACTIVITIES), "--channels", "x,y,z",
             "--epochs", str(epochs), "--batch-size", str(batch), "--device", "cpu",
             "--precision", "fp32", "--seed", "0", "--test-subjects", "1600,1604,1606",
             "--val-subjects", "1607,1609"]
    env = {**os.environ, "HAR_STUDIO_HOME": str(home)}
    single_out, ddp_out = home / "single", home / "ddp"
    single = _train_run([sys.executable, "-m", "har_studio", "train", *flags, "--out",
                         str(single_out)], single_out, env)
    ddp = _train_run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                      "--nproc-per-node", "2", "-m", "har_studio", "train", "--ddp", *flags,
                      "--out", str(ddp_out)], ddp_out, {**env, "OMP_NUM_THREADS": "1"})
    rel = {}
    for key in ("train_loss", "val_loss"):
        a = [float(r[key]) for r in single["history"]]
        b = [float(r[key]) for r in ddp["history"]]
        rel[key] = max(abs(x - y) / abs(x) for x, y in zip(a, b, strict=True))
    return {
        "epochs": epochs, "global_batch": batch, "processes": 2, "backend": "gloo",
        "single": {k: v for k, v in single.items() if k != "history"},
        "ddp": {k: v for k, v in ddp.items() if k != "history"},
        "train_loss": {"single": [float(r["train_loss"]) for r in single["history"]],
                       "ddp": [float(r["train_loss"]) for r in ddp["history"]]},
        "val_loss": {"single": [float(r["val_loss"]) for r in single["history"]],
                     "ddp": [float(r["val_loss"]) for r in ddp["history"]]},
        "max_relative_difference": rel,
        "throughput_ratio": (ddp["windows_per_s"] / single["windows_per_s"]
                             if single["windows_per_s"] else None),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=[str(DEFAULT_DATA)])
    p.add_argument("--quick", action="store_true", help="fewer epochs (see the module doc)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="largest relative loss difference DDP vs one process that passes")
    p.add_argument("--skip", choices=("cv", "ddp", "identity"), action="append", default=[])
    args = p.parse_args(argv)

    from har_studio.data.loaders import load
    from har_studio.training.presets import DEFAULT_PRESET, get_preset

    preset = get_preset(DEFAULT_PRESET)
    epochs = 2 if args.quick else int(preset.training.get("epochs", 20))
    out: dict = {"cpus": os.cpu_count(), "load_before": _load(), "quick": args.quick,
                 "preset": preset.name, "k": args.k, "epochs_per_fold": epochs}
    dataset = load(args.data)
    if "cv" not in args.skip:
        seq = _cv(dataset, preset, epochs, args.k, parallel=False, threads=None)
        par = _cv(dataset, preset, epochs, args.k, parallel=True, threads=None)
        out["cv"] = {
            "sequential": {k: v for k, v in seq.items() if k != "folds"},
            "parallel_ray": {k: v for k, v in par.items() if k != "folds"},
            "speedup": seq["wall_s"] / par["wall_s"],
            "speedup_without_ray_startup": seq["wall_s"] / (par["wall_s"] - par["startup_s"]),
            "same_folds": ([r["test_subjects"] for r in seq["folds"]]
                           == [r["test_subjects"] for r in par["folds"]]),
            "identical_to_sequential_default_threads": seq["folds"] == par["folds"],
        }
        if "identity" not in args.skip:
            one = _cv(dataset, preset, epochs, args.k, parallel=False, threads=1)
            out["cv"]["sequential_1_thread"] = {k: v for k, v in one.items() if k != "folds"}
            out["cv"]["identical_to_sequential_1_thread"] = one["folds"] == par["folds"]
            out["cv"]["speedup_vs_1_thread"] = one["wall_s"] / par["wall_s"]
    if "ddp" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp:
            ddp = _ddp(args.data, 3 if args.quick else 10, 128, Path(tmp))
        ddp["within_tolerance"] = all(v <= args.tolerance
                                      for v in ddp["max_relative_difference"].values())
        ddp["tolerance"] = args.tolerance
        out["ddp"] = ddp
    out["load_after"] = _load()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
