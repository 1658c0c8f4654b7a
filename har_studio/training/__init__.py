"""Training: settings, data preparation, the training generator, metrics and run folders.

Qt-free. torch is imported only when training or evaluating actually starts, so importing
this package stays cheap.
"""

from __future__ import annotations

from ..progress import run_to_end
from .config import TrainConfig
from .engine import (
    BatchProgress,
    EpochProgress,
    TrainControl,
    TrainNote,
    TrainResult,
    resolve_device,
    resolve_precision,
    train,
)
from .metrics import classification_metrics, confusion_matrix, evaluate_bundle
from .prepare import PreparedData, default_model_config, prepare_data
from .runs import RunInfo, RunRecord, list_runs, load_run, new_run_dir

__all__ = [
    "BatchProgress", "EpochProgress", "PreparedData", "RunInfo", "RunRecord", "TrainConfig",
    "TrainControl", "TrainNote", "TrainResult", "classification_metrics", "confusion_matrix",
    "default_model_config", "evaluate_bundle", "list_runs", "load_run", "new_run_dir",
    "prepare_data", "resolve_device", "resolve_precision", "run_to_end", "train",
]
