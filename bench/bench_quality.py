"""Accuracy on people the model has never seen: reference vs robust preset (prints JSON).

Leave-subjects-out cross-validation (the same k folds for every preset) on the WISDM 2019
phone recordings, activities A-E (walking, jogging, stairs, sitting, standing), windows
128 / 64, plus the random window split figure (leaky, for comparison with the write-up).
CPU minutes are ``time.process_time()`` of this process; wall minutes are the clock.

Second yardstick ("another phone, another pocket"; on by default, ``--no-perturb`` skips it):
each fold's model also scores its test people after ``training.augment.perturb_frame`` gave
each of them a fixed random 3-D rotation of the phone, a gain and a cadence change (+-15 %).
Third yardstick ("a loose pocket and another gait"; ``--no-pocket`` skips it): the same
models on their test people through ``training.perturb.pocket_frame``, one draw per person:
the phone turning slowly in the pocket (an Ornstein-Uhlenbeck angle about a horizontal axis,
5-20 degrees sd, 1-5 s correlation time), motion x0.6-1.3 (gravity kept), a 3-8 Hz
accelerometer low-pass, and a 50 or 100 Hz native rate resampled by the app's own path; each
alone and all together ("all"), per class. Every summary line on stderr ends with walking's
recall (pooled over the folds).
``--epochs`` and ``--train-overrides '{"augment_copies": 1}'`` screen candidates cheaply.
``--train-seeds 0,1,2`` trains each fold once per training seed (the same folds, the same
people): each seed is reported alone ("members") and the averaged probabilities of the first
2, 3, ... seeds are scored on the three yardsticks ("ensembles").

    .venv/bin/python bench/bench_quality.py --data /work/shared/data/wisdm2019/phone/accel
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

ACTIVITIES = ["walking", "jogging", "stairs", "sitting", "standing"]
# The development recordings lie in ../shared beside the repository.
DEFAULT_DATA = next((d / "shared" / "data" / "wisdm2019" / "phone" / "accel"
                     for d in Path(__file__).resolve().parents
                     if (d / "shared" / "data" / "wisdm2019").is_dir()),
                    Path("../shared/data/wisdm2019/phone/accel"))


def _print_fold(preset_name: str, item) -> None:
    if type(item).__name__ == "FoldFinished":
        print(f"{preset_name}: fold {item.fold}/{item.folds} accuracy {item.accuracy:.3f}",
              file=sys.stderr, flush=True)


def _random_split(dataset, preset, window, channels, seed: int) -> dict:
    from har_studio.data.splits import SplitConfig
    from har_studio.training.engine import run_to_end, train
    from har_studio.training.prepare import default_model_config, prepare_data

    wall0, cpu0 = time.perf_counter(), time.process_time()
    split = SplitConfig(kind="random", test_fraction=0.15, val_fraction=0.15, seed=seed)
    prepared = prepare_data(dataset, window, split, activities=ACTIVITIES, channels=channels,
                            features=preset.features)
    config = default_model_config(prepared, **preset.model_overrides())
    result = run_to_end(train(prepared, config, preset.train_config(seed=seed)))
    return {"accuracy": result.metrics["accuracy"], "f1_macro": result.metrics["f1_macro"],
            "test_windows": result.metrics["windows"], "epochs_run": len(result.history),
            "wall_minutes": (time.perf_counter() - wall0) / 60,
            "cpu_minutes": (time.process_time() - cpu0) / 60}


def _perturbed(frame, cv, window, channels, seed: int) -> dict:
    """Each fold's model on its own test people, each as if carrying another phone in
    another pocket (``perturb_frame``: fixed rotation, gain and cadence per person)."""
    from har_studio.training.augment import perturb_frame

    return _yardstick(frame, cv, window, channels,
                      partial(perturb_frame, seed=seed, rate_hz=window.rate_hz), running=True)


def _pocket(frame, cv, window, channels, seed: int) -> dict:
    """Third yardstick, "a loose pocket and another gait": each fold's test people through
    ``training.perturb.pocket_frame`` (one draw per person), each perturbation alone and all
    together; the rate perturbation's 50 / 100 Hz runs are resampled by ``make_windows``."""
    from har_studio.training.perturb import PARTS, pocket_frame

    out = {}
    for name, parts in [*((p, (p,)) for p in PARTS), ("all", PARTS)]:
        perturb = partial(pocket_frame, seed=seed, parts=parts, rate_hz=window.rate_hz)
        out[name] = _yardstick(frame, cv, window, channels, perturb)
        print(f"  pocket {name}: {_line(out[name])}", file=sys.stderr, flush=True)
    return out


