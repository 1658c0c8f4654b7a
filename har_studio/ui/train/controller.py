"""The Train tab's run controller: owns the job's worker, its TrainControl and the progress
buffers the curves are drawn from, and turns the job's progress into plain signals.

What a run is (prepare, train, cross-validate) lives in ``training/jobs.py``; the views only
listen to this controller, and the controller holds no widgets.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...training.crossval import CVResult, FoldFinished, FoldProgress
from ...training.engine import BatchProgress, EpochProgress, TrainControl, TrainNote
from ...training.jobs import DeviceChosen, cross_validate_model, resume_training, train_model
from ..workers import JobRunner


def format_duration(seconds: float | None) -> str:
    """Seconds as '1 h 02 min', '3 min 05 s' or '12 s' ('–' when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def fmt(value, digits: int = 4) -> str:
    """A metric for a table cell or log line ('–' for None and nan)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def epoch_note(row: dict) -> str:
    """The log line of one finished epoch, from an EpochProgress as a dict or a row of a run's
    history.csv (whose numbers may be text, and whose missing validation is empty)."""
    n = {key: _number(row.get(key)) for key in ("epoch", "epochs", "train_loss", "train_acc",
                                                 "val_loss", "val_acc", "lr", "windows_per_s")}
    best = str(row.get("is_best")).strip().lower() in ("true", "1")
    epoch = f"{n['epoch']:.0f}/{n['epochs']:.0f}" if math.isfinite(n["epochs"]) else \
        f"{n['epoch']:.0f}"
    return (f"Epoch {epoch}: loss {n['train_loss']:.4f}, accuracy {n['train_acc']:.3f} · "
            + (f"validation {fmt(n['val_loss'])} / {fmt(n['val_acc'], 3)}"
               if math.isfinite(n["val_loss"]) else "no validation people")
            + f" · lr {n['lr']:.2e} · {n['windows_per_s']:,.0f} "
            f"windows/s{' · best val loss' if best else ''}")


@dataclass
class TrainRequest:
    """Everything a run needs, captured on the GUI thread when Start is pressed."""

    dataset: object
    window: object
    split: object
    activities: list[str] | None
    channels: list[str] | None
    model_overrides: dict
    train_config: object
    features: object
    init_bundle: object = None
    cv_folds: int = 0              # > 1: cross-validate by subject instead
    preset: str = ""
    control: TrainControl = field(default_factory=TrainControl)
    resume_folder: str | None = None   # continue this interrupted run from its checkpoint


def _job(request: TrainRequest):
    """The generator the worker runs (module level: it holds no reference to a widget)."""
    r = request
    if r.resume_folder:
        return resume_training(r.resume_folder, control=r.control)
    if r.cv_folds > 1:
        return cross_validate_model(
            r.dataset, k=r.cv_folds, window=r.window, activities=r.activities,
            channels=r.channels, features=r.features, model_overrides=r.model_overrides,
            train_config=r.train_config, control=r.control, label=r.preset)
    return train_model(r.dataset, window=r.window, split=r.split, activities=r.activities,
                       channels=r.channels, features=r.features,
                       model_overrides=r.model_overrides, train_config=r.train_config,
                       control=r.control, init_bundle=r.init_bundle)


class TrainController(QObject):
    """One training or cross-validation at a time; its progress as signals and buffers."""

    progressed = Signal(float, object)   # fraction of the run, ETA in s (None: unknown)
    statusChanged = Signal(str)          # one line on where the run is
    noted = Signal(str, str)             # a note to show: text, level ("info"/"warning"/...)
    deviceChosen = Signal(str)           # "cpu · fp32"
    epochFinished = Signal(object)       # EpochProgress
    foldStarted = Signal(int)            # the curves restart for each fold
    foldFinished = Signal(object)        # FoldFinished
    trainingFinished = Signal(object)    # TrainResult, or None when stopped before training
    crossValidationFinished = Signal(object)   # CVResult
    failed = Signal(object, str)         # exception, traceback
    cancelled = Signal()                 # cancel() ended the run; nothing more of it comes
    ended = Signal()                     # the run is over, however it ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = JobRunner(self, receiver=self)
        self.request: TrainRequest | None = None
        self.started_at = 0.0
        self.history: list[dict] = []
        self.batch_x: list[float] = []
        self.batch_y: list[float] = []
        self.dirty = False
        self._fold = 0

    @property
    def running(self) -> bool:
        return self.request is not None

    @property
    def control(self) -> TrainControl | None:
        return self.request.control if self.request is not None else None

    def minutes(self) -> float:
        return (time.monotonic() - self.started_at) / 60.0

    def start(self, request: TrainRequest) -> None:
        self.request = request
        self.started_at = time.monotonic()
        self.reset_buffers()
        self._fold = 0
        self._runner.start(lambda: _job(request))

    def stop(self, wait_ms: int = 0) -> None:
        """Ask the run to stop at the next batch (its best model is kept); optionally wait."""
        if self.request is not None:
            self.request.control.stop()
            self.request.control.resume()
        if wait_ms:
            self._runner.wait(wait_ms)

    def cancel(self) -> None:
        """Abandon the run: nothing more of it is shown."""
        self._runner.cancel()

    def reset_buffers(self, history: list[dict] | None = None, batch_x=(), batch_y=()) -> None:
        """Start the curves afresh, or from a past run's epochs and batch curve."""
        self.history = list(history or [])
        self.batch_x, self.batch_y = [float(v) for v in batch_x], [float(v) for v in batch_y]
        self.dirty = True

    def batches(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.batch_x, float), np.asarray(self.batch_y, float)

    # ------------------------------------------------------------------ runner
    def _on_runner_progressed(self, item) -> None:
        cv = None
        if isinstance(item, FoldProgress):
            cv = item
            if item.fold != self._fold:
                self._fold = item.fold
                self.reset_buffers()
                self.foldStarted.emit(item.fold)
            item = item.item
        elif isinstance(item, FoldFinished):
            self.progressed.emit(item.fraction, None)
            self.noted.emit(f"Fold {item.fold}/{item.folds} (subjects "
                            f"{', '.join(map(str, item.test_subjects))}): accuracy "
                            f"{item.accuracy:.3f}, macro F1 {item.f1_macro:.3f}", "info")
            self.foldFinished.emit(item)
            return
        self._show_item(item, cv)

    def _show_item(self, item, cv: FoldProgress | None) -> None:
        fold = f"Fold {cv.fold}/{cv.folds} · " if cv is not None else ""
        if isinstance(item, BatchProgress):
            self.batch_x.append(item.epoch - 1 + item.batch / max(item.batches, 1))
            self.batch_y.append(item.smoothed_loss)
            self.dirty = True
            self._progress(item, cv)
            control = self.control
            if control is not None and not control.paused and not control.stopped:
                self.statusChanged.emit(
                    f"{fold}Epoch {item.epoch}/{item.epochs} · batch {item.batch}/{item.batches}"
                    f" · loss {item.smoothed_loss:.4f}")
        elif isinstance(item, EpochProgress):
            self.history.append(asdict(item))
            self.dirty = True
            self._progress(item, cv)
            self.noted.emit(fold + epoch_note(self.history[-1]), "info")
            self.epochFinished.emit(item)
        elif isinstance(item, DeviceChosen):
            self.deviceChosen.emit(f"{item.device} · {item.precision}")
        elif isinstance(item, TrainNote):
            self.noted.emit(item.text, item.level)

    def _progress(self, item, cv: FoldProgress | None) -> None:
        if cv is None:
            self.progressed.emit(item.fraction, item.eta_s)
        else:
            # the whole run's ETA, from its pace so far (pauses included)
            elapsed = time.monotonic() - self.started_at
            eta = elapsed / cv.fraction * (1 - cv.fraction) if cv.fraction > 0.02 else None
            self.progressed.emit(cv.fraction, eta)

    # The run is over before its outcome is announced: ``ended`` comes first.
    def _on_runner_succeeded(self, result) -> None:
        self.request = None
        self.ended.emit()
        if isinstance(result, CVResult):
            self.crossValidationFinished.emit(result)
            return
        if result is not None and result.history:
            self.history = [asdict(h) for h in result.history]
            self.dirty = True
        self.trainingFinished.emit(result)

    def _on_runner_failed(self, exc, tb: str) -> None:
        self.request = None
        self.ended.emit()
        self.failed.emit(exc, tb)

    def _on_runner_cancelled(self) -> None:
        self.request = None
        self.ended.emit()
        self.cancelled.emit()
