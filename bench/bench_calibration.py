"""Calibration to a new person, measured across the 16 development people (JSON on stdout).

For each person: a base model trained on the other people (``--folds 16``: leave one out, a
model per person; ``--folds 4``: four models, each trained on 12 and calibrated to each of its
4 test people, 4x cheaper), then calibrated on that person's first S seconds of each activity
(``--seconds 30,60``) with each calibration variant, and scored on the rest of the person's
recording. Reported per S: mean and worst person for no calibration, each variant, and a model
trained from scratch on the person's calibration windows alone; CPU seconds per calibration
(``time.process_time()`` of this process around one ``calibrate`` run).

    nice -n 5 .venv/bin/python bench/bench_calibration.py --folds 4 > out.json

Variants are ``freeze/normalise/epochs/lr`` separated by commas, e.g.
``embedding/base/15/5e-4,none/person/15/5e-4,all-but-head/base/15/1e-3,none/person/0/0``
(epochs 0: re-normalise only). Base models are cached in ``--cache`` (reruns skip training).

``--walk-seconds 20``: the demo's calibration instead: each person calibrated on their first
20 s of walking only (``CalibrationConfig(activities=("walking",))``) in each of
``--walk-variants`` (``default``: kept unchanged when the model already names the walk right;
``always``: always fine-tuned; ``no_replay``: without the model's stored windows of other
people); per person, walking's recall and every other activity's recall on the rest of the
recording, before and after, and the people losing more than 2 points of another activity.

    nice -n 5 .venv/bin/python bench/bench_calibration.py --folds 4 --preset aligned \
        --walk-seconds 20 --cache /tmp/calib-cache > walk.json

On two cores, fill the cache first with two processes of one thread each
(``--only-folds 0,1`` and ``--only-folds 2,3``), then run the whole measurement from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ACTIVITIES = ["walking", "jogging", "stairs", "sitting", "standing"]
# The development recordings lie in ../shared beside the repository (or a worktree's parents).
DEFAULT_DATA = next((d / "shared" / "data" / "wisdm2019" / "phone" / "accel"
                     for d in Path(__file__).resolve().parents
                     if (d / "shared" / "data" / "wisdm2019").is_dir()),
                    Path("../shared/data/wisdm2019/phone/accel"))
DEFAULT_VARIANTS = ("none/person/0/0,all-but-head/person/10/1e-3,embedding/base/10/5e-4,"
                    "none/person/10/5e-4")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_variants(text: str) -> list[dict]:
    out = []
    for spec in [v for v in text.split(",") if v]:
        freeze, normalise, epochs, lr = spec.split("/")
        out.append({"name": spec, "freeze": freeze, "normalise": normalise,
                    "epochs": int(epochs), "lr": float(lr) if float(lr) > 0 else 1e-3})
    return out


def base_model(frame, train_subjects, preset, epochs, seed, cache: Path | None, window):
    from har_studio.data.splits import SplitConfig
    from har_studio.model.io import load_model, save_model
    from har_studio.training.engine import run_to_end, train
    from har_studio.training.prepare import default_model_config, prepare_data

    key = hashlib.sha256(json.dumps([sorted(train_subjects), preset.to_dict(), epochs, seed,
                                     window.to_dict()]).encode()).hexdigest()[:16]
    path = cache / f"base_{key}.harmodel" if cache else None
    if path is not None and path.exists():
        return load_model(path), path, 0.0
    cpu0 = time.process_time()
    sub = frame[frame["subject"].isin(train_subjects)]
    split = SplitConfig(kind="subject", test_subjects=(), val_subjects=(), test_fraction=0.0,
                        val_fraction=0.0, seed=seed)
    prepared = prepare_data(sub, window, split, activities=ACTIVITIES, channels=["x", "y", "z"],
                            features=preset.features)
    config = default_model_config(prepared, **preset.model_overrides())
    result = run_to_end(train(prepared, config, preset.train_config(epochs=epochs, seed=seed)))
    bundle = result.bundle
    bundle.recipe["trained_on"] = {"subjects": sorted(int(s) for s in train_subjects)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(path, bundle)
    return bundle, path, time.process_time() - cpu0


def personal_model(calib, held, preset, epochs, seed):
    """A model trained from scratch on the person's calibration windows alone."""
    import numpy as np

    from har_studio.data.features import derive
    from har_studio.data.splits import Normaliser, Split, SplitConfig
    from har_studio.training.engine import run_to_end, train
    from har_studio.training.metrics import evaluate_bundle
    from har_studio.training.prepare import PreparedData, default_model_config

    empty = np.zeros(0, np.int64)
    inputs = derive(calib.X, calib.channels, preset.features, rate_hz=calib.config.rate_hz)[0]
    prepared = PreparedData(calib, Split("personal", np.arange(len(calib)), empty, empty),
                            Normaliser.fit(inputs), calib, calib.subset(empty),
                            calib.subset(empty), SplitConfig(), features=preset.features,
                            _inputs={"train": inputs})
    config = default_model_config(prepared, **preset.model_overrides())
    cfg = preset.train_config(epochs=epochs, seed=seed, batch_size=32)
    result = run_to_end(train(prepared, config, cfg))
    return evaluate_bundle(result.bundle, held, latency=False)["accuracy"]


