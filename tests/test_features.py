"""Derived input features: names, invariances, window-locality, and their life in model files
(round trip, predictions, replay through the streaming classifier)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from har_studio.data.features import FEATURE_GROUPS, FeatureConfig, derive, output_channels
from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig, make_windows
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle, ModelFileError, load_model, save_model
from har_studio.model.vit import TimeSeriesViT

RAW6 = ["x", "y", "z", "gx", "gy", "gz"]
INVARIANT = ("magnitude", "body_magnitude", "vertical", "horizontal", "gyro_magnitude",
             "gyro_vertical", "gyro_horizontal")
LABELS = ["walking", "sitting", "standing"]


def raw_windows(n: int = 5, t: int = 40, seed: int = 0) -> np.ndarray:
    """Gravity along a random direction per window, plus gait-like motion and rotation rate."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, 1, 3))
    g = 9.81 * g / np.linalg.norm(g, axis=2, keepdims=True)
    time = np.arange(t)[None, :, None] / 20.0
    motion = 2.0 * np.sin(2 * np.pi * 1.8 * time + rng.uniform(0, 6, (n, 1, 3)))
    acc = g + motion + rng.normal(0, 0.3, (n, t, 3))
    gyro = rng.normal(0, 0.5, (n, t, 3)) + np.cos(2 * np.pi * time)
    return np.concatenate([acc, gyro], axis=2).astype(np.float32)


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.astype(np.float64)


