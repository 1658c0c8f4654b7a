"""Run folders: what one training run leaves on disk, and reading them back.

Each run lives in its own folder (by default under ``paths.runs_dir()``, named by start time
and a short tag) holding:

- ``config.json``  model config, training config, window, split, activities, channels, files
- ``history.csv``  one row per epoch, rewritten (atomically) after every epoch
- ``model.harmodel``  the best model (also written when the run is stopped)
- ``checkpoint.harmodel``  the latest finished epoch's model, rewritten (atomically) after
  every epoch while the run goes and removed when it ends normally: what a killed run leaves,
  to evaluate or to resume from (``resume_info``, ``har-studio train --resume``)
- ``.running``  held locked by the training process while it runs: a run folder without a
  report whose lock is free was killed ("interrupted")
- ``report.json``  final metrics, stopped_reason, device, precision, timings
- ``report.csv``   the metrics as a flat table (one row per class, then averages)

Everything is written atomically, so a crash leaves an older but readable file. Listing
tolerates broken or half-written folders (they are skipped or shown without metrics); it
lists cross-validation and sweep folders too (their reports are read by ``reports``).

The storage layer of ``training/``: the engine writes through it, jobs and the app read
through it; it imports no job and trains nothing (resuming a run is a job:
``jobs.resume_training``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..paths import runs_dir
from .reports import CROSSVAL_FILE, SWEEP_FILE, clean_json, read_cv_report, read_sweep

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.harmodel"
REPORT_FILE = "report.json"
REPORT_CSV_FILE = "report.csv"
CHECKPOINT_FILE = "checkpoint.harmodel"
LOCK_FILE = ".running"

# RunInfo.status values besides the engine's stopped_reason ("completed", "early_stopping",
# "stopped", "diverged", "aborted")
RUNNING = "running"
INTERRUPTED = "interrupted"


@dataclass
class RunInfo:
    """One line of the run list."""

    folder: Path
    name: str
    created: str                    # ISO 8601 local time the run started
    activities: list[str] = field(default_factory=list)
    epochs: int = 0                 # epochs completed (rows in history.csv)
    stopped_reason: str | None = None   # None while running or after a crash
    accuracy: float | None = None
    f1_macro: float | None = None
    device: str | None = None
    model_path: Path | None = None
    status: str = INTERRUPTED           # RUNNING, INTERRUPTED or the stopped_reason
    checkpoint_path: Path | None = None  # the latest finished epoch of a run that did not end
    crossval_path: Path | None = None    # crossval.json of a cross-validation run
    sweep_path: Path | None = None       # sweep.json of a sweep (har-studio sweep)

    @property
    def resumable(self) -> bool:
        """A run that was killed or abandoned and left a checkpoint to continue from."""
        return self.status in (INTERRUPTED, "aborted") and self.checkpoint_path is not None


def _lock_fd(fd: int, exclusive: bool) -> bool:
    """Try to lock an open file without waiting; False when another process holds it."""
    try:
        import fcntl

        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


class RunLock:
    """Held by the process that trains into a run folder (an OS file lock on ``.running``,
    released by the OS however the process ends), so a listing can tell a killed run from a
    running one."""

    def __init__(self, folder: Path | str) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _lock_fd(self._fd, exclusive=True):
            os.close(self._fd)
            self._fd = None
            raise OSError(f"{Path(folder)}: another process is training into this run folder")
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if self._fd is not None:
                os.close(self._fd)


def is_running(folder: Path | str) -> bool:
    """True while a process holds the run folder's lock."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _lock_fd(fd, exclusive=False)
    finally:
        os.close(fd)


def run_status(folder: Path | str, report: dict | None = None) -> str:
    """RUNNING, INTERRUPTED (killed: no report and nobody holds the lock) or the run's
    stopped_reason from report.json."""
    if is_running(folder):
        return RUNNING
    reason = (report or {}).get("stopped_reason")
    return str(reason) if reason else INTERRUPTED


@dataclass
class ResumeInfo:
    """What ``har-studio train --resume`` needs to continue a run from its checkpoint."""

    folder: Path
    config: dict                  # config.json
    checkpoint: Path              # checkpoint.harmodel (the model of `epoch`)
    epoch: int                    # last finished epoch
    history: list[dict]


def resume_info(folder: Path | str) -> ResumeInfo:
    """Check that `folder` holds a run that can be resumed; ValueError (one line) otherwise."""
    folder = Path(folder)
    record = load_run(folder)
    status = run_status(folder, record.report)
    if status == RUNNING:
        raise ValueError(f"{folder}: this run is still running")
    if status not in (INTERRUPTED, "aborted"):
        raise ValueError(f"{folder}: this run ended ({status}); nothing to resume")
    checkpoint = folder / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise ValueError(f"{folder}: no checkpoint: the run was interrupted before its first "
                         "epoch finished")
    history = record.history
    from ..model.io import load_model

    bundle = load_model(checkpoint)
    epoch = (bundle.recipe.get("checkpoint") or {}).get("epoch")
    if not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"{checkpoint}: not a checkpoint of this run (no epoch recorded)")
    return ResumeInfo(folder, record.config, checkpoint, epoch, history[:epoch])


@dataclass
class RunRecord:
    """Everything a run folder holds, read back."""

    folder: Path
    config: dict
    history: list[dict]
    metrics: dict
    model_path: Path | None
    created: str
    report: dict = field(default_factory=dict)


def _slug(tag: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(tag)).strip("-.")
    return text[:40]


