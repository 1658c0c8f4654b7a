"""Recipe sweeps on Ray Tune with Optuna's sampler, each trial scored by cross-validation.

``har-studio sweep --data ... --space FILE --trials N [--cv K] [--parallel ray[:ADDRESS]]``.
The space file (TOML) starts from a preset and names a range or a list of choices for any
recipe field (``[model]``, ``[training]``, ``[features]``); a plain value fixes a field::

    preset = "robust"                    # what the trials start from (a name or a preset file)
    [model]
    embedding_dim = { choice = [32, 64, 128] }
    depth = { int = [1, 3] }             # whole numbers, both ends included
    [training]
    lr = { loguniform = [3e-4, 3e-3] }
    weight_decay = { uniform = [0.0, 0.05] }
    epochs = 10                          # the same for every trial
    augment = { choice = [true, false] }
    [features]
    outputs = { choice = [["raw"], ["gravity_abs", "vertical", "horizontal", "magnitude"]] }

Every trial runs the same leave-subjects-out folds with the same seeds (``crossval``), so
partial scores of two trials after the same number of folds are comparable: ASHA stops a
trial whose running score after a fold is in the bottom half of the trials that got there.
The score is the mean fold accuracy (``score="worst"``: the worst fold's).

The sweep folder holds ``space.toml``, ``sweep.json`` (settings, state, the table of trials,
the best), ``trials.csv``, ``best.toml`` (the best recipe as a preset file) and per trial
``trials/NNNN/recipe.toml``, ``crossval.json`` and ``folds.csv``, all rewritten (atomically)
as each trial ends, so a stopped or crashed sweep keeps every trial that finished.

``run_sweep`` is a generator like ``engine.train``: it yields ``TrialFinished`` (and notes)
and returns a ``SweepResult``; ``control.stop()`` ends the sweep (trials still running are
not counted). Ray and Optuna are optional (the ``cluster`` extra), imported only here. A sweep
folder is read back with ``reports.read_sweep`` / ``reports.list_sweeps``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from .presets import (
    DEFAULT_PRESET,
    Preset,
    get_preset,
    preset_from_dict,
    preset_toml,
    read_toml,
)
from .reports import CROSSVAL_FILE, SWEEP_FILE, clean_json

log = logging.getLogger(__name__)

TRIALS_CSV = "trials.csv"
BEST_FILE = "best.toml"
SPACE_FILE = "space.toml"
TRIALS_DIR = "trials"
FORMS = ("uniform", "loguniform", "int", "choice")
SECTIONS = ("model", "training", "features")
SCORES = ("mean", "worst")
_JSON_PREFIX = "json:"


# ---------------------------------------------------------------------------------------------
# The space


@dataclass(frozen=True)
class Param:
    """One searched field: `key` is "section.field"; `form` one of FORMS."""

    key: str
    form: str
    values: tuple

    def describe(self) -> str:
        if self.form == "choice":
            return f"{self.key} in {list(self.values)}"
        return f"{self.key} {self.form} [{self.values[0]}, {self.values[1]}]"


@dataclass(frozen=True)
class SweepSpace:
    """The base preset, the searched fields and the fixed ones ("section.field" -> value)."""

    base: Preset
    params: tuple[Param, ...]
    fixed: dict = field(default_factory=dict)
    text: str = ""                      # the space file as written

    def recipe(self, values: dict) -> Preset:
        """The base preset with the fixed fields and `values` ("section.field" -> value)."""
        d = self.base.to_dict()
        d["title"], d["description"] = self.base.title, self.base.description
        for key, value in {**self.fixed, **values}.items():
            section, name = key.split(".", 1)
            d.setdefault(section, {})
            d[section] = {**(d[section] or {}), name: value}
        return preset_from_dict(d)


def _param(key: str, spec: dict) -> Param:
    if len(spec) != 1 or next(iter(spec)) not in FORMS:
        raise ValueError(f"{key}: a range is one of {', '.join(f'{{ {f} = [...] }}' for f in FORMS)}"
                         f", got {spec!r}")
    form, values = next(iter(spec.items()))
    if not isinstance(values, list) or not values:
        raise ValueError(f"{key}: {form} needs a list, got {values!r}")
    if form == "choice":
        return Param(key, form, tuple(values))
    if len(values) != 2:
        raise ValueError(f"{key}: {form} needs [low, high], got {values!r}")
    lo, hi = values
    numeric = (int,) if form == "int" else (int, float)
    if any(isinstance(v, bool) or not isinstance(v, numeric) for v in values):
        kind = "whole numbers" if form == "int" else "numbers"
        raise ValueError(f"{key}: {form} needs two {kind}, got {values!r}")
    if not lo < hi or (form == "loguniform" and lo <= 0):
        raise ValueError(f"{key}: {form} needs low < high{' and low > 0' if form == 'loguniform' else ''}"
                         f", got {values!r}")
    return Param(key, form, (lo, hi))


def _corners(space: SweepSpace) -> list[dict]:
    """Values at the ends of every range and every choice, to check them before a sweep."""
    picks: list[dict] = [{}]
    for p in space.params:
        options = list(p.values)
        picks = [{**pick, p.key: v} for pick in picks for v in options][:64]
    return picks


def parse_space(data: dict, text: str = "") -> SweepSpace:
    """A SweepSpace from the parsed TOML (ValueError naming the bad key)."""
    unknown = sorted(set(data) - {"preset", *SECTIONS})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (a sweep space has preset, "
                         f"{', '.join(f'[{s}]' for s in SECTIONS)})")
    base = get_preset(str(data.get("preset") or DEFAULT_PRESET))
    params: list[Param] = []
    fixed: dict = {}
    for section in SECTIONS:
        table = data.get(section) or {}
        if not isinstance(table, dict):
            raise ValueError(f"[{section}] must be a table")
        for name, spec in table.items():
            key = f"{section}.{name}"
            if isinstance(spec, dict):
                params.append(_param(key, spec))
            else:
                fixed[key] = spec
    if not params:
        raise ValueError("the space names no range or choice to search")
    space = SweepSpace(base, tuple(params), fixed, text)
    for values in _corners(space):
        try:
            space.recipe(values)
        except (ValueError, TypeError) as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise ValueError(f"{str(exc).splitlines()[0]} (with {shown})") from None
    return space


def load_space(path) -> SweepSpace:
    """Read a sweep space file; bad content raises ValueError with one line naming the file."""
    path = Path(path)
    data = read_toml(path, "sweep space")
    try:
        return parse_space(data, path.read_text(encoding="utf-8"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None


def _encode(value):
    """Optuna's categorical takes None, bool, int, float and str: anything else as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _JSON_PREFIX + json.dumps(value)


