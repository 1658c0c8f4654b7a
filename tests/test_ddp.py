"""``torchrun --nproc-per-node 2 -m har_studio train --ddp``: two CPU processes (gloo) train
one model; rank 0 alone writes the run folder and one model file, which loads and evaluates;
and the two processes train the weights that one process trains."""

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
from har_studio.training.runs import read_history

FLAGS = ["--window", "32", "--step", "16", "--embedding", "16", "--head-width", "32",
         "--blocks", "1", "--heads", "2", "--att-size", "8", "--batch-size", "32",
         "--epochs", "2", "--device", "cpu", "--precision", "fp32", "--test-subjects", "1"]

# One step an epoch over all training windows (the global batch holds them all) and no dropout:
# then two processes (each the mean gradient of its half, averaged) and one process (the mean
# gradient of the whole) take the same steps, and only the order of float sums differs. Measured
# (these flags, seed 0, 3 epochs, torch 2.13 CPU): per-epoch losses equal within 1.1e-7, final
# weights within 1.2e-5 (largest absolute difference of any weight).
EXACT_FLAGS = [*FLAGS, "--batch-size", "1024", "--dropout", "0", "--epochs", "3"]
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-4


def _env(home: Path) -> dict:
    env = {**os.environ, "HAR_STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1",
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("RANK", None)
    return env


def _torchrun(data: Path, out: Path, home: Path, flags: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "har_studio", "train", "--ddp", "--data", str(data), "--out", str(out),
           "--json", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(home), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_demo_files(folder, subjects=3, seconds_per_activity=8.0,
                     activities=("walking", "jogging", "sitting", "standing"))
    return folder


def test_two_process_gloo_training_writes_one_model(data, tmp_path, capsys):
    home, out = tmp_path / "home", tmp_path / "run"
    proc = _torchrun(data, out, home, FLAGS)
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


def test_two_processes_train_the_weights_one_process_trains(data, tmp_path, capsys):
    two, one = tmp_path / "two", tmp_path / "one"
    _torchrun(data, two, tmp_path / "home", EXACT_FLAGS)
    assert _main(["train", "--data", str(data), "--out", str(one), "--json", *EXACT_FLAGS]) == 0
    capsys.readouterr()
    epochs_two, epochs_one = read_history(two), read_history(one)
    assert [h["epoch"] for h in epochs_two] == [h["epoch"] for h in epochs_one] == [1, 2, 3]
    for a, b in zip(epochs_two, epochs_one, strict=True):
        for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
            assert abs(a[name] - b[name]) <= LOSS_TOLERANCE, (name, a, b)
    assert epochs_one[-1]["train_loss"] < epochs_one[0]["train_loss"]    # it did learn
    weights_two = load_model(two / "model.harmodel").model.state_dict()
    weights_one = load_model(one / "model.harmodel").model.state_dict()
    assert list(weights_two) == list(weights_one)
    for name, w in weights_one.items():
        difference = float((weights_two[name] - w).abs().max())
        assert difference <= WEIGHT_TOLERANCE, (name, difference)


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
