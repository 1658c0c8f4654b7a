"""``har-studio train`` and ``har-studio evaluate``: the app's training engine, headless.

``train`` runs the same generator as the Train tab, writes the same run folder and model
file, prints one progress line per epoch to stderr and, with ``--json``, one JSON object on
stdout. The first Ctrl-C stops training gracefully (the best model so far is saved); a
second one interrupts. Exit status: 0 done, 1 bad input (one-line message), 3 the training
diverged (the last good model is still written).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ..cli import fail, print_json
from ..data.commands import add_identity_arguments, identity_of

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``train`` and ``evaluate`` subcommands."""
    p = subparsers.add_parser(
        "train", help="train a model headless (same engine as the app)",
        description="Train a time-series ViT on WISDM recordings and write a run folder "
                    "(config.json, history.csv, model.harmodel, report.json, report.csv).")
    p.add_argument("--data", nargs="+", metavar="PATH",
                   help="data files and/or folders (searched recursively); required unless "
                        "--resume")
    add_identity_arguments(p)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run in its folder from its last checkpoint "
                        "(same data files and settings; --data overrides where the files are)")
    p.add_argument("--activities", metavar="LIST",
                   help="comma-separated activities (names or WISDM 2019 letters); default all")
    p.add_argument("--channels", metavar="LIST", help="comma-separated channels, e.g. x,y,z")
    p.add_argument("--split", choices=("subject", "random"), default="subject",
                   help="hold out whole subjects (default; honest) or random windows (leaky)")
    p.add_argument("--test-subjects", metavar="IDS", help="comma-separated test subject ids")
    p.add_argument("--val-subjects", metavar="IDS", help="comma-separated validation subject ids")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--window", type=int, default=128, help="samples per window (default 128)")
    p.add_argument("--step", type=int, default=64, help="samples between windows (default 64)")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="recipe of input features, model size and training settings: "
                        "'reference' (the published ViT on raw x, y, z), 'robust' (inputs "
                        "robust to the phone's orientation) or 'aligned' (robust inputs in each "
                        "person's own upright frame: best on new people and phones); default: "
                        "the app's default preset (aligned). Flags below override "
                        "the preset's values. Also a preset file (TOML), e.g. a sweep's "
                        "best.toml")
    p.add_argument("--cv", type=int, default=0, metavar="K",
                   help="cross-validate by subject instead: K folds over the subjects, each "
                        "tested once by a model that never saw them (mean and spread of "
                        "accuracy and macro F1; --test-subjects, --split are ignored)")
    p.add_argument("--parallel", nargs="?", const="ray", default=None, metavar="ray[:ADDRESS]",
                   help="with --cv: run the folds as Ray tasks, on a local Ray started for the "
                        "run (one fold per core) or on a cluster (ray:auto, ray:HOST:PORT); "
                        "needs pip install 'har-studio[cluster]'")
    p.add_argument("--ddp", action="store_true",
                   help="one model on several processes started by torchrun "
                        "(DistributedDataParallel: one GPU each, or CPU processes with gloo); "
                        "e.g. torchrun --nproc-per-node 2 -m har_studio train --ddp ...")
    p.add_argument("--cv-val-subjects", type=int, default=None, metavar="N",
                   help="validation subjects (for early stopping) per fold, drawn from the "
                        "fold's training subjects (default 2 when the settings use "
                        "validation, 0 for the robust preset, which keeps the last epoch)")
    p.add_argument("--epochs", type=int, default=None, help="default 30 (or the preset's)")
    p.add_argument("--batch-size", type=int, default=None, help="default 128")
    p.add_argument("--lr", type=float, default=None, help="default 1e-3")
    p.add_argument("--weight-decay", type=float, default=None, help="default 1e-2")
    p.add_argument("--patience", type=int, default=None,
                   help="early-stopping patience; 0 = off (default 5)")
    p.add_argument("--label-smoothing", type=float, default=None)
    p.add_argument("--class-weights", action="store_true", default=None,
                   help="inverse-frequency class weights")
    p.add_argument("--augment", action="store_true", default=None,
                   help="rotation, scaling and jitter of training windows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--embedding", type=int, default=None, help="embedding size (default 256)")
    p.add_argument("--head-width", type=int, default=None,
                   help="head hidden width (default 1024)")
    p.add_argument("--blocks", type=int, default=None, help="transformer blocks (default 3)")
    p.add_argument("--heads", type=int, default=None, help="attention heads (default 4)")
    p.add_argument("--att-size", type=int, default=None,
                   help="size per attention head (default 64)")
    p.add_argument("--patch-size", type=int, default=None, help="samples per patch (default 4)")
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--members", type=int, default=None,
                   help="networks trained side by side from different starting weights, their "
                        "probabilities averaged (an ensemble; default 1)")
    p.add_argument("--init-model", metavar="FILE",
                   help="start from this model's weights (same model settings, activities)")
    p.add_argument("--out", metavar="DIR",
                   help="run folder to write (default: a new folder under the app's runs)")
    p.add_argument("--json", action="store_true", help="print a final JSON object on stdout")
    p.set_defaults(func=train_command)

    e = subparsers.add_parser(
        "evaluate", help="evaluate a model file on recordings",
        description="Evaluate a model on every window of the given data (no split), windowed "
                    "with the model's own window size, channels and activities.")
    e.add_argument("--model", required=True, metavar="FILE", help="a .harmodel file")
    e.add_argument("--data", nargs="+", required=True, metavar="PATH")
    e.add_argument("--activities", metavar="LIST",
                   help="score only these of the model's activities (comma-separated names or "
                        "WISDM 2019 letters); default all the model knows")
    add_identity_arguments(e)
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.set_defaults(func=evaluate_command)