def decode_config(config: dict) -> dict:
    return {k: (json.loads(v[len(_JSON_PREFIX):])
                if isinstance(v, str) and v.startswith(_JSON_PREFIX) else v)
            for k, v in config.items()}


def tune_space(space: SweepSpace) -> dict:
    """The Ray Tune search space (OptunaSearch converts it to Optuna distributions)."""
    from ray import tune

    out = {}
    for p in space.params:
        if p.form == "uniform":
            out[p.key] = tune.uniform(*p.values)
        elif p.form == "loguniform":
            out[p.key] = tune.loguniform(*p.values)
        elif p.form == "int":
            out[p.key] = tune.randint(p.values[0], p.values[1] + 1)   # high is exclusive
        else:
            out[p.key] = tune.choice([_encode(v) for v in p.values])
    return out


# ---------------------------------------------------------------------------------------------
# One trial (runs in a Ray worker)


def trial_plan(plan, preset: Preset, device: str, precision: str, val_subjects: int | None):
    """`plan` (crossval.CVPlan: windows, folds, seed) with the recipe of `preset`."""
    from ..data.features import output_channels

    output_channels(plan.windows.channels, preset.features)
    cfg = preset.train_config(seed=plan.seed, device=device, precision=precision)
    if val_subjects is None:
        val_subjects = 2 if (cfg.patience > 0 or cfg.keep_best) else 0
    settings = {**plan.settings, "val_subjects": val_subjects,
                "features": preset.features.to_dict(), "model_overrides": dict(preset.model),
                "training": cfg.to_dict()}
    return dataclasses.replace(plan, features=preset.features, overrides=dict(preset.model),
                               train_config=cfg, val_subjects=val_subjects, settings=settings)


