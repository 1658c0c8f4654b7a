"""Leave-subjects-out cross-validation: the honest yardstick for accuracy on new people.

The subjects are dealt into k folds (``data.splits.subject_folds``); each fold in turn is the
test set while a model is trained on the other subjects, with a few of those (seeded) held
back as validation subjects for early stopping. Every subject is tested exactly once, by a
model that never saw them. The result reports the mean and spread over folds, the pooled
confusion matrix and the accuracy of every person.

``cross_validate`` is a generator like ``engine.train``: it yields the engine's progress items
wrapped as ``FoldProgress(fold, folds, item)`` plus one ``FoldFinished`` per fold, and returns
a ``CVResult`` (``reports``: its figures and its ``crossval.json``). The app runs it in a
worker thread, the command line drives it directly.

The last results are remembered (``remember_cv`` / ``find_cv``) so that a leaky random-split
figure can be shown next to the subject-wise one for comparable settings.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from ..data.dataset import Dataset, frame_and_files
from ..data.features import FeatureConfig
from ..data.splits import SplitConfig, subject_folds
from ..data.windows import WindowConfig
from .config import MODEL_FIELDS, TrainConfig
from .reports import CROSSVAL_FILE, CVResult, clean_json, write_cv_report

log = logging.getLogger(__name__)

CV_HISTORY_FILE = "crossval_history.json"
CV_HISTORY_KEEP = 50


@dataclass(frozen=True)
class FoldProgress:
    """An engine progress item (BatchProgress, EpochProgress or TrainNote) of fold `fold`
    (1-based) of `folds`."""

    fold: int
    folds: int
    item: object
    fraction: float = 0.0   # of the whole cross-validation done (never decreases)


@dataclass(frozen=True)
class FoldFinished:
    """One fold done: its test subjects and figures (plain values)."""

    fold: int
    folds: int
    test_subjects: tuple[int, ...]
    accuracy: float
    f1_macro: float
    windows: int
    seconds: float

    @property
    def fraction(self) -> float:
        return self.fold / self.folds


def pick_val_subjects(train_side: list[int], count: int, seed: int) -> list[int]:
    """`count` validation subjects drawn (seeded) from a fold's training subjects, always
    leaving at least one subject to train on."""
    count = max(0, min(int(count), len(train_side) - 1))
    if count == 0:
        return []
    rng = np.random.default_rng(seed)
    return sorted(int(s) for s in rng.choice(sorted(train_side), count, replace=False))


def _stats(values: list[float]) -> tuple[float, float, float, float]:
    if not values:
        return (math.nan,) * 4
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std()), float(a.min()), float(a.max())


def cross_validate(
    dataset_or_frame: Dataset | pd.DataFrame,
    *,
    k: int = 4,
    window: WindowConfig | None = None,
    activities: list[str] | None = None,
    channels: list[str] | None = None,
    features: FeatureConfig | None = None,
    model_overrides: dict | None = None,
    train_config: TrainConfig | None = None,
    seed: int = 0,
    val_subjects: int | None = None,
    control=None,
    keep_models: bool = False,
    run_dir: Path | str | None = None,
) -> Generator[FoldProgress | FoldFinished, None, CVResult]:
    """Train and test k models, fold f testing on the subjects of fold f.

    `model_overrides` are ViTConfig fields other than series/modal/classes (e.g.
    ``{"embedding_dim": 64}``); `val_subjects` subjects of each fold's training side stop
    early (0: none, the engine then watches the training loss; None: 2 when the training
    settings use validation - early stopping or keeping the best epoch - else 0, so every
    training-side subject trains). `control` (a TrainControl)
    stops or pauses the current fold; a stop ends the cross-validation after it, reporting
    the folds completed. With `run_dir`, writes ``crossval.json`` there. Raises ValueError
    (one line) for data that cannot be cross-validated (fewer than k subjects with windows).
    """
    from .engine import TrainControl, TrainNote

    cfg = train_config or TrainConfig()
    control = control or TrainControl()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    plan = plan_folds(dataset_or_frame, k=k, window=window, activities=activities,
                      channels=channels, features=features, model_overrides=model_overrides,
                      train_config=cfg, seed=seed, val_subjects=val_subjects)
    outcomes: list[FoldOutcome] = []
    stopped = False
    for f in range(1, k + 1):
        if control.stopped:
            stopped = True
            break
        outcome = yield from run_fold(plan, f, control)
        if outcome is None:
            stopped = True
            break
        outcomes.append(outcome)
        row = outcome.row
        yield FoldFinished(f, k, tuple(row["test_subjects"]), row["accuracy"], row["f1_macro"],
                           row["windows"], row["seconds"])

    cv = combine_folds(plan, outcomes, stopped=stopped, wall0=wall0, cpu0=cpu0,
                       keep_models=keep_models)
    if outcomes:
        yield FoldProgress(len(outcomes), k, TrainNote(cv.summary()), len(outcomes) / k)
    if run_dir is not None:
        write_cv_report(Path(run_dir) / CROSSVAL_FILE, cv)
    return cv


@dataclass
class CVPlan:
    """What every fold of a cross-validation shares: the windows (made once), the folds and
    the recipe. Plain data, so it can be sent once to parallel workers (``parallel.py``)."""

    windows: object                 # data.windows.Windows of every subject
    warnings: list[str]
    data_files: list[str]
    subjects: list[int]
    folds: list[list[int]]
    k: int
    seed: int
    val_subjects: int
    features: FeatureConfig
    overrides: dict
    train_config: TrainConfig
    settings: dict


@dataclass
class FoldOutcome:
    """One finished fold: its row of figures and its test predictions."""

    fold: int
    row: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    per_subject: dict[int, dict]
    bundle: object = None


def plan_folds(dataset_or_frame: Dataset | pd.DataFrame, *, k: int = 4,
               window: WindowConfig | None = None, activities: list[str] | None = None,
               channels: list[str] | None = None, features: FeatureConfig | None = None,
               model_overrides: dict | None = None, train_config: TrainConfig | None = None,
               seed: int = 0, val_subjects: int | None = None) -> CVPlan:
    """Window the data once and deal the subjects into k folds (see ``cross_validate``)."""
    from .prepare import window_data

    window = window or WindowConfig()
    features = features or FeatureConfig()
    cfg = train_config or TrainConfig()
    overrides = dict(model_overrides or {})
    if val_subjects is None:
        val_subjects = 2 if (cfg.patience > 0 or cfg.keep_best) else 0
    frame, data_files = frame_and_files(dataset_or_frame)
    # Subjects that have at least one window of the chosen activities: only they can be folded.
    windows, warnings = window_data(frame, window, activities, channels, features)
    subjects = sorted(int(s) for s in np.unique(windows.subjects))
    if len(subjects) < max(k, 2):
        raise ValueError(f"{k}-fold cross-validation by subject needs at least {max(k, 2)} "
                         f"subjects with windows; the data has {len(subjects)}")
    folds = subject_folds(subjects, k, seed)
    settings = {
        "k": k, "seed": seed, "val_subjects": val_subjects, "window": window.to_dict(),
        # what was actually used (not None for "all"), so comparable runs can be found
        "activities": list(windows.labels), "channels": list(windows.channels),
        "features": features.to_dict(), "model_overrides": overrides,
        "training": cfg.to_dict(), "subjects": subjects, "folds": folds,
        "data_files": data_files,
    }
    return CVPlan(windows, warnings, data_files, subjects, folds, k, seed, val_subjects,
                  features, overrides, cfg, settings)


def run_fold(plan: CVPlan, f: int, control=None
             ) -> Generator[FoldProgress, None, FoldOutcome | None]:
    """Train and test fold `f` (1-based) of `plan`, yielding its progress; None when stopped
    during the fold (a stopped fold is not counted)."""
    from .engine import TrainControl, TrainNote, train
    from .metrics import classification_metrics
    from .prepare import default_model_config, prepare_windows

    control = control or TrainControl()
    k, seed = plan.k, plan.seed
    test_s = plan.folds[f - 1]
    fold_t0 = time.perf_counter()
    train_side = [s for s in plan.subjects if s not in test_s]
    val_s = pick_val_subjects(train_side, plan.val_subjects, seed * 1000 + f)
    # val_fraction 0 when no validation subjects: otherwise the split would pick some.
    split = SplitConfig(kind="subject", test_subjects=tuple(test_s),
                        val_subjects=tuple(val_s), val_fraction=0.15 if val_s else 0.0,
                        seed=seed)
    prepared = prepare_windows(plan.windows, split, plan.features, plan.data_files,
                               plan.warnings)
    labels = prepared.labels
    model_config = default_model_config(prepared, **plan.overrides)
    yield FoldProgress(f, k, fraction=(f - 1) / k, item=TrainNote(
        f"Fold {f}/{k}: testing on subject(s) {', '.join(map(str, test_s))}; validation "
        f"{', '.join(map(str, val_s)) or 'none'}; training on "
        f"{len(prepared.split.train_subjects)} subjects ({len(prepared.train)} windows)"))
    gen = train(prepared, model_config, plan.train_config, control, None)
    done = (f - 1) / k
    # Not ``run_to_end``: this loop does not consume the fold's progress, it re-yields it
    # (wrapped in FoldProgress) to whoever drives run_fold, and closes the fold's run when
    # run_fold itself is closed.
    try:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            inner = getattr(item, "fraction", None)
            if inner is not None:
                done = max(done, min(1.0, (f - 1 + float(inner)) / k))
            yield FoldProgress(f, k, item, done)
    finally:
        gen.close()
    if result.stopped_reason == "stopped":
        yield FoldProgress(f, k, TrainNote(
            f"Cross-validation stopped during fold {f}; that fold is not counted"), done)
        return None
    test = prepared.test
    pred = np.asarray(result.bundle.predict(test.X, test.subjects), dtype=np.int64)
    m = classification_metrics(test.y, pred, labels)
    per_subject: dict[int, dict] = {}
    subject_acc = {}
    for s in test_s:
        sel = test.subjects == s
        n = int(sel.sum())
        acc = float((pred[sel] == test.y[sel]).mean()) if n else None
        per_subject[int(s)] = {"accuracy": acc, "windows": n, "fold": f}
        subject_acc[str(s)] = acc
    row = {
        "fold": f, "test_subjects": [int(s) for s in test_s], "val_subjects": val_s,
        "train_subjects": list(prepared.split.train_subjects),
        "accuracy": m["accuracy"], "f1_macro": m["f1_macro"], "windows": m["windows"],
        "per_class": m["per_class"], "per_subject": subject_acc,
        "stopped_reason": result.stopped_reason, "best_epoch": result.best_epoch,
        "epochs_run": len(result.history), "seconds": time.perf_counter() - fold_t0,
    }
    return FoldOutcome(f, row, np.asarray(test.y), pred, per_subject, result.bundle)


def combine_folds(plan: CVPlan, outcomes: list[FoldOutcome], *, stopped: bool, wall0: float,
                  cpu0: float, keep_models: bool = False,
                  cpu_seconds: float | None = None) -> CVResult:
    """The CVResult of the finished folds (in fold order). `cpu_seconds` replaces this
    process's CPU time when the folds ran elsewhere."""
    from .metrics import classification_metrics

    outcomes = sorted(outcomes, key=lambda o: o.fold)
    fold_rows = [o.row for o in outcomes]
    labels = list(plan.windows.labels)
    per_subject: dict[int, dict] = {}
    for o in outcomes:
        per_subject.update(o.per_subject)
    if not fold_rows:
        pooled = classification_metrics(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                        labels or ["-", "--"])
    else:
        pooled = classification_metrics(np.concatenate([o.y_true for o in outcomes]),
                                        np.concatenate([o.y_pred for o in outcomes]), labels)
    acc = _stats([r["accuracy"] for r in fold_rows])
    f1 = _stats([r["f1_macro"] for r in fold_rows])
    cpu = cpu_seconds if cpu_seconds is not None else time.process_time() - cpu0
    return CVResult(
        folds=fold_rows, k=plan.k, labels=list(labels),
        accuracy_mean=acc[0], accuracy_std=acc[1], accuracy_min=acc[2], accuracy_max=acc[3],
        f1_mean=f1[0], f1_std=f1[1], f1_min=f1[2], f1_max=f1[3],
        pooled_accuracy=pooled["accuracy"] if fold_rows else math.nan,
        pooled_f1=pooled["f1_macro"] if fold_rows else math.nan,
        confusion=pooled["confusion"] if fold_rows else [],
        per_subject=per_subject,
        per_class=pooled["per_class"] if fold_rows else {},
        minutes=(time.perf_counter() - wall0) / 60.0,
        cpu_minutes=cpu / 60.0,
        settings=dict(plan.settings), stopped=stopped,
        models=[o.bundle for o in outcomes] if keep_models else [])


