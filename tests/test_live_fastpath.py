"""The live path's shortcuts give exactly what the general code gives (issue 14: the work
outside the model on a phone's one-sample pushes)."""

from __future__ import annotations

import numpy as np

from har_studio.live.ring import Resampler
from har_studio.live.source import SampleBatch


def _stream(seed: int, n: int = 400):
    """A jittery 50 Hz phone stream with a gap, time going backwards and a repeated stamp."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.012, 0.028, n))
    t[150:] += 1.0                 # a gap (a new run)
    t[220] = t[219]                # a repeated timestamp
    t[300:] -= 0.5                 # time going backwards
    values = rng.normal(size=(n, 3)).astype(np.float32) + (0, 9.8, 0)
    truth = [["walking", "sitting"][(i // 90) % 2] for i in range(n)]
    arrival = 1000.0 + np.arange(n) * 0.02
    return t, values.astype(np.float32), truth, arrival


def _push_each(resampler, t, values, truth, arrival):
    out = []
    for i in range(len(t)):
        breaks = None if i % 3 else np.array([i % 6 == 0 and i % 60 == 0])  # as sources mark
        out.append(resampler.push(SampleBatch(t[i:i + 1], values[i:i + 1], truth[i:i + 1],
                                              channels=("x", "y", "z"), breaks=breaks,
                                              arrival=arrival[i:i + 1])))
    return out


def test_one_sample_pushes_equal_the_general_resampler(monkeypatch):
    for seed in range(3):
        stream = _stream(seed)
        fast = Resampler(20.0, max_gap_s=0.2)
        got = _push_each(fast, *stream)
        general = Resampler(20.0, max_gap_s=0.2)
        monkeypatch.setattr(general, "_push_one", lambda batch: None)
        want = _push_each(general, *stream)
        assert sum(len(b) for b in got) > 150
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a.t, b.t)
            np.testing.assert_array_equal(a.values, b.values)
            assert a.values.dtype == b.values.dtype == np.float32
            if len(b):
                np.testing.assert_array_equal(a.breaks, b.breaks)
                np.testing.assert_array_equal(a.arrival, b.arrival)
                assert list(a.truth) == list(b.truth)
                assert a.channels == b.channels


def _classify_each(clf, t, values, truth, arrival):
    preds = []
    for i in range(len(t)):
        breaks = None if i != 260 else np.array([True])
        preds += clf.push(SampleBatch(t[i:i + 1], values[i:i + 1], truth[i:i + 1],
                                      channels=("x", "y", "z"), breaks=breaks,
                                      arrival=arrival[i:i + 1]))
    return preds


def test_one_sample_pushes_give_the_general_predictions(monkeypatch):
    from test_live_classifier import tiny_bundle

    from har_studio.live.classifier import StreamingClassifier

    bundle = tiny_bundle()
    size = bundle.window.size
    t, values, truth, arrival = _stream(4, n=3 * size + 300)
    t = t * 0 + np.cumsum(np.full(len(t), 1 / bundle.window.rate_hz))   # on the model's grid
    t[size + 50:] += 5.0                # a gap: a new run
    t[2 * size + 20:] -= 20.0           # time going backwards: a new run
    batches = (t, values, truth, arrival)
    for smoothing in ("none", "mean"):
        ticks = iter(np.arange(10_000) * 1e-3)
        fast = StreamingClassifier(bundle, hop=3, smoothing=smoothing, clock=ticks.__next__)
        got = _classify_each(fast, *batches)
        ticks = iter(np.arange(10_000) * 1e-3)
        general = StreamingClassifier(bundle, hop=3, smoothing=smoothing, clock=ticks.__next__)
        monkeypatch.setattr(general, "_push_one", lambda batch, pushed_at: None)
        want = _classify_each(general, *batches)
        assert len(got) == len(want) > 30
        for a, b in zip(got, want, strict=True):
            assert (a.t, a.window_start_t, a.truth, a.label, a.index) == \
                (b.t, b.window_start_t, b.truth, b.label, b.index)
            np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-6)
            assert a.latency_ms == b.latency_ms and a.queue_ms == b.queue_ms