def _score(cv, score: str) -> float:
    return cv.accuracy_min if score == "worst" else cv.accuracy_mean


def _trial(config: dict, plan=None, space: SweepSpace | None = None, options: dict | None = None):
    """A Tune trainable: cross-validate the trial's recipe, reporting after every fold."""
    import torch
    from ray import tune

    from .crossval import combine_folds, run_fold
    from .engine import run_to_end

    options = options or {}
    torch.set_num_threads(int(options.get("threads", 1)))
    preset = space.recipe(decode_config(config))
    p = trial_plan(plan, preset, options.get("device", "cpu"), options.get("precision", "auto"),
                   options.get("val_subjects"))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    outcomes = []
    for f in range(1, p.k + 1):
        outcome = run_to_end(run_fold(p, f))
        outcome.bundle = None
        outcomes.append(outcome)
        cv = combine_folds(p, outcomes, stopped=f < p.k, wall0=wall0, cpu0=cpu0)
        tune.report({"folds_done": f, "score": _score(cv, options.get("score", "mean")),
                     "accuracy_mean": cv.accuracy_mean, "accuracy_worst": cv.accuracy_min,
                     "f1_mean": cv.f1_mean, "cv_json": json.dumps(clean_json(cv.to_dict()))})


# ---------------------------------------------------------------------------------------------
# Progress and result


@dataclass(frozen=True)
class TrialFinished:
    """A trial ended (status "finished", "stopped early" by ASHA, "interrupted" or "error")."""

    trial: int
    status: str
    accuracy_mean: float
    accuracy_worst: float
    f1_mean: float
    folds: int
    folds_total: int
    params: dict
    trials_done: int
    trials_total: int
    best_trial: int | None
    best_score: float | None


@dataclass(frozen=True)
class SweepNote:
    text: str
    level: str = "info"


@dataclass
class SweepResult:
    folder: Path
    trials: list[dict]               # one row per ended trial (see trials.csv)
    best: dict | None
    best_preset: Path | None
    stopped: bool
    k: int
    score: str


# ---------------------------------------------------------------------------------------------
# The sweep folder


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return "" if value is None else str(value)


def _csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_fmt(v) for v in row] for row in rows])
    return buf.getvalue()