def rotate(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    out = X.astype(np.float64).copy()
    out[..., :3] = out[..., :3] @ R.T
    out[..., 3:6] = out[..., 3:6] @ R.T
    return out.astype(np.float32)


def test_identity_is_the_default_and_returns_the_raw_windows():
    X = raw_windows()
    config = FeatureConfig()
    assert config.is_identity and config.describe() == "raw channels"
    out, names = derive(X, RAW6, config)
    assert names == RAW6
    np.testing.assert_array_equal(out, X)


def test_names_follow_the_groups_in_order():
    config = FeatureConfig(outputs=("gravity_abs", "vertical", "horizontal", "gyro_magnitude"))
    out, names = derive(raw_windows(), RAW6, config)
    assert names == ["tilt_x", "tilt_y", "tilt_z", "body_vert", "body_horiz", "gyro_mag"]
    assert out.shape == (5, 40, 6) and out.dtype == np.float32
    assert output_channels(["x", "y", "z"], FeatureConfig(outputs=("raw", "magnitude"))) == [
        "x", "y", "z", "acc_mag"]


def test_missing_channels_and_bad_configs_are_one_line_errors():
    with pytest.raises(ValueError, match="gyro_magnitude need channel"):
        output_channels(["x", "y", "z"], FeatureConfig(outputs=("gyro_magnitude",)))
    with pytest.raises(ValueError, match="produce a channel twice"):
        output_channels(["x", "y", "z"], FeatureConfig(outputs=("raw", "acc")))
    for bad in ({"outputs": ["nope"]}, {"outputs": []}, {"outputs": "raw"},
                {"lowpass_s": 0}, {"per_window": "sometimes"}, {"colour": 1},
                {"outputs": ["raw", "raw"]}):
        with pytest.raises(ValueError):
            FeatureConfig.from_dict(bad)
    with pytest.raises(ValueError, match="expected windows"):
        derive(np.zeros((2, 10, 2), np.float32), ["x", "y", "z"], FeatureConfig())


def test_config_round_trips_through_json():
    config = FeatureConfig(outputs=("gravity_abs", "body_magnitude"), lowpass_s=0.5,
                           per_window="center")
    again = FeatureConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and not again.is_identity
    assert FeatureConfig.from_dict(None) == FeatureConfig.from_dict({}) == FeatureConfig()


@pytest.mark.parametrize("seed", [1, 2])
def test_invariant_features_do_not_change_when_the_phone_is_rotated(seed):
    X = raw_windows(seed=seed)
    config = FeatureConfig(outputs=INVARIANT)
    before, _ = derive(X, RAW6, config)
    after, _ = derive(rotate(X, rotation(seed)), RAW6, config)
    np.testing.assert_allclose(after, before, atol=2e-4, rtol=1e-4)
    # ... while the raw channels and gravity in phone axes do change
    grav = FeatureConfig(outputs=("gravity",))
    assert np.abs(derive(rotate(X, rotation(seed)), RAW6, grav)[0]
                  - derive(X, RAW6, grav)[0]).max() > 0.5


def test_tilt_ignores_pocket_flips_but_sees_tilt():
    X = raw_windows()
    config = FeatureConfig(outputs=("gravity_abs",))
    flip = np.diag([-1.0, -1.0, 1.0])          # upside down in the pocket
    mirror = np.diag([-1.0, 1.0, -1.0])        # screen facing the other way
    base, _ = derive(X, RAW6, config)
    for R in (flip, mirror):
        np.testing.assert_allclose(derive(rotate(X, R), RAW6, config)[0], base, atol=1e-5)
    assert np.abs(derive(rotate(X, rotation(3)), RAW6, config)[0] - base).max() > 0.05
    np.testing.assert_allclose(np.linalg.norm(base, axis=2), 1.0, atol=1e-4)


def test_gravity_of_a_still_phone_is_its_reading_and_the_body_part_is_zero():
    X = np.tile(np.array([0.5, 9.7, 1.2], np.float32), (3, 30, 1))
    out, _ = derive(X, ["x", "y", "z"], FeatureConfig(outputs=("gravity", "body",
                                                                 "body_magnitude")))
    np.testing.assert_allclose(out[..., :3], X, atol=1e-5)
    np.testing.assert_allclose(out[..., 3:], 0.0, atol=1e-5)


def test_derivation_is_local_to_each_window():
    X = raw_windows(n=6)
    config = FeatureConfig(outputs=tuple(o for o in FEATURE_GROUPS if o != "raw"),
                           per_window="standardise")
    together, names = derive(X, RAW6, config)
    one_by_one = np.concatenate([derive(X[i:i + 1], RAW6, config)[0] for i in range(len(X))])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert len(names) == together.shape[2] and np.isfinite(together).all()
    centred, _ = derive(X, RAW6, FeatureConfig(outputs=("raw",), per_window="center"))
    np.testing.assert_allclose(centred.mean(axis=1), 0.0, atol=1e-4)


# ------------------------------------------------------------------------------ model files

FEATURES = FeatureConfig(outputs=("gravity_abs", "vertical", "horizontal", "magnitude"))


def feature_bundle(size: int = 32, step: int = 8, seed: int = 0, features=FEATURES,
                   channels=("x", "y", "z")) -> ModelBundle:
    """A small untrained model reading `features` of raw `channels`."""
    torch.manual_seed(seed)
    channels = list(channels)
    inputs = output_channels(channels, features)
    cfg = ViTConfig(series=size, modal=len(inputs), classes=len(LABELS), embedding_dim=16,
                    patch_size=4, head_num=2, att_size=8, depth=2, head_width=32)
    model = TimeSeriesViT(cfg).eval()
    with torch.no_grad():
        model.position.normal_()
    rng = np.random.default_rng(seed)
    normaliser = Normaliser(rng.normal(size=cfg.modal).astype(np.float32),
                            rng.uniform(0.5, 2.0, size=cfg.modal).astype(np.float32))
    return ModelBundle(model, cfg, WindowConfig(size=size, step=step), channels, list(LABELS),
                       normaliser, {"note": "test"}, features=features)


def test_model_file_keeps_the_features_and_predicts_the_same(tmp_path):
    bundle = feature_bundle()
    assert bundle.channels == ["x", "y", "z"]
    assert bundle.input_channels == ["tilt_x", "tilt_y", "tilt_z", "body_vert", "body_horiz",
                                     "acc_mag"]
    X = raw_windows(n=7, t=32)[..., :3]
    manual = torch.softmax(bundle.model(torch.from_numpy(bundle.normaliser.apply(
        derive(X, ["x", "y", "z"], FEATURES)[0]))), dim=-1).detach().numpy()
    np.testing.assert_allclose(bundle.predict_proba(X), manual, atol=1e-5)
    path = save_model(tmp_path / "m.harmodel", bundle)
    loaded = load_model(path)
    assert loaded.features == FEATURES and loaded.channels == ["x", "y", "z"]
    np.testing.assert_allclose(loaded.predict_proba(X), bundle.predict_proba(X), atol=1e-6)
    probs, attention = loaded.predict_proba_with_attention(X)
    assert attention.shape == (7, 6, bundle.model_config.patch_num)
    assert loaded.predict_proba_with_attention(X[:0])[1].shape == (0, 6, 8)


def test_a_model_file_without_features_loads_as_raw_channels(tmp_path):
    bundle = feature_bundle()
    cfg = ViTConfig(**{**bundle.model_config.to_dict(), "modal": 3})
    plain = ModelBundle(TimeSeriesViT(cfg).eval(), cfg, bundle.window, ["x", "y", "z"],
                        list(LABELS), Normaliser.identity(3))
    path = save_model(tmp_path / "plain.harmodel", plain)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        assert "features" not in json.loads(fh.metadata()["har_studio"])
    assert load_model(path).features.is_identity


def test_inconsistent_or_bad_features_are_refused(tmp_path):
    bundle = feature_bundle()
    wrong = ModelBundle(bundle.model, bundle.model_config, bundle.window, ["x", "y", "z"],
                        list(LABELS), bundle.normaliser, features=FeatureConfig())
    with pytest.raises(ValueError, match="channel"):
        save_model(tmp_path / "bad.harmodel", wrong)
    # A file whose features entry is damaged: a one-line ModelFileError naming the file.
    from safetensors.torch import load, save

    path = save_model(tmp_path / "ok.harmodel", bundle)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = dict(fh.metadata())
    header = json.loads(meta["har_studio"])
    header["features"] = {"outputs": ["telepathy"]}
    meta["har_studio"] = json.dumps(header)
    tensors = load(path.read_bytes())
    meta.pop("weights_sha256", None)
    (tmp_path / "bad2.harmodel").write_bytes(save(tensors, metadata=meta))
    with pytest.raises(ModelFileError, match="bad2.harmodel.*features"):
        load_model(tmp_path / "bad2.harmodel")


def recording() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    parts, t0 = [], 0
    for subject in (4, 9):
        for activity, n in (("walking", 90), ("sitting", 70), ("standing", 66)):
            ts = t0 + np.arange(n, dtype=np.int64) * 50_000_000
            tilt = {"walking": 0.0, "sitting": 1.2, "standing": 0.1}[activity]
            parts.append(pd.DataFrame({
                "subject": subject, "activity": activity, "timestamp": ts,
                "x": (9.8 * np.sin(tilt) + rng.normal(size=n)).astype(np.float32),
                "y": (9.8 * np.cos(tilt) + rng.normal(size=n)).astype(np.float32),
                "z": rng.normal(size=n).astype(np.float32)}))
            t0 = int(ts[-1]) + 9_000_000_000
    frame = pd.concat(parts, ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    return frame


def test_replay_and_evaluate_agree_for_a_feature_model():
    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.replay import ReplaySource
    from har_studio.live.session import run_session
    from har_studio.training.metrics import evaluate_bundle

    bundle = feature_bundle()
    frame = recording()
    windows = make_windows(frame, bundle.window, labels=bundle.labels)
    metrics = evaluate_bundle(bundle, windows, latency=False)
    source = ReplaySource(frame, speed="max", window=bundle.window, max_batch=37)
    clf = StreamingClassifier(bundle, hop=None, smoothing="none", threshold=0.0)
    gen = run_session(source, clf, poll_s=0.0)
    preds = []
    try:
        while True:
            preds.extend(next(gen).predictions)
    except StopIteration as stop:
        summary = stop.value
    assert len(preds) == len(windows) == metrics["windows"]
    np.testing.assert_allclose([p.probabilities for p in preds], bundle.predict_proba(windows.X),
                               atol=1e-5)
    assert summary.accuracy == pytest.approx(metrics["accuracy"])


def test_onnx_live_engine_applies_the_features():
    pytest.importorskip("onnxruntime")
    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.source import SampleBatch

    bundle = feature_bundle()
    vals = raw_windows(n=1, t=80, seed=3)[0, :, :3]
    got = {}
    for engine in ("torch", "onnx"):
        clf = StreamingClassifier(bundle, hop=6, smoothing="none", engine=engine)
        got[engine] = clf.push(SampleBatch(np.arange(80) / 20.0, vals, nominal_rate_hz=20.0))
    assert len(got["onnx"]) == len(got["torch"]) > 3
    np.testing.assert_allclose([p.probabilities for p in got["onnx"]],
                               [p.probabilities for p in got["torch"]], atol=1e-4)
