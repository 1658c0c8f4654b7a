"""Calibrating on some activities only cannot make the others worse: the model's stored sample
of its training windows (training/replay.py, saved in the model file) is replayed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tiny_models import saved_base_model

from har_studio.data.demo import demo_frame
from har_studio.data.windows import WindowConfig
from har_studio.model.io import ModelFileError, load_model, save_model
from har_studio.training import run_to_end
from har_studio.training.calibration import CalibrationConfig, calibrate, split_by_activity
from har_studio.training.replay import REPLAY_PER_CLASS, replay_indices

ACTS = ("walking", "jogging", "sitting", "standing")
TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny model trained on demo people 1-4, saved and loaded back (with its sample)."""
    return load_model(saved_base_model(tmp_path_factory.mktemp("base"), ACTS, subjects=4,
                                       seconds=20.0, epochs=6))


def _person(subject: int = 7):
    frame = demo_frame(subjects=subject, seconds_per_activity=30.0, activities=ACTS, seed=5)
    return frame[frame["subject"] == subject].reset_index(drop=True)


def _walk_only(bundle, replay: bool):
    config = CalibrationConfig(seconds=10.0, activities=("walking",), replay=replay,
                               epochs=10, lr=2e-3, freeze="none", step=4, seed=1,
                               keep_if_recognised=0.0)   # always fine-tune: the replay's test
    return run_to_end(calibrate(bundle, _person(), config))


def test_a_trained_model_keeps_a_sample_of_each_activity_across_people(base):
    assert sorted(base.replay) == sorted(ACTS)
    for X in base.replay.values():
        assert X.dtype == np.float32 and X.shape[1:] == (32, 3) and np.isfinite(X).all()
        assert 0 < len(X) <= REPLAY_PER_CLASS


def test_replay_indices_spread_over_people():
    y = np.repeat([0, 1], 40)
    subjects = np.tile(np.repeat([1, 2, 3, 4], 10), 2)
    picks = replay_indices(y, subjects, ["a", "b"], per_class=8, seed=0)
    for label, idx in picks.items():
        assert len(idx) == 8 and len(set(idx)) == 8
        assert sorted(np.bincount(subjects[idx], minlength=5)[1:]) == [2, 2, 2, 2]
        assert (y[idx] == ["a", "b"].index(label)).all()


def test_calibrating_on_walking_keeps_the_other_activities(base):
    """On a generated new person: walk-only calibration with the stored sample replayed
    leaves every other activity's recall within a few points of before; the same calibration
    without it (what HAR Studio did before) loses them, with a warning that says so."""
    safe = _walk_only(base, replay=True)
    naive = _walk_only(base, replay=False)
    before = safe.before["per_class_recall"]
    assert safe.calibration_windows["walking"] > 0
    assert all(safe.calibration_windows[a] == 0 for a in ACTS if a != "walking")
    others = [a for a in ACTS if a != "walking"]
    assert min(before[a] for a in others) > 0.5            # the base model knew them
    for a in others:
        assert safe.after["per_class_recall"][a] >= before[a] - 0.05, a
    assert safe.after["per_class_recall"]["walking"] >= before["walking"] - 0.05
    assert safe.record["replayed"] is True
    assert set(safe.record["others_before_after"]) == set(others)
    lost = max(before[a] - naive.after["per_class_recall"][a] for a in others)
    assert lost > 0.3
    assert any("carries no sample" in n.text for n in naive.notes)


def test_the_held_back_part_of_a_walk_only_calibration_holds_every_other_activity():
    frame = _person()
    calib, held = split_by_activity(frame, 10.0, 20.0, activities=("walking",))
    assert set(calib["activity"].astype(str)) == {"walking"}
    assert len(calib) == 200
    counts = held["activity"].astype(str).value_counts()
    assert counts["walking"] == 600 - 200 and all(counts[a] == 600 for a in ACTS[1:])


def test_an_unknown_activity_to_calibrate_on_is_refused(base):
    with pytest.raises(ValueError, match="does not know cycling"):
        run_to_end(calibrate(base, _person(), CalibrationConfig(activities=("cycling",))))


