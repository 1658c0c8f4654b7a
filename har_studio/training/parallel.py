"""Cross-validation folds as Ray tasks: ``har-studio train --cv K --parallel [ray[:ADDRESS]]``.

Ray is an optional dependency (the ``cluster`` extra); it is imported only when a parallel
run is asked for, and a missing Ray gives a one-line message naming the pip command.

The data is windowed once (``crossval.plan_folds``) and the plan - windows, folds, recipe -
goes into Ray's object store once; each fold is one task with one CPU and one torch thread,
so a local Ray runs as many folds at a time as there are cores. Every fold runs exactly the
code of the sequential cross-validation (``crossval.run_fold``) with the same folds and seeds,
so the result is the same in content; only timings differ. ``--parallel ray`` starts (and
stops) a local Ray; ``ray:auto`` joins the cluster this machine belongs to and
``ray:HOST:PORT`` a cluster's head node (every node needs har-studio installed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from .crossval import (
    FoldFinished,
    FoldOutcome,
    FoldProgress,
    combine_folds,
    plan_folds,
    run_fold,
)
from .reports import CROSSVAL_FILE, CVResult, write_cv_report

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'har-studio[cluster]' (or: pip install 'ray[tune]' optuna)"
WAIT_S = 0.25   # how often a waiting driver looks at its stop flag


class MissingDependency(ValueError):
    """An optional package is not installed (the message names the pip command)."""


def require(module: str, what: str):
    """Import `module` or raise MissingDependency saying what needs it and how to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"{what} needs {module.split('.')[0]}, which is not installed: "
                                f"{INSTALL_HINT}") from None


def parse_parallel(text: str | None) -> str | None:
    """The Ray address of a ``--parallel`` value: "ray" -> None (start a local Ray),
    "ray:auto" -> "auto", "ray:HOST:PORT" -> "HOST:PORT". ValueError for anything else."""
    text = (text or "ray").strip()
    if text == "ray":
        return None
    if text.startswith("ray:") and text[4:].strip():
        return text[4:].strip()
    raise ValueError(f"--parallel takes ray, ray:auto or ray:HOST:PORT, got {text!r}")


@contextlib.contextmanager
def ray_session(address: str | None = None, cpus: int | None = None) -> Iterator[object]:
    """Ray, connected: a running session is reused (and left running); otherwise a local Ray
    with `cpus` CPUs (default: all cores) or the cluster at `address` is joined, and left
    again at the end."""
    ray = require("ray", "running in parallel")
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")   # no network calls home
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if address is None:
        ray.init(num_cpus=cpus or os.cpu_count() or 1, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


def _fold_task(plan, f: int, threads: int, keep_model: bool) -> tuple[FoldOutcome, float]:
    """One fold in a Ray worker: the sequential code with `threads` torch threads."""
    import torch

    from .engine import run_to_end

    torch.set_num_threads(threads)
    cpu0 = time.process_time()
    outcome = run_to_end(run_fold(plan, f))
    if outcome is not None and not keep_model:
        outcome.bundle = None
    return outcome, time.process_time() - cpu0


def task_error(ray, exc: Exception) -> Exception:
    """The user's error inside a Ray task error (so a bad recipe reads as one line)."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            return cause
    return exc


def cross_validate_parallel(
    dataset_or_frame,
    *,
    address: str | None = None,
    cpus: int | None = None,
    control=None,
    keep_models: bool = False,
    run_dir: Path | str | None = None,
    **plan_kwargs,
) -> Generator[FoldProgress | FoldFinished, None, CVResult]:
    """``crossval.cross_validate`` with the folds as Ray tasks (same arguments: k, window,
    activities, channels, features, model_overrides, train_config, seed, val_subjects).

    Yields a note when the tasks are submitted and a FoldFinished as each fold ends (in the
    order they end); returns the CVResult with the folds in fold order. `control.stop()`
    cancels the folds still running: the finished ones are reported (stopped=True)."""
    from .engine import TrainControl, TrainNote

    control = control or TrainControl()
    wall0 = time.perf_counter()
    plan = plan_folds(dataset_or_frame, **plan_kwargs)
    k = plan.k
    outcomes: list[FoldOutcome] = []
    cpu_s = 0.0
    stopped = False
    with ray_session(address, cpus) as ray:
        plan_ref = ray.put(plan)   # the windows go to the object store once
        task = ray.remote(num_cpus=1, max_retries=0)(_fold_task)
        pending = {task.remote(plan_ref, f, 1, keep_models): f for f in range(1, k + 1)}
        total = int(ray.cluster_resources().get("CPU", 1))
        yield FoldProgress(1, k, TrainNote(
            f"{k} folds as Ray tasks on {total} CPU{'s' if total != 1 else ''} "
            f"({'a local Ray' if address is None else 'Ray at ' + address}), one torch "
            f"thread each"), 0.0)
        try:
            while pending:
                if control.stopped:
                    stopped = True
                    break
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    f = pending.pop(ref)
                    try:
                        outcome, seconds = ray.get(ref)
                    except Exception as exc:
                        raise task_error(ray, exc) from None
                    cpu_s += seconds
                    outcomes.append(outcome)
                    row = outcome.row
                    yield FoldFinished(f, k, tuple(row["test_subjects"]), row["accuracy"],
                                       row["f1_macro"], row["windows"], row["seconds"])
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    if stopped:
        yield FoldProgress(len(outcomes), k, TrainNote(
            f"Cross-validation stopped: {len(outcomes)} of {k} folds finished; the folds "
            f"still running are not counted"), len(outcomes) / k)
    cv = combine_folds(plan, outcomes, stopped=stopped, wall0=wall0, cpu0=0.0,
                       keep_models=keep_models, cpu_seconds=cpu_s)
    if outcomes:
        yield FoldProgress(len(outcomes), k, TrainNote(cv.summary()), len(outcomes) / k)
    if run_dir is not None:
        write_cv_report(Path(run_dir) / CROSSVAL_FILE, cv)
    return cv
