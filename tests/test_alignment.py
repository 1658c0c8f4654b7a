"""Per-person alignment (data.alignment): the upright reference from a person's own moving
windows, the gain correction, its streaming form, and its life in models, training and the
live classifier."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from har_studio.data.alignment import (
    MOTION_THRESHOLD,
    UPRIGHT,
    Alignment,
    RunningAlignment,
    align_windows,
    estimate,
    estimate_per_subject,
    rotation_between,
)
from har_studio.data.features import FeatureConfig, output_channels
from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle, load_model, save_model
from har_studio.model.vit import TimeSeriesViT

XYZ = ["x", "y", "z"]
SIDEWAYS = np.array([1.0, 0.1, 0.0]) / np.linalg.norm([1.0, 0.1, 0.0])   # walking gravity
SEATED = np.array([0.0, 0.2, 1.0]) / np.linalg.norm([0.0, 0.2, 1.0])     # sitting gravity


def person(walk: int = 8, sit: int = 6, t: int = 64, gain: float = 1.0, R=None,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One person's raw windows: `walk` windows with gravity along SIDEWAYS and a strong gait,
    then `sit` still windows with gravity along SEATED; a phone rotation R and a gain."""
    rng = np.random.default_rng(seed)
    time = np.arange(t)[None, :, None] / 20.0
    g_walk = 9.80665 * SIDEWAYS[None, None, :]
    gait = 4.0 * np.sin(2 * np.pi * 1.9 * time + rng.uniform(0, 6, (walk, 1, 1))) * SIDEWAYS
    walking = g_walk + gait + rng.normal(0, 0.5, (walk, t, 3))
    sitting = 9.80665 * SEATED[None, None, :] + rng.normal(0, 0.05, (sit, t, 3))
    X = np.concatenate([walking, sitting]).astype(np.float64)
    if R is not None:
        X = X @ np.asarray(R).T
    y = np.array([0] * walk + [1] * sit)
    return (X * gain).astype(np.float32), y


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def unit_gravity(X: np.ndarray) -> np.ndarray:
    m = X.mean(axis=1)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("a", [[1, 0, 0], [0, -1, 0], [0.3, 0.4, -0.2], [0, 1, 0]])
def test_rotation_between_takes_a_to_the_upright_and_is_proper(a):
    R = rotation_between(np.array(a, float), UPRIGHT)
    a = np.array(a, float) / np.linalg.norm(a)
    np.testing.assert_allclose(R @ a, UPRIGHT, atol=1e-9)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_a_sideways_phone_is_turned_upright_and_its_gain_corrected():
    X, y = person(gain=1.12)
    a = estimate(X, XYZ)
    assert a.moving == 8                                   # only the walking windows
    np.testing.assert_allclose(a.reference, SIDEWAYS, atol=0.02)
    assert a.scale == pytest.approx(1 / 1.12, rel=0.01)
    aligned = a.apply(X, XYZ)
    walk_g, sit_g = unit_gravity(aligned[y == 0]), unit_gravity(aligned[y == 1])
    assert (walk_g @ UPRIGHT).min() > 0.99                 # upright while walking
    # sitting keeps its angle to the upright (the thigh turned by ~90 degrees)
    assert float(sit_g.mean(axis=0) @ UPRIGHT) == pytest.approx(float(SEATED @ SIDEWAYS),
                                                                abs=0.03)
    assert np.linalg.norm(aligned[y == 1].mean(axis=(0, 1))) == pytest.approx(9.80665, rel=0.01)


def test_any_phone_rotation_gives_the_same_aligned_angles():
    """The point of it: another pocket (a fixed rotation of the phone) and another phone
    (a gain) leave each window's angle to the upright, and its |a|, as they were."""
    X, y = person()
    base = align_windows(X, XYZ)
    for seed in range(4):
        R = random_rotation(seed)
        other = align_windows(person(R=R, gain=0.9)[0], XYZ)
        np.testing.assert_allclose(unit_gravity(other) @ UPRIGHT, unit_gravity(base) @ UPRIGHT,
                                   atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(other, axis=2), np.linalg.norm(base, axis=2),
                                   rtol=1e-3)


def test_without_enough_movement_the_rotation_is_the_identity():
    X, _ = person(walk=2, sit=10)
    a = estimate(X, XYZ)
    assert a.reference is None and a.moving == 2
    np.testing.assert_array_equal(a.rotation, np.eye(3))
    assert estimate(np.zeros((0, 64, 3), np.float32), XYZ).scale == 1.0
    # no x, y, z: nothing to align
    assert estimate(X, ["a", "b", "c"]).reference is None