def test_a_malformed_replay_table_is_refused(base, tmp_path):
    """The stored windows' table is checked like the weights: a count that disagrees with
    the tensor refuses the file in one line."""
    import json
    import struct

    path = tmp_path / "m.harmodel"
    save_model(path, base)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header["__metadata__"]["har_studio"])
    meta["replay"]["counts"][0] += 1
    header["__metadata__"]["har_studio"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(ModelFileError, match="replay.0 has shape"):
        load_model(path)


def test_calibrate_command_on_a_walk_alone(base, tmp_path, capsys):
    """`har-studio calibrate --activities walking --seconds 10`: only walking is calibrated
    on, the model's stored windows are replayed, and the other activities' figures on them
    before and after come back in the JSON."""
    import json

    from har_studio.cli import run_cli
    from har_studio.data.demo import write_demo_files

    model = tmp_path / "base.harmodel"
    save_model(model, base)
    files = write_demo_files(tmp_path / "person", subjects=1, seconds_per_activity=20.0,
                             activities=ACTS, seed=5)
    out = tmp_path / "walked.harmodel"
    code = run_cli(["calibrate", "--model", str(model), "--data", *map(str, files),
                    "--out", str(out), "--activities", "walking", "--seconds", "10",
                    "--epochs", "2", "--keep-if-recognised", "0", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["calibration_windows"]["walking"] > 0
    assert sum(report["calibration_windows"].values()) == report["calibration_windows"]["walking"]
    assert report["replayed"] is True
    assert sorted(report["others_before_after"]) == sorted(a for a in ACTS if a != "walking")
    calibrated = load_model(out)
    assert sorted(calibrated.replay) == sorted(base.replay)   # a later calibration keeps it


def test_the_automatic_step_cuts_enough_windows_from_a_short_capture():
    from har_studio.training.calibration import CALIBRATION_WINDOWS, auto_step

    window = WindowConfig(size=128, step=64, rate_hz=20.0)
    assert auto_step(CalibrationConfig(seconds=20.0), window) == 4
    assert auto_step(CalibrationConfig(seconds=60.0), window) == 17
    assert auto_step(CalibrationConfig(seconds=600.0), window) == 32
    assert auto_step(CalibrationConfig(seconds=6.0), window) == 1
    assert auto_step(CalibrationConfig(seconds=20.0, step=8), window) == 8
    for seconds in (20.0, 45.0, 60.0):
        step = auto_step(CalibrationConfig(seconds=seconds), window)
        assert (seconds * 20 - 128) // step + 1 >= CALIBRATION_WINDOWS


def test_a_calibrated_model_keeps_the_base_models_windowing(base):
    """The calibration windows are cut every few samples; the calibrated model still predicts
    every base step (its file says so too)."""
    result = _walk_only(base, replay=True)
    assert result.bundle.window == base.window
    assert result.bundle.recipe["window"] == base.window.to_dict()


def test_a_walk_the_model_already_recognises_leaves_it_unchanged(base):
    """A partial calibration whose capture the model already names right keeps the model as
    it is (same weights, so no other activity can change) and says why; asked to always
    fine-tune, the same capture changes the weights."""
    import torch

    from har_studio.training.calibration import prepare_calibration
    from har_studio.training.metrics import evaluate_bundle, predict_probabilities

    config = CalibrationConfig(seconds=10.0, activities=("walking",), epochs=2, lr=2e-3,
                               freeze="none", step=4, seed=1)
    capture = prepare_calibration(base, _person(), config).calibration
    share = evaluate_bundle(base, capture, latency=False)["per_class_recall"]["walking"]
    confidence = float(predict_probabilities(base, capture)[:, base.labels.index("walking")]
                       .mean())
    assert share > 0.1                                   # the premise: some of it is named
    config = replace(config, keep_if_recognised=share,   # ... and that is enough here
                     keep_if_confident=confidence - 1e-4)
    kept = run_to_end(calibrate(base, _person(), config))
    assert kept.record["fine_tuned"] is False and kept.record["replayed"] is False
    assert kept.record["recognised_before"] == {"walking": round(share, 4)}
    assert "already recognises walking" in kept.record["kept_because"]
    assert any("already recognises walking" in n.text for n in kept.notes)
    for name, value in base.model.state_dict().items():
        assert torch.equal(value, kept.bundle.model.state_dict()[name]), name
    assert kept.after["per_class_recall"] == kept.before["per_class_recall"]

    tuned = run_to_end(calibrate(base, _person(), replace(config, keep_if_recognised=0.0)))
    assert tuned.record["fine_tuned"] is True and tuned.record["kept_because"] is None
    assert any(not torch.equal(value, tuned.bundle.model.state_dict()[name])
               for name, value in base.model.state_dict().items())


def test_a_walk_named_right_without_confidence_is_fine_tuned(base):
    """Named right often enough but with a mean probability under keep_if_confident: the
    model is fine-tuned (it sits near the boundary the rest of the walk may cross), and the
    result says why; the capture's mean probability is in the record either way."""
    from har_studio.training.calibration import check_capture, prepare_calibration
    from har_studio.training.metrics import predict_probabilities

    config = CalibrationConfig(seconds=10.0, activities=("walking",), epochs=1, lr=2e-3,
                               freeze="none", step=4, seed=1)
    capture = prepare_calibration(base, _person(), config).calibration
    walking = predict_probabilities(base, capture)[:, base.labels.index("walking")]
    confidence = float(walking.mean())
    assert 0.1 < confidence < 1.0                        # the premise
    share = check_capture(base, capture, replace(config, keep_if_recognised=0.01,
                                                 keep_if_confident=0.0)).recognised["walking"]
    sure = replace(config, keep_if_recognised=share, keep_if_confident=confidence - 1e-4)
    unsure = replace(sure, keep_if_confident=(confidence + 1.0) / 2)

    kept = check_capture(base, capture, sure)
    assert kept.recognised == {"walking": share} and not kept.unsure
    assert kept.confidence == {"walking": round(confidence, 4)}
    tuned = check_capture(base, capture, unsure)
    assert tuned.recognised == {} and tuned.unsure

    result = run_to_end(calibrate(base, _person(), unsure))
    assert result.record["fine_tuned"] is True and result.record["kept_because"] is None
    assert result.record["capture_confidence"] == {"walking": round(confidence, 4)}
    assert any("not with confidence" in n.text for n in result.notes)


def test_a_capture_the_model_gets_wrong_is_fine_tuned(base):
    """Sitting recorded under the label walking: the model names it sitting, so the capture
    is not recognised and the calibration fine-tunes (replaying the stored windows)."""
    frame = _person()
    frame = frame[frame["activity"].astype(str) != "walking"].copy()
    sitting = frame["activity"].astype(str) == "sitting"
    frame["activity"] = frame["activity"].astype(str).where(~sitting, "walking")
    config = CalibrationConfig(seconds=10.0, activities=("walking",), epochs=1, step=4)
    result = run_to_end(calibrate(base, frame, config))
    assert result.record["fine_tuned"] is True and result.record["replayed"] is True
    assert result.record["recognised_before"] is None and result.record["kept_because"] is None
    # the activity the capture was taken for is the one a walk-only calibration can cost
    risk = [t for t in result.record["at_risk"] if "was taken for sitting" in t]
    assert risk and "your sitting may be taken for walking" in risk[0]
    assert any(n.level == "warning" and n.text == risk[0] for n in result.notes)


def test_the_activity_a_walk_was_taken_for_is_replayed_more(base):
    """The activity at risk (the one the capture was taken for) has its stored windows
    replayed hold_copies times; the others and the person's windows once as before."""
    from har_studio.training.calibration import _training_windows, prepare_calibration
    from har_studio.training.replay import REPLAY_SUBJECT

    config = CalibrationConfig(seconds=10.0, activities=("walking",), step=4, hold_copies=3)
    calib = prepare_calibration(base, _person(), config).calibration
    plain = _training_windows(base, calib, config)[0]
    held = _training_windows(base, calib, config, hold=("sitting",))[0]

    def stored(windows, label):
        return int(((windows.subjects == REPLAY_SUBJECT)
                    & (windows.y == calib.labels.index(label))).sum())

    assert stored(held, "sitting") == 3 * stored(plain, "sitting") > 0
    for label in ("walking", "jogging", "standing"):
        assert stored(held, label) == stored(plain, label)
    assert (held.subjects != REPLAY_SUBJECT).sum() == (plain.subjects != REPLAY_SUBJECT).sum()
