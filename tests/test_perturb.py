"""The third yardstick's perturbations do what they say (training/perturb.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from har_studio.data.windows import WindowConfig, make_windows
from har_studio.training import perturb as P

RATE = 20.0
XYZ = ["x", "y", "z"]


def _walk(n: int, rng, gravity=(0.0, 9.81, 0.0)) -> np.ndarray:
    """A walk-like signal [n, 3]: gravity plus 2 Hz and 4 Hz motion on every axis."""
    t = np.arange(n) / RATE
    motion = np.stack([np.sin(2 * np.pi * 2 * t + p) + 0.5 * np.sin(2 * np.pi * 4 * t + 2 * p)
                       for p in (0.0, 1.0, 2.0)], axis=1) * 3
    return (np.asarray(gravity) + motion + 0.1 * rng.standard_normal((n, 3))).astype(np.float32)


@pytest.mark.parametrize("sigma_deg, tau_s", [(5.0, 1.0), (12.0, 3.0), (20.0, 5.0)])
def test_drift_keeps_length_and_has_the_asked_sd_and_correlation_time(sigma_deg, tau_s):
    rng = np.random.default_rng(1)
    n = 200_000                                     # 10,000 s at 20 Hz
    up = np.array([0.3, 0.9, 0.1])
    axis = P.horizontal_axes(up, 0.7)
    assert abs(axis @ up) < 1e-9 and abs(np.linalg.norm(axis) - 1) < 1e-9
    angles = P.ou_angles((n,), RATE, np.radians(sigma_deg), tau_s, rng)
    values = np.tile(up * 9.81 / np.linalg.norm(up), (n, 1)).astype(np.float32)
    turned = P.drift(values, XYZ, angles, axis)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=1), np.linalg.norm(values, axis=1),
                               rtol=1e-5)
    # The angle measured back from the vectors (signed, about the axis), not the one drawn.
    v0 = values[0] / np.linalg.norm(values[0])
    unit = turned / np.linalg.norm(turned, axis=1, keepdims=True)
    measured = np.arctan2(unit @ np.cross(axis, v0), unit @ v0)
    assert np.degrees(measured.std()) == pytest.approx(sigma_deg, rel=0.1)
    lag = int(round(tau_s * RATE))
    a = measured - measured.mean()
    correlation = (a[:-lag] * a[lag:]).mean() / a.var()
    assert correlation == pytest.approx(np.exp(-1), abs=0.05)
    # and at twice the lag, exp(-2): an exponential, not any decay through 1/e
    c2 = (a[:-2 * lag] * a[2 * lag:]).mean() / a.var()
    assert c2 == pytest.approx(np.exp(-2), abs=0.05)


def test_drift_turns_the_gyroscope_with_the_accelerometer():
    rng = np.random.default_rng(2)
    values = rng.standard_normal((50, 6)).astype(np.float32)
    angles = np.full(50, np.pi / 2)
    out = P.drift(values, ["x", "y", "z", "gx", "gy", "gz"], angles, np.array([0.0, 0, 1]))
    np.testing.assert_allclose(out[:, 0], -values[:, 1], atol=1e-5)   # x <- -y about +z
    np.testing.assert_allclose(out[:, 3], -values[:, 4], atol=1e-5)
    np.testing.assert_allclose(out[:, 2], values[:, 2], atol=1e-6)


def test_motion_scale_leaves_gravity_unchanged_and_scales_the_rest():
    rng = np.random.default_rng(3)
    x = _walk(2000, rng, gravity=(2.0, 9.0, -3.0))
    for factor in (0.6, 1.3):
        out = P.scale_motion(x, XYZ, factor, rate_hz=RATE)
        g_in, g_out = P.gravity_of(x, RATE), P.gravity_of(out, RATE)
        inner = slice(40, -40)
        assert np.abs(g_out[inner] - g_in[inner]).max() < 0.02 * abs(factor - 1) * 9.81
        np.testing.assert_allclose(out.mean(axis=0), x.mean(axis=0), atol=0.05)
        ratio = (out - g_in)[inner].std(axis=0) / (x - g_in)[inner].std(axis=0)
        np.testing.assert_allclose(ratio, factor, rtol=0.01)


@pytest.mark.parametrize("cutoff", [3.0, 5.5, 8.0])
def test_bandwidth_gain_at_the_cutoff_is_minus_3_db(cutoff):
    t = np.arange(6000) / RATE
    settled = slice(1000, None)
    gains = {}
    for f in (cutoff, cutoff / 4, min(9.5, cutoff * 1.2)):
        x = np.sin(2 * np.pi * f * t)[:, None]
        y = P.lowpass(x, cutoff, RATE)
        gains[f] = y[settled, 0].std() / x[settled, 0].std()
    assert 20 * np.log10(gains[cutoff]) == pytest.approx(-3.01, abs=0.05)
    assert gains[cutoff / 4] > 0.98                    # passes the band
    assert gains[min(9.5, cutoff * 1.2)] < gains[cutoff]
    # a constant (gravity) passes unchanged from the first sample: steady-state start
    np.testing.assert_allclose(P.lowpass(np.full((30, 3), 9.81), cutoff, RATE), 9.81, rtol=1e-6)


def test_bandwidth_per_window_cutoffs():
    t = np.arange(2000) / RATE
    x = np.stack([np.sin(2 * np.pi * 4 * t)] * 2)[:, :, None]       # [2, T, 1]
    y = P.lowpass(x, np.array([4.0, 8.0]), RATE)
    gains = y[:, 500:, 0].std(axis=1) / x[:, 500:, 0].std(axis=1)
    assert gains[0] == pytest.approx(2 ** -0.5, abs=0.01) and gains[1] > 0.95
    with pytest.raises(ValueError, match="cut-off"):
        P.lowpass(x, 10.0, RATE)


@pytest.mark.parametrize("native", [50, 100])
def test_rate_perturbation_gives_back_the_same_length_at_the_model_rate(native):
    rng = np.random.default_rng(4)
    x = _walk(400, rng)
    for offset in range(5):
        samples, times = P.native_rate(x, RATE, native, offset)
        assert np.allclose(np.diff(times), 1 / native)          # the phone's own rate
        back = P.resample_linear(samples, times, RATE, len(x))
        assert back.shape == x.shape
        # the motion survives: a small change, not another signal
        assert np.abs(back - x)[5:-5].mean() < 0.25 * np.abs(x - x.mean(0)).mean()
    exact, times = P.native_rate(x, RATE, 100, 0)     # band-limited: the phone's samples at
    np.testing.assert_allclose(exact[::5], x, atol=1e-3)    # our instants are ours


def _frame(subjects=(1, 2), seconds=60):
    rng = np.random.default_rng(5)
    parts = []
    for s in subjects:
        for activity in ("walking", "sitting"):
            n = int(seconds * RATE)
            x = _walk(n, rng) if activity == "walking" else np.tile([0.5, 9.7, 1.0], (n, 1))
            parts.append(pd.DataFrame({
                "subject": s, "activity": activity,
                "timestamp": (np.arange(n) * 50_000_000 + s * 10**12
                              + (activity == "sitting") * 10**11).astype(np.int64),
                "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}))
    return pd.concat(parts, ignore_index=True)


def test_pocket_frame_rate_goes_through_the_apps_resampling_to_the_same_length():
    frame = _frame()
    config = WindowConfig(size=128, step=64)
    native = P.pocket_frame(frame, seed=0, parts=("rate",))
    dts = native.groupby(["subject", "activity"])["timestamp"].apply(
        lambda ts: np.median(np.diff(ts.to_numpy())))
    assert set(np.round(1e9 / dts.to_numpy())) <= {50.0, 100.0}     # the phone's own rate
    before, after = make_windows(frame, config), make_windows(native, config)
    assert len(after) == len(before) and after.X.shape == before.X.shape


def test_pocket_frame_is_deterministic_per_seed_and_person():
    frame = _frame()
    a = P.pocket_frame(frame, seed=3)
    b = P.pocket_frame(frame, seed=3)
    c = P.pocket_frame(frame, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["x"].to_numpy()[:500], c["x"].to_numpy()[:500])
    alone = P.pocket_frame(frame[frame["subject"] == 2], seed=3)   # a person's draw is theirs
    np.testing.assert_allclose(alone["x"].to_numpy(),
                               a[a["subject"] == 2]["x"].to_numpy(), rtol=1e-6)
    assert list(a.columns) == list(frame.columns)
    with pytest.raises(ValueError, match="unknown perturbation"):
        P.pocket_frame(frame, parts=("wobble",))


def test_pocket_windows_keep_shape_gravity_and_stay_finite():
    rng = np.random.default_rng(6)
    X = np.stack([_walk(128, rng) for _ in range(40)])
    out = P.pocket_windows(X, XYZ, np.random.default_rng(0), rate_hz=RATE,
                           up=np.array([0.0, 1.0, 0.0]))
    assert out.shape == X.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert not np.allclose(out, X)
    # |gravity| kept (drift is a rotation; motion scale keeps gravity); tilt within ~3 sd
    np.testing.assert_allclose(np.linalg.norm(out.mean(axis=1), axis=1),
                               np.linalg.norm(X.mean(axis=1), axis=1), rtol=0.05)
    again = P.pocket_windows(X, XYZ, np.random.default_rng(0), rate_hz=RATE,
                             up=np.array([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(out, again)


def test_expand_training_pocket_copies_are_the_phone_copies_loose_in_the_pocket():
    from har_studio.data.demo import demo_dataset
    from har_studio.data.features import FeatureConfig
    from har_studio.data.splits import SplitConfig
    from har_studio.training import prepare_data
    from har_studio.training.augment import expand_training
    from har_studio.training.config import TrainConfig

    prepared = prepare_data(
        demo_dataset(subjects=3, seconds_per_activity=20.0, activities=("walking", "sitting")),
        WindowConfig(size=64, step=32), SplitConfig(seed=1),
        features=FeatureConfig(outputs=("gravity_abs", "vertical", "magnitude"), align="person"))
    n = len(prepared.train)
    phone = expand_training(prepared, 2, seed=0)
    pocket = expand_training(prepared, 2, seed=0, pocket=True)
    assert len(pocket.train) == 3 * n and pocket.inputs("train").shape[0] == 3 * n
    np.testing.assert_array_equal(pocket.train.X[:n], phone.train.X[:n])   # originals kept
    np.testing.assert_array_equal(pocket.train.y, phone.train.y)
    copies, plain = pocket.train.X[n:], phone.train.X[n:]
    assert np.isfinite(copies).all() and not np.allclose(copies, plain)
    # the drift wanders a few degrees about the copy's posture: the tilt from +y (upright
    # after alignment) stays that of the phone copies give or take a few degrees, and the
    # mean acceleration keeps its length (gravity kept by motion scale and bandwidth)
    def tilt(X):
        up = X.mean(axis=1)
        return np.degrees(np.arccos(np.clip(up[:, 1] / np.linalg.norm(up, axis=1), -1, 1)))

    assert abs(np.median(tilt(copies)) - np.median(tilt(plain))) < 6
    np.testing.assert_allclose(np.median(np.linalg.norm(copies.mean(axis=1), axis=1)),
                               np.median(np.linalg.norm(plain.mean(axis=1), axis=1)), rtol=0.05)
    assert TrainConfig.from_dict({"augment_pocket": True}).augment_pocket
    with pytest.raises(ValueError, match="augment_pocket"):
        TrainConfig.from_dict({"augment_pocket": "yes"})


@pytest.mark.parametrize("pocket", [False, True])
def test_training_forwards_augment_pocket_to_the_copies(monkeypatch, pocket):
    from tiny_models import TINY

    from har_studio.data.demo import demo_dataset
    from har_studio.data.splits import SplitConfig
    from har_studio.training import (
        TrainConfig,
        augment,
        default_model_config,
        prepare_data,
        run_to_end,
    )
    from har_studio.training import train as train_model

    calls = []
    real = augment.expand_training

    def spy(*args, **kwargs):
        calls.append(kwargs.get("pocket", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(augment, "expand_training", spy)
    prepared = prepare_data(demo_dataset(subjects=2, seconds_per_activity=8.0,
                                         activities=("walking", "sitting")),
                            WindowConfig(size=32, step=16), SplitConfig(kind="random", seed=0))
    cfg = TrainConfig(epochs=1, batch_size=32, device="cpu", precision="fp32", patience=0,
                      augment_copies=1, augment_pocket=pocket)
    result = run_to_end(train_model(prepared, default_model_config(prepared, **TINY), cfg))
    assert calls == [pocket] and result.bundle.recipe["training"]["augment_pocket"] is pocket
