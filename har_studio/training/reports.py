"""The report files of cross-validations and sweeps, and the JSON they are written in.

A cross-validation folder holds ``crossval.json`` (a ``CVResult``: ``write_cv_report`` /
``read_cv_report``); a sweep folder holds ``sweep.json`` (read back as a ``SweepInfo``; the
sweep writes it as its trials end, ``sweep._Folder``). ``clean_json`` makes any figures JSON-safe
(every file of a run folder is written with it).

The bottom of the run-folder storage (``runs`` lists run, cross-validation and sweep folders
with these readers): it imports no other part of ``training/`` and trains nothing.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..paths import runs_dir

log = logging.getLogger(__name__)

CROSSVAL_FILE = "crossval.json"
SWEEP_FILE = "sweep.json"


def clean_json(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None, paths to str."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return clean_json(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ---------------------------------------------------------------------------------------------
# Cross-validation: crossval.json


@dataclass
class CVResult:
    """Figures of a cross-validation. `folds` holds one dict per completed fold."""

    folds: list[dict]
    k: int
    labels: list[str]
    accuracy_mean: float
    accuracy_std: float
    accuracy_min: float
    accuracy_max: float
    f1_mean: float
    f1_std: float
    f1_min: float
    f1_max: float
    pooled_accuracy: float
    pooled_f1: float
    confusion: list[list[int]]              # pooled over folds, rows true
    per_subject: dict[int, dict]            # subject -> {"accuracy", "windows", "fold"}
    per_class: dict[str, float | None]      # pooled recall of each class
    minutes: float                          # wall clock
    cpu_minutes: float                      # process CPU time
    settings: dict = field(default_factory=dict)
    stopped: bool = False                   # stopped early: fewer folds than k
    models: list = field(default_factory=list)   # ModelBundles, when keep_models

    @property
    def completed(self) -> int:
        return len(self.folds)

    def summary(self) -> str:
        """One line: mean ± std accuracy and macro F1 over folds."""
        text = (f"{self.k}-fold leave-subjects-out" + (
            f", stopped after {self.completed} of {self.k} folds" if self.stopped else "")
            + f": accuracy {self.accuracy_mean:.3f} "
                f"± {self.accuracy_std:.3f} (min {self.accuracy_min:.3f}, max "
                f"{self.accuracy_max:.3f}), macro F1 {self.f1_mean:.3f} ± {self.f1_std:.3f}")
        return text

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "folds_completed": self.completed,
            "stopped": self.stopped,
            "labels": list(self.labels),
            "accuracy": {"mean": self.accuracy_mean, "std": self.accuracy_std,
                         "min": self.accuracy_min, "max": self.accuracy_max},
            "f1_macro": {"mean": self.f1_mean, "std": self.f1_std, "min": self.f1_min,
                         "max": self.f1_max},
            "pooled_accuracy": self.pooled_accuracy,
            "pooled_f1_macro": self.pooled_f1,
            "confusion": self.confusion,
            "per_class": dict(self.per_class),
            "per_subject": {str(s): v for s, v in sorted(self.per_subject.items())},
            "folds": self.folds,
            "minutes": self.minutes,
            "cpu_minutes": self.cpu_minutes,
            "settings": self.settings,
        }


def write_cv_report(path: Path | str, cv: CVResult) -> Path:
    """Write the cross-validation figures as JSON (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(clean_json(cv.to_dict()), indent=1))
    return path


def read_cv_report(path: Path | str) -> CVResult:
    """A cross-validation read back from its ``crossval.json`` (to reopen it from Past runs).
    Raises ValueError (one line naming the file) when it is not readable."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        acc, f1 = d.get("accuracy") or {}, d.get("f1_macro") or {}

        def num(x) -> float:
            return float(x) if isinstance(x, (int, float)) else math.nan

        return CVResult(
            folds=[f for f in d.get("folds") or [] if isinstance(f, dict)], k=int(d["k"]),
            labels=[str(a) for a in d.get("labels") or []],
            accuracy_mean=num(acc.get("mean")), accuracy_std=num(acc.get("std")),
            accuracy_min=num(acc.get("min")), accuracy_max=num(acc.get("max")),
            f1_mean=num(f1.get("mean")), f1_std=num(f1.get("std")), f1_min=num(f1.get("min")),
            f1_max=num(f1.get("max")), pooled_accuracy=num(d.get("pooled_accuracy")),
            pooled_f1=num(d.get("pooled_f1_macro")),
            confusion=[[int(v) for v in row] for row in d.get("confusion") or []],
            per_subject={int(s): v for s, v in (d.get("per_subject") or {}).items()},
            per_class=dict(d.get("per_class") or {}), minutes=num(d.get("minutes")),
            cpu_minutes=num(d.get("cpu_minutes")), settings=dict(d.get("settings") or {}),
            stopped=bool(d.get("stopped")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a readable cross-validation ({exc.__class__.__name__})"
                         ) from None


def list_cv_runs(root: Path | str | None = None) -> list[dict]:
    """Every cross-validation run folder under `root` (default: the app's runs folder),
    newest first: ``{"folder", "k", "folds_completed", "accuracy", "f1_macro", "folds",
    "settings"}`` from its crossval.json (the table: one row per fold); unreadable ones are
    skipped. For Past runs."""
    root = Path(root) if root is not None else runs_dir()
    found: list[dict] = []
    if not root.is_dir():
        return found
    for path in sorted(root.glob(f"*/{CROSSVAL_FILE}"), reverse=True):
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.info("skipping %s: %s", path, exc)
            continue
        if isinstance(d, dict) and isinstance(d.get("folds"), list):
            found.append({"folder": path.parent, "k": d.get("k"),
                          "folds_completed": d.get("folds_completed"),
                          "accuracy": d.get("accuracy"), "f1_macro": d.get("f1_macro"),
                          "folds": d["folds"], "settings": d.get("settings") or {}})
    return found


# ---------------------------------------------------------------------------------------------
# Sweeps: sweep.json


@dataclass
class SweepInfo:
    folder: Path
    state: str                     # running, finished, stopped, failed
    updated: str
    k: int
    score: str
    trials: list[dict]             # the table: one row per ended trial
    best: dict | None
    best_preset: Path | None


def read_sweep(folder) -> SweepInfo:
    """The sweep in `folder` (its sweep.json); ValueError naming the file if unreadable."""
    path = Path(folder) / SWEEP_FILE
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable sweep record ({exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a sweep record")
    best_preset = d.get("best_preset")
    return SweepInfo(Path(folder), str(d.get("state", "?")), str(d.get("updated", "")),
                     int(d.get("k") or 0), str(d.get("score", "mean")),
                     list(d.get("trials") or []), d.get("best"),
                     Path(best_preset) if best_preset else None)


def list_sweeps(root=None) -> list[SweepInfo]:
    """Every sweep folder under `root` (default: the app's runs folder), newest first;
    unreadable ones are skipped."""
    root = Path(root) if root is not None else runs_dir()
    found = []
    if root.is_dir():
        for path in sorted(root.glob(f"*/{SWEEP_FILE}"), reverse=True):
            try:
                found.append(read_sweep(path.parent))
            except ValueError as exc:
                log.info("skipping %s", exc)
    return found
