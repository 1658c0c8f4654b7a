"""Calibration: fine-tune a trained model to one person from a short labelled recording.

A model trained on other people learns their phones, pockets and gaits; a minute of the new
person's own data per activity teaches it theirs. ``calibrate`` starts from a model bundle and
the person's labelled recording, holds back everything after the first ``seconds`` of each
activity to score the model before and after, and fine-tunes on the rest with

- ``freeze``: what keeps the base model's weights: ``"none"``, ``"embedding"`` (the patch
  embedding and position table), ``"blocks:N"`` (the embedding and the first N blocks) or
  ``"all-but-head"`` (everything but the classification head);
- ``normalise``: the input statistics: ``"base"`` (the base model's), ``"person"`` (fitted
  on the person's calibration windows) or ``"blend"`` (``blend`` weight on the person's);
- a short schedule (``epochs``, ``lr``) on windows cut with a small step (``step``) so 30 s
  of an activity still gives a few dozen windows. ``epochs=0`` only re-normalises.

A recording at another sampling rate (a phone at 50 Hz) is resampled to the model's rate
first (``live.ring.Resampler``, linear interpolation). The defaults were chosen by
``bench/bench_calibration.py`` across all 16 development people (see the README).

Like ``engine.train``, ``calibrate`` is a generator: it yields ``CalibrationStep`` items and the
engine's own progress (``BatchProgress``, ``EpochProgress``, ``TrainNote``) and returns a
``CalibrationResult`` whose bundle's recipe records the base model (name and checksum), the
calibration data, what was frozen, the normalisation and the before/after figures.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dataset import frame_and_files
from ..data.rates import matches_rate
from ..data.splits import Normaliser, Split, SplitConfig
from ..data.windows import Windows, at_rate, make_windows
from .config import TrainConfig
from .engine import TrainControl, TrainNote
from .replay import REPLAY_SUBJECT

log = logging.getLogger(__name__)

NORMALISE_CHOICES = ("base", "person", "blend")
CALIBRATION_WINDOWS = 60   # windows per captured activity the automatic step aims for
MAX_AUTO_STEP = 32
FREEZE_HELP = ('"none", "embedding", "blocks:N" (embedding + first N blocks) or '
               '"all-but-head"')


@dataclass(frozen=True)
class CalibrationConfig:
    """How to calibrate. Defaults: chosen by bench/bench_calibration.py over 16 people."""

    seconds: float = 60.0          # calibrate on the first `seconds` of each activity
    freeze: str = "embedding"
    normalise: str = "base"
    blend: float = 0.5             # weight of the person's statistics for normalise="blend"
    epochs: int = 10
    lr: float = 5e-4
    batch_size: int = 32
    weight_decay: float = 1e-2
    step: int = 0                  # window step of the calibration windows (samples); 0:
    #                                enough for ~CALIBRATION_WINDOWS per activity (auto_step)
    seed: int = 0
    device: str = "cpu"
    precision: str = "auto"
    activities: tuple[str, ...] = ()   # calibrate on these only (empty: every one recorded)
    partial_lr: float = 3.5e-4     # lr when some activity was not captured (a 20 s walk):
    #                                0.967 walking, 3 people of 16 losing > 2 points of another
    #                                activity, against 0.975 and 6 at 5e-4 (bench, all 16)
    replay: bool = True            # also train on the model's stored sample of other people
    check_drop: float = 0.05       # warn when an activity not captured loses more recall
    keep_if_recognised: float = 0.98   # some activity not captured (a 20 s walk) and the
    #                                model already names at least this share of each captured
    #                                activity's windows: keep it unchanged (0: always tune)
    keep_if_confident: float = 0.96    # ... and gives it at least this mean probability (a
    #                                walk named right but near the boundary is tuned: 1626,
    #                                0.95 on the ensemble, walking 0.69 -> 0.96 on the rest)
    at_risk: float = 0.1           # ... else warn of an activity that took this share of them
    hold_copies: int = 3           # ... and replay its stored windows this many times (1630,
    #                                walk taken for stairs: stairs -11 -> -6 points, bench)

    def __post_init__(self) -> None:
        object.__setattr__(self, "activities", tuple(str(a) for a in self.activities))
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds)
                and self.seconds > 0):
            raise ValueError(f"seconds must be a positive number, got {self.seconds!r}")
        parse_freeze(self.freeze, depth=None)
        if self.normalise not in NORMALISE_CHOICES:
            raise ValueError(f"normalise must be one of {', '.join(NORMALISE_CHOICES)}, "
                             f"got {self.normalise!r}")
        if not (0.0 <= float(self.blend) <= 1.0):
            raise ValueError(f"blend must be between 0 and 1, got {self.blend!r}")
        for name, low in (("epochs", 0), ("batch_size", 1), ("step", 0), ("seed", 0),
                          ("hold_copies", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
        for name in ("keep_if_recognised", "keep_if_confident", "at_risk"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in ("lr", "partial_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationStep:
    """A stage of the calibration: "prepare", "before", "train", "after" or "done"."""

    stage: str
    text: str
    fraction: float = 0.0


@dataclass
class CalibrationResult:
    bundle: object                      # the calibrated ModelBundle (recipe filled in)
    before: dict | None                 # metrics of the base model on the held-back windows
    after: dict | None                  # metrics of the calibrated model on the same windows
    calibration_windows: dict[str, int]
    held_back_windows: dict[str, int]
    seconds: float                      # wall time of the fine-tuning
    cpu_seconds: float                  # process CPU time of the whole calibration
    record: dict                        # what the model file's recipe["calibration"] holds
    notes: list[TrainNote] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Pieces


def auto_step(config: CalibrationConfig, window) -> int:
    """The calibration windows' step: `config.step`, or (0) the step that cuts about
    CALIBRATION_WINDOWS windows from `config.seconds` of an activity, at most MAX_AUTO_STEP
    samples apart (20 s at 20 Hz: every 4 samples; 60 s: every 17). Measured on walk-only
    calibrations (bench_calibration.py --walk-seconds 20): 9 windows of 20 s (step 32) lifted
    a hard person's walking from 0.06 to 0.35, 35 (step 8) to 0.75, 69 (step 4) to 0.92."""
    if config.step:
        return min(config.step, window.size)
    samples = config.seconds * window.rate_hz
    step = int((samples - window.size) // CALIBRATION_WINDOWS)
    return max(1, min(step, MAX_AUTO_STEP, window.size))


def parse_freeze(freeze: str, depth: int | None) -> int:
    """Blocks frozen by `freeze`: -1 nothing, 0 the embedding only, N the embedding and the
    first N blocks (``"all-but-head"``: all `depth`). ValueError for anything else."""
    if freeze == "none":
        return -1
    if freeze == "embedding":
        return 0
    if freeze == "all-but-head":
        return depth if depth is not None else 0
    if isinstance(freeze, str) and freeze.startswith("blocks:"):
        try:
            n = int(freeze.split(":", 1)[1])
        except ValueError:
            n = -1
        if n >= 0 and (depth is None or n <= depth):
            return n
        if n >= 0:
            raise ValueError(f"freeze {freeze!r}: the model has only {depth} blocks")
    raise ValueError(f"freeze must be {FREEZE_HELP}, got {freeze!r}")


def frozen_prefixes(freeze: str, depth: int) -> tuple[str, ...]:
    """Parameter-name prefixes of ``TimeSeriesViT`` that `freeze` keeps fixed."""
    blocks = parse_freeze(freeze, depth)
    if blocks < 0:
        return ()
    return ("embed.", "position", *(f"blocks.{i}." for i in range(blocks)))


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recording_rate(frame: pd.DataFrame) -> float:
    """Median sampling rate (Hz) of a tidy frame, from positive steps within each subject and
    activity (0.0 when it cannot be told)."""
    if len(frame) < 2:
        return 0.0
    ts = frame["timestamp"].to_numpy(np.int64)
    same = ((frame["subject"].to_numpy()[1:] == frame["subject"].to_numpy()[:-1])
            & (frame["activity"].astype(str).to_numpy()[1:]
               == frame["activity"].astype(str).to_numpy()[:-1]))
    dt = np.diff(ts)[same]
    dt = dt[dt > 0]
    return float(1e9 / np.median(dt)) if len(dt) else 0.0


def resample_frame(frame: pd.DataFrame, rate_hz: float,
                   channels: list[str] | None = None) -> pd.DataFrame:
    """The tidy frame in time order with every run (subject, activity, no gap) not sampled at
    `rate_hz` put on a ``1/rate_hz`` grid (``data.windows.at_rate``: linear interpolation, as
    the live classifier resamples a phone)."""
    ordered = frame.sort_values(["subject", "timestamp"], kind="stable").reset_index(drop=True)
    return at_rate(ordered, rate_hz, channels)


def split_by_activity(frame: pd.DataFrame, seconds: float, rate_hz: float,
                      activities: tuple[str, ...] | list[str] = ()
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration part, held-back part): per subject and activity, the first `seconds` of
    recorded samples (counted at `rate_hz`, in time order) and everything after them. With
    `activities`, only those are calibrated on; the others are held back whole."""
    if len(frame) == 0:
        return frame.copy(), frame.copy()
    ordered = frame.sort_values(["subject", "timestamp"], kind="stable")
    names = ordered["activity"].astype(str)
    rank = ordered.groupby([ordered["subject"], names], sort=False).cumcount().to_numpy()
    first = rank < int(round(seconds * rate_hz))
    if activities:
        first &= names.isin(list(activities)).to_numpy()
    return ordered[first].reset_index(drop=True), ordered[~first].reset_index(drop=True)


@dataclass
class CalibrationData:
    """The person's windows for calibration and for scoring, in the model's terms."""

    calibration: Windows
    held_back: Windows
    subject: int | None
    rate_hz: float                     # the recording's own rate
    resampled: bool
    files: list[str]
    warnings: list[str]


def prepare_calibration(bundle, data, config: CalibrationConfig | None = None, *,
                        subject: int | None = None) -> CalibrationData:
    """Resample (if needed), split per activity and window the person's recording for
    `bundle`. Raises ValueError (one line) when nothing can be calibrated."""
    config = config or CalibrationConfig()
    frame, files = frame_and_files(data)
    missing = [c for c in bundle.channels if c not in frame.columns]
    if missing:
        raise ValueError(f"the recording has no channel {', '.join(missing)} "
                         f"(the model reads {', '.join(bundle.channels)})")
    subjects = sorted(int(s) for s in frame["subject"].unique())
    if subject is not None:
        if subject not in subjects:
            raise ValueError(f"the recording has no subject {subject} "
                             f"(it has {', '.join(map(str, subjects))})")
        frame = frame[frame["subject"] == subject]
    elif len(subjects) > 1:
        raise ValueError(f"the recording holds {len(subjects)} people "
                         f"({', '.join(map(str, subjects[:8]))}); choose one (subject)")
    elif subjects:
        subject = subjects[0]
    warnings: list[str] = []
    model_rate = bundle.window.rate_hz
    rate = recording_rate(frame)
    resampled = bool(rate) and not matches_rate(rate, model_rate)   # data/rates.py
    if resampled:
        warnings.append(f"the recording is sampled at {rate:.1f} Hz; resampled to the model's "
                        f"{model_rate:g} Hz")
    # every run at the model's rate (a phone that changed rate within the recording too)
    frame = resample_frame(frame, model_rate, list(bundle.channels))
    unknown = [a for a in config.activities if a not in bundle.labels]
    if unknown:
        raise ValueError(f"the model does not know {', '.join(unknown)} (it knows "
                         f"{', '.join(bundle.labels)})")
    calib_frame, held_frame = split_by_activity(frame, config.seconds, model_rate,
                                                config.activities)
    calib_window = replace(bundle.window, step=auto_step(config, bundle.window))
    calibration = make_windows(calib_frame, calib_window, channels=list(bundle.channels),
                               labels=list(bundle.labels))
    held_back = make_windows(held_frame, bundle.window, channels=list(bundle.channels),
                             labels=list(bundle.labels))
    if len(calibration) == 0:
        raise ValueError(
            f"no calibration windows: no activity of the model ({', '.join(bundle.labels)}) "
            f"has {bundle.window.size / model_rate:.1f} s of recording without a gap in its "
            f"first {config.seconds:g} s")
    if len(held_back) == 0:
        warnings.append("nothing is held back (each activity is shorter than "
                        f"{config.seconds:g} s plus one window): no before/after figures")
    return CalibrationData(calibration, held_back, subject, rate, resampled, files, warnings)


def person_normaliser(bundle, windows: Windows, choice: str, blend: float = 0.5) -> Normaliser:
    """The input statistics for `choice`: the base model's, the person's (fitted on
    `windows`' derived inputs) or a `blend` of the two (weight on the person's)."""
    base = bundle.normaliser
    if choice == "base" or len(windows) == 0:
        return Normaliser(base.mean.copy(), base.std.copy())
    own = Normaliser.fit(bundle.derive(bundle.align(windows.X, windows.subjects)))
    if choice == "person":
        return own
    if choice == "blend":
        w = float(blend)
        var = (1 - w) * base.std.astype(np.float64) ** 2 + w * own.std.astype(np.float64) ** 2
        return Normaliser(((1 - w) * base.mean + w * own.mean).astype(np.float32),
                          np.sqrt(var).astype(np.float32))
    raise ValueError(f"normalise must be one of {', '.join(NORMALISE_CHOICES)}, got {choice!r}")


def _brief(metrics: dict | None) -> dict | None:
    if metrics is None:
        return None
    keep = ("accuracy", "f1_macro", "windows", "labels", "confusion", "per_class_recall")
    return {k: metrics[k] for k in keep if k in metrics}


def _base_record(bundle, base_path) -> dict:
    from ..model.io import weights_sha256

    recipe = bundle.recipe or {}
    record = {
        "name": (Path(base_path).name if base_path is not None
                 else str(recipe.get("name", "unsaved model"))),
        "path": str(base_path) if base_path is not None else None,
        "sha256": file_sha256(base_path) if base_path is not None else None,
        "weights_sha256": weights_sha256(bundle.model.state_dict()),
    }
    for key in ("preset", "data_files", "split", "metrics", "training", "trained_on"):
        if key in recipe:
            value = recipe[key]
            if key == "metrics" and isinstance(value, dict):
                value = {k: value[k] for k in ("accuracy", "f1_macro", "evaluated_on")
                         if k in value}
            record[key] = value
    return record


def replays_stored_windows(bundle, calib: Windows, config: CalibrationConfig) -> bool:
    """A partial calibration: some activity was not captured and the model carries a sample
    of its training windows to replay (``config.replay``)."""
    return bool(config.replay and bundle.replay
                and any(c == 0 for c in calib.class_counts().values()))


def _training_windows(bundle, calib: Windows, config: CalibrationConfig,
                      hold: tuple[str, ...] = ()
                      ) -> tuple[Windows, Windows | None, dict | None, list[str]]:
    """(windows to fine-tune on, replayed windows kept for the check, alignments, notes).

    With the model's stored sample (``replay.py``) and an activity the person did not record,
    the stored windows of every activity are replayed: the person's windows are repeated to
    make about half of the set and the stored ones the other half, so the activities not
    recorded keep what the base model knew of them. The activities in `hold` (those the
    capture was taken for: ``check_capture``) are replayed ``config.hold_copies`` times, to
    hold the boundary the fine-tuning moves."""
    from ..data.alignment import Alignment, estimate_per_subject
    from .replay import concat_windows, split_replay

    notes: list[str] = []
    absent = [n for n, c in calib.class_counts().items() if c == 0]
    replay = bundle.replay if config.replay else None
    if not replay:
        if absent:
            notes.append(
                f"no calibration windows for {', '.join(absent)}, and this model carries no "
                f"sample of its training windows to keep {'it' if len(absent) == 1 else 'them'}"
                f": calibrating on {', '.join(n for n in calib.labels if n not in absent)} "
                f"alone can make it call everything that. Record every activity, or use a "
                f"model trained by this version of HAR Studio")
        return calib, None, None, notes
    # Replayed only when some activity was not captured. With every activity captured the
    # person's own windows are the truth and other people's would teach theirs (60 s per
    # activity, all 16 people: 99.5 % mean without replay; one person whose standing looks
    # like others' sitting stayed at 79 % with it). With some missing, every stored activity
    # is replayed, the captured ones too: a 20 s walk lifted walking to 0.975 (mean of 16)
    # that way, to 0.940 replaying only the missing ones (bench_calibration --walk-seconds).
    if not replays_stored_windows(bundle, calib, config):
        return calib, None, None, notes
    train_part, check = split_replay(replay, list(bundle.labels), list(bundle.channels),
                                     calib.config, seed=config.seed)
    repeats = max(1, int(round(len(train_part) / max(1, len(calib)))))
    held_rows = np.flatnonzero(np.isin(train_part.y, [calib.labels.index(n) for n in hold
                                                      if n in calib.labels]))
    extra = [train_part.subset(held_rows)] * (config.hold_copies - 1) if len(held_rows) else []
    windows = concat_windows([calib] * repeats + [train_part] + extra)
    alignments = None
    if bundle.features.aligns:
        alignments = estimate_per_subject(calib.X, calib.channels, calib.subjects)
        alignments[REPLAY_SUBJECT] = Alignment.identity()   # stored already aligned
    notes.append(f"no calibration windows for {', '.join(absent)}: the model keeps what it "
                 f"knew of {'it' if len(absent) == 1 else 'them'} (replaying "
                 f"{len(train_part) + len(held_rows) * len(extra)} stored windows of other "
                 f"people" + (f", {' and '.join(n for n in hold if n in calib.labels)} "
                              f"{config.hold_copies} times" if extra else "") + ")")
    return windows, check, alignments, notes


def check_others(base, calibrated, check: Windows | None, captured: list[str],
                 max_drop: float) -> tuple[dict, list[str]]:
    """Recall of each activity *not* captured on the replayed windows held out of training,
    before and after: ``({label: [before, after]}, warnings)``."""
    from ..data.alignment import Alignment
    from .replay import recall_per_class

    if check is None or not len(check):
        return {}, []
    same = Alignment.identity()   # stored windows are in the model's frame already
    before = recall_per_class(check.y, base.predict(check.X, alignment=same), check.labels)
    after = recall_per_class(check.y, calibrated.predict(check.X, alignment=same), check.labels)
    table = {k: [round(before[k], 4), round(after[k], 4)] for k in before if k not in captured}
    warnings = []
    for label, (b, a) in table.items():
        n = int((check.y == check.labels.index(label)).sum())
        if b - a > max(max_drop, 1.5 / max(n, 1)):
            warnings.append(f"{label} on other people's windows fell from {b:.0%} to {a:.0%} "
                            f"after calibrating on {', '.join(captured)}: record {label} too "
                            f"(or keep the base model)")
    return table, warnings


@dataclass
class CaptureCheck:
    """What the base model makes of a partial capture before any fine-tuning.
    `recognised`: ``{activity: share named right}`` when every captured activity reaches
    ``keep_if_recognised`` and its windows' mean probability of it (`confidence`) reaches
    ``keep_if_confident`` (the model is then kept unchanged), else ``{}``; `at_risk`:
    ``(captured, other, share)`` for each captured activity whose windows the model took for
    another activity at least ``at_risk`` of the time: fine-tuning moves that boundary, so the
    other activity is the one a partial calibration can cost."""

    recognised: dict[str, float]
    at_risk: list[tuple[str, str, float]]
    confidence: dict[str, float] = field(default_factory=dict)   # mean probability
    unsure: bool = False   # named right often enough, but not with keep_if_confident

    def unsure_text(self) -> str:
        parts = [f"{name} (mean probability {p:.0%})" for name, p in self.confidence.items()]
        return (f"The model names your {' and '.join(parts)} right, but not with confidence: "
                "it is fine-tuned on it")

    def kept_text(self, counts: dict[str, int]) -> str:
        parts = [f"{name} ({round(share * counts[name])} of {counts[name]} windows, "
                 f"{share:.0%}, with a mean probability of "
                 f"{self.confidence[name]:.0%})"
                 for name, share in self.recognised.items()]
        return (f"The model already recognises {' and '.join(parts)}: it is kept as it is, "
                "so nothing it knows can get worse")

    def risk_texts(self) -> list[str]:
        return [f"Before calibrating, {share:.0%} of your {name} was taken for {other}: now "
                f"your {other} may be taken for {name}. Capture {other} too (the guide) if it "
                f"matters" for name, other, share in self.at_risk]


def check_capture(bundle, calib: Windows, config: CalibrationConfig) -> CaptureCheck:
    """The base model on the capture (asked when some activity was not captured). Measured
    (bench_calibration.py --walk-seconds 20, all 16 people, base models of the default
    recipe): fine-tuned always, 5 people lost more than 2 points of another activity, three
    of them people whose walk the model already named right (6-7 points of stairs or jogging,
    nothing gained); kept unchanged at >= 98 % (8 of 16 kept), 2 people did, both people
    whose walk it had taken for stairs (the activity this check warns of, and replays
    ``hold_copies`` times); walking 0.984 mean against 0.987. On the ensemble's base models
    one walk was named right (100 %) with a mean probability of 0.95 (a tenth of its windows
    under 0.7), kept, and the rest of that person's walking was 0.69: so a kept capture must
    also be named with ``keep_if_confident`` (every other kept walk, on both bases: >= 0.97)."""
    from .metrics import predict_probabilities, true_in_bundle_order

    if not len(calib):
        return CaptureCheck({}, [])
    labels = list(bundle.labels)
    probabilities = predict_probabilities(bundle, calib)
    truth = true_in_bundle_order(bundle, calib)
    predicted = probabilities.argmax(axis=1)
    # every captured activity is one the model knows (else true_in_bundle_order refused)
    captured = [n for n, c in calib.class_counts().items() if c > 0]
    recall, confidence, rows = {}, {}, {}
    for name in captured:
        mine = truth == labels.index(name)
        recall[name] = float((predicted[mine] == labels.index(name)).mean())
        confidence[name] = float(probabilities[mine, labels.index(name)].mean())
        rows[name] = np.bincount(predicted[mine], minlength=len(labels)).astype(float)
    recognised, unsure = {}, False
    if config.keep_if_recognised > 0 and all(v >= config.keep_if_recognised
                                             for v in recall.values()):
        if all(v >= config.keep_if_confident for v in confidence.values()):
            recognised = {n: round(v, 4) for n, v in recall.items()}
        else:
            unsure = True
    at_risk = []
    for name, row in rows.items():
        total = row.sum()
        row[labels.index(name)] = 0
        j = int(row.argmax())
        share = row[j] / total
        if not recognised and share >= max(config.at_risk, 1e-9):
            at_risk.append((name, labels[j], round(float(share), 4)))
    return CaptureCheck(recognised, at_risk, {n: round(v, 4) for n, v in confidence.items()},
                        unsure)


def _fine_tune(bundle, windows: Windows, alignments, held: Windows, norm, config, control,
               files, notes: list, replayed: bool) -> Generator[object, None, tuple]:
    """The engine's run on the calibration set (`replayed`: stored windows are in it, some
    activity was not captured: ``config.partial_lr``), its progress re-yielded (filtered):
    returns (the calibrated bundle, its recipe, its metrics on the held-back windows or
    None)."""
    from .engine import train
    from .prepare import PreparedData

    empty = np.zeros(0, np.int64)
    split = Split("calibration", np.arange(len(windows)), empty, np.arange(len(held)))
    prepared = PreparedData(
        windows=windows, split=split, normaliser=norm, train=windows,
        val=windows.subset(empty), test=held, split_config=SplitConfig(), data_files=files,
        features=bundle.features, _alignments=alignments)
    train_config = TrainConfig(
        epochs=config.epochs, batch_size=config.batch_size,
        lr=config.partial_lr if replayed else config.lr,
        weight_decay=config.weight_decay, warmup_epochs=min(1.0, config.epochs / 4),
        patience=0, keep_best=False, seed=config.seed, device=config.device,
        precision=config.precision)
    gen = train(prepared, bundle.model_config, train_config, control, init_bundle=bundle,
                frozen=frozen_prefixes(config.freeze, bundle.model_config.depth))
    while True:   # not run_to_end: the run's progress is re-yielded (filtered)
        try:
            item = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if isinstance(item, TrainNote):
            if item.text.startswith(("No validation windows", "Evaluating on")):
                continue      # expected here: calibration has no validation people
            notes.append(item)
        yield item
    new_bundle = result.bundle
    for param in new_bundle.model.parameters():
        param.requires_grad_(True)
    # The calibration windows are cut densely; the model keeps the base model's windowing
    # (its step is how often the live view and replay predict).
    new_bundle.window = bundle.window
    recipe = dict(result.bundle.recipe)
    recipe.pop("metrics", None)
    recipe["window"] = bundle.window.to_dict()
    return new_bundle, recipe, (result.metrics if len(held) else None)


# ---------------------------------------------------------------------------------------------
# The generator


def calibrate(
    bundle,
    data,
    config: CalibrationConfig | None = None,
    control: TrainControl | None = None,
    *,
    subject: int | None = None,
    base_path: str | os.PathLike | None = None,
    person: str | None = None,
) -> Generator[object, None, CalibrationResult]:
    """Calibrate `bundle` (a ModelBundle; untouched) to one person's labelled recording
    `data` (a Dataset or a tidy DataFrame of one subject, or pick `subject`).

    Yields CalibrationStep items and the engine's BatchProgress / EpochProgress / TrainNote;
    returns a CalibrationResult. `base_path`: the file `bundle` was loaded from (its name and
    SHA-256 go into the new model's recipe); `person`: a name for the new model. `control`
    (``TrainControl``) stops or pauses the fine-tuning; closing the generator abandons it.
    Raises ValueError (one line) when the data cannot calibrate this model.
    """
    from ..model.io import ModelBundle
    from ..model.vit import build_network
    from . import runs
    from .metrics import evaluate_bundle

    config = config or CalibrationConfig()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    depth = bundle.model_config.depth
    prefixes = frozen_prefixes(config.freeze, depth)
    notes: list[TrainNote] = []

    yield CalibrationStep("prepare", "Preparing the recording", 0.0)
    prepared_data = prepare_calibration(bundle, data, config, subject=subject)
    for text in prepared_data.warnings:
        item = TrainNote(text, "warning")
        notes.append(item)
        yield item
    calib, held = prepared_data.calibration, prepared_data.held_back
    norm = person_normaliser(bundle, calib, config.normalise, config.blend)

    before = None
    if len(held):
        yield CalibrationStep("before", f"Scoring the base model on {len(held)} held-back "
                              "windows", 0.02)
        before = evaluate_bundle(bundle, held, latency=False)

    tune_t0 = time.perf_counter()
    # A partial capture (some activity not captured, stored windows to replay): what the
    # model makes of it first. Already right: nothing to learn, everything to lose.
    capture = (check_capture(bundle, calib, config)
               if replays_stored_windows(bundle, calib, config) else CaptureCheck({}, []))
    recognised = capture.recognised
    windows, check, alignments, texts = _training_windows(
        bundle, calib, config, hold=tuple(other for _, other, _ in capture.at_risk))
    for text in ([] if recognised else texts + capture.risk_texts()):
        notes.append(TrainNote(text, "warning"))
        yield notes[-1]
    if recognised:
        notes.append(TrainNote(capture.kept_text(calib.class_counts()), "info"))
        yield notes[-1]
    elif capture.unsure:
        notes.append(TrainNote(capture.unsure_text(), "info"))
        yield notes[-1]
    if config.epochs > 0 and not recognised:
        stored = int((windows.subjects == REPLAY_SUBJECT).sum())
        yield CalibrationStep("train", f"Fine-tuning on {len(calib)} windows of the person"
                              + (f" and {stored} stored windows of other people"
                                 if stored else "")
                              + f" (frozen: {config.freeze})", 0.05)
        new_bundle, recipe, after = yield from _fine_tune(
            bundle, windows, alignments, held, norm, config, control, prepared_data.files,
            notes, replayed=check is not None)
    else:
        model = build_network(bundle.model_config)
        model.load_state_dict(bundle.model.state_dict())
        new_bundle = ModelBundle(model=model.eval(), model_config=bundle.model_config,
                                 window=bundle.window, channels=list(bundle.channels),
                                 labels=list(bundle.labels),
                                 normaliser=bundle.normaliser if recognised else norm,
                                 recipe={}, features=bundle.features)
        # kept as it is: it keeps its own recipe (how it was made), under the calibration's
        recipe = ({k: v for k, v in (bundle.recipe or {}).items() if k != "metrics"}
                  if recognised else {})
        after = evaluate_bundle(new_bundle, held, latency=False) if len(held) else None
    new_bundle.replay = bundle.replay   # a later calibration keeps it too
    captured = [n for n, c in calib.class_counts().items() if c > 0]
    others, texts = check_others(bundle, new_bundle, None if recognised else check, captured,
                                 config.check_drop)
    for text in texts:
        notes.append(TrainNote(text, "warning"))
        yield notes[-1]
    tune_seconds = time.perf_counter() - tune_t0
    yield CalibrationStep("after", "Scoring the calibrated model", 0.98)

    record = {
        "base_model": _base_record(bundle, base_path),
        "subject": prepared_data.subject,
        "person": person,
        "data_files": prepared_data.files,
        "seconds_per_activity": float(config.seconds),
        "recording_rate_hz": round(prepared_data.rate_hz, 3),
        "resampled": prepared_data.resampled,
        "calibration_windows": calib.class_counts(),
        "held_back_windows": held.class_counts(),
        "frozen": config.freeze,
        "frozen_parameters": list(prefixes),
        "normalise": config.normalise,
        "activities": captured,
        "replayed": check is not None and not recognised,
        "fine_tuned": config.epochs > 0 and not recognised,
        "recognised_before": recognised or None,
        "capture_confidence": capture.confidence or None,
        "kept_because": capture.kept_text(calib.class_counts()) if recognised else None,
        "at_risk": capture.risk_texts(),
        "learning_rate": (None if recognised or config.epochs == 0
                          else config.partial_lr if check is not None else config.lr),
        "others_before_after": others,
        "blend": config.blend if config.normalise == "blend" else None,
        "config": config.to_dict(),
        "before": _brief(before),
        "after": _brief(after),
        "fine_tune_seconds": round(tune_seconds, 3),
    }
    name = person or (f"subject {prepared_data.subject}" if prepared_data.subject is not None
                      else "a person")
    recipe.update({"name": f"{record['base_model']['name']} calibrated to {name}",
                   "calibration": record})
    if after is not None:
        recipe["metrics"] = {**_brief(after), "evaluated_on": "held-back calibration data"}
    new_bundle.recipe = runs.clean_json(recipe)
    cpu = time.process_time() - cpu0
    if before is not None and after is not None:
        text = (f"Held-back accuracy {before['accuracy']:.3f} before, {after['accuracy']:.3f} "
                f"after calibration ({time.perf_counter() - wall0:.1f} s)")
    else:
        text = f"Calibrated ({time.perf_counter() - wall0:.1f} s); nothing held back to score"
    yield CalibrationStep("done", text, 1.0)
    return CalibrationResult(
        bundle=new_bundle, before=before, after=after,
        calibration_windows=calib.class_counts(), held_back_windows=held.class_counts(),
        seconds=tune_seconds, cpu_seconds=cpu, record=record, notes=notes)
