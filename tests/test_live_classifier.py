"""Streaming classifier, ring buffer, resampler and replay pacing (no sockets, no sleeps)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig, make_windows, run_starts
from har_studio.live.classifier import UNCERTAIN, StreamingClassifier
from har_studio.live.replay import ReplaySource
from har_studio.live.ring import Resampler, RingBuffer
from har_studio.live.session import LiveControl, run_session
from har_studio.live.source import SampleBatch
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle
from har_studio.model.vit import TimeSeriesViT

LABELS = ["walking", "sitting", "standing"]


def tiny_bundle(size: int = 32, step: int = 8, channels=("x", "y", "z"), seed: int = 0) -> ModelBundle:
    torch.manual_seed(seed)
    cfg = ViTConfig(series=size, modal=len(channels), classes=len(LABELS), embedding_dim=16,
                    patch_size=4, head_num=2, att_size=8, depth=2, head_width=32)
    return ModelBundle(TimeSeriesViT(cfg).eval(), cfg, WindowConfig(size=size, step=step, rate_hz=20.0),
                       list(channels), list(LABELS),
                       Normaliser(np.array([0.0, 5.0, 0.0], np.float32)[:len(channels)],
                                  np.array([3.0, 3.0, 3.0], np.float32)[:len(channels)]))


def recording(seed: int = 0) -> pd.DataFrame:
    """Two subjects, several activities (one repeated), one timestamp gap inside a run."""
    rng = np.random.default_rng(seed)
    parts = []
    for subject in (7, 3):
        t0 = subject * 10**12
        for activity, n in (("walking", 90), ("sitting", 75), ("walking", 47), ("standing", 66)):
            ts = t0 + np.arange(n, dtype=np.int64) * 50_000_000
            if activity == "sitting":
                ts[40:] += 2_000_000_000          # a 2 s hole: two runs
            base = {"walking": 0.0, "sitting": 3.0, "standing": -3.0}[activity]
            parts.append(pd.DataFrame({
                "subject": subject, "activity": activity, "timestamp": ts,
                "x": (rng.normal(size=n) + base).astype(np.float32),
                "y": (rng.normal(size=n) + 5).astype(np.float32),
                "z": np.sin(np.arange(n) / 3.0 + base).astype(np.float32)}))
            t0 = int(ts[-1]) + 7_000_000_000
    frame = pd.concat(parts, ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    return frame


def drain(gen):
    updates = []
    try:
        while True:
            updates.append(next(gen))
    except StopIteration as stop:
        return updates, stop.value


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------ exactness

@pytest.mark.parametrize("max_batch", [4096, 13])
def test_replay_at_step_equals_offline_windows(max_batch):
    bundle = tiny_bundle()
    frame = recording()
    windows = make_windows(frame, bundle.window, labels=bundle.labels)
    expected = bundle.predict_proba(windows.X)
    assert len(windows) > 10

    source = ReplaySource(frame, speed="max", window=bundle.window, max_batch=max_batch)
    clf = StreamingClassifier(bundle, hop=None, smoothing="none", threshold=0.0, max_batch=5)
    updates, summary = drain(run_session(source, clf, poll_s=0.0))
    preds = [p for u in updates for p in u.predictions]

    assert len(preds) == len(windows) == summary.windows
    np.testing.assert_allclose(np.array([p.probabilities for p in preds]), expected, atol=1e-5)
    np.testing.assert_array_equal([p.class_index for p in preds], bundle.predict(windows.X))
    assert [p.truth for p in preds] == [windows.labels[y] for y in windows.y]
    np.testing.assert_allclose([p.window_start_t for p in preds][:2],
                               [0.0, bundle.window.step / bundle.window.rate_hz], atol=1e-6)
    assert summary.samples == len(frame)
    assert summary.accuracy == pytest.approx(float(np.mean(bundle.predict(windows.X) == windows.y)))
    assert summary.latency_ms_p50 is not None and summary.latency_ms_p99 >= summary.latency_ms_p50


def test_a_run_at_another_rate_replays_as_its_offline_windows():
    """One activity recorded at 50 Hz in a 20 Hz recording (WISDM 2019 holds one): the
    replay resamples that run, as the offline windows do, so live and evaluate agree."""
    bundle = tiny_bundle()
    frame = recording()
    last = (frame["subject"] == 3) & (frame["activity"] == "standing")   # the last run
    t0 = int(frame.loc[last, "timestamp"].iloc[0])
    n = 66 * 50 // 20 - 1                         # the run's 3.25 s, sampled at 50 Hz
    t = np.arange(n) * 0.02
    fast = pd.DataFrame({"subject": 3, "activity": "standing",
                         "timestamp": t0 + np.arange(n, dtype=np.int64) * 20_000_000,
                         "x": np.sin(2 * np.pi * 1.3 * t).astype(np.float32) - 3,
                         "y": np.float32(5.0), "z": np.cos(t).astype(np.float32)})
    frame = pd.concat([frame[~last], fast], ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    windows = make_windows(frame, bundle.window, labels=bundle.labels)
    standing = (windows.subjects == 3) & (windows.y == bundle.labels.index("standing"))
    assert standing.sum() == (66 - bundle.window.size) // bundle.window.step + 1

    source = ReplaySource(frame, speed="max", window=bundle.window)
    assert source.nominal_rate_hz == 20.0
    clf = StreamingClassifier(bundle, hop=None, smoothing="none", threshold=0.0)
    updates, summary = drain(run_session(source, clf, poll_s=0.0))
    preds = [p for u in updates for p in u.predictions]
    assert len(preds) == len(windows)
    np.testing.assert_allclose(np.array([p.probabilities for p in preds]),
                               bundle.predict_proba(windows.X), atol=1e-5)


def test_hop_one_gives_a_window_per_sample_after_the_first_full_one():
    bundle = tiny_bundle()
    frame = recording()
    breaks = run_starts(frame, bundle.window)
    begins = np.flatnonzero(breaks)
    lengths = np.diff(np.append(begins, len(frame)))
    expected = int(np.clip(lengths - bundle.window.size + 1, 0, None).sum())
    clf = StreamingClassifier(bundle, hop=1, smoothing="none")
    source = ReplaySource(frame, speed="max", window=bundle.window, max_batch=50)
    _, summary = drain(run_session(source, clf, poll_s=0.0))
    assert summary.windows == expected


def test_onnx_engine_agrees_with_torch():
    pytest.importorskip("onnxruntime")
    bundle = tiny_bundle()
    vals = np.random.default_rng(4).normal(size=(80, 3)).astype(np.float32) + [0, 5, 0]
    got = {}
    for engine in ("torch", "onnx"):
        clf = StreamingClassifier(bundle, hop=6, smoothing="none", engine=engine)
        assert clf.engine == engine
        got[engine] = clf.push(SampleBatch(np.arange(80) / 20.0, vals, nominal_rate_hz=20.0))
    assert len(got["torch"]) == len(got["onnx"]) == (80 - 32) // 6 + 1
    np.testing.assert_allclose([p.probabilities for p in got["torch"]],
                               [p.probabilities for p in got["onnx"]], atol=1e-4)
    with pytest.raises(ValueError):
        StreamingClassifier(bundle, engine="tpu")


def test_attention_strip_has_one_row_per_channel():
    bundle = tiny_bundle()
    clf = StreamingClassifier(bundle, hop=4, attention=True)
    n = 40
    batch = SampleBatch(np.arange(n) / 20.0, np.random.default_rng(1).normal(size=(n, 3)).astype(np.float32),
                        nominal_rate_hz=20.0)
    preds = clf.push(batch)
    assert preds and preds[0].attention.shape == (3, bundle.model_config.patch_num)


def test_channels_are_matched_by_name_and_missing_ones_reported():
    bundle = tiny_bundle()
    clf = StreamingClassifier(bundle, hop=1)
    assert clf.check_channels(("x", "y")) is not None
    assert clf.check_channels(("gx", "z", "y", "x")) is None
    n = 40
    vals = np.random.default_rng(2).normal(size=(n, 3)).astype(np.float32)
    straight = clf.push(SampleBatch(np.arange(n) / 20.0, vals, channels=("x", "y", "z"), nominal_rate_hz=20.0))
    clf2 = StreamingClassifier(bundle, hop=1)
    shuffled = clf2.push(SampleBatch(np.arange(n) / 20.0, vals[:, ::-1].copy(), channels=("z", "y", "x"),
                                     nominal_rate_hz=20.0))
    np.testing.assert_allclose([p.probabilities for p in straight], [p.probabilities for p in shuffled])
    with pytest.raises(ValueError):
        run_session(ReplaySource(recording(), channels=("x", "y")), StreamingClassifier(bundle)).send(None)


# ------------------------------------------------------------------------------ smoothing

class ScriptedBundle:
    """A stand-in model: the class is the rounded mean of channel 0 over the window's last
    sample, with the given confidence in channel 1."""

    def __init__(self) -> None:
        self.window = WindowConfig(size=4, step=1, rate_hz=10.0)
        self.labels = ["a", "b", "c"]
        self.channels = ["x", "y"]

    def predict_proba(self, X):
        cls = X[:, -1, 0].astype(int)
        conf = X[:, -1, 1]
        out = np.tile(((1 - conf) / 2)[:, None], (1, 3))
        out[np.arange(len(X)), cls] = conf
        return out


def scripted(classes, confs):
    n = len(classes) + 3
    cls = np.concatenate([[0, 0, 0], classes]).astype(np.float32)
    conf = np.concatenate([[0.9, 0.9, 0.9], confs]).astype(np.float32)
    return SampleBatch(np.arange(n) / 10.0, np.stack([cls, conf], axis=1), nominal_rate_hz=10.0)


def test_mean_majority_none_smoothing_and_threshold():
    classes = [0, 1, 1, 2, 1]
    confs = [0.9, 0.6, 0.6, 0.95, 0.4]
    none = StreamingClassifier(ScriptedBundle(), hop=1, smoothing="none", threshold=0.5).push(scripted(classes, confs))
    assert [p.class_index for p in none] == classes
    assert none[-1].label == UNCERTAIN and none[1].label == "b"

    mean = StreamingClassifier(ScriptedBundle(), hop=1, smoothing="mean", smooth_k=3, threshold=0.0)
    got = mean.push(scripted(classes, confs))
    probs = ScriptedBundle().predict_proba(np.stack([np.stack([np.full(4, c), np.full(4, f)], 1)
                                                     for c, f in zip(classes, confs, strict=True)]))
    for i, p in enumerate(got):
        ref = probs[max(0, i - 2):i + 1].mean(axis=0)
        np.testing.assert_allclose(p.probabilities, ref, rtol=1e-6)
        assert p.class_index == int(np.argmax(ref))

    major = StreamingClassifier(ScriptedBundle(), hop=1, smoothing="majority", smooth_k=3, threshold=0.0)
    got = major.push(scripted(classes, confs))
    # windows: [0], [0,1], [0,1,1], [1,1,2], [1,2,1] -> ties go to the latest vote
    assert [p.class_index for p in got] == [0, 1, 1, 1, 1]


def test_a_run_break_resets_smoothing_and_buffer():
    clf = StreamingClassifier(ScriptedBundle(), hop=1, smoothing="mean", smooth_k=5, threshold=0.0)
    first = clf.push(scripted([2, 2], [0.9, 0.9]))
    assert len(first) == 2
    # 1 s later (> 4 periods of 0.1 s): a new run, needing 4 new samples for a window
    vals = np.stack([np.zeros(4), np.full(4, 0.9)], 1).astype(np.float32)
    later = clf.push(SampleBatch(first[-1].t + 1.0 + np.arange(4) / 10.0, vals, nominal_rate_hz=10.0))
    assert len(later) == 1 and later[0].class_index == 0
    assert later[0].probabilities == pytest.approx([0.9, 0.05, 0.05])


# ------------------------------------------------------------------------------ ring/resampler

def test_ring_buffer_keeps_the_latest_rows_contiguously():
    ring = RingBuffer(5, 2)
    ring.append(np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(ring.latest(), [[0, 1], [2, 3], [4, 5]])
    ring.append(np.arange(6, 14).reshape(4, 2))  # wraps
    assert len(ring) == 5 and ring.total == 7
    np.testing.assert_array_equal(ring.latest(2), [[10, 11], [12, 13]])
    np.testing.assert_array_equal(ring.latest()[:, 0], [4, 6, 8, 10, 12])
    ring.append(np.arange(100).reshape(50, 2))  # more than capacity at once
    np.testing.assert_array_equal(ring.latest()[:, 0], np.arange(90, 100, 2))
    one = RingBuffer(3)
    one.append(np.array([1.0]))
    one.append(np.array([2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(one.latest(), [2, 3, 4])
    one.clear()
    assert len(one) == 0 and one.latest().shape == (0,)


def test_ring_buffer_rows_one_at_a_time_read_as_appended_together():
    rows = np.arange(22, dtype=np.float32).reshape(11, 2)
    one_by_one, together = RingBuffer(4, 2), RingBuffer(4, 2)
    for i, row in enumerate(rows):
        one_by_one.append_row(row)
        together.append(rows[i:i + 1])
        np.testing.assert_array_equal(one_by_one.latest(), together.latest())
        assert len(one_by_one) == len(together) and one_by_one.total == together.total == i + 1
        for back in range(1, len(together) + 1):
            np.testing.assert_array_equal(one_by_one.back(back), together.latest(back)[0])


def test_resampler_interpolates_onto_the_grid_across_batches():
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.01, 0.03, size=300)) + 5.0   # ~50 Hz, irregular
    values = np.stack([2.0 * t, -t + 1], axis=1).astype(np.float64)
    whole = Resampler(20.0).push(SampleBatch(t, values.astype(np.float32)))
    pieces = Resampler(20.0)
    parts = [pieces.push(SampleBatch(t[i:i + 17], values[i:i + 17].astype(np.float32)))
             for i in range(0, len(t), 17)]
    one_by_one = Resampler(20.0)
    singles = [one_by_one.push(SampleBatch(t[i:i + 1], values[i:i + 1].astype(np.float32),
                                           channels=("a", "b"))) for i in range(len(t))]
    assert sum(len(s) == 0 for s in singles) > 100 and singles[-1].channels == ("a", "b")
    np.testing.assert_allclose(np.concatenate([s.t for s in singles]), whole.t)
    got_t = np.concatenate([p.t for p in parts])
    got_v = np.concatenate([p.values for p in parts])
    np.testing.assert_allclose(got_t, whole.t)
    np.testing.assert_allclose(got_v, whole.values, rtol=1e-6)
    np.testing.assert_allclose(np.diff(whole.t), 0.05)
    assert whole.t[0] == t[0] and whole.t[-1] <= t[-1]
    np.testing.assert_allclose(whole.values[:, 0], 2.0 * whole.t, rtol=1e-5)
    assert whole.breaks[0] and not whole.breaks[1:].any()


def test_resampler_restarts_after_a_gap_and_passes_matching_rates_through():
    r = Resampler(10.0, max_gap_s=0.5)
    t = np.concatenate([np.arange(10) * 0.1, 5.0 + np.arange(10) * 0.1])
    out = r.push(SampleBatch(t, np.ones((20, 1), np.float32), truth=["a"] * 10 + ["b"] * 10))
    assert np.flatnonzero(out.breaks).tolist() == [0, 10]
    assert out.t[10] == pytest.approx(5.0) and out.truth[10] == "b"
    same = SampleBatch(np.arange(5) * 0.1, np.ones((5, 1), np.float32), nominal_rate_hz=10.0)
    assert r.push(same) is same


# ------------------------------------------------------------------------------ replay pacing

def test_replay_follows_the_clock_at_1x_and_10x():
    frame = recording()
    for speed, step in ((1.0, 1.0), (10.0, 0.1)):
        clock = FakeClock()
        src = ReplaySource(frame, subject=7, activity="walking", speed=speed, clock=clock)
        src.start()
        first = src.read()
        assert len(first) == 1 and first.truth == ["walking"]
        clock.now += step * (1 + 1e-9)   # 1 s of recording
        assert len(src.read()) == 20     # samples at 0.05 .. 1.0 s
        clock.now += step / 2
        assert len(src.read()) == 10
        assert src.stats().position_s == pytest.approx(1.5)


def test_replay_pause_seek_loop_and_the_end():
    clock = FakeClock()
    frame = recording()
    src = ReplaySource(frame, subject=3, activity="standing", speed=2.0, clock=clock)
    n = len(frame[(frame.subject == 3) & (frame.activity == "standing")])
    src.start()
    src.read()
    src.pause()
    clock.now += 10
    assert len(src.read()) == 0 and src.paused
    src.resume()
    clock.now += 0.5 + 1e-9               # 1 s of recording at 2x
    assert len(src.read()) == 20
    src.seek(3.0)
    batch = src.read()
    assert len(batch) == 1 and batch.breaks[0]
    assert src.stats().position_s == pytest.approx(3.0)
    clock.now += 100
    rest = src.read()
    assert src.finished and src.stats().finished
    assert len(rest) == n - 61
    assert np.all(np.diff(np.concatenate([batch.t, rest.t])) > 0)

    looping = ReplaySource(frame, subject=3, activity="standing", speed="max", loop=True,
                           max_batch=n + 10)
    looping.start()
    got = looping.read()
    assert len(got) == n + 10 and not looping.finished
    assert got.breaks[n] and np.all(np.diff(got.t) > 0)


def test_replay_rejects_an_empty_selection():
    with pytest.raises(ValueError, match="subject 99"):
        ReplaySource(recording(), subject=99)


def test_session_stops_on_control_and_pauses_replay():
    bundle = tiny_bundle()
    clock = FakeClock()
    src = ReplaySource(recording(), speed=1.0, clock=clock)
    control = LiveControl()
    gen = run_session(src, StreamingClassifier(bundle), control, poll_s=0.0)
    next(gen)
    control.pause()
    next(gen)
    assert src.paused
    control.resume()
    next(gen)
    assert not src.paused
    control.stop()
    _, summary = drain(gen)
    assert summary.stopped_reason == "stopped" and not math.isnan(summary.duration_s)


def test_one_window_pushes_use_the_batch_one_session_with_the_same_numbers():
    pytest.importorskip("onnxruntime")
    bundle = tiny_bundle()
    vals = np.random.default_rng(5).normal(size=(60, 3)).astype(np.float32) + [0, 5, 0]
    t = np.arange(60) / 20.0
    clf = StreamingClassifier(bundle, hop=4, smoothing="none", engine="auto")
    sessions = clf._onnx
    assert clf.engine == "auto" and sessions.batch1 is not None
    calls = []
    for name in ("general", "batch1"):
        real = getattr(sessions, name)

        class Spy:
            def run(self, outputs, feeds, name=name, real=real):
                calls.append((name, len(feeds["windows"])))
                return real.run(outputs, feeds)

        setattr(sessions, name, Spy())
    one_by_one = [p for i in range(60)
                  for p in clf.push(SampleBatch(t[i:i + 1], vals[i:i + 1], nominal_rate_hz=20.0))]
    assert calls and all(c == ("batch1", 1) for c in calls)
    calls.clear()
    clf.reset()
    at_once = clf.push(SampleBatch(t, vals, nominal_rate_hz=20.0))
    assert calls == [("general", len(at_once))] and len(at_once) > 1
    np.testing.assert_allclose([p.probabilities for p in one_by_one],
                               [p.probabilities for p in at_once], rtol=0, atol=1e-6)
