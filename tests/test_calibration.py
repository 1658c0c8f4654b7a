"""Calibration to one person: freezing, normalisation, the held-back split, resampling, the
``calibrate`` command and its provenance in the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_models import saved_base_model

from har_studio.cli import run_cli
from har_studio.data.demo import demo_frame, write_demo_files
from har_studio.model.io import load_model
from har_studio.training.calibration import (
    CalibrationConfig,
    CalibrationResult,
    CalibrationStep,
    calibrate,
    file_sha256,
    frozen_prefixes,
    person_normaliser,
    prepare_calibration,
    split_by_activity,
)

ACTS = ("walking", "jogging", "sitting", "standing")
TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)
FAST = dict(epochs=1, batch_size=32, device="cpu", precision="fp32", patience=0,
            keep_best=False)


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    """A tiny model trained one epoch on demo subjects 1-3, saved to a file."""
    return saved_base_model(tmp_path_factory.mktemp("base"), ACTS, subjects=3, seconds=12.0,
                            epochs=1)


def _person(seconds: float = 20.0, rate_hz: float = 20.0, subject: int = 7):
    frame = demo_frame(subjects=subject, seconds_per_activity=seconds, activities=ACTS,
                       rate_hz=rate_hz, seed=3)
    return frame[frame["subject"] == subject].reset_index(drop=True)


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("freeze", ["blocks:1", "all-but-head"])
def test_frozen_weights_do_not_change_while_the_others_do(base_file, freeze):
    base = load_model(base_file)
    before = _state(base.model)
    config = CalibrationConfig(seconds=8.0, freeze=freeze, epochs=2, lr=1e-2, step=8,
                               batch_size=16, precision="fp32")
    gen = calibrate(base, _person(), config, base_path=base_file)
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert isinstance(result, CalibrationResult)
    assert [i.stage for i in items if isinstance(i, CalibrationStep)][-1] == "done"
    after = _state(result.bundle.model)
    prefixes = frozen_prefixes(freeze, base.model_config.depth)
    frozen = [k for k in before if k.startswith(prefixes)]
    trained = [k for k in before if not k.startswith(prefixes)]
    assert frozen and trained
    for k in frozen:
        assert torch.equal(before[k], after[k]), f"{k} changed although frozen"
    changed = [k for k in trained if not torch.equal(before[k], after[k])]
    assert "head_out.weight" in changed
    if freeze == "blocks:1":
        assert any(k.startswith("blocks.1.") for k in changed)
        assert not any(k.startswith("blocks.0.") for k in changed)
    # The base bundle itself is untouched.
    assert all(torch.equal(v, base.model.state_dict()[k]) for k, v in before.items())


def test_freeze_choices_name_the_right_parameters():
    assert frozen_prefixes("none", 3) == ()
    assert frozen_prefixes("embedding", 3) == ("embed.", "position")
    assert frozen_prefixes("blocks:2", 3) == ("embed.", "position", "blocks.0.", "blocks.1.")
    assert frozen_prefixes("all-but-head", 2) == ("embed.", "position", "blocks.0.", "blocks.1.")
    for bad in ("blocks:x", "head", "blocks:9"):
        with pytest.raises(ValueError):
            frozen_prefixes(bad, 3)


def test_split_holds_back_everything_after_the_first_seconds_of_each_activity():
    frame = _person(seconds=20.0)
    calib, held = split_by_activity(frame, 5.0, 20.0)
    assert len(calib) + len(held) == len(frame)
    for name in ACTS:
        c = calib[calib["activity"] == name]
        h = held[held["activity"] == name]
        assert len(c) == 100                                    # 5 s at 20 Hz
        assert c["timestamp"].max() < h["timestamp"].min()      # the first part, then the rest


def test_normalisation_choices(base_file):
    base = load_model(base_file)
    data = prepare_calibration(base, _person(), CalibrationConfig(seconds=8.0, step=8))
    own = person_normaliser(base, data.calibration, "person")
    same = person_normaliser(base, data.calibration, "base")
    half = person_normaliser(base, data.calibration, "blend", 0.5)
    np.testing.assert_allclose(same.mean, base.normaliser.mean)
    inputs = base.derive(data.calibration.X).reshape(-1, len(own.mean))
    np.testing.assert_allclose(own.mean, inputs.mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(half.mean, (own.mean + base.normaliser.mean) / 2, atol=1e-5)


def test_a_50_hz_recording_is_resampled_to_the_models_rate(base_file):
    base = load_model(base_file)
    frame = _person(seconds=12.0, rate_hz=50.0)
    data = prepare_calibration(base, frame, CalibrationConfig(seconds=6.0, step=8))
    assert data.resampled and abs(data.rate_hz - 50.0) < 1.0
    # 6 s of each activity at the model's 20 Hz: (120 - 32) // 8 + 1 windows per activity.
    assert data.calibration.class_counts() == {a: 12 for a in ACTS}
    assert any("resampled" in w for w in data.warnings)


def test_several_people_need_a_choice(base_file):
    base = load_model(base_file)
    frame = demo_frame(subjects=2, seconds_per_activity=10.0, activities=ACTS)
    with pytest.raises(ValueError, match="2 people"):
        prepare_calibration(base, frame, CalibrationConfig(seconds=5.0))
    data = prepare_calibration(base, frame, CalibrationConfig(seconds=5.0, step=8), subject=2)
    assert data.subject == 2 and set(np.unique(data.calibration.subjects)) == {2}


def test_calibrate_command_end_to_end(base_file, tmp_path, capsys):
    files = write_demo_files(tmp_path / "person", subjects=1, seconds_per_activity=16.0,
                             activities=ACTS, seed=5)
    out = tmp_path / "calibrated.harmodel"
    code = run_cli(["calibrate", "--model", str(base_file), "--data", *map(str, files),
                    "--out", str(out), "--freeze", "embedding", "--normalise", "blend",
                    "--seconds", "6", "--epochs", "2", "--person", "Ada", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert 0.0 <= report["accuracy_before"] <= 1.0 and 0.0 <= report["accuracy_after"] <= 1.0
    assert report["frozen"] == "embedding"
    recipe = load_model(out).recipe
    record = recipe["calibration"]
    assert record["base_model"]["name"] == "base.harmodel"
    assert record["base_model"]["sha256"] == file_sha256(base_file)
    assert record["frozen"] == "embedding" and record["normalise"] == "blend"
    assert record["seconds_per_activity"] == 6.0
    assert record["data_files"] == [str(f) for f in files]
    assert record["before"]["accuracy"] == report["accuracy_before"]
    assert record["after"]["accuracy"] == report["accuracy_after"]
    assert "Ada" in recipe["name"]


def test_calibrate_command_bad_input_is_one_line(base_file, tmp_path, capsys):
    files = write_demo_files(tmp_path / "person", subjects=1, seconds_per_activity=8.0,
                             activities=ACTS)
    code = run_cli(["calibrate", "--model", str(base_file), "--data", *map(str, files),
                    "--out", str(tmp_path / "x.harmodel"), "--freeze", "blocks:7"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "blocks:7" in err
    code = run_cli(["calibrate", "--model", str(tmp_path / "missing.harmodel"), "--data",
                    *map(str, files), "--out", str(tmp_path / "x.harmodel")])
    err = capsys.readouterr().err
    assert code == 1 and "missing.harmodel" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.harmodel").exists()