def _int_list(text: str | None, what: str) -> tuple[int, ...]:
    if not text or not text.strip():
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{what} must be comma-separated whole numbers, got {text!r}") from None


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _epoch_line(p) -> str:
    val = ("" if p.val_loss != p.val_loss  # nan: no validation split
           else f"  val loss {p.val_loss:.4f} acc {p.val_acc:.3f}")
    return (f"epoch {p.epoch}/{p.epochs}  train loss {p.train_loss:.4f} acc {p.train_acc:.3f}"
            f"{val}  lr {p.lr:.2e}  {p.seconds:.1f} s  {p.windows_per_s:.0f} win/s"
            f"{'  *best' if p.is_best else ''}")


def _report_progress(item, prefix: str = "") -> None:
    """One stderr line per epoch and per note of the engine (batch progress is not printed)."""
    from .engine import EpochProgress, TrainNote

    if isinstance(item, EpochProgress):
        _say(prefix + _epoch_line(item))
    elif isinstance(item, TrainNote):
        _say(("" if item.level == "info" else f"{item.level}: ") + item.text)


class _GracefulInterrupt:
    """First Ctrl-C asks the job to stop (says `message`: for training, the model is kept);
    the second one interrupts. Used by ``train`` and ``sweep``."""

    def __init__(self, control,
                 message: str = "stopping after this batch (Ctrl-C again to abort)") -> None:
        self.control = control
        self.message = message
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.control.stopped:
            raise KeyboardInterrupt
        _say(self.message)
        self.control.stop()

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


# flag -> TrainConfig / ViTConfig field; a flag left out keeps the preset's value
TRAIN_FLAGS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
               "weight_decay": "weight_decay", "patience": "patience",
               "label_smoothing": "label_smoothing", "class_weights": "class_weights",
               "augment": "augment"}
MODEL_FLAGS = {"embedding": "embedding_dim", "head_width": "head_width", "blocks": "depth",
               "heads": "head_num", "att_size": "att_size", "patch_size": "patch_size",
               "dropout": "dropout", "members": "members"}


def _given(args: argparse.Namespace, flags: dict[str, str]) -> dict:
    """The fields of the flags the user gave (not None)."""
    return {field: getattr(args, flag) for flag, field in flags.items()
            if getattr(args, flag, None) is not None}


def _cross_validate(args, dataset, window, activities, channels, preset, model_overrides,
                    train_config) -> int:
    """``train --cv K``: leave-subjects-out cross-validation; prints a line per fold and a
    summary (stderr), the figures as JSON with --json, crossval.json in the run folder."""
    from pathlib import Path

    from ..progress import run_to_end
    from . import runs
    from .crossval import FoldFinished, FoldProgress
    from .engine import TrainControl
    from .jobs import cross_validate_model

    if args.cv < 2:
        return fail(f"--cv needs at least 2 folds, got {args.cv}")
    run_dir = Path(args.out) if args.out else runs.new_run_dir(f"cv{args.cv}")
    control = TrainControl()
    gen = cross_validate_model(dataset, k=args.cv, window=window, activities=activities,
                               channels=channels, features=preset.features,
                               model_overrides=model_overrides, train_config=train_config,
                               val_subjects=args.cv_val_subjects, control=control,
                               run_dir=run_dir, label=preset.name, parallel=args.parallel)
    def report(item) -> None:
        if isinstance(item, FoldFinished):
            _say(f"fold {item.fold}/{item.folds} (test subjects "
                 f"{', '.join(map(str, item.test_subjects))}): accuracy {item.accuracy:.3f}, "
                 f"macro F1 {item.f1_macro:.3f}, {item.seconds:.0f} s")
        elif isinstance(item, FoldProgress):
            _report_progress(item.item, prefix=f"fold {item.fold}/{item.folds} ")

    with _GracefulInterrupt(control):
        cv = run_to_end(gen, report)
    _say(f"report: {run_dir}")
    if args.json:
        print_json(runs.clean_json({**cv.to_dict(), "preset": preset.name,
                                    "run_dir": str(run_dir)}))
    return 0