def summarise(per_person: dict[int, float]) -> dict:
    values = list(per_person.values())
    if not values:
        return {}
    worst = min(per_person, key=per_person.get)
    return {"mean": round(sum(values) / len(values), 4), "worst": round(per_person[worst], 4),
            "worst_subject": worst, "people": len(values),
            "per_person": {str(k): round(v, 4) for k, v in sorted(per_person.items())}}


WALK_VARIANTS = {   # name: CalibrationConfig overrides of a walk-only calibration
    "default": {},                                     # kept unchanged if already recognised
    "always": {"keep_if_recognised": 0.0},             # always fine-tuned
    "no_replay": {"replay": False, "keep_if_recognised": 0.0},   # what HAR Studio once did
}


def walk_only(bundle, person_frame, seconds: float, seed: int,
              variants: list[str] | tuple[str, ...] = ("default", "always")) -> dict:
    """Per-class recall on the held-back part before and after a walk-only calibration, for
    each of `variants` (``WALK_VARIANTS``); whether the default kept the model unchanged."""
    from har_studio.training.calibration import CalibrationConfig, calibrate
    from har_studio.training.engine import run_to_end

    out = {}
    for name in variants:
        cfg = CalibrationConfig(seconds=seconds, activities=("walking",), seed=seed,
                                **WALK_VARIANTS[name])
        t0 = time.process_time()
        result = run_to_end(calibrate(bundle, person_frame, cfg))
        before = result.before["per_class_recall"]
        after = result.after["per_class_recall"]
        out["before"] = {k: round(v, 4) for k, v in before.items()}
        out[name] = {k: round(v, 4) for k, v in after.items()}
        out[name + "_cpu_s"] = round(time.process_time() - t0, 2)
        out[name + "_fine_tuned"] = result.record["fine_tuned"]
        out[name + "_warnings"] = [n.text for n in result.notes if n.level == "warning"]
    return out