class _Averaged:
    """Fold models of several training seeds as one: the mean of their probabilities (the
    first's labels, window and features: the same recipe, only the seed differs)."""

    def __init__(self, bundles) -> None:
        self.bundles = list(bundles)

    def __getattr__(self, name):
        return getattr(self.bundles[0], name)

    def predict_proba(self, X, subjects=None, alignment=None):
        import numpy as np

        return np.mean([b.predict_proba(X, subjects, alignment) for b in self.bundles], axis=0)

    def predict(self, X, subjects=None, alignment=None):
        return self.predict_proba(X, subjects, alignment).argmax(axis=1)


class _Models:
    """What the yardsticks read of a cross-validation: its folds and one model per fold."""

    def __init__(self, folds, models) -> None:
        self.folds, self.models = folds, models


def _three(frame, cv, window, channels, seed: int, pocket: bool) -> dict:
    """The folds (unperturbed), the second yardstick and the third's combined perturbation."""
    from har_studio.training.perturb import PARTS, pocket_frame

    out = {"folds": _yardstick(frame, cv, window, channels, lambda f: f),
           "perturbed": _perturbed(frame, cv, window, channels, seed)}
    if pocket:
        out["pocket_all"] = _yardstick(frame, cv, window, channels, partial(
            pocket_frame, seed=seed, parts=PARTS, rate_hz=window.rate_hz))
    print("  " + " / ".join(f"{k} {_line(v)}" for k, v in out.items()), file=sys.stderr,
          flush=True)
    return out


def _line(entry: dict) -> str:
    return (f"accuracy {entry['accuracy_mean']:.3f} ± {entry['accuracy_std']:.3f}, walking "
            f"recall {entry['per_class'].get('walking') or 0:.3f}")


def _yardstick(frame, cv, window, channels, perturb, running: bool = False) -> dict:
    """Each fold's model on its own test people after `perturb` (tidy frame -> tidy frame):
    fold accuracies, per-person accuracy and per-class recall pooled over the folds."""
    import numpy as np

    from har_studio.data.windows import make_windows
    from har_studio.training.metrics import evaluate_bundle

    frame = frame[frame["activity"].astype(str).isin(ACTIVITIES)]
    folds, per_subject, running_counts, confusion = [], {}, [], None
    for fold, bundle in zip(cv.folds, cv.models, strict=True):
        test = frame[frame["subject"].isin(fold["test_subjects"])]
        windows = make_windows(perturb(test), window, channels=channels, labels=bundle.labels)
        scored = evaluate_bundle(bundle, windows, latency=False)
        folds.append(scored["accuracy"])
        cm = np.asarray(scored["confusion"])
        confusion = cm if confusion is None else confusion + cm
        for s in fold["test_subjects"]:
            mine = windows.subset(np.flatnonzero(windows.subjects == s))
            if len(mine):
                per_subject[str(s)] = round(evaluate_bundle(bundle, mine, latency=False)
                                            ["accuracy"], 3)
                if running and bundle.features.aligns:
                    running_counts.append(_running_accuracy(bundle, mine))
    labels = list(cv.models[0].labels)
    support = confusion.sum(axis=1)
    out = {"accuracy_mean": float(np.mean(folds)), "accuracy_std": float(np.std(folds)),
           "fold_accuracy": [round(a, 4) for a in folds], "per_subject": per_subject,
           "worst_subject": min(per_subject.values()) if per_subject else None,
           "per_class": {name: (round(float(confusion[i, i] / support[i]), 3) if support[i]
                                else None) for i, name in enumerate(labels)},
           "confusion": confusion.tolist(), "labels": labels}
    if running_counts:   # as live: each window aligned with only what the person did before it
        correct = sum(c for c, _ in running_counts)
        out["running_alignment_accuracy"] = correct / max(1, sum(n for _, n in running_counts))
    return out