def train_command(args: argparse.Namespace) -> int:
    if not getattr(args, "ddp", False):
        return _train(args)
    from .ddp import start

    if args.cv or args.parallel:
        return fail("--ddp trains one model; it does not combine with --cv or --parallel")
    try:
        ddp = start(args.device)
    except (ValueError, RuntimeError) as exc:
        return fail(str(exc).splitlines()[0])
    try:
        return _train(args, ddp)
    finally:
        ddp.close()


def _train(args: argparse.Namespace, ddp=None) -> int:
    from pathlib import Path

    from ..data.activities import parse_activity_list
    from ..data.dataset import DataError
    from ..data.loaders import load
    from ..data.splits import RANDOM_SPLIT_WARNING, SplitConfig
    from ..data.windows import WindowConfig
    from ..model.io import ModelFileError, load_model
    from ..progress import run_to_end
    from . import runs
    from .engine import TrainControl, TrainNote
    from .jobs import train_model
    from .presets import DEFAULT_PRESET, get_preset

    main_rank = ddp is None or ddp.is_main   # under --ddp, only rank 0 writes and talks
    say = _say if main_rank else (lambda text: None)
    if args.resume:
        return _resume(args)
    if not args.data:
        return fail("--data is required (or --resume RUN_DIR)")
    try:
        if args.parallel:  # before loading the data: a missing Ray is said at once
            from .parallel import parse_parallel, require

            if not args.cv:
                return fail("--parallel runs cross-validation folds side by side: give --cv K")
            parse_parallel(args.parallel)
            require("ray", "--parallel")
        preset = get_preset(args.preset or DEFAULT_PRESET)
        train_config = preset.train_config(**_given(args, TRAIN_FLAGS), seed=args.seed,
                                           device=args.device, precision=args.precision)
        model_overrides = preset.model_overrides(**_given(args, MODEL_FLAGS))
        window = WindowConfig(size=args.window, step=args.step)
        split = SplitConfig(kind=args.split,
                            test_subjects=_int_list(args.test_subjects, "--test-subjects"),
                            val_subjects=_int_list(args.val_subjects, "--val-subjects"),
                            test_fraction=args.test_fraction, val_fraction=args.val_fraction,
                            seed=args.seed)
        out = Path(args.out) if args.out else None
        if main_rank and out is not None and (out / runs.CONFIG_FILE).exists():
            return fail(f"{out} already holds a training run; choose another --out folder")
        init_bundle = load_model(args.init_model) if args.init_model else None
        dataset = load(args.data, **identity_of(args))
        activities = parse_activity_list(args.activities, known=dataset.activities)
        channels = ([c.strip() for c in args.channels.split(",") if c.strip()]
                    if args.channels else None)
        say(f"preset {preset.name}: inputs {preset.features.describe()}")
        if args.cv:
            return _cross_validate(args, dataset, window, activities, channels, preset,
                                   model_overrides, train_config)
        if args.split == "random":
            say(f"warning: {RANDOM_SPLIT_WARNING}")
        control = TrainControl()
        gen = train_model(dataset, window=window, split=split, activities=activities,
                          channels=channels, features=preset.features,
                          model_overrides=model_overrides, train_config=train_config,
                          control=control, init_bundle=init_bundle, run_dir=out,
                          run_tag=args.split, ddp=ddp)
        def report(item) -> None:
            if main_rank and not (isinstance(item, TrainNote)
                                  and item.text == RANDOM_SPLIT_WARNING):
                _report_progress(item)  # (the leak warning was said already)

        with _GracefulInterrupt(control):
            result = run_to_end(gen, report)
    except (DataError, ModelFileError, ValueError, OSError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)

    if not main_rank:
        return 3 if result.stopped_reason == "diverged" else 0
    return _finished(args, result)


def _finished(args: argparse.Namespace, result) -> int:
    """Say where a trained (or resumed) run went, its JSON with ``--json``; exit status 3
    when it diverged, else 0."""
    from . import runs

    _say(f"run folder: {result.run_dir}")
    if args.json:
        print_json({
            "stopped_reason": result.stopped_reason,
            "device": result.device,
            "precision": result.precision,
            "epochs_run": len(result.history),
            "best_epoch": result.best_epoch,
            "run_dir": str(result.run_dir) if result.run_dir else None,
            "model": str(result.model_path) if result.model_path else None,
            "metrics": runs.clean_json(result.metrics),
        })
    return 3 if result.stopped_reason == "diverged" else 0