# ---------------------------------------------------------------------------------------------
# Remembering results, to show the subject-wise figure next to a random-split one


def comparable_key(settings: dict) -> dict:
    """The settings that make two results comparable: window, activities, channels,
    features, model overrides (epochs, seeds and split details do not count)."""
    window = dict(settings.get("window") or {})
    acts = settings.get("activities")
    chans = settings.get("channels")
    return {
        "window": {"size": window.get("size"), "step": window.get("step")},
        "activities": sorted(acts) if acts else None,
        "channels": list(chans) if chans else None,
        "features": FeatureConfig.from_dict(settings.get("features")).to_dict(),
        "model_overrides": _full_model(settings.get("model_overrides") or {}),
    }


def _full_model(overrides: dict) -> dict:
    """Model overrides completed with the ViTConfig defaults (so {} equals the reference)."""
    from dataclasses import fields

    from ..model.config import ViTConfig

    defaults = {f.name: f.default for f in fields(ViTConfig)}
    full = {k: overrides.get(k, defaults[k]) for k in MODEL_FIELDS}
    return dict(sorted(full.items()))


def _history_path() -> Path:
    from ..paths import user_data_dir

    return user_data_dir() / CV_HISTORY_FILE


def _read_history() -> list[dict]:
    path = _history_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def remember_cv(cv: CVResult, label: str = "") -> None:
    """Add a summary of `cv` to the user's cross-validation history (kept short)."""
    if not cv.folds:
        return
    entry = clean_json({
        "key": comparable_key(cv.settings), "label": label, "k": cv.k,
        "folds_completed": cv.completed, "accuracy_mean": cv.accuracy_mean,
        "accuracy_std": cv.accuracy_std, "f1_mean": cv.f1_mean,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    history = [entry] + _read_history()
    try:
        atomic_write_text(_history_path(), json.dumps(history[:CV_HISTORY_KEEP], indent=1))
    except OSError as exc:
        log.warning("could not remember the cross-validation result: %s", exc)


DATA_FIELDS = ("window", "activities", "channels")


def find_cv(settings: dict, fields: tuple[str, ...] | None = None) -> dict | None:
    """The latest remembered cross-validation with comparable settings (see
    ``comparable_key``; only `fields` of it when given, e.g. ``DATA_FIELDS``), or None."""
    key = comparable_key(settings)
    if fields is not None:
        key = {f: key[f] for f in fields}
    for entry in _read_history():
        stored = entry.get("key")
        if not isinstance(stored, dict):
            continue
        if fields is not None:
            stored = {f: stored.get(f) for f in fields}
        if stored == key:
            return entry
    return None


def random_split_guidance(settings: dict | None = None, *alternatives: dict) -> str:
    """What to tell a user who picks a random window split: the measured gap between random
    and subject-wise accuracy, and their own last subject-wise figure for the same window,
    activities and channels when one was measured (`alternatives`: other spellings of the
    same settings, e.g. None for "all activities", tried in turn)."""
    from .presets import MEASURED_GAP

    text = MEASURED_GAP
    entry = None
    for candidate in (settings, *alternatives):
        if candidate is not None and entry is None:
            entry = find_cv(candidate, DATA_FIELDS)
    if entry and isinstance(entry.get("accuracy_mean"), (int, float)):
        std = entry.get("accuracy_std") or 0.0
        label = f" ({entry['label']})" if entry.get("label") else ""
        text += (f" Your last cross-validation by subject with these window, activity and "
                 f"channel settings{label}: {entry['accuracy_mean']:.1%} ± {std:.1%} over "
                 f"{entry.get('folds_completed', '?')} folds.")
    else:
        text += " For your data: Train tab, 'Cross-validate by subject'."
    return text


def data_settings(window: WindowConfig, activities, channels) -> dict:
    """The part of a cross-validation's settings that the Data tab decides."""
    return {"window": window.to_dict(),
            "activities": list(activities) if activities is not None else None,
            "channels": list(channels) if channels is not None else None}