class _Folder:
    """Writes the sweep folder as trials end (driver side)."""

    def __init__(self, folder: Path, space: SweepSpace, settings: dict, k: int, score: str):
        self.folder, self.space, self.settings, self.k, self.score = folder, space, settings, k, score
        self.rows: list[dict] = []
        self.best: dict | None = None
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / SPACE_FILE, space.text or "")
        self.write("running")

    def add(self, number: int, status: str, params: dict, cv: dict | None) -> dict:
        recipe = self.space.recipe(params)
        recipe = dataclasses.replace(recipe, name=f"sweep-trial-{number}",
                                     title=f"Sweep trial {number}",
                                     description=f"Trial {number} of the sweep in {self.folder}")
        tdir = self.folder / TRIALS_DIR / f"{number:04d}"
        tdir.mkdir(parents=True, exist_ok=True)
        folds = (cv or {}).get("folds") or []
        acc = [r["accuracy"] for r in folds]
        row = {"trial": number, "status": status, "folds": len(folds),
               "accuracy_mean": (cv or {}).get("accuracy", {}).get("mean") if folds else None,
               "accuracy_worst": min(acc) if acc else None,
               "f1_mean": (cv or {}).get("f1_macro", {}).get("mean") if folds else None,
               "minutes": (cv or {}).get("minutes"), "params": params,
               "recipe": str(tdir / "recipe.toml")}
        atomic_write_text(tdir / "recipe.toml", preset_toml(recipe, f"{status}: {len(folds)} "
                                                                    f"of {self.k} folds"))
        atomic_write_text(tdir / CROSSVAL_FILE, json.dumps(cv or {}, indent=1))
        atomic_write_text(tdir / "folds.csv", _csv(
            ["fold", "test_subjects", "val_subjects", "accuracy", "f1_macro", "windows",
             "epochs_run", "seconds"],
            [[r.get("fold"), r.get("test_subjects"), r.get("val_subjects"), r.get("accuracy"),
              r.get("f1_macro"), r.get("windows"), r.get("epochs_run"), r.get("seconds")]
             for r in folds]))
        self.rows = sorted([*self.rows, row], key=lambda r: r["trial"])
        if status == "finished" and self._better(row):
            self.best = row
            best = dataclasses.replace(recipe, name=f"{self.folder.name}-best",
                                       title=f"Best of sweep {self.folder.name}",
                                       description=self._best_text(row))
            atomic_write_text(self.folder / BEST_FILE, preset_toml(best, self._best_text(row)))
        self.write("running")
        return row

    def _key(self, row: dict) -> tuple:
        mean, worst = row["accuracy_mean"] or 0.0, row["accuracy_worst"] or 0.0
        return (worst, mean) if self.score == "worst" else (mean, worst)

    def _better(self, row: dict) -> bool:
        return self.best is None or self._key(row) > self._key(self.best)

    def _best_text(self, row: dict) -> str:
        return (f"Trial {row['trial']}: {self.k}-fold leave-subjects-out accuracy "
                f"{row['accuracy_mean']:.3f} mean, {row['accuracy_worst']:.3f} worst fold")

    def write(self, state: str) -> None:
        keys = [p.key for p in self.space.params]
        atomic_write_text(self.folder / TRIALS_CSV, _csv(
            ["trial", "status", "folds", "accuracy_mean", "accuracy_worst", "f1_mean",
             "minutes", *keys],
            [[r["trial"], r["status"], r["folds"], r["accuracy_mean"], r["accuracy_worst"],
              r["f1_mean"], r["minutes"], *[r["params"].get(k) for k in keys]]
             for r in self.rows]))
        atomic_write_text(self.folder / SWEEP_FILE, json.dumps(clean_json({
            "state": state, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "settings": self.settings, "space": [p.describe() for p in self.space.params],
            "fixed": self.space.fixed, "base_preset": self.space.base.name,
            "k": self.k, "score": self.score, "trials": self.rows, "best": self.best,
            "best_preset": str(self.folder / BEST_FILE) if self.best else None,
        }), indent=1))


# ---------------------------------------------------------------------------------------------
# The driver


