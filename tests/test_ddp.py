"""``torchrun --nproc-per-node 2 -m har_studio train --ddp``: two CPU processes (gloo) train
one model; rank 0 alone writes the run folder and one model file, which loads and evaluates."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from har_studio.data.demo import write_demo_files
from har_studio.model.io import load_model

FLAGS = ["--window", "32", "--step", "16", "--embedding", "16", "--head-width", "32",
         "--blocks", "1", "--heads", "2", "--att-size", "8", "--batch-size", "32",
         "--epochs", "2", "--device", "cpu", "--precision", "fp32", "--test-subjects", "1"]


def _env(home: Path) -> dict:
    env = {**os.environ, "HAR_STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1",
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("RANK", None)
    return env


def test_two_process_gloo_training_writes_one_model(tmp_path, capsys):
    data = tmp_path / "data"
    write_demo_files(data, subjects=3, seconds_per_activity=8.0,
                     activities=("walking", "jogging", "sitting", "standing"))
    home, out = tmp_path / "home", tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "har_studio", "train", "--ddp", "--data", str(data), "--out", str(out),
           "--json", *FLAGS]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(home), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout                       # rank 0 alone reports
    result = json.loads(lines[0])
    assert result["stopped_reason"] == "completed" and result["epochs_run"] == 2
    assert "DistributedDataParallel: 2 processes (gloo)" in proc.stderr
    assert proc.stderr.count("epoch 2/2") == 1
    # one run folder, one model file; the other rank wrote nothing (no stray run folders)
    models = sorted(p for p in tmp_path.rglob("*.harmodel"))
    assert models == [out / "model.harmodel"]
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 3                                  # header + 2 epochs
    bundle = load_model(out / "model.harmodel")
    assert bundle.labels == ["walking", "jogging", "sitting", "standing"]
    assert bundle.recipe["metrics"]["accuracy"] == pytest.approx(result["metrics"]["accuracy"])
    x = np.zeros((2, 32, 3), np.float32)
    assert np.asarray(bundle.predict(x)).shape == (2,)
    assert _main(["evaluate", "--model", str(out / "model.harmodel"), "--data", str(data),
                  "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["windows"] > 0 and 0 <= figures["accuracy"] <= 1


def _main(argv: list[str]) -> int:
    from har_studio.training import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def test_ddp_outside_torchrun_says_how_to_start_it(tmp_path, capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert _main(["train", "--ddp", "--data", str(tmp_path), *FLAGS]) == 1
    err = capsys.readouterr().err
    assert "torchrun --nproc-per-node" in err and len(err.strip().splitlines()) == 1
