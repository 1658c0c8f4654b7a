"""``har-studio sweep``: search recipes on Ray Tune, each trial scored by cross-validation.

Prints a line per ended trial (trials done, best so far) to stderr and, with ``--json``, one
JSON object on stdout. The first Ctrl-C ends the sweep cleanly (trials still running are not
counted; every finished one stays in the sweep folder); a second one interrupts. Exit
status: 0 done or stopped, 1 bad input or a missing optional dependency (one-line message).
"""

from __future__ import annotations

import argparse

from ..cli import fail, print_json
from ..data.commands import add_identity_arguments, identity_of
from .commands import _GracefulInterrupt, _say


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="search recipes on Ray Tune, scored by cross-validation",
        description="Search a space of recipes (Ray Tune with Optuna's sampler, ASHA stopping "
                    "of poor trials), each trial scored by leave-subjects-out cross-validation "
                    "(mean and worst fold). Writes a sweep folder with every trial's recipe "
                    "and figures and the best recipe as best.toml (train --preset FILE). "
                    "Needs pip install 'har-studio[cluster]'.")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH")
    add_identity_arguments(p)
    p.add_argument("--space", required=True, metavar="FILE",
                   help="TOML: preset = NAME, then [model], [training], [features] fields as "
                        "{ uniform = [lo, hi] }, { loguniform = [lo, hi] }, { int = [lo, hi] }, "
                        "{ choice = [...] } or a fixed value")
    p.add_argument("--trials", type=int, required=True, metavar="N")
    p.add_argument("--cv", type=int, default=4, metavar="K", help="folds per trial (default 4)")
    p.add_argument("--cv-val-subjects", type=int, default=None, metavar="N")
    p.add_argument("--score", choices=("mean", "worst"), default="mean",
                   help="rank trials by the mean fold accuracy (default) or the worst fold's")
    p.add_argument("--no-early-stop", action="store_true",
                   help="run every trial to its last fold (no ASHA)")
    p.add_argument("--parallel", nargs="?", const="ray", default="ray", metavar="ray[:ADDRESS]",
                   help="where the trials run: a local Ray started for the sweep (default, one "
                        "trial per core) or a cluster (ray:auto, ray:HOST:PORT)")
    p.add_argument("--cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: all cores)")
    p.add_argument("--activities", metavar="LIST")
    p.add_argument("--channels", metavar="LIST")
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--step", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--out", metavar="DIR", help="sweep folder (default: a new one under runs)")
    p.add_argument("--json", action="store_true", help="print a final JSON object on stdout")
    p.set_defaults(func=sweep_command)


def _trial_line(item) -> str:
    text = f"trial {item.trial} {item.status}"
    if item.folds:
        text += (f" after {item.folds}/{item.folds_total} folds: accuracy "
                 f"{item.accuracy_mean:.3f} mean, {item.accuracy_worst:.3f} worst")
    text += f"  [{item.trials_done}/{item.trials_total} done"
    if item.best_trial is not None:
        text += f", best so far {item.best_score:.3f} (trial {item.best_trial})"
    return text + "]"


def sweep_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.activities import parse_activity_list
    from ..data.dataset import DataError
    from ..data.loaders import load
    from ..data.windows import WindowConfig
    from . import runs
    from .engine import TrainControl, run_to_end
    from .parallel import parse_parallel, require
    from .sweep import SweepNote, TrialFinished, load_space, run_sweep

    try:
        address = parse_parallel(args.parallel)
        require("ray.tune", "a sweep")
        require("optuna", "a sweep")
        space = load_space(args.space)
        out = Path(args.out) if args.out else None
        if out is not None and (out / "sweep.json").exists():
            return fail(f"{out} already holds a sweep; choose another --out folder")
        window = WindowConfig(size=args.window, step=args.step)
        dataset = load(args.data, **identity_of(args))
        activities = parse_activity_list(args.activities, known=dataset.activities)
        channels = ([c.strip() for c in args.channels.split(",") if c.strip()]
                    if args.channels else None)
        folder = out if out is not None else runs.new_run_dir("sweep")
        control = TrainControl()
        gen = run_sweep(dataset, space, trials=args.trials, folder=folder, k=args.cv,
                        window=window, activities=activities, channels=channels,
                        seed=args.seed, val_subjects=args.cv_val_subjects, device=args.device,
                        precision=args.precision, score=args.score,
                        early_stop=not args.no_early_stop, address=address, cpus=args.cpus,
                        control=control)

        def report(item) -> None:
            if isinstance(item, TrialFinished):
                _say(_trial_line(item))
            elif isinstance(item, SweepNote):
                _say(item.text)

        with _GracefulInterrupt(control, "ending the sweep: trials still running are not "
                                "counted, finished ones are kept (Ctrl-C again to abort)"):
            result = run_to_end(gen, report)
    except (DataError, ValueError, OSError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
    _say(f"sweep folder: {result.folder}")
    if args.json:
        print_json(runs.clean_json({
            "folder": str(result.folder), "stopped": result.stopped, "k": result.k,
            "score": result.score, "trials": result.trials, "best": result.best,
            "best_preset": str(result.best_preset) if result.best_preset else None}))
    return 0
