"""``har-studio calibrate``: fine-tune a model to one person's labelled recording, headless.

Runs ``training.calibration.calibrate`` (the generator the app's guided calibration runs),
prints progress to stderr, writes the calibrated model file atomically and reports held-back
accuracy before and after (``--json``: one JSON object on stdout). Exit status 0 done, 1 bad
input (one line naming the problem).
"""

from __future__ import annotations

import argparse
import sys

from ..cli import fail, print_json
from ..data.commands import add_identity_arguments, identity_of


def register(subparsers) -> None:
    """Add the ``calibrate`` subcommand."""
    from .calibration import FREEZE_HELP, NORMALISE_CHOICES, CalibrationConfig

    d = CalibrationConfig()
    p = subparsers.add_parser(
        "calibrate", help="fine-tune a model to one person's labelled recording",
        description="Calibrate a model to one person: fine-tune it on the first --seconds of "
                    "each activity of the recording and score it before and after on the rest.")
    p.add_argument("--model", required=True, metavar="FILE", help="the base .harmodel file")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH",
                   help="the person's labelled recording(s): files and/or folders")
    add_identity_arguments(p, subject=False)   # --subject below serves
    p.add_argument("--out", required=True, metavar="FILE", help="the calibrated .harmodel")
    p.add_argument("--subject", type=int, default=None,
                   help="the person's subject id when the data holds several people")
    p.add_argument("--person", default=None, metavar="NAME", help="a name for the new model")
    p.add_argument("--freeze", default=d.freeze, metavar="WHAT",
                   help=f"weights kept from the base model: {FREEZE_HELP} "
                        f"(default {d.freeze})")
    p.add_argument("--normalise", "--normalize", choices=NORMALISE_CHOICES, default=d.normalise,
                   help=f"input statistics: the base model's, the person's or a blend "
                        f"(default {d.normalise})")
    p.add_argument("--blend", type=float, default=d.blend,
                   help=f"weight of the person's statistics for --normalise blend "
                        f"(default {d.blend})")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help=f"calibrate on the first S seconds of each activity, score on the rest "
                        f"(default {d.seconds:g})")
    p.add_argument("--activities", default="", metavar="A,B",
                   help="calibrate on these activities only, e.g. 'walking' for a 20 s walk "
                        "(default: every activity recorded); the model's stored windows of "
                        "other people keep the others")
    p.add_argument("--no-replay", dest="replay", action="store_false",
                   help="do not replay the model's stored training windows (not advised: "
                        "calibrating on some activities alone can then lose the others)")
    p.add_argument("--keep-if-recognised", type=float, default=d.keep_if_recognised,
                   metavar="SHARE",
                   help=f"with --activities: keep the model unchanged when it already names "
                        f"this share of the captured windows right (default "
                        f"{d.keep_if_recognised:g}; 0 always fine-tunes)")
    p.add_argument("--keep-if-confident", type=float, default=d.keep_if_confident,
                   metavar="PROBABILITY",
                   help=f"... and gives them at least this mean probability (default "
                        f"{d.keep_if_confident:g})")
    p.add_argument("--epochs", type=int, default=d.epochs,
                   help=f"fine-tuning epochs; 0 only re-normalises (default {d.epochs})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr:g})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=d.device)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=calibrate_command)


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _show(item) -> None:
    kind = type(item).__name__
    if kind == "CalibrationStep" and item.stage != "done":
        _say(item.text)  # (the last step's figures are the result, printed once at the end)
    elif kind == "TrainNote" and item.level != "info":
        _say(f"{item.level}: {item.text}")
    elif kind == "EpochProgress":
        _say(f"epoch {item.epoch}/{item.epochs}: loss {item.train_loss:.4f}, "
             f"accuracy {item.train_acc:.3f}")


def calibrate_command(args: argparse.Namespace) -> int:
    from ..data.dataset import DataError
    from ..data.loaders import load
    from ..model.io import ModelFileError, load_model
    from .calibration import CalibrationConfig
    from .engine import run_to_end
    from .jobs import calibrate_model

    try:
        config = CalibrationConfig(seconds=args.seconds, freeze=args.freeze,
                                   normalise=args.normalise, blend=args.blend,
                                   epochs=args.epochs, lr=args.lr, seed=args.seed,
                                   device=args.device, replay=args.replay,
                                   keep_if_recognised=args.keep_if_recognised,
                                   keep_if_confident=args.keep_if_confident,
                                   activities=tuple(a.strip() for a in args.activities.split(",")
                                                    if a.strip()))
        bundle = load_model(args.model)
        dataset = load(args.data, **identity_of(args))
        result = run_to_end(calibrate_model(bundle, dataset, config, subject=args.subject,
                                            base_path=args.model, person=args.person,
                                            out=args.out), _show)
    except (DataError, ModelFileError, ValueError, OSError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)

    def acc(metrics):
        return None if metrics is None else metrics["accuracy"]

    out = {"model": str(args.out), "base_model": result.record["base_model"],
           "subject": result.record["subject"], "frozen": config.freeze,
           "normalise": config.normalise, "seconds_per_activity": config.seconds,
           "accuracy_before": acc(result.before), "accuracy_after": acc(result.after),
           "before": result.record["before"], "after": result.record["after"],
           "calibration_windows": result.calibration_windows,
           "held_back_windows": result.held_back_windows,
           "replayed": result.record["replayed"],
           "fine_tuned": result.record["fine_tuned"],
           "kept_because": result.record["kept_because"],
           "others_before_after": result.record["others_before_after"],
           "resampled": result.record["resampled"], "cpu_seconds": round(result.cpu_seconds, 2),
           "fine_tune_seconds": round(result.seconds, 2)}
    if args.json:
        print_json(out)
    else:
        before, after = acc(result.before), acc(result.after)
        if result.record["kept_because"]:
            print(result.record["kept_because"])
        if before is not None and after is not None:
            tuned = (f"{result.seconds:.1f} s of fine-tuning" if result.record["fine_tuned"]
                     else "not fine-tuned")
            print(f"held-back accuracy {before:.1%} before, {after:.1%} after calibration "
                  f"({sum(result.held_back_windows.values())} windows, {tuned})")
        else:
            print("calibrated; nothing held back to score")
        print(f"wrote {args.out}")
    return 0