def test_gyroscope_turns_with_the_phone_and_is_not_scaled():
    X, _ = person(gain=1.1)
    gyro = np.random.default_rng(1).normal(size=X.shape).astype(np.float32)
    both = np.concatenate([X, gyro], axis=2)
    a = estimate(both, [*XYZ, "gx", "gy", "gz"])
    out = a.apply(both, [*XYZ, "gx", "gy", "gz"])
    np.testing.assert_allclose(out[..., 3:], gyro @ a.rotation.T.astype(np.float32), atol=1e-5)
    np.testing.assert_allclose(out[..., :3], (X @ a.rotation.T.astype(np.float32)) * a.scale,
                               rtol=1e-4, atol=1e-4)


def test_each_subject_gets_their_own_alignment():
    A, _ = person(seed=1)
    B, _ = person(seed=2, R=random_rotation(7))
    X = np.concatenate([A, B])
    subjects = np.array([1] * len(A) + [2] * len(B))
    found = estimate_per_subject(X, XYZ, subjects)
    assert set(found) == {1, 2}
    out = align_windows(X, XYZ, subjects)
    np.testing.assert_allclose(out[subjects == 2], found[2].apply(B, XYZ), atol=1e-5)
    np.testing.assert_allclose(out[subjects == 1], align_windows(A, XYZ), atol=1e-5)


def test_the_running_estimate_converges_to_the_whole_recordings():
    X, _ = person(R=random_rotation(3), gain=1.05)
    running = RunningAlignment(XYZ)
    assert running.current.reference is None
    for i in range(len(X)):
        running.update(X[i:i + 1])
    whole = estimate(X, XYZ)
    np.testing.assert_allclose(running.current.rotation, whole.rotation, atol=1e-6)
    assert running.current.scale == pytest.approx(whole.scale)
    running.reset()
    assert running.current.reference is None and running.current.moving == 0


def test_feature_config_keeps_align_and_older_dicts_read_as_none():
    config = FeatureConfig(outputs=("magnitude",), align="person")
    assert config.aligns and not config.is_identity
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert "align" not in FeatureConfig(outputs=("magnitude",)).to_dict()
    assert not FeatureConfig.from_dict({"outputs": ["magnitude"]}).aligns
    assert "pocket" in config.describe()
    with pytest.raises(ValueError, match="align"):
        FeatureConfig(align="sideways")


INVARIANT = FeatureConfig(outputs=("magnitude", "vertical", "horizontal"), align="person")


def aligned_bundle(features: FeatureConfig = INVARIANT, seed: int = 0) -> ModelBundle:
    torch.manual_seed(seed)
    cfg = ViTConfig(series=64, modal=len(output_channels(XYZ, features)), classes=2,
                    embedding_dim=16, patch_size=8, head_num=2, att_size=8, depth=1,
                    head_width=16)
    model = TimeSeriesViT(cfg).eval()
    with torch.no_grad():
        model.position.normal_()
    normaliser = Normaliser(np.zeros(cfg.modal, np.float32), np.full(cfg.modal, 3, np.float32))
    return ModelBundle(model, cfg, WindowConfig(size=64, step=32), list(XYZ),
                       ["walking", "sitting"], normaliser, {}, features=features)


def test_an_aligned_model_reads_each_person_in_their_own_frame(tmp_path):
    bundle = load_model(save_model(tmp_path / "aligned.harmodel", aligned_bundle()))
    assert bundle.features.aligns
    X, _ = person(gain=0.9)
    expected = bundle.predict_proba(X)
    # the gain is corrected: the person's own estimate puts |a| back at 9.81
    other = bundle.predict_proba(person(gain=1.1)[0])
    np.testing.assert_allclose(other, expected, atol=1e-4)
    # two people in one set: each aligned with their own windows
    subjects = np.array([5] * len(X) + [6] * len(X))
    both = bundle.predict_proba(np.concatenate([X, person(gain=1.1)[0]]), subjects)
    np.testing.assert_allclose(both[:len(X)], expected, atol=1e-4)
    np.testing.assert_allclose(both[len(X):], expected, atol=1e-4)
    # an explicit alignment is used as given
    ident = bundle.predict_proba(X, alignment=Alignment.identity())
    assert not np.allclose(ident, expected, atol=1e-3)
    plain = replace(bundle, features=replace(INVARIANT, align="none"))
    np.testing.assert_allclose(plain.predict_proba(X), ident, atol=1e-6)


def test_the_live_classifier_aligns_as_the_stream_goes():
    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.source import SampleBatch

    bundle = aligned_bundle()
    X, _ = person(walk=10, sit=0, R=random_rotation(5), gain=1.1)
    stream = X.reshape(-1, 3)
    clf = StreamingClassifier(bundle, hop=64, smoothing="none")
    assert clf.alignment.reference is None
    t = np.arange(len(stream)) / 20.0
    predictions = clf.push(SampleBatch(t, stream))
    assert len(predictions) == 10
    a = clf.alignment
    assert a.moving >= 3 and a.scale == pytest.approx(1 / 1.1, rel=0.02)
    whole = estimate(X, XYZ)
    np.testing.assert_allclose(a.rotation, whole.rotation, atol=0.05)
    clf.reset()
    assert clf.alignment.reference is None
    # a model that does not align has no alignment
    assert StreamingClassifier(replace(bundle, features=replace(INVARIANT, align="none"))
                          ).alignment is None