def _running_accuracy(bundle, windows) -> tuple[int, int]:
    """Correct windows and windows of one person when each window is aligned with the
    person's estimate from that window and the ones before it (in recording order), as the
    live classifier does (``data.alignment.RunningAlignment``)."""
    import numpy as np

    from har_studio.data.alignment import Alignment, RunningAlignment

    order = np.argsort(windows.starts, kind="stable")
    X, y = windows.X[order], windows.y[order]
    estimate = RunningAlignment(windows.channels)
    aligned = np.stack([estimate.update(X[i:i + 1]).apply(X[i:i + 1], windows.channels)[0]
                        for i in range(len(X))])
    pred = bundle.predict(aligned, alignment=Alignment.identity())
    truth = np.array([bundle.labels.index(windows.labels[v]) for v in y])
    return int((pred == truth).sum()), len(y)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=[str(DEFAULT_DATA)])
    p.add_argument("--channels", default="x,y,z")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--seed", type=int, default=0,
                   help="draws the folds (which people are tested together) and the "
                        "perturbations; the training seed is the preset's (0) or --train-seeds'")
    p.add_argument("--presets", default="reference,robust,aligned")
    p.add_argument("--random-split", default="aligned",
                   help="presets whose random-split figure to measure too ('' for none)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    p.add_argument("--no-perturb", dest="perturb", action="store_false",
                   help="skip the perturbed yardsticks (second and third)")
    p.add_argument("--no-pocket", dest="pocket", action="store_false",
                   help="skip the third yardstick (a loose pocket and another gait)")
    p.add_argument("--epochs", type=int, default=0, help="override the presets' epochs")
    p.add_argument("--train-overrides", default="{}", metavar="JSON",
                   help="TrainConfig fields set on top of every preset (screening candidates)")
    p.add_argument("--train-seeds", default="", metavar="S,S,...",
                   help="train each fold once per seed and score each alone and their "
                        "averaged probabilities (ensembles of the first 2, 3, ...)")
    p.add_argument("--model-overrides", default="{}", metavar="JSON",
                   help="ViTConfig fields set on top of every preset's network (screening "
                        "smaller networks)")
    args = p.parse_args(argv)

    import torch

    from har_studio.data.loaders import load
    from har_studio.data.windows import WindowConfig
    from har_studio.training.crossval import cross_validate
    from har_studio.training.engine import run_to_end
    from har_studio.training.presets import get_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load(args.data)
    window = WindowConfig(size=128, step=64)
    channels = [c for c in args.channels.split(",") if c]
    out: dict = {"data": args.data, "subjects": dataset.subjects, "activities": ACTIVITIES,
                 "channels": channels, "window": window.to_dict(), "k": args.k,
                 "seed": args.seed, "torch_threads": torch.get_num_threads(), "presets": {}}
    for name in [n for n in args.presets.split(",") if n]:
        preset = get_preset(name)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        overrides = json.loads(args.train_overrides)
        if args.epochs:
            overrides["epochs"] = args.epochs
        seeds = [int(v) for v in args.train_seeds.split(",") if v.strip()]
        if seeds:
            overrides["seed"] = seeds[0]
        train_config = preset.train_config(**overrides)
        network = preset.model_overrides(**json.loads(args.model_overrides))
        gen = cross_validate(dataset, k=args.k, window=window, activities=ACTIVITIES,
                             channels=channels, features=preset.features,
                             model_overrides=network,
                             train_config=train_config, seed=args.seed,
                             keep_models=args.perturb)
        cv = run_to_end(gen, partial(_print_fold, name))
        d = cv.to_dict()
        entry = {
            "preset": {**preset.to_dict(), "model": network},
            "cv_accuracy": d["accuracy"], "cv_f1_macro": d["f1_macro"],
            "pooled_accuracy": d["pooled_accuracy"],
            "fold_accuracy": [round(f["accuracy"], 4) for f in d["folds"]],
            "fold_epochs": [f["epochs_run"] for f in d["folds"]],
            "folds": [f["test_subjects"] for f in d["folds"]],
            "per_subject": {s: round(v["accuracy"], 3) for s, v in d["per_subject"].items()},
            "per_class": d["per_class"], "confusion": d["confusion"], "labels": d["labels"],
            "cv_wall_minutes": (time.perf_counter() - wall0) / 60,
            "cv_cpu_minutes": (time.process_time() - cpu0) / 60,
            "training": train_config.to_dict(),
        }
        if args.perturb:
            entry["perturbed"] = _perturbed(dataset.frame, cv, window, channels, args.seed)
            print(f"{name}: perturbed {_line(entry['perturbed'])}", file=sys.stderr, flush=True)
            if args.pocket:
                entry["pocket"] = _pocket(dataset.frame, cv, window, channels, args.seed)
        if len(seeds) > 1 and args.perturb:
            models = [cv.models]
            entry["members"] = {str(seeds[0]): _three(dataset.frame, cv, window, channels,
                                                      args.seed, args.pocket)}
            for s in seeds[1:]:
                more = run_to_end(cross_validate(
                    dataset, k=args.k, window=window, activities=ACTIVITIES,
                    channels=channels, features=preset.features, model_overrides=network,
                    train_config=preset.train_config(**{**overrides, "seed": s}),
                    seed=args.seed, keep_models=True), partial(_print_fold, f"{name} seed {s}"))
                models.append(more.models)
                entry["members"][str(s)] = _three(dataset.frame, more, window, channels,
                                                  args.seed, args.pocket)
            entry["ensembles"] = {}
            for n in range(2, len(seeds) + 1):
                averaged = _Models(cv.folds, [_Averaged(m) for m in zip(*models[:n], strict=True)])
                print(f"{name}: ensemble of {n}", file=sys.stderr, flush=True)
                entry["ensembles"][str(n)] = _three(dataset.frame, averaged, window, channels,
                                                    args.seed, args.pocket)
            entry["cv_cpu_minutes_all"] = (time.process_time() - cpu0) / 60
        if name in args.random_split.split(","):
            entry["random_split"] = _random_split(dataset, preset, window, channels, args.seed)
        out["presets"][name] = entry
        walking = d["per_class"].get("walking")
        print(f"{name}: {cv.summary()}, walking recall {walking or 0:.3f}", file=sys.stderr,
              flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
