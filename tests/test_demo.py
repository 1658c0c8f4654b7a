"""The built-in demo data: shape, determinism, activity-specific signals, WISDM v1.1 text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from har_studio.data.activities import WISDM_V11_ACTIVITIES
from har_studio.data.demo import demo_dataset, demo_frame, write_demo_files
from har_studio.data.windows import WindowConfig, make_windows

V11_LINE = re.compile(r"^\d+,[A-Z][a-z]+,\d+,-?\d+\.\d+,-?\d+\.\d+,-?\d+\.\d+;$")


def _dominant_hz(signal: np.ndarray, rate_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    freqs = np.fft.rfftfreq(len(signal), 1.0 / rate_hz)
    spectrum[freqs < 0.5] = 0  # ignore drift
    return float(freqs[int(np.argmax(spectrum))])


def test_frame_follows_the_tidy_contract():
    frame = demo_frame(subjects=3, seconds_per_activity=10.0)
    assert list(frame.columns) == ["subject", "activity", "timestamp", "x", "y", "z"]
    assert frame["subject"].dtype == np.int64
    assert isinstance(frame["activity"].dtype, pd.CategoricalDtype)
    assert frame["timestamp"].dtype == np.int64
    assert all(frame[c].dtype == np.float32 for c in "xyz")
    assert len(frame) == 3 * len(WISDM_V11_ACTIVITIES) * 200
    assert sorted(frame["subject"].unique()) == [1, 2, 3]
    assert set(frame["activity"].astype(str)) == set(WISDM_V11_ACTIVITIES)
    # time increases within each subject (recordings follow each other)
    for _, g in frame.groupby("subject"):
        assert np.all(np.diff(g["timestamp"].to_numpy()) > 0)
    assert np.isfinite(frame[["x", "y", "z"]].to_numpy()).all()


def test_gyro_adds_three_channels():
    frame = demo_frame(subjects=1, seconds_per_activity=5.0, gyro=True)
    assert [c for c in frame.columns if c.startswith("g")] == ["gx", "gy", "gz"]
    assert all(frame[c].dtype == np.float32 for c in ("gx", "gy", "gz"))


def test_deterministic_with_seed_and_varies_without():
    a = demo_frame(subjects=2, seconds_per_activity=5.0, seed=3)
    b = demo_frame(subjects=2, seconds_per_activity=5.0, seed=3)
    c = demo_frame(subjects=2, seconds_per_activity=5.0, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["x"].to_numpy(), c["x"].to_numpy())


def test_activities_have_their_own_signature():
    rate = 20.0
    frame = demo_frame(subjects=4, seconds_per_activity=30.0, rate_hz=rate)
    by = {name: g for name, g in frame.groupby("activity", observed=True)}
    for subject in range(1, 5):
        walk = by["walking"][by["walking"]["subject"] == subject]
        jog = by["jogging"][by["jogging"]["subject"] == subject]
        mag_walk = np.linalg.norm(walk[["x", "y", "z"]].to_numpy(np.float64), axis=1)
        mag_jog = np.linalg.norm(jog[["x", "y", "z"]].to_numpy(np.float64), axis=1)
        f_walk, f_jog = _dominant_hz(mag_walk, rate), _dominant_hz(mag_jog, rate)
        assert 1.5 <= f_walk <= 2.3, f_walk
        assert 2.4 <= f_jog <= 3.3, f_jog
        assert mag_jog.std() > 1.8 * mag_walk.std()
    # still postures: small variation, gravity along different axes
    sit = by["sitting"][["x", "y", "z"]].to_numpy().mean(axis=0)
    stand = by["standing"][["x", "y", "z"]].to_numpy().mean(axis=0)
    assert np.argmax(np.abs(sit)) == 2 and np.argmax(np.abs(stand)) == 1
    assert by["sitting"]["y"].std() < 1.5 and by["standing"]["x"].std() < 1.5
    # stairs are tilted differently from each other
    up_z = by["upstairs"]["z"].mean()
    down_z = by["downstairs"]["z"].mean()
    assert up_z - down_z > 2.0


def test_subjects_differ():
    frame = demo_frame(subjects=3, seconds_per_activity=10.0, activities=("standing",))
    means = frame.groupby("subject")[["x", "y", "z"]].mean().to_numpy()
    assert np.abs(means[0] - means[1]).max() > 0.1
    assert np.abs(means[1] - means[2]).max() > 0.1


def test_learnable_across_subjects():
    """A nearest-centroid classifier on simple window features, trained on other subjects,
    recognises held-out subjects: the demo is learnable (and not trivially identical)."""
    frame = demo_frame(subjects=6, seconds_per_activity=40.0)
    w = make_windows(frame, WindowConfig(size=64, step=32))
    mag = np.linalg.norm(w.X, axis=2)
    feats = np.concatenate([w.X.mean(axis=1), w.X.std(axis=1), mag.std(axis=1, keepdims=True),
                            np.abs(np.fft.rfft(mag - mag.mean(axis=1, keepdims=True)))[:, 4:12]],
                           axis=1)
    feats = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    test = w.subjects >= 5
    centroids = np.stack([feats[~test & (w.y == k)].mean(axis=0) for k in range(len(w.labels))])
    pred = np.argmin(((feats[test, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == w.y[test]).mean())
    assert accuracy > 0.8, accuracy


def test_write_demo_files_wisdm_v11_text(tmp_path):
    paths = write_demo_files(tmp_path / "demo", subjects=2, seconds_per_activity=5.0)
    assert len(paths) == 1 and paths[0].name == "demo_wisdm_v11.txt"
    lines = paths[0].read_text().splitlines()
    frame = demo_frame(subjects=2, seconds_per_activity=5.0)
    assert len(lines) == len(frame)
    assert all(V11_LINE.match(line) for line in lines[:50] + lines[-50:])
    names = {line.split(",")[1] for line in lines}
    assert names == {a.capitalize() for a in WISDM_V11_ACTIVITIES}
    # values round-trip exactly to the frame's float32 values
    parsed = np.array([[float(v) for v in line.rstrip(";").split(",")[3:]] for line in lines],
                      dtype=np.float32)
    np.testing.assert_array_equal(parsed, frame[["x", "y", "z"]].to_numpy())
    ts = np.array([int(line.split(",")[2]) for line in lines])
    np.testing.assert_array_equal(ts, frame["timestamp"].to_numpy())


def test_written_file_loads(tmp_path):
    from har_studio.data.loaders import load

    paths = write_demo_files(tmp_path, subjects=2, seconds_per_activity=8.0)
    ds = load(paths)
    frame = demo_frame(subjects=2, seconds_per_activity=8.0)
    assert ds.report.records == len(frame)
    assert ds.subjects == [1, 2]
    assert set(ds.activities) == set(WISDM_V11_ACTIVITIES)
    assert abs(ds.report.sampling_hz - 20.0) < 0.5


def test_demo_dataset_report():
    ds = demo_dataset(subjects=3, seconds_per_activity=6.0)
    r = ds.report
    assert r.format == "demo"
    assert r.records == r.records_read == len(ds.frame) == 3 * 6 * 120
    assert r.subjects == [1, 2, 3] == ds.subjects
    assert sum(r.activities.values()) == r.records
    assert set(r.activities) == set(WISDM_V11_ACTIVITIES)
    assert r.channels == ["x", "y", "z"]
    assert abs(r.sampling_hz - 20.0) < 0.1
    assert r.gaps == 0 and r.skipped == {}


def test_default_size():   # how fast: bench/bench_responsiveness.py (demo_dataset_s)
    ds = demo_dataset()
    assert len(ds.frame) == 6 * 6 * 1200


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError):
        demo_frame(subjects=0)
    with pytest.raises(ValueError):
        demo_frame(activities=())