def _resume(args: argparse.Namespace) -> int:
    """``train --resume RUN_DIR``: the run's own data, split and settings, its checkpoint's
    weights, the epochs that are left; written into the same folder."""
    from ..data.dataset import DataError
    from ..model.io import ModelFileError
    from ..progress import run_to_end
    from .engine import TrainControl
    from .jobs import resume_training

    control = TrainControl()
    try:
        gen = resume_training(args.resume, data=args.data, control=control)
        with _GracefulInterrupt(control):
            result = run_to_end(gen, _report_progress)
    except (DataError, ModelFileError, ValueError, OSError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
    return _finished(args, result)


def evaluate_command(args: argparse.Namespace) -> int:
    from ..data.activities import parse_activity_list
    from ..data.dataset import DataError
    from ..data.loaders import load
    from ..data.windows import make_windows
    from ..model.io import ModelFileError, load_model
    from .metrics import evaluate_bundle

    try:
        bundle = load_model(args.model)
        chosen = parse_activity_list(args.activities, known=list(bundle.labels))
        scored = chosen or list(bundle.labels)
        dataset = load(args.data, **identity_of(args))
        frame = dataset.frame
        missing = [c for c in bundle.channels if c not in frame.columns]
        if missing:
            return fail(f"the model reads channel(s) {', '.join(bundle.channels)}; the data has "
                        f"no {', '.join(missing)}")
        counts = frame["activity"].astype(str).value_counts()
        unknown = {str(name): int(n) for name, n in counts.items() if name not in bundle.labels}
        if unknown:
            _say("note: the model does not know "
                 + ", ".join(f"{name} ({n} records)" for name, n in sorted(unknown.items()))
                 + "; those records are left out")
        if chosen:
            others = {str(name): int(n) for name, n in counts.items()
                      if name in bundle.labels and name not in chosen}
            if others:
                _say("note: scoring " + ", ".join(chosen) + " only; left out "
                     + ", ".join(f"{name} ({n} records)" for name, n in sorted(others.items())))
            frame = frame[frame["activity"].astype(str).isin(chosen)]
        windows = make_windows(frame, bundle.window, channels=list(bundle.channels),
                               labels=list(bundle.labels))
        if len(windows) == 0:
            return fail(f"no windows of {bundle.window.size} samples of the model's activities "
                        f"({', '.join(scored)}) in the data")
        metrics = evaluate_bundle(bundle, windows, latency=False)
    except (DataError, ModelFileError, ValueError, OSError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)

    out = {
        "accuracy": metrics["accuracy"],
        "f1_macro": metrics["f1_macro"],
        "precision_macro": metrics["precision_macro"],
        "recall_macro": metrics["recall_macro"],
        "f1_weighted": metrics["f1_weighted"],
        "per_class": metrics["per_class"],
        "confusion": metrics["confusion"],
        "labels": metrics["labels"],
        "windows": metrics["windows"],
        "activities": scored,
        "unknown_activities": unknown,
        "model": str(args.model),
    }
    if args.json:
        print_json(out)
    else:
        print("\n".join(evaluation_table(out)))
    return 0


def evaluation_table(out: dict) -> list[str]:
    """``evaluate``'s text report: the overall figures, then one row per scored activity with
    its accuracy and how its windows were classified (a column per activity the model can
    name), under a heading."""
    labels = out["labels"]
    rows = [name for name in labels if name in out["activities"]]
    counts = [str(v) for row in out["confusion"] for v in row]
    cols = [max(len(name), *(len(c) for c in counts)) for name in labels]
    width = max(len("true activity"), *(len(name) for name in rows))
    lines = [f"{out['windows']} windows: accuracy {out['accuracy']:.4f}, "
             f"macro F1 {out['f1_macro']:.4f}",
             f"  {'':<{width}}  {'':>8}  windows predicted as",
             f"  {'true activity':<{width}}  {'accuracy':>8}  "
             + "  ".join(f"{name:>{w}}" for name, w in zip(labels, cols, strict=True))]
    for name in rows:
        acc = out["per_class"][name]
        acc_text = "n/a" if acc is None else f"{acc:.3f}"
        row = out["confusion"][labels.index(name)]
        lines.append(f"  {name:<{width}}  {acc_text:>8}  "
                     + "  ".join(f"{v:>{w}d}" for v, w in zip(row, cols, strict=True)))
    return lines
