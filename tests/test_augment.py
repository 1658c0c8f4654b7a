""""Another phone, another pocket": the perturbation is a proper rotation, gain and
time-scale, fixed per person."""

from __future__ import annotations

import numpy as np

from har_studio.data.demo import demo_frame
from har_studio.data.windows import WindowConfig, make_windows
from har_studio.training.augment import (
    augment_windows,
    perturb_frame,
    random_rotation,
    time_scale,
)

ACTS = ("walking", "sitting")


def test_random_rotations_are_proper_rotations():
    R = random_rotation(np.random.default_rng(0), 50)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-10)
    # Not all the same, and they turn vectors far (not only about one axis).
    turned = R @ np.array([0.0, 0.0, 1.0])
    assert turned[:, 2].min() < -0.5 and turned[:, 2].max() > 0.5


def test_rotation_alone_preserves_every_samples_norm():
    frame = demo_frame(subjects=2, seconds_per_activity=10.0, activities=ACTS)
    out = perturb_frame(frame, seed=1, gain=0.0, cadence=0.0)
    assert len(out) == len(frame) and list(out.columns) == list(frame.columns)
    a = frame[["x", "y", "z"]].to_numpy(np.float64)
    b = out[["x", "y", "z"]].to_numpy(np.float64)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), np.linalg.norm(a, axis=1), rtol=1e-4)
    assert np.abs(a - b).max() > 1.0            # but the axes did change


def test_gain_scales_norms_by_one_factor_per_person_and_cadence_changes_length():
    frame = demo_frame(subjects=2, seconds_per_activity=10.0, activities=ACTS)
    out = perturb_frame(frame, seed=2, rotation=False, gain=0.15, cadence=0.0)
    for subject in (1, 2):
        a = frame.loc[frame["subject"] == subject, ["x", "y", "z"]].to_numpy(np.float64)
        b = out.loc[out["subject"] == subject, ["x", "y", "z"]].to_numpy(np.float64)
        ratio = np.linalg.norm(b, axis=1) / np.linalg.norm(a, axis=1)
        assert ratio.std() < 1e-4 and 0.85 <= ratio.mean() <= 1.15
    timed = perturb_frame(frame, seed=2, rotation=False, gain=0.0, cadence=0.15)
    for subject in (1, 2):
        n_in = int((frame["subject"] == subject).sum())
        n_out = int((timed["subject"] == subject).sum())
        assert n_out != n_in and 0.85 * n_in <= n_out <= 1.2 * n_in
    # Same seed, same phone: the perturbation is reproducible.
    again = perturb_frame(frame, seed=2, rotation=False, gain=0.0, cadence=0.15)
    np.testing.assert_array_equal(timed[["x", "y", "z"]].to_numpy(), again[["x", "y", "z"]].to_numpy())
    assert len(make_windows(timed, WindowConfig(size=32, step=16))) > 0


def test_a_run_at_another_rate_is_perturbed_in_time_not_in_rate():
    """A person whose phone records at 50 Hz gets a cadence change of at most 15 %, not the
    2.5x slow-down of reading 50 Hz samples as 20 Hz ones."""
    import pandas as pd

    n = 50 * 30                                     # 30 s at 50 Hz
    t = np.arange(n) / 50.0
    frame = pd.DataFrame({"subject": 1, "activity": "walking",
                          "timestamp": 10**12 + np.arange(n, dtype=np.int64) * 20_000_000,
                          "x": np.sin(2 * np.pi * 2.0 * t).astype(np.float32),
                          "y": np.float32(9.8), "z": np.float32(0.0)})
    out = perturb_frame(frame, seed=3, rotation=False, gain=0.0, cadence=0.15, rate_hz=20.0)
    seconds = len(out) / 20.0                       # written on a 20 Hz grid
    assert 30 / 1.15 - 0.2 <= seconds <= 30 / 0.85 + 0.2
    x = out["x"].to_numpy()
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    peak_hz = np.fft.rfftfreq(len(x), 1 / 20.0)[spectrum.argmax()]
    assert 2.0 * 0.85 - 0.05 <= peak_hz <= 2.0 * 1.15 + 0.05


def test_time_scale_plays_a_signal_faster():
    t = np.arange(200)
    values = np.sin(2 * np.pi * t / 40.0)[:, None].astype(np.float32)
    faster = time_scale(values, 2.0)
    assert len(faster) == 100
    np.testing.assert_allclose(faster[:, 0], np.sin(2 * np.pi * (2 * np.arange(100)) / 40.0),
                               atol=1e-5)


def test_augment_windows_rotates_each_window_keeping_norms():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 32, 3)).astype(np.float32)
    out = augment_windows(X, ["x", "y", "z"], np.random.default_rng(1), gain=0.0, cadence=0.0)
    assert out.shape == X.shape
    np.testing.assert_allclose(np.linalg.norm(out, axis=2), np.linalg.norm(X, axis=2), rtol=1e-4)
    scaled = augment_windows(X, ["x", "y", "z"], np.random.default_rng(1), rotation=False,
                             gain=0.15, cadence=0.15)
    assert scaled.shape == X.shape and not np.allclose(scaled, X)


def test_the_gain_is_the_accelerometers_alone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 32, 6)).astype(np.float32)
    channels = ["gx", "gy", "gz", "x", "y", "z"]
    out = augment_windows(X, channels, np.random.default_rng(1), rotation=False, gain=0.15,
                          cadence=0.0)
    np.testing.assert_array_equal(out[..., :3], X[..., :3])    # the gyroscope keeps its values
    ratio = out[..., 3:] / X[..., 3:]
    assert not np.allclose(ratio, 1.0)
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1], ratio.shape), rtol=1e-5)
    gyro_only = augment_windows(X[..., :3], channels[:3], np.random.default_rng(1),
                                rotation=False, gain=0.15, cadence=0.0)
    np.testing.assert_array_equal(gyro_only, X[..., :3])


def test_expand_training_adds_perturbed_copies_of_the_training_windows():
    from har_studio.data.demo import demo_dataset
    from har_studio.data.features import FeatureConfig
    from har_studio.data.splits import SplitConfig
    from har_studio.training import prepare_data
    from har_studio.training.augment import expand_training

    prepared = prepare_data(demo_dataset(subjects=3, seconds_per_activity=8.0, activities=ACTS),
                            WindowConfig(size=32, step=16), SplitConfig(seed=1),
                            features=FeatureConfig(outputs=("gravity_abs", "magnitude")))
    bigger = expand_training(prepared, 2, seed=0)
    n = len(prepared.train)
    assert len(bigger.train) == 3 * n and bigger.inputs("train").shape[0] == 3 * n
    np.testing.assert_array_equal(bigger.train.X[:n], prepared.train.X)
    np.testing.assert_array_equal(bigger.train.y, np.tile(prepared.train.y, 3))
    assert not np.allclose(bigger.train.X[n:2 * n], prepared.train.X)
    assert bigger.normaliser is prepared.normaliser and len(bigger.test) == len(prepared.test)
    assert expand_training(prepared, 0) is prepared
