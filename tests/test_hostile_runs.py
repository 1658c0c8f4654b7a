"""Crashes and full disks (issue 9): a killed run keeps its last finished epoch and resumes,
stale temporary files go, a failed recording is never published, files get the umask's
permissions, a full disk is one line naming the path."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hostile import write_small_data

from har_studio.atomic import (
    AtomicWriteError,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temp_files,
)
from har_studio.cli import run_cli
from har_studio.live.recorder import StreamRecorder
from har_studio.live.source import SampleBatch
from har_studio.model.io import load_model
from har_studio.training import runs

TRAIN_ARGS = ["--window", "40", "--step", "20", "--embedding", "16", "--head-width", "32",
              "--blocks", "1", "--heads", "2", "--att-size", "8", "--patch-size", "4",
              "--batch-size", "32", "--patience", "0", "--device", "cpu", "--precision", "fp32",
              "--preset", "reference", "--test-subjects", "5", "--val-subjects", "4"]

# Runs `har-studio train` and SIGKILLs itself right after the engine reported epoch KILL_AT
# (its checkpoint is on disk by then): a crash at a known moment, no timing involved.
KILLER = """
import os, signal, sys
from har_studio.training import commands, engine
kill_at = int(sys.argv[1])
real = commands._report_progress
def report(item, prefix=""):
    real(item, prefix)
    if isinstance(item, engine.EpochProgress) and item.epoch == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
commands._report_progress = report
from har_studio.cli import run_cli
sys.exit(run_cli(sys.argv[2:]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_run_leaves_its_last_epoch_and_resumes(tmp_path):
    data = write_small_data(tmp_path / "data.txt", subjects=(1, 2, 3, 4, 5), rows=240)
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(data), "--epochs", "5", "--out", str(run_dir), *TRAIN_ARGS]
    proc = subprocess.run([sys.executable, "-c", KILLER, "2", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    # The listing says interrupted (not running, not finished) and offers to resume.
    (info,) = runs.list_runs(tmp_path)
    assert info.status == runs.INTERRUPTED and info.resumable and info.model_path is None
    assert info.epochs == 2
    checkpoint = load_model(info.checkpoint_path)
    assert checkpoint.recipe["checkpoint"]["epoch"] == 2
    assert len(checkpoint.recipe["history"]) == 2
    history = runs.read_history(run_dir)

    assert run_cli(["train", "--resume", str(run_dir)]) == 0
    report = json.loads((run_dir / runs.REPORT_FILE).read_text())
    assert report["stopped_reason"] == "completed" and report["epochs_run"] == 5
    resumed = runs.read_history(run_dir)
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4, 5]
    assert resumed[:2] == history  # the finished epochs are kept as they were
    assert not (run_dir / runs.CHECKPOINT_FILE).exists() and not (run_dir / runs.LOCK_FILE).exists()
    assert load_model(run_dir / runs.MODEL_FILE).recipe["epochs_run"] == 5
    (info,) = runs.list_runs(tmp_path)
    assert info.status == "completed" and not info.resumable
    assert run_cli(["train", "--resume", str(run_dir)]) == 1  # nothing left to resume


def test_a_run_in_progress_is_running_and_cannot_be_resumed(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    runs.write_config(folder, {"created": "2026-01-01T00:00:00"})
    lock = runs.RunLock(folder)
    try:
        assert runs.is_running(folder)
        assert runs.list_runs(tmp_path)[0].status == runs.RUNNING
        with pytest.raises(OSError, match="another process"):
            runs.RunLock(folder)
        with pytest.raises(ValueError, match="still running"):
            runs.resume_info(folder)
    finally:
        lock.release()
    assert runs.list_runs(tmp_path)[0].status == runs.INTERRUPTED
    with pytest.raises(ValueError, match="no checkpoint"):
        runs.resume_info(folder)


def test_stale_temp_files_are_removed_fresh_ones_kept(tmp_path):
    run = tmp_path / "runs" / "20260101-000000"
    run.mkdir(parents=True)
    stale = run / ".model.harmodel.abcd1234.tmp"
    fresh = run / ".history.csv.zz_9x8y7.tmp"
    mine = run / ".notes.tmp"  # not an atomic_write name
    for p in (stale, fresh, mine):
        p.write_bytes(b"x" * 10)
    old = time.time() - 7200
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    removed = remove_stale_temp_files([tmp_path], older_than_s=3600, depth=3)
    assert removed == [stale] and not stale.exists() and fresh.exists() and mine.exists()


def test_cli_start_clears_the_apps_stale_temp_files(_isolated_user_folder, capsys):
    stale = _isolated_user_folder / "runs" / "x" / ".model.harmodel.q1w2e3r4.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a model")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    run_cli(["inspect", str(_isolated_user_folder / "missing.txt")])
    assert not stale.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_files_get_the_umask_permissions(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "a.txt", "hi")
        atomic_write_bytes(tmp_path / "b.bin", b"hi")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_replacing_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "shared.csv"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._fh, name)


def test_full_disk_is_one_line_naming_the_path(tmp_path):
    target = tmp_path / "out" / "model.harmodel"
    with pytest.raises(AtomicWriteError) as info:
        with atomic_write(target) as fh:
            fh.write(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"{target}: cannot write the file (No space left on device)"
    assert not target.exists() and list(target.parent.iterdir()) == []


def _batch(n: int, t0: float = 0.0) -> SampleBatch:
    vals = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    return SampleBatch(t0 + np.arange(n) / 20.0, vals, channels=("x", "y", "z"))


def test_failed_recording_is_never_published(tmp_path):
    path = tmp_path / "rec.txt"
    path.write_text("an older recording\n")
    rec = StreamRecorder(path, 3, "walking")
    rec.write(_batch(20))
    rec._files[0] = _FullDisk(rec._files[0])
    with pytest.raises(OSError) as info:
        rec.write(_batch(20, 1.0))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert rec.failed is not None and rec.samples == 0
    with pytest.raises(OSError):
        rec.close()
    assert path.read_text() == "an older recording\n"  # not replaced by a truncated file
    assert [p.name for p in tmp_path.iterdir()] == ["rec.txt"]  # no temporary left


def test_a_good_recording_is_published(tmp_path):
    path = tmp_path / "rec.txt"
    with StreamRecorder(path, 3, "walking") as rec:
        rec.write(_batch(30))
    assert rec.failed is None and len(path.read_text().splitlines()) == 30
    assert Path(path).stat().st_size > 0