def summarise_walk(walk: dict) -> dict:
    """Means over people of each activity's recall before and after; per variant, the
    largest drop of any activity other than walking, the people losing more than 2 points of
    one, those reaching walking >= 0.95, and (default) those whose model was kept."""
    if not walk:
        return {}
    first = next(iter(walk.values()))
    labels = list(first["before"])
    variants = [v for v in WALK_VARIANTS if v in first]
    out = {}
    for variant in ("before", *variants):
        out[variant] = {k: round(sum(p[variant].get(k, 0.0) for p in walk.values()) / len(walk), 4)
                        for k in labels}
    for variant in variants:
        drops = {person: {k: round(p["before"][k] - p[variant][k], 4) for k in labels
                          if k != "walking" and p["before"][k] - p[variant][k] > 0.02}
                 for person, p in walk.items()}
        drops = {person: d for person, d in drops.items() if d}
        out[variant + "_worst_other_drop"] = round(max(
            p["before"][k] - p[variant][k] for p in walk.values() for k in labels
            if k != "walking"), 4)
        out[variant + "_people_with_other_drop_over_2_points"] = len(drops)
        out[variant + "_drops_over_2_points"] = drops
        out[variant + "_walking_below_0.95"] = {person: p[variant]["walking"]
                                                for person, p in walk.items()
                                                if p[variant]["walking"] < 0.95}
        out[variant + "_kept_unchanged"] = sorted(person for person, p in walk.items()
                                                  if p.get(variant + "_fine_tuned") is False)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=[str(DEFAULT_DATA)])
    p.add_argument("--folds", type=int, default=16, help="16: leave one person out")
    p.add_argument("--people", type=int, default=0, help="test only this many people (0: all)")
    p.add_argument("--max-folds", type=int, default=0,
                   help="test only the people of the first N folds (0: all folds)")
    p.add_argument("--only-folds", default="",
                   help="test only these folds (0-based indices, e.g. 2,3); two processes "
                        "with disjoint folds and one --cache train the base models in parallel")
    p.add_argument("--epochs", type=int, default=0, help="base model epochs (0: the preset's)")
    p.add_argument("--preset", default="robust")
    p.add_argument("--seconds", default="30,60")
    p.add_argument("--variants", default=DEFAULT_VARIANTS)
    p.add_argument("--personal-epochs", type=int, default=30,
                   help="epochs of the from-scratch personal model (0: skip it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default="", help="folder caching base models ('' for none)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--walk-seconds", type=float, default=0.0,
                   help="measure the walk-only calibration of this many seconds instead")
    p.add_argument("--walk-variants", default="default,always",
                   help=f"with --walk-seconds: any of {','.join(WALK_VARIANTS)}")
    args = p.parse_args(argv)

    import torch

    from har_studio.data.loaders import load
    from har_studio.data.splits import subject_folds
    from har_studio.data.windows import WindowConfig, make_windows
    from har_studio.training.augment import perturb_frame
    from har_studio.training.calibration import CalibrationConfig, calibrate, prepare_calibration
    from har_studio.training.engine import run_to_end
    from har_studio.training.metrics import evaluate_bundle
    from har_studio.training.presets import get_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    preset = get_preset(args.preset)
    epochs = args.epochs or preset.train_config().epochs
    dataset = load(args.data)
    frame = dataset.frame
    frame = frame[frame["activity"].astype(str).isin(ACTIVITIES)]
    window = WindowConfig(size=128, step=64)
    subjects = sorted(int(s) for s in frame["subject"].unique())
    folds = subject_folds(subjects, min(args.folds, len(subjects)), args.seed)
    if args.max_folds:
        folds = folds[:args.max_folds]
    if args.only_folds:
        folds = [folds[int(i)] for i in args.only_folds.split(",") if i]
    order = [s for fold in zip(*[f + [None] * (max(map(len, folds)) - len(f)) for f in folds],
                               strict=True) for s in fold if s is not None]
    chosen = set(order[:args.people] if args.people else order)
    seconds = [float(s) for s in args.seconds.split(",") if s]
    variants = parse_variants(args.variants)
    cache = Path(args.cache) if args.cache else None

    none_acc = {s: {} for s in seconds}
    personal = {s: {} for s in seconds}
    calibrated = {s: {v["name"]: {} for v in variants} for s in seconds}
    calib_cpu: dict[str, list[float]] = {v["name"]: [] for v in variants}
    calib_wall: dict[str, list[float]] = {v["name"]: [] for v in variants}
    whole, perturbed = {}, {}
    base_cpu = []
    walk: dict[str, dict] = {}
    for fold in folds:
        tests = [s for s in fold if s in chosen]
        if not tests:
            continue
        train_side = [s for s in subjects if s not in fold]
        bundle, path, cpu = base_model(frame, train_side, preset, epochs, args.seed, cache, window)
        if cpu:
            base_cpu.append(cpu)
        log(f"base model for {fold} (trained on {len(train_side)} people, {cpu:.0f} CPU s)")
        if args.walk_seconds:
            for person in tests:
                walk[str(person)] = walk_only(bundle, frame[frame["subject"] == person],
                                              args.walk_seconds, args.seed,
                                              [v for v in args.walk_variants.split(",") if v])
                log(f"person {person}: {json.dumps(walk[str(person)])}")
            continue
        for person in tests:
            person_frame = frame[frame["subject"] == person]
            # The second yardstick: the whole recording, as is and as another phone in
            # another pocket would record it (rotation, gain, cadence; fixed per person).
            whole[person] = evaluate_bundle(bundle, make_windows(
                person_frame, window, channels=["x", "y", "z"], labels=bundle.labels),
                latency=False)["accuracy"]
            perturbed[person] = evaluate_bundle(bundle, make_windows(
                perturb_frame(person_frame, args.seed), window, channels=["x", "y", "z"],
                labels=bundle.labels), latency=False)["accuracy"]
            for sec in seconds:
                data = prepare_calibration(bundle, person_frame, CalibrationConfig(seconds=sec))
                held = data.held_back
                none_acc[sec][person] = evaluate_bundle(bundle, held, latency=False)["accuracy"]
                line = [f"person {person} {sec:g}s: none {none_acc[sec][person]:.3f}"]
                for v in variants:
                    cfg = CalibrationConfig(seconds=sec, freeze=v["freeze"],
                                            normalise=v["normalise"], epochs=v["epochs"],
                                            lr=v["lr"], seed=args.seed)
                    t0, w0 = time.process_time(), time.perf_counter()
                    result = run_to_end(calibrate(bundle, person_frame, cfg, base_path=path))
                    calib_cpu[v["name"]].append(time.process_time() - t0)
                    calib_wall[v["name"]].append(time.perf_counter() - w0)
                    acc = result.after["accuracy"]
                    calibrated[sec][v["name"]][person] = acc
                    line.append(f"{v['name']} {acc:.3f}")
                if args.personal_epochs:
                    personal[sec][person] = personal_model(data.calibration, held, preset,
                                                           args.personal_epochs, args.seed)
                    line.append(f"personal {personal[sec][person]:.3f}")
                log(", ".join(line))

    if args.walk_seconds:
        print(json.dumps({"data": args.data, "preset": preset.name, "base_epochs": epochs,
                          "folds": len(folds), "walk_seconds": args.walk_seconds,
                          "summary": summarise_walk(walk), "per_person": walk,
                          "wall_minutes": (time.perf_counter() - wall0) / 60,
                          "cpu_minutes": (time.process_time() - cpu0) / 60}))
        return 0
    out = {
        "data": args.data, "preset": preset.name, "base_epochs": epochs, "folds": len(folds),
        "fold_subjects": folds, "people_tested": sorted(chosen), "seed": args.seed,
        "torch_threads": torch.get_num_threads(),
        "base_cpu_seconds_per_model": (sum(base_cpu) / len(base_cpu)) if base_cpu else None,
        "personal_epochs": args.personal_epochs,
        "seconds": {},
        "cpu_seconds_per_calibration": {
            k: {"mean": round(sum(v) / len(v), 2), "max": round(max(v), 2)}
            for k, v in calib_cpu.items() if v},
        "wall_seconds_per_calibration": {
            k: {"mean": round(sum(v) / len(v), 2), "max": round(max(v), 2)}
            for k, v in calib_wall.items() if v},
        "whole_recording_no_calibration": summarise(whole),
        "whole_recording_perturbed": summarise(perturbed),
        "wall_minutes": (time.perf_counter() - wall0) / 60,
        "cpu_minutes": (time.process_time() - cpu0) / 60,
    }
    for sec in seconds:
        out["seconds"][f"{sec:g}"] = {
            "no_calibration": summarise(none_acc[sec]),
            "calibrated": {k: summarise(v) for k, v in calibrated[sec].items()},
            "personal_only": summarise(personal[sec]),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
