"""Windowing (run boundaries, gaps, counts, label order) and splits (subject, random, folds,
normaliser) of the core data package."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from har_studio.data.activities import activity_order
from har_studio.data.splits import (
    RANDOM_SPLIT_WARNING,
    Normaliser,
    SplitConfig,
    split_windows,
    subject_folds,
)
from har_studio.data.windows import (
    WindowConfig,
    Windows,
    at_rate,
    make_windows,
    run_rates,
    run_starts,
)

PERIOD_NS = 50_000_000  # 20 Hz


def make_frame(runs, channels=("x", "y", "z"), gaps=None) -> pd.DataFrame:
    """Tidy frame from runs [(subject, activity, n_samples)]; consecutive runs of one subject
    follow each other in time. `gaps` {global row index: extra periods} inserts time gaps
    before that row. Channel x holds the global row index, so windows show which rows they hold.
    """
    subjects, acts, ts = [], [], []
    t = 10**12
    for subject, activity, n in runs:
        subjects += [subject] * n
        acts += [activity] * n
        for _ in range(n):
            t += PERIOD_NS
            ts.append(t)
    ts = np.array(ts, dtype=np.int64)
    for row, periods in (gaps or {}).items():
        ts[row:] += int(periods * PERIOD_NS)
    n = len(ts)
    frame = pd.DataFrame({
        "subject": np.array(subjects, dtype=np.int64),
        "activity": pd.Categorical(acts),
        "timestamp": ts,
    })
    rng = np.random.default_rng(0)
    for i, c in enumerate(channels):
        frame[c] = (np.arange(n) if i == 0 else rng.normal(size=n)).astype(np.float32)
    return frame


def naive_windows(frame: pd.DataFrame, config: WindowConfig, channels, labels):
    """Slow reference: walk the rows, cut windows within each unbroken run."""
    values = frame[channels].to_numpy(np.float32)
    subj = frame["subject"].to_numpy()
    act = frame["activity"].astype(str).to_numpy()
    ts = frame["timestamp"].to_numpy()
    max_gap = config.max_gap_periods * 1e9 / config.rate_hz
    runs, begin = [], 0
    for i in range(1, len(frame) + 1):
        if i == len(frame) or subj[i] != subj[i - 1] or act[i] != act[i - 1] \
                or ts[i] - ts[i - 1] > max_gap or ts[i] < ts[i - 1]:
            runs.append((begin, i))
            begin = i
    X, y, s, starts = [], [], [], []
    for b, e in runs:
        if act[b] not in labels:
            continue
        k = b
        while k + config.size <= e:
            X.append(values[k:k + config.size])
            y.append(labels.index(act[b]))
            s.append(subj[b])
            starts.append(ts[k])
            k += config.step
    return (np.array(X, np.float32).reshape(-1, config.size, len(channels)),
            np.array(y, np.int64), np.array(s, np.int64), np.array(starts, np.int64))


# --------------------------------------------------------------------------- windows
def test_window_count_per_run():
    frame = make_frame([(1, "walking", 100), (1, "jogging", 31), (2, "walking", 64)])
    cfg = WindowConfig(size=32, step=16)
    w = make_windows(frame, cfg)
    # (100-32)//16+1 = 5, 31 < 32 -> 0, (64-32)//16+1 = 3
    assert len(w) == 8
    assert w.class_counts() == {"walking": 8, "jogging": 0}
    assert w.X.shape == (8, 32, 3) and w.X.dtype == np.float32
    assert w.y.dtype == np.int64 and w.subjects.dtype == np.int64


def test_windows_never_cross_subject_or_activity():
    frame = make_frame([(1, "walking", 50), (1, "sitting", 50), (2, "sitting", 50),
                        (3, "walking", 50)])
    w = make_windows(frame, WindowConfig(size=20, step=7))
    rows = w.X[:, :, 0].astype(np.int64)           # channel x = global row index
    assert np.all(np.diff(rows, axis=1) == 1)       # consecutive rows
    subj = frame["subject"].to_numpy()
    act = frame["activity"].astype(str).to_numpy()
    for r, label, s in zip(rows, w.y, w.subjects, strict=True):
        assert len(set(subj[r])) == 1 and subj[r[0]] == s
        assert len(set(act[r])) == 1 and act[r[0]] == w.labels[label]
    assert len(w) == 4 * ((50 - 20) // 7 + 1)


def test_gap_breaks_a_run_but_small_jitter_does_not():
    cfg = WindowConfig(size=32, step=16, max_gap_periods=4.0)
    base = make_frame([(1, "walking", 100)])
    assert len(make_windows(base, cfg)) == 5
    big_gap = make_frame([(1, "walking", 100)], gaps={50: 4.0})   # interval = 5 periods
    w = make_windows(big_gap, cfg)
    assert len(w) == 2 * ((50 - 32) // 16 + 1)
    rows = w.X[:, :, 0].astype(np.int64)
    assert not np.any((rows[:, 0] < 50) & (rows[:, -1] >= 50))
    small_gap = make_frame([(1, "walking", 100)], gaps={50: 2.5})  # 3.5 periods: same run
    assert len(make_windows(small_gap, cfg)) == 5
    assert run_starts(big_gap, cfg).sum() == 2
    assert run_starts(small_gap, cfg).sum() == 1


def _sine_run(subject, activity, rate_hz, seconds, t0_ns, hz=2.0):
    """One run of a `hz` sine on x (y, z constant) sampled at `rate_hz` from `t0_ns`."""
    n = int(round(seconds * rate_hz))
    t = t0_ns + np.round(np.arange(n) * 1e9 / rate_hz).astype(np.int64)
    x = np.sin(2 * np.pi * hz * (t - t0_ns) / 1e9).astype(np.float32)
    return pd.DataFrame({"subject": subject, "activity": activity, "timestamp": t,
                         "x": x, "y": np.float32(9.8), "z": np.float32(0.0)})


def test_a_run_at_another_rate_is_resampled_to_the_window_rate():
    """WISDM 2019 holds a phone at 25 Hz and a 50 Hz jogging run among 20 Hz recordings: a
    window must cover the same 6.4 s and a gait keep its frequency, whatever the phone."""
    cfg = WindowConfig(size=64, step=32, rate_hz=20.0)
    frame = pd.concat([_sine_run(1, "walking", 20.0, 30, 10**12),
                       _sine_run(1, "jogging", 50.0, 30, 10**12 + 40 * 10**9),
                       _sine_run(2, "walking", 25.06, 30, 10**12)], ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    begin, end, rates = run_rates(frame, cfg)
    assert np.allclose(rates, [20.0, 50.0, 25.06], rtol=1e-3)
    w = make_windows(frame, cfg)
    counts = {(int(s), w.labels[int(y)]): int(((w.subjects == s) & (w.y == y)).sum())
              for s, y in {(s, y) for s, y in zip(w.subjects, w.y, strict=True)}}
    per_run = (30 * 20 - 64) // 32 + 1          # 30 s at 20 Hz, whatever it was recorded at
    assert counts == {(1, "walking"): per_run, (1, "jogging"): per_run, (2, "walking"): per_run}
    # every window holds the 2 Hz sine at 20 Hz: consecutive samples 0.05 s apart
    t = np.arange(64) / 20.0
    for X, start in zip(w.X, w.starts, strict=True):
        phase = 2 * np.pi * 2.0 * ((start - 10**12) % 10**9) / 1e9
        expected = np.sin(2 * np.pi * 2.0 * t + phase)
        assert np.abs(X[:, 0] - expected).max() < 0.1   # linear interpolation of a sine
    assert np.all(np.diff(w.starts[w.subjects == 2]) == 32 * 50_000_000)


def test_runs_at_the_rate_are_left_alone():
    cfg = WindowConfig(size=32, step=16)
    frame = make_frame([(1, "walking", 100), (2, "sitting", 80)])
    assert at_rate(frame, cfg.rate_hz) is frame          # nothing to resample: the same table
    # a few repeated timestamps do not make a 20 Hz run another rate (median interval)
    repeated = frame.copy()
    ts = repeated["timestamp"].to_numpy().copy()
    ts[10:20] = ts[10]
    repeated["timestamp"] = ts
    assert at_rate(repeated, cfg.rate_hz) is repeated
    # a recording at 50 Hz windowed for a 50 Hz model is not resampled either
    fast = _sine_run(1, "walking", 50.0, 10, 10**12)
    assert at_rate(fast, 50.0) is fast
    # timestamps that give no sensor's rate (microseconds read as ns: 20 kHz) are a clock
    # problem, not a phone: the run is windowed as recorded, not squeezed to a few samples
    odd = make_frame([(1, "walking", 100)])
    odd["timestamp"] = 10**12 + np.arange(100, dtype=np.int64) * 50_000
    assert at_rate(odd, cfg.rate_hz) is odd
    assert len(make_windows(odd, cfg)) == 5


def test_backwards_timestamp_breaks_a_run():
    frame = make_frame([(1, "walking", 80)])
    ts = frame["timestamp"].to_numpy().copy()
    ts[40:] -= 10 * PERIOD_NS
    frame["timestamp"] = ts
    assert run_starts(frame, WindowConfig(size=16, step=8)).sum() == 2


def test_vectorised_equals_naive_reference():
    rng = np.random.default_rng(5)
    runs = [(int(rng.integers(1, 5)), str(rng.choice(["walking", "jogging", "sitting"])),
             int(rng.integers(5, 90))) for _ in range(25)]
    gaps = {int(g): float(rng.uniform(0, 9)) for g in rng.integers(1, 1000, size=6)}
    frame = make_frame(runs, gaps={g: p for g, p in gaps.items()
                                   if g < sum(n for *_, n in runs)})
    for size, step in ((16, 8), (20, 20), (10, 3), (33, 50)):
        cfg = WindowConfig(size=size, step=step)
        w = make_windows(frame, cfg)
        X, y, s, starts = naive_windows(frame, cfg, ["x", "y", "z"], w.labels)
        assert len(w) == len(X) > 0
        np.testing.assert_array_equal(w.X, X)
        np.testing.assert_array_equal(w.y, y)
        np.testing.assert_array_equal(w.subjects, s)
        np.testing.assert_array_equal(w.starts, starts)


def test_label_order_default_filter_and_fixed():
    frame = make_frame([(1, "walking", 40), (1, "sitting", 40), (1, "jogging", 40),
                        (1, "upstairs", 40)])
    cfg = WindowConfig(size=20, step=20)
    w = make_windows(frame, cfg)
    assert w.labels == activity_order(["walking", "sitting", "jogging", "upstairs"])
    assert w.labels == ["walking", "jogging", "sitting", "upstairs"]
    # activities filters, order still canonical
    f = make_windows(frame, cfg, activities=["upstairs", "walking"])
    assert f.labels == ["walking", "upstairs"]
    assert f.class_counts() == {"walking": 2, "upstairs": 2}
    # labels fixes class indices (a model's own order); other activities dropped
    fixed = make_windows(frame, cfg, labels=["sitting", "walking", "lying"])
    assert fixed.labels == ["sitting", "walking", "lying"]
    assert fixed.class_counts() == {"sitting": 2, "walking": 2, "lying": 0}
    act = frame["activity"].astype(str).to_numpy()
    rows = fixed.X[:, 0, 0].astype(np.int64)
    assert [fixed.labels[k] for k in fixed.y] == list(act[rows])


def test_channel_selection_and_missing_channel():
    frame = make_frame([(1, "walking", 40)], channels=("x", "y", "z", "gx", "gy", "gz"))
    cfg = WindowConfig(size=20, step=10)
    assert make_windows(frame, cfg).channels == ["x", "y", "z", "gx", "gy", "gz"]
    w = make_windows(frame, cfg, channels=["gz", "x"])
    assert w.channels == ["gz", "x"] and w.X.shape[2] == 2
    np.testing.assert_array_equal(w.X[:, :, 1], w.X[:, :, 1].astype(np.int64))  # x = row index
    with pytest.raises(ValueError, match="no channel"):
        make_windows(make_frame([(1, "walking", 40)]), cfg, channels=["gx"])


def test_short_or_empty_data_gives_empty_windows():
    cfg = WindowConfig(size=50, step=10)
    w = make_windows(make_frame([(1, "walking", 20), (2, "walking", 49)]), cfg)
    assert len(w) == 0 and w.X.shape == (0, 50, 3)
    assert w.class_counts() == {"walking": 0}
    empty = make_windows(make_frame([(1, "walking", 100)]), cfg, activities=["sitting"])
    assert len(empty) == 0


def test_subset_keeps_everything_aligned():
    w = make_windows(make_frame([(1, "walking", 60), (2, "sitting", 60)]),
                     WindowConfig(size=20, step=10))
    idx = np.array([0, len(w) - 1])
    sub = w.subset(idx)
    assert isinstance(sub, Windows) and len(sub) == 2
    np.testing.assert_array_equal(sub.X, w.X[idx])
    assert list(sub.subjects) == [1, 2] and sub.labels == w.labels


def test_window_config_validation_and_round_trip():
    cfg = WindowConfig(size=64, step=16, rate_hz=50.0, max_gap_periods=2.0)
    assert WindowConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"size": 1}, {"step": 0}, {"rate_hz": 0}):
        with pytest.raises(ValueError):
            WindowConfig(**bad)


# --------------------------------------------------------------------------- splits
def _many_subject_windows(n_subjects=8, per=60):
    runs = [(s, a, per) for s in range(1, n_subjects + 1) for a in ("walking", "sitting")]
    return make_windows(make_frame(runs), WindowConfig(size=20, step=10))


def test_subject_split_is_disjoint_and_complete():
    w = _many_subject_windows()
    sp = split_windows(w, SplitConfig(kind="subject", test_fraction=0.25, val_fraction=0.125,
                                      seed=3))
    sets = [set(w.subjects[sp.train]), set(w.subjects[sp.val]), set(w.subjects[sp.test])]
    assert all(sets)
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    all_idx = np.concatenate([sp.train, sp.val, sp.test])
    assert sorted(all_idx) == list(range(len(w)))
    assert sorted(sp.test_subjects) == sorted(sets[2]) and len(sp.test_subjects) == 2
    assert len(sp.val_subjects) == 1 and len(sp.train_subjects) == 5
    assert sp.warning is None
    d = sp.to_dict()
    assert d["train_windows"] + d["val_windows"] + d["test_windows"] == len(w)


def test_subject_split_seeded():
    w = _many_subject_windows()
    a = split_windows(w, SplitConfig(seed=1))
    b = split_windows(w, SplitConfig(seed=1))
    picks = {tuple(split_windows(w, SplitConfig(seed=s)).test_subjects) for s in range(10)}
    assert a.test_subjects == b.test_subjects and a.val_subjects == b.val_subjects
    assert len(picks) > 1


def test_subject_split_explicit_subjects():
    w = _many_subject_windows()
    sp = split_windows(w, SplitConfig(test_subjects=(2, 7), val_subjects=(5,)))
    assert sp.test_subjects == [2, 7] and sp.val_subjects == [5]
    assert set(w.subjects[sp.test]) == {2, 7} and set(w.subjects[sp.val]) == {5}
    assert 2 not in sp.train_subjects and 5 not in sp.train_subjects
    with pytest.raises(ValueError, match="99"):
        split_windows(w, SplitConfig(test_subjects=(99,)))
    with pytest.raises(ValueError):
        SplitConfig(test_subjects=(1,), val_subjects=(1,))


def test_subject_split_needs_a_training_subject():
    w = make_windows(make_frame([(1, "walking", 60), (2, "walking", 60)]),
                     WindowConfig(size=20, step=10))
    with pytest.raises(ValueError, match="training subject"):
        split_windows(w, SplitConfig(test_subjects=(1,), val_subjects=(2,)))


def test_random_split_sizes_disjoint_and_warning():
    w = _many_subject_windows()
    sp = split_windows(w, SplitConfig(kind="random", test_fraction=0.2, val_fraction=0.1,
                                      seed=4))
    n = len(w)
    assert len(sp.test) == round(0.2 * n) and len(sp.val) == round(0.1 * n)
    assert len(sp.train) == n - len(sp.test) - len(sp.val)
    assert not set(sp.train) & set(sp.test) and not set(sp.val) & set(sp.test)
    assert sorted(np.concatenate([sp.train, sp.val, sp.test])) == list(range(n))
    assert sp.warning == RANDOM_SPLIT_WARNING
    # subjects are shared across splits: that is why it leaks
    assert set(w.subjects[sp.train]) & set(w.subjects[sp.test])
    again = split_windows(w, SplitConfig(kind="random", test_fraction=0.2, val_fraction=0.1,
                                         seed=4))
    np.testing.assert_array_equal(sp.test, again.test)


def test_split_config_validation_and_round_trip():
    cfg = SplitConfig(kind="subject", test_subjects=(3,), val_subjects=(4, 5), seed=9)
    assert SplitConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        SplitConfig(kind="folds")
    with pytest.raises(ValueError):
        SplitConfig(test_fraction=0.6, val_fraction=0.5)


def test_subject_folds_partition():
    subjects = [1, 2, 3, 5, 8, 13, 21]
    folds = subject_folds(subjects + [3, 5], k=3, seed=2)
    assert len(folds) == 3
    flat = [s for f in folds for s in f]
    assert sorted(flat) == subjects
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    assert folds == subject_folds(subjects, k=3, seed=2)
    for bad_k in (1, 8):
        with pytest.raises(ValueError):
            subject_folds(subjects, k=bad_k)


# ----------------------------------------------------------------------- normaliser
def test_normaliser_fit_on_train_only():
    rng = np.random.default_rng(0)
    train = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(200, 16, 3))
    test = rng.normal(loc=[10.0, 10.0, 10.0], scale=1.0, size=(100, 16, 3))
    norm = Normaliser.fit(train.astype(np.float32))
    z = norm.apply(train.astype(np.float32))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1, atol=1e-3)
    both = Normaliser.fit(np.concatenate([train, test]).astype(np.float32))
    assert np.all(np.abs(both.mean - norm.mean) > 1.0)   # fitting on all data would differ
    assert norm.apply(test.astype(np.float32)).mean() > 3  # test stays off-centre


def test_prepared_data_normaliser_uses_train_windows_only():
    from har_studio.training import prepare

    runs = [(s, a, 80) for s in range(1, 7) for a in ("walking", "sitting")]
    frame = make_frame(runs)
    # make the test subjects' values very different so leakage would show
    frame.loc[frame["subject"] >= 5, "y"] += 50.0
    prepared = prepare.prepare_data(frame, WindowConfig(size=20, step=10),
                                    SplitConfig(test_subjects=(5, 6), val_subjects=(4,)))
    expected = Normaliser.fit(prepared.train.X)
    np.testing.assert_allclose(prepared.normaliser.mean, expected.mean, rtol=1e-5)
    np.testing.assert_allclose(prepared.normaliser.std, expected.std, rtol=1e-5)
    assert prepared.normaliser.mean[1] < 5


def test_normaliser_constant_channel_identity_and_round_trip():
    X = np.ones((10, 8, 2), np.float32)
    X[..., 1] = np.arange(80, dtype=np.float32).reshape(10, 8)
    norm = Normaliser.fit(X)
    assert norm.std[0] == 1.0                       # constant channel is not divided by 0
    assert np.isfinite(norm.apply(X)).all()
    back = Normaliser.from_dict(norm.to_dict())
    np.testing.assert_allclose(back.mean, norm.mean)
    np.testing.assert_allclose(back.std, norm.std)
    ident = Normaliser.identity(2)
    np.testing.assert_array_equal(ident.apply(X), X)
    for bad in ({"mean": [0.0], "std": [0.0]}, {"mean": [0.0, 1.0], "std": [1.0]},
                {"mean": [float("nan")], "std": [1.0]}):
        with pytest.raises(ValueError):
            Normaliser.from_dict(bad)