def run_sweep(
    dataset_or_frame,
    space: SweepSpace,
    *,
    trials: int,
    folder: Path | str,
    k: int = 4,
    window=None,
    activities: list[str] | None = None,
    channels: list[str] | None = None,
    seed: int = 0,
    val_subjects: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    score: str = "mean",
    early_stop: bool = True,
    address: str | None = None,
    cpus: int | None = None,
    control=None,
) -> Generator[TrialFinished | SweepNote, None, SweepResult]:
    """Search `space` with `trials` trials, each a k-fold cross-validation (see module doc).

    Trials run as Ray Tune trials, one CPU and one torch thread each (a local Ray with `cpus`
    CPUs, default all cores, or the cluster at `address`). Raises ValueError (one line) for
    data that cannot be cross-validated and MissingDependency without Ray or Optuna."""
    from .crossval import plan_folds
    from .engine import TrainControl
    from .parallel import ray_session, require

    if trials < 1:
        raise ValueError(f"a sweep needs at least 1 trial, got {trials}")
    if k < 2:
        raise ValueError(f"each trial is scored by cross-validation: --cv needs at least 2 "
                         f"folds, got {k}")
    if score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    require("ray.tune", "a sweep")
    require("optuna", "a sweep")
    control = control or TrainControl()
    base_cfg = space.base.train_config(seed=seed, device=device, precision=precision)
    plan = plan_folds(dataset_or_frame, k=k, window=window, activities=activities,
                      channels=channels, features=space.base.features,
                      model_overrides=space.base.model, train_config=base_cfg, seed=seed,
                      val_subjects=val_subjects)
    for values in _corners(space):   # every feature choice must fit the data's channels
        trial_plan(plan, space.recipe(values), device, precision, val_subjects)
    folder = Path(folder)
    settings = {key: plan.settings[key] for key in ("k", "seed", "window", "activities",
                                                    "channels", "subjects", "folds",
                                                    "data_files")}
    settings.update(trials=trials, score=score, early_stop=early_stop,
                    val_subjects=val_subjects, device=device, precision=precision)
    record = _Folder(folder, space, settings, k, score)
    events: queue.Queue = queue.Queue()
    options = {"threads": 1, "device": device, "precision": precision,
               "val_subjects": val_subjects, "score": score}
    state = {"stopped": False, "error": None}

    def work() -> None:
        try:
            _fit(plan, space, trials, k, seed, score, early_stop, options, folder, record,
                 control, events)
        except BaseException as exc:  # reported by the generator, in the caller's thread
            state["error"] = exc
        finally:
            events.put(None)

    yield SweepNote(f"Sweep of {trials} trial{'s' if trials != 1 else ''}, each a {k}-fold "
                    f"leave-subjects-out cross-validation; searching "
                    f"{'; '.join(p.describe() for p in space.params)}")
    with ray_session(address, cpus) as ray:   # in the caller's thread (Ray's signal handlers)
        total = int(ray.cluster_resources().get("CPU", 1))
        yield SweepNote(f"Ray: {total} CPU{'s' if total != 1 else ''} "
                        f"({'a local Ray' if address is None else 'Ray at ' + address}); "
                        f"one trial per CPU, one torch thread each")
        thread = threading.Thread(target=work, name="har-sweep", daemon=True)
        thread.start()
        try:
            while True:
                item = events.get()
                if item is None:
                    break
                yield item
        finally:
            if thread.is_alive():         # closed early: stop the trials, keep what finished
                control.stop()
                thread.join()
    if state["error"] is not None:
        from .parallel import task_error

        exc = state["error"]
        try:
            import ray

            exc = task_error(ray, exc)
        except ImportError:
            pass
        record.write("failed")
        raise exc
    stopped = control.stopped
    record.write("stopped" if stopped else "finished")
    result = SweepResult(folder, list(record.rows), record.best,
                         folder / BEST_FILE if record.best else None, stopped, k, score)
    yield SweepNote(_summary(result))
    return result


def _summary(result: SweepResult) -> str:
    done = sum(r["status"] == "finished" for r in result.trials)
    text = (f"Sweep {'stopped' if result.stopped else 'finished'}: {len(result.trials)} trials "
            f"ended ({done} with all {result.k} folds)")
    if result.best:
        b = result.best
        text += (f"; best trial {b['trial']}: accuracy {b['accuracy_mean']:.3f} mean, "
                 f"{b['accuracy_worst']:.3f} worst fold; recipe {result.best_preset}")
    return text


