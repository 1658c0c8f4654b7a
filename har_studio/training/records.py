"""What a training run reports and returns: the progress records it yields (frozen dataclasses of
plain floats, ints and strings, never a tensor), its result, and the switch that stops or
pauses it. Shared by the loop's steps (``steps.py``) and the generator (``engine.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..progress import RunControl

BATCH_PROGRESS_INTERVAL_S = 0.2   # at most ~5 BatchProgress a second
PAUSE_HEARTBEAT_S = 0.5           # while paused, re-yield the last progress this often
DIVERGENCE_FACTOR = 1e4           # loss above this x the first epoch's loss counts as diverged


@dataclass(frozen=True)
class BatchProgress:
    """Throttled per-batch progress (a few a second). `fraction` is of the whole run."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float             # the latest batch's loss
    smoothed_loss: float    # moving average of batch losses
    fraction: float
    eta_s: float


@dataclass(frozen=True)
class EpochProgress:
    """One finished epoch. val_loss/val_acc are nan when there are no validation windows."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float               # learning rate at the epoch's last batch
    seconds: float          # wall time of the epoch (training + validation, pauses excluded)
    windows_per_s: float    # training windows per second of training time
    is_best: bool           # the monitored loss improved (the best validation epoch so far)
    fraction: float
    eta_s: float
    kept: bool = False      # these weights are the ones kept so far (the best epoch with
                            # keep_best, else the latest epoch)


@dataclass(frozen=True)
class TrainNote:
    """A message for the user: level "info", "warning" or "error"."""

    text: str
    level: str = "info"


@dataclass
class TrainResult:
    bundle: object                         # har_studio.model.io.ModelBundle (best weights)
    history: list[EpochProgress]
    metrics: dict                          # metrics.evaluate_bundle on the test split
    stopped_reason: str                    # "completed" | "early_stopping" | "stopped" | "diverged"
    device: str                            # "cpu", "cuda:0", "mps"
    precision: str                         # "fp32" or "bf16"
    run_dir: Path | None = None
    model_path: Path | None = None
    best_epoch: int = 0                    # epoch whose weights were kept (0: none finished)
    notes: list[TrainNote] = field(default_factory=list)


class TrainControl(RunControl):
    """Thread-safe stop / pause / resume for a running ``train`` generator: ``stop()`` ends the
    run after the current batch, keeping the best model so far (also ends a pause)."""


def history_from_rows(rows: list[dict]) -> list[EpochProgress]:
    """EpochProgress records back from history.csv rows (``runs.read_history``)."""
    names = [f.name for f in EpochProgress.__dataclass_fields__.values()]
    out = []
    for row in rows:
        values = {k: row[k] for k in names if k in row}
        values["is_best"] = str(values["is_best"]) == "True"
        values["kept"] = str(values.get("kept", values["is_best"])) == "True"
        values.update({k: float(v) if v != "" else math.nan for k, v in values.items()
                       if k not in ("epoch", "epochs", "is_best", "kept")})
        out.append(EpochProgress(**values))
    return out