def test_a_replay_of_several_people_aligns_each_with_their_own_stream():
    """Replaying two people (the Live tab on a whole data set): the second person's pocket is
    estimated from their own windows, not mixed with the first's."""
    import pandas as pd

    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.replay import ReplaySource
    from har_studio.live.session import run_session

    bundle = aligned_bundle()
    people = {7: person(walk=10, sit=0, R=random_rotation(5))[0],
              3: person(walk=10, sit=0, R=random_rotation(9), seed=1)[0]}
    parts, t0 = [], 10**12
    for subject, X in people.items():
        samples = X.reshape(-1, 3)
        parts.append(pd.DataFrame({"subject": subject, "activity": "walking",
                                   "timestamp": t0 + np.arange(len(samples)) * 50_000_000,
                                   "x": samples[:, 0], "y": samples[:, 1], "z": samples[:, 2]}))
        t0 += 10**12
    frame = pd.concat(parts, ignore_index=True)
    source = ReplaySource(frame, speed="max", window=bundle.window, max_batch=1000)
    clf = StreamingClassifier(bundle, hop=64, smoothing="none")
    for _ in run_session(source, clf, poll_s=0.0):
        assert clf.alignment.moving <= 10       # never both people's windows
    mine = estimate(people[3], XYZ)
    np.testing.assert_allclose(clf.alignment.rotation, mine.rotation, atol=0.05)
    assert clf.alignment.moving == 10
    # the batches stopped at the change of person, and seeking back to the first person
    # starts their alignment again
    source = ReplaySource(frame, speed="max", window=bundle.window, max_batch=10**6)
    source.start()
    first = source.read()
    assert len(first) == 10 * 64 and not first.new_person
    second = source.read()
    assert second.new_person and len(second) == 10 * 64
    source.seek(1.0)
    assert source.read().new_person


def test_training_with_alignment_turns_copies_only_about_the_upright():
    """Augmented copies of aligned windows keep their angle to the upright (a turn about it
    plus a small tilt), unlike the full 3-D rotations used without alignment."""
    from har_studio.training.augment import augment_windows

    X, _ = person(walk=20, sit=0)
    aligned = align_windows(X, XYZ)
    rng = np.random.default_rng(0)
    copies = augment_windows(aligned, XYZ, rng, rotation="upright", gain=0, cadence=0)
    angle = unit_gravity(copies) @ UPRIGHT
    assert np.median(angle) > 0.95
    full = augment_windows(aligned, XYZ, np.random.default_rng(0), gain=0, cadence=0)
    assert np.median(unit_gravity(full) @ UPRIGHT) < 0.9
    assert MOTION_THRESHOLD > 0


def test_a_live_window_is_read_with_the_windows_before_it():
    """One window a push (a phone): the window is classified with the alignment of the windows
    before it and joins the estimate after its prediction (off the latency path), before the
    next window."""
    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.source import SampleBatch

    bundle = aligned_bundle()
    X, _ = person(walk=7, sit=0, R=random_rotation(3), gain=1.1)
    stream = X.reshape(-1, 3)
    clf = StreamingClassifier(bundle, hop=64, smoothing="none")
    preds = []
    for i, row in enumerate(stream):
        preds += clf.push(SampleBatch(np.array([i / 20.0]), row[None]))
    assert len(preds) == 7
    running = RunningAlignment(XYZ)
    for k, p in enumerate(preds):
        assert p.pocket == k                   # the windows before it, all moving
        want = bundle.predict_proba(X[k:k + 1], alignment=running.current)
        np.testing.assert_allclose(p.probabilities, want[0], atol=1e-5)
        running.update(X[k:k + 1])
    assert clf.alignment.moving == 7           # the last window joined the estimate too


def test_predictions_say_how_many_moving_windows_set_the_pocket():
    from har_studio.live.classifier import StreamingClassifier
    from har_studio.live.source import SampleBatch

    X, _ = person(walk=6, sit=0)
    stream = X.reshape(-1, 3)
    clf = StreamingClassifier(aligned_bundle(), hop=64, smoothing="none")
    predictions = clf.push(SampleBatch(np.arange(len(stream)) / 20.0, stream))
    assert predictions[-1].pocket == 6
    assert predictions[-1].to_dict(clf.labels)["pocket_windows"] == 6
    plain = StreamingClassifier(replace(aligned_bundle(), features=replace(INVARIANT,
                                                                            align="none")))
    out = plain.push(SampleBatch(np.arange(len(stream)) / 20.0, stream))
    assert out[-1].pocket is None and "pocket_windows" not in out[-1].to_dict(plain.labels)