def _fit(plan, space, trials, k, seed, score, early_stop, options, folder, record, control,
         events) -> None:
    """Run Tune (in the sweep's thread, so Tune installs no signal handler of its own)."""
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Trials stopped before their first fold have no results: said by us, not by Tune's summary.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # Tune pickles its callbacks and stopper with the experiment state: they hold only a key
    # into _LIVE, where this driver's (unpicklable) record, control and queue stay.
    key = f"{id(record)}-{time.monotonic_ns()}"
    _LIVE[key] = (record, control, events)
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        scheduler = None
        if early_stop:
            from ray.tune.schedulers import ASHAScheduler

            scheduler = ASHAScheduler(time_attr="folds_done", max_t=k, grace_period=1,
                                      reduction_factor=2)
        Recorder, StopFlag = _tune_classes()
        recorder = Recorder(key, k, trials, score, [p.key for p in space.params])
        # with_parameters puts the plan (the windows) in the object store once
        trainable = tune.with_parameters(_trial, plan=plan, space=space, options=options)
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space=tune_space(space),
            tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=trials,
                                        search_alg=OptunaSearch(seed=seed),
                                        scheduler=scheduler),
            run_config=tune.RunConfig(name="tune", storage_path=str(folder.resolve()),
                                      verbose=0, stop=StopFlag(key), callbacks=[recorder],
                                      failure_config=tune.FailureConfig(max_failures=0)),
        )
        tuner.fit()   # trials still running when stopped are not recorded
    finally:
        _LIVE.pop(key, None)


_LIVE: dict[str, tuple] = {}


def _tune_classes():
    """Tune's callback and stopper for a sweep, made once Ray is imported. Module attributes
    (so that Tune, which pickles them with the experiment state, pickles them by name); they
    hold only a key into _LIVE, where the driver's record, control and queue stay."""
    global _Recorder, _StopFlag
    if _Recorder is None:
        from ray import tune

        class Recorder(tune.Callback):
            def __init__(self, key: str, k: int, trials: int, score: str, keys: list[str]) -> None:
                self.key, self.k, self.trials, self.score, self.keys = key, k, trials, score, keys
                self.last: dict[str, dict] = {}
                self.ended: set[str] = set()

            def on_trial_result(self, iteration, trials, trial, result, **info):
                self.last[trial.trial_id] = result

            def on_trial_complete(self, iteration, trials, trial, **info):
                self.end(trial)

            def on_trial_error(self, iteration, trials, trial, **info):
                self.end(trial, error=True)

            def end(self, trial, error: bool = False) -> None:
                if trial.trial_id in self.ended or self.key not in _LIVE:
                    return
                record, control, events = _LIVE[self.key]
                self.ended.add(trial.trial_id)
                result = self.last.get(trial.trial_id) or {}
                done = int(result.get("folds_done") or 0)
                if done >= self.k:
                    status = "finished"
                elif control.stopped:     # ended by the user's stop (or Ctrl-C in the worker)
                    status = "interrupted"
                elif error:
                    status = "error"
                else:
                    status = "stopped early"
                cv = json.loads(result["cv_json"]) if result.get("cv_json") else None
                params = decode_config({key: trial.config[key] for key in self.keys
                                        if key in trial.config})
                # "<prefix>_<counter>" ids carry their number; a searcher's ids are 8 random
                # hex digits, which may all be decimal digits (then they are no number)
                prefix, _, counter = str(trial.trial_id).rpartition("_")
                number = int(counter) + 1 if prefix and counter.isdigit() else len(self.ended)
                row = record.add(number, status, params, cv)
                best = record.best
                events.put(TrialFinished(
                    number, status, _nan(row["accuracy_mean"]), _nan(row["accuracy_worst"]),
                    _nan(row["f1_mean"]), row["folds"], self.k, params, len(record.rows), self.trials,
                    best["trial"] if best else None,
                    (best["accuracy_worst"] if self.score == "worst" else best["accuracy_mean"])
                    if best else None))

        class StopFlag(tune.Stopper):
            def __init__(self, key: str) -> None:
                self.key = key

            def __call__(self, trial_id, result):
                return False

            def stop_all(self):
                live = _LIVE.get(self.key)
                return live is None or live[1].stopped

        for cls, name in ((Recorder, "_Recorder"), (StopFlag, "_StopFlag")):
            cls.__module__, cls.__qualname__, cls.__name__ = __name__, name, name
        _Recorder, _StopFlag = Recorder, StopFlag
    return _Recorder, _StopFlag


_Recorder = _StopFlag = None


def _nan(value) -> float:
    return math.nan if value is None else float(value)
