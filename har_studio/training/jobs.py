"""What a run *is*: the jobs that the Train tab and ``har-studio train`` both run.

Each job is a generator: it yields progress (``TrainNote``, ``DeviceChosen``, the engine's
``BatchProgress``/``EpochProgress``, cross-validation's ``FoldProgress``/``FoldFinished``) and
returns what its caller needs. The Train tab drives one in a worker thread, the command line
with ``run_to_end``; neither puts a run together by itself.

Beside the jobs: the user-settable fields of a model (``model_fields``), the check
whether a saved model can continue training on chosen data (``resume_problem``), the
report shown and exported for a run (``run_report``), and the windows a run would get from
chosen data settings, counted per split and class (``count_windows``, the Data tab's preview).

``resume_training`` continues an interrupted run from its checkpoint, into the same run folder
(``har-studio train --resume``, Past runs' "Resume this run").

``calibrate_model`` fine-tunes a model to one person's recording (the Live tab's guided
calibration and ``har-studio calibrate``): it yields the same progress as ``train_model`` plus
calibration's ``CalibrationStep`` items, saves the calibrated model and returns the
``CalibrationResult``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from . import runs
from .config import MODEL_FIELDS, TrainConfig
from .engine import TrainControl, TrainNote, TrainResult, resolve_device, resolve_precision

log = logging.getLogger(__name__)


def model_fields(model_config) -> dict:
    """The user-settable fields of a ViTConfig (e.g. a loaded model's, to train it on)."""
    return {name: getattr(model_config, name) for name in MODEL_FIELDS}


def describe_model(fields: dict) -> str:
    """One line naming a model's size, e.g. for a log."""
    return (f"embedding {fields.get('embedding_dim')}, patch {fields.get('patch_size')}, "
            f"{fields.get('head_num')}×{fields.get('att_size')} heads, "
            f"{fields.get('depth')} blocks, head {fields.get('head_width')}"
            + (f", an ensemble of {fields['members']}" if (fields.get("members") or 1) > 1
               else ""))


@dataclass(frozen=True)
class DeviceChosen:
    """Where the job trains, once "auto" was resolved."""

    device: str
    precision: str


def _device_chosen(train_config: TrainConfig) -> DeviceChosen:
    device = resolve_device(train_config.device)
    return DeviceChosen(str(device), resolve_precision(device, train_config.precision))


def train_model(dataset, *, window, split, activities=None, channels=None, features=None,
                model_overrides: dict | None = None, train_config: TrainConfig,
                control: TrainControl | None = None, init_bundle=None,
                run_dir: Path | str | None = None, run_tag: str | None = None,
                ddp=None) -> Generator[object, None, TrainResult | None]:
    """Window and split `dataset`, then train one model into `run_dir` (when None, a new
    run folder named by `run_tag`, default the activities). `init_bundle` continues from a saved model (its own model settings and input
    features). `ddp` (a ``ddp.DDPContext`` under torchrun): every rank trains, only rank 0
    writes a run folder. Returns the engine's TrainResult, or None when stopped before
    training."""
    from .engine import train
    from .prepare import default_model_config, prepare_data

    control = control or TrainControl()
    labels = None
    if init_bundle is not None:
        features = init_bundle.features
        labels = list(init_bundle.labels)
        frame = getattr(dataset, "frame", dataset)
        present = set(frame["activity"].astype(str).unique())
        activities = [a for a in (activities or labels) if a in labels and a in present]
        split, why = fine_tune_split(dataset, init_bundle, split, activities)
        if why:
            yield TrainNote(why, "info")
    yield TrainNote("Preparing windows…", "info")
    prepared = prepare_data(dataset, window=window, split=split, activities=activities,
                            channels=channels, features=features, labels=labels)
    s = prepared.split
    text = (f"{len(prepared.windows):,} windows of {len(prepared.labels)} classes "
            f"({', '.join(prepared.labels)}): {len(s.train):,} training, {len(s.val):,} "
            f"validation, {len(s.test):,} test ({s.kind} split"
            + (f", test subjects {', '.join(map(str, s.test_subjects))})"
               if s.kind == "subject" else ")"))
    log.info("%s", text)
    yield TrainNote(text, "info")
    if control.stopped:
        return None
    if init_bundle is not None:
        model_config = init_bundle.model_config
    else:
        model_config = default_model_config(prepared, **(model_overrides or {}))
    if ddp is None:
        yield _device_chosen(train_config)
    if ddp is not None and not ddp.is_main:
        run_dir = None
    elif not run_dir:
        run_dir = runs.new_run_dir(run_tag or "-".join(prepared.labels)[:30])
    return (yield from train(prepared, model_config, train_config, control=control,
                             run_dir=Path(run_dir) if run_dir else None,
                             init_bundle=init_bundle, ddp=ddp))


def resume_training(folder: Path | str, data=None, control=None):
    """The training generator (``engine.train``) that continues the interrupted run in
    `folder` from its checkpoint: the run's data files (or `data`, if they moved), split,
    window, features and settings, the epochs that are left, written into the same folder.
    Raises ValueError, DataError, ModelFileError or OSError (one line) when it cannot. The
    CLI (``train --resume``) and a Past-runs button drive the same generator."""
    from ..data.loaders import load
    from ..data.splits import SplitConfig
    from ..data.windows import WindowConfig
    from ..model.io import load_model
    from .engine import train
    from .prepare import prepare_data

    info = runs.resume_info(folder)
    config = info.config
    bundle = load_model(info.checkpoint)
    try:
        window = WindowConfig.from_dict(config["window"])
        split = SplitConfig.from_dict(config["split_config"])
        train_config = TrainConfig.from_dict(config["training"])
        files = list(data) if data else list(config["data_files"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{info.folder}: config.json lacks {exc}") from None
    prepared = prepare_data(load(files), window, split, activities=list(bundle.labels),
                            channels=list(bundle.channels), features=bundle.features)
    if runs.clean_json(prepared.split.to_dict()) != config.get("split"):
        raise ValueError(f"{info.folder}: the data no longer gives the run's split (files "
                         "changed?); cannot resume")
    log.info("resuming %s after epoch %d of %d", info.folder, info.epoch, train_config.epochs)
    return train(prepared, bundle.model_config, train_config, control, info.folder,
                 init_bundle=bundle, resume=info)



def cross_validate_model(dataset, *, k: int, window, activities=None, channels=None,
                         features=None, model_overrides: dict | None = None,
                         train_config: TrainConfig, control: TrainControl | None = None,
                         val_subjects: int | None = None, run_dir: Path | str | None = None,
                         label: str = "", parallel: str | None = None):
    """Leave-subjects-out cross-validation in `k` folds into `run_dir` (new when None);
    the figures are remembered (under `label`, e.g. the preset) for later comparison.
    `parallel` ("ray", "ray:auto", "ray:HOST:PORT") runs the folds as Ray tasks (same folds,
    same seeds, same result). Returns the CVResult."""
    from .crossval import cross_validate, remember_cv

    runner = cross_validate
    if parallel:
        from .parallel import cross_validate_parallel, parse_parallel

        runner = functools.partial(cross_validate_parallel, address=parse_parallel(parallel))

    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    yield TrainNote(f"Cross-validating by subject in {k} folds…", "info")
    yield _device_chosen(train_config)
    run_dir = Path(run_dir) if run_dir else runs.new_run_dir(f"cv{k}")
    cv = yield from runner(
        dataset, k=k, window=window, activities=activities, channels=channels,
        features=features, model_overrides=model_overrides, train_config=train_config,
        seed=train_config.seed, val_subjects=val_subjects, control=control, run_dir=run_dir)
    remember_cv(cv, label=label)
    return cv


def calibrate_model(bundle, data, config=None, *, control: TrainControl | None = None,
                    subject: int | None = None, base_path: str | Path | None = None,
                    person: str | None = None, out: str | Path | None = None):
    """Calibrate `bundle` to one person's labelled recording `data` (a Dataset or a tidy
    frame; see ``calibration.calibrate``) and, with `out`, save the calibrated model there
    atomically. Returns the CalibrationResult (``record["model_path"]``: where it was saved),
    or None when stopped (``control.stop()``) before the fine-tuning finished."""
    from ..model.io import save_model
    from .calibration import CalibrationConfig, calibrate

    control = control or TrainControl()
    config = config or CalibrationConfig()
    yield _device_chosen(TrainConfig(device=config.device, precision=config.precision))
    result = yield from calibrate(bundle, data, config, control, subject=subject,
                                  base_path=base_path, person=person)
    if control.stopped:
        return None
    if out is not None:
        path = save_model(out, result.bundle)
        result.record["model_path"] = str(path or out)
        yield TrainNote(f"Saved the calibrated model to {path or out}", "info")
    return result


def fine_tune_split(dataset, bundle, split, activities: list[str] | None):
    """The split to continue training `bundle` on `dataset`, and why it is not `split` (or
    None): the model's own test people when they are in the data (they stay unseen), a split
    by window when the data holds fewer than three people (one person's recording)."""
    from ..data.splits import SplitConfig

    frame = getattr(dataset, "frame", dataset)
    if activities:
        frame = frame[frame["activity"].astype(str).isin(activities)]
    people = {int(s) for s in frame["subject"].unique()}
    if split.kind == "subject" and len(people) < 3:
        return (SplitConfig(kind="random", seed=split.seed),
                f"The data holds {len(people)} person(s): fine-tuning on a split by window.")
    old = (bundle.recipe or {}).get("split") or {}
    test = [int(s) for s in old.get("test_subjects") or []]
    val = [int(s) for s in old.get("val_subjects") or []]
    if (split.kind == "subject" and old.get("kind") == "subject" and test
            and set(test) <= people and set(val) <= people and len(people - set(test) - set(val))):
        return (SplitConfig(kind="subject", test_subjects=tuple(test), val_subjects=tuple(val),
                            seed=split.seed),
                f"Keeping the model's own test people ({', '.join(map(str, test))}) out of "
                "training, as when it was trained.")
    return split, None


FINE_TUNE_EPOCHS = 5
FINE_TUNE_LR_FACTOR = 0.1


def fine_tune_schedule(bundle, train_config: TrainConfig, labels) -> tuple[TrainConfig, str]:
    """The schedule to continue training `bundle` on data with activities `labels`, and one
    line saying what will happen. Data with only some of the model's activities (a person's
    recording) is a fine-tune: at most FINE_TUNE_EPOCHS epochs at a tenth of the learning
    rate, so a minute of walking does not retrain the model from its start."""
    from dataclasses import replace

    labels = [str(a) for a in labels]
    if set(labels) < set(bundle.labels):
        config = replace(train_config, epochs=min(train_config.epochs, FINE_TUNE_EPOCHS),
                         lr=train_config.lr * FINE_TUNE_LR_FACTOR)
        return config, (
            f"Fine-tuning the model on {', '.join(labels)} ({len(labels)} of the "
            f"{len(bundle.labels)} activities it knows; it keeps all of them): "
            f"{config.epochs} epochs at learning rate {config.lr:g}.")
    return train_config, (f"Continuing the model's training on all {len(bundle.labels)} of its "
                          f"activities for {train_config.epochs} epochs (the form's schedule).")


def resume_problem(bundle, *, window_size: int, channels: list[str],
                   labels: list[str]) -> str | None:
    """Why `bundle` cannot continue training on data with this window size, channels and
    activities (one sentence), or None when it can. Data with only some of the model's
    activities (one person's recording of walking) can: the model keeps all its classes."""
    if bundle.window.size != window_size:
        return (f"The model reads windows of {bundle.window.size} samples; the data is set "
                f"to {window_size}.")
    if list(bundle.channels) != list(channels):
        return (f"The model reads channels {', '.join(bundle.channels)}; the data selects "
                f"{', '.join(channels)}.")
    unknown = [a for a in labels if a not in bundle.labels]
    if unknown or not labels:
        return (f"The model knows {', '.join(bundle.labels)}; the data selects "
                f"{', '.join(unknown or labels) or 'nothing'}, which it does not know.")
    return None


def run_report(*, metrics: dict, history: list[dict], split: dict, stopped_reason, device,
               precision, minutes, run_dir=None, model_path=None,
               config: dict | None = None) -> dict:
    """The report of one trained model, as shown, exported and written to report.json."""
    return {"metrics": dict(metrics or {}), "history": list(history), "split": dict(split),
            "stopped_reason": stopped_reason, "device": device, "precision": precision,
            "epochs": len(history), "minutes": minutes,
            "run_dir": str(run_dir) if run_dir else None,
            "model_path": str(model_path) if model_path else None,
            "config": config or {}}


def result_report(result: TrainResult, history: list[dict], minutes: float) -> dict:
    """``run_report`` of a TrainResult just returned by ``train_model``."""
    return run_report(metrics=result.metrics, history=history,
                      split=(result.bundle.recipe or {}).get("split") or {},
                      stopped_reason=result.stopped_reason, device=result.device,
                      precision=result.precision, minutes=minutes, run_dir=result.run_dir,
                      model_path=result.model_path)


def record_report(record) -> dict:
    """``run_report`` of a past run read back with ``runs.load_run``."""
    history = list(record.history)
    report = record.report or {}
    total = report.get("seconds_total")
    if isinstance(total, (int, float)):
        minutes = total / 60.0
    else:
        seconds = [h.get("seconds") for h in history if isinstance(h.get("seconds"), (int, float))]
        minutes = sum(seconds) / 60.0 if seconds else None
    return run_report(metrics=record.metrics, history=history,
                      split=report.get("split") or record.config.get("split") or {},
                      stopped_reason=report.get("stopped_reason"), device=report.get("device"),
                      precision=report.get("precision"), minutes=minutes,
                      run_dir=record.folder, model_path=record.model_path, config=record.config)


@dataclass
class WindowCounts:
    """What data settings give a run: windows per split and class."""

    labels: list[str]
    train: list[int]
    val: list[int]
    test: list[int]
    split: dict = field(default_factory=dict)
    warning: str | None = None

    @property
    def total(self) -> int:
        return sum(self.train) + sum(self.val) + sum(self.test)

    def imbalance(self) -> float:
        """max / min training windows over classes (inf when a class has none)."""
        if not self.train or max(self.train) == 0:
            return float("nan")
        return float("inf") if min(self.train) == 0 else max(self.train) / min(self.train)


def count_windows(frame, window, split, activities: list[str] | None,
                  channels: list[str] | None) -> WindowCounts:
    """Window and split `frame` as training will, and count."""
    import numpy as np

    from ..data.splits import split_windows
    from ..data.windows import make_windows

    windows = make_windows(frame, window, channels=channels, activities=activities)
    if len(windows) == 0:
        zeros = [0] * len(windows.labels)
        return WindowCounts(list(windows.labels), zeros, list(zeros), list(zeros))
    parts = split_windows(windows, split)
    k = len(windows.labels)

    def per_class(index) -> list[int]:
        return [int(c) for c in np.bincount(windows.y[index], minlength=k)]

    return WindowCounts(list(windows.labels), per_class(parts.train), per_class(parts.val),
                        per_class(parts.test), parts.to_dict(), parts.warning)