def new_run_dir(tag: str = "", root: Path | str | None = None) -> Path:
    """Create and return a fresh run folder ``<root>/<YYYYmmdd-HHMMSS>[-tag]`` (a numeric
    suffix keeps names unique); root defaults to ``paths.runs_dir()``."""
    base = Path(root) if root is not None else runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y%m%d-%H%M%S")
    slug = _slug(tag)
    if slug:
        stem = f"{stem}-{slug}"
    for i in range(1, 1000):
        folder = base / (stem if i == 1 else f"{stem}-{i}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise OSError(f"cannot create a run folder under {base}")


def _json_text(obj) -> str:
    return json.dumps(clean_json(obj), indent=2, allow_nan=False) + "\n"


def write_config(folder: Path, config: dict) -> None:
    atomic_write_text(Path(folder) / CONFIG_FILE, _json_text(config))


def write_history(folder: Path, rows: list[dict]) -> None:
    """Write all epochs so far (the file is small; an atomic rewrite keeps it consistent)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(Path(folder) / HISTORY_FILE, buffer.getvalue())


def write_report(folder: Path, report: dict) -> None:
    """``report.json`` (everything) and ``report.csv`` (the metric table)."""
    from .metrics import report_rows

    atomic_write_text(Path(folder) / REPORT_FILE, _json_text(report))
    metrics = report.get("metrics") or {}
    if metrics.get("labels"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in report_rows(metrics):
            writer.writerow([f"{v:.6f}" if isinstance(v, float) else v for v in row])
        atomic_write_text(Path(folder) / REPORT_CSV_FILE, buffer.getvalue())


def _read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _number(text: str):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    if value.is_integer() and re.fullmatch(r"-?\d+", str(text).strip()):
        return int(value)
    return value


def read_history(folder: Path) -> list[dict]:
    """Rows of ``history.csv`` with numbers converted (empty list when absent or broken)."""
    path = Path(folder) / HISTORY_FILE
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [{k: _number(v) for k, v in row.items() if k is not None} for row in rows]


def load_run(folder: Path | str) -> RunRecord:
    """Read a run folder. Raises ValueError (one line) when it has no readable config.json;
    a missing report or model just leaves `metrics` empty / `model_path` None."""
    folder = Path(folder)
    try:
        config = _read_json(folder / CONFIG_FILE)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{folder}: not a readable training run ({exc.__class__.__name__})") from None
    try:
        report = _read_json(folder / REPORT_FILE)
    except (OSError, ValueError, UnicodeDecodeError):
        report = {}
    metrics = report.get("metrics") if isinstance(report.get("metrics"), dict) else {}
    model = folder / MODEL_FILE
    return RunRecord(folder=folder, config=config, history=read_history(folder), metrics=metrics,
                     model_path=model if model.is_file() else None,
                     created=str(config.get("created", "")), report=report)


def list_runs(root: Path | str | None = None) -> list[RunInfo]:
    """All runs under `root` (default ``paths.runs_dir()``), newest first; folders that are
    not runs or are unreadable are skipped."""
    base = Path(root) if root is not None else runs_dir()
    if not base.is_dir():
        return []
    runs: list[RunInfo] = []
    for folder in base.iterdir():
        if not folder.is_dir():
            continue
        try:
            record = load_run(folder)
        except ValueError:
            info = _crossval_info(folder) or _sweep_info(folder)
            if info is None:
                log.debug("skipping %s: not a run folder", folder)
            else:
                runs.append(info)
            continue
        report, metrics = record.report, record.metrics
        accuracy = metrics.get("accuracy")
        f1 = metrics.get("f1_macro")
        checkpoint = folder / CHECKPOINT_FILE
        runs.append(RunInfo(
            folder=folder, name=folder.name, created=record.created,
            status=run_status(folder, report),
            checkpoint_path=checkpoint if checkpoint.is_file() else None,
            activities=[str(a) for a in record.config.get("labels", []) or []],
            epochs=len(record.history),
            stopped_reason=report.get("stopped_reason"),
            accuracy=float(accuracy) if isinstance(accuracy, (int, float)) else None,
            f1_macro=float(f1) if isinstance(f1, (int, float)) else None,
            device=report.get("device"),
            model_path=record.model_path,
        ))
    runs.sort(key=lambda r: (r.created, r.name), reverse=True)
    return runs


def _sweep_info(folder: Path) -> RunInfo | None:
    """The list line of a sweep folder (its sweep.json): the best trial's mean accuracy across
    folds, or None when `folder` holds no readable sweep."""
    path = folder / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        sweep = read_sweep(folder)
    except ValueError:
        return None
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(path.stat().st_mtime))
    best = sweep.best or {}
    accuracy = best.get("accuracy_mean")
    f1 = best.get("f1_mean")
    return RunInfo(folder=folder, name=folder.name, created=created, epochs=0,
                   stopped_reason=f"sweep, {len(sweep.trials)} trials ({sweep.state})",
                   accuracy=float(accuracy) if isinstance(accuracy, (int, float)) else None,
                   f1_macro=float(f1) if isinstance(f1, (int, float)) else None,
                   status=sweep.state, sweep_path=path)


def _crossval_info(folder: Path) -> RunInfo | None:
    """The list line of a cross-validation folder (its crossval.json), or None."""
    path = folder / CROSSVAL_FILE
    if not path.is_file():
        return None
    try:
        cv = read_cv_report(path)
    except ValueError:
        return None
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(path.stat().st_mtime))
    accuracy = cv.accuracy_mean if cv.folds and math.isfinite(cv.accuracy_mean) else None
    f1 = cv.f1_mean if cv.folds and math.isfinite(cv.f1_mean) else None
    reason = f"cross-validation, {len(cv.folds)} of {cv.k} folds"
    return RunInfo(folder=folder, name=folder.name, created=created, activities=list(cv.labels),
                   epochs=0, stopped_reason=reason, accuracy=accuracy, f1_macro=f1,
                   status="stopped" if cv.stopped else "completed", crossval_path=path)
