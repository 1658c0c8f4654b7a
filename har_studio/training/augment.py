""""Another phone, another pocket": rotations, gain and cadence changes of raw recordings.

Two uses:

- ``perturb_frame`` scores a model on people as if they carried another phone in another
  pocket: each subject's recording gets one fixed random 3-D rotation of the phone, one gain
  (every acceleration times a factor in 1 +- ``gain``) and one cadence change (the motion
  played faster or slower by a factor in 1 +- ``cadence``, resampled back onto the original
  sample grid). ``bench/bench_quality.py`` uses it as a second yardstick next to folds over
  the 16 people, which share their phones and pockets.
- ``augment_windows`` makes randomly rotated / scaled / time-scaled copies of raw training
  windows (each window its own draw), for training recipes that should not learn how the
  training people carry their phones.

Everything works on raw units (m/s^2, rad/s) before input features are derived, so derived
inputs (tilt, vertical and horizontal body acceleration) see the rotation as a phone would.
Pure numpy, seeded, Qt-free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.alignment import sensor_columns
from ..data.features import ACC, GYRO


def random_rotation(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Uniformly random proper rotation matrices (det +1): ``[3, 3]``, or ``[n, 3, 3]``.
    From uniformly random unit quaternions (Shoemake's method)."""
    count = 1 if n is None else int(n)
    u1, u2, u3 = rng.random((3, count))
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    w, x = a * np.sin(2 * np.pi * u2), a * np.cos(2 * np.pi * u2)
    y, z = b * np.sin(2 * np.pi * u3), b * np.cos(2 * np.pi * u3)
    R = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], axis=1).reshape(count, 3, 3)
    return R[0] if n is None else R


def upright_rotation(rng: np.random.Generator, n: int | None = None,
                     tilt_deg: float = 20.0) -> np.ndarray:
    """Random rotations of a phone already aligned upright (``data.alignment``): a uniform
    turn about the upright axis (+y: any way round in the pocket) after a small tilt
    (normal, `tilt_deg` standard deviation, about a random horizontal axis) for the error of
    the person's estimated upright. ``[3, 3]`` or ``[n, 3, 3]``."""
    count = 1 if n is None else int(n)
    theta = rng.uniform(0, 2 * np.pi, count)
    c, s = np.cos(theta), np.sin(theta)
    turn = np.zeros((count, 3, 3))
    turn[:, 0, 0], turn[:, 0, 2], turn[:, 1, 1] = c, s, 1
    turn[:, 2, 0], turn[:, 2, 2] = -s, c
    phi = rng.normal(0, np.radians(tilt_deg), count)
    heading = rng.uniform(0, 2 * np.pi, count)
    kx, kz = np.cos(heading), np.sin(heading)          # unit axis (kx, 0, kz)
    K = np.zeros((count, 3, 3))
    K[:, 0, 1], K[:, 1, 0] = -kz, kz
    K[:, 1, 2], K[:, 2, 1] = -kx, kx
    tilt = (np.eye(3)[None] + np.sin(phi)[:, None, None] * K
            + (1 - np.cos(phi))[:, None, None] * (K @ K))
    R = tilt @ turn
    return R[0] if n is None else R


def time_scale(values: np.ndarray, factor: float) -> np.ndarray:
    """A run ``[n, C]`` played `factor` times faster (factor > 1: quicker cadence), resampled
    by linear interpolation onto the same sample period: ``[round((n - 1) / factor) + 1, C]``."""
    values = np.asarray(values, np.float32)
    n = len(values)
    if n < 2 or factor == 1.0:
        return values.copy()
    count = int(np.floor((n - 1) / factor)) + 1
    positions = np.arange(count) * factor
    base = np.arange(n)
    return np.stack([np.interp(positions, base, values[:, c]) for c in range(values.shape[1])],
                    axis=1).astype(np.float32)


def perturb_frame(frame: pd.DataFrame, seed: int = 0, *, rotation: bool = True,
                  gain: float = 0.15, cadence: float = 0.15,
                  rate_hz: float = 20.0) -> pd.DataFrame:
    """The tidy table as if each subject carried another phone in another pocket.

    Per subject (seeded by `seed` and the subject id, so the same person always gets the same
    phone): one random 3-D rotation applied to x, y, z (and gx, gy, gz), every acceleration
    multiplied by a gain in ``[1 - gain, 1 + gain]``, and every contiguous run (subject,
    activity, no gap) time-scaled by a factor in ``[1 - cadence, 1 + cadence]`` on a fresh
    ``1 / rate_hz`` grid. Runs recorded at another rate are first put on that grid
    (``data.windows.at_rate``), so a cadence change is a change of cadence, not of rate.
    Returns a new frame with the same columns."""
    draws: dict[int, tuple[np.ndarray, float, float]] = {}

    def change(subject: int, run: np.ndarray, channels: list[str]):
        if subject not in draws:
            rng = np.random.default_rng([int(seed), subject & 0x7FFFFFFF])
            R = random_rotation(rng) if rotation else np.eye(3)
            draws[subject] = (R, 1 + rng.uniform(-gain, gain), 1 + rng.uniform(-cadence, cadence))
        R, g, c = draws[subject]
        acc, gyro = sensor_columns(channels)
        run = run.copy()
        for group in (acc, gyro):
            if group is not None:
                run[:, group] = run[:, group] @ R.T
        if acc is not None:
            run[:, acc] *= g
        return time_scale(run, c), None

    return map_runs(frame, rate_hz, change)


def map_runs(frame: pd.DataFrame, rate_hz: float, change) -> pd.DataFrame:
    """`frame` put on a ``1/rate_hz`` grid (``data.windows.at_rate``), then every contiguous
    run (subject, activity, no gap) replaced by ``change(subject, values [n, C], channels)``
    -> ``(values [m, C], times)``: `times` in seconds from the run's first sample, or None
    for a ``1/rate_hz`` grid. Returns a new frame with the same columns (sensor columns:
    ``ACC`` and ``GYRO`` present in `frame`)."""
    from ..data.windows import WindowConfig, at_rate, run_starts

    if len(frame) == 0:
        return frame.copy()
    frame = at_rate(frame, rate_hz)
    channels = [c for c in (*ACC, *GYRO) if c in frame.columns]
    begin = np.flatnonzero(run_starts(frame, WindowConfig(rate_hz=rate_hz)))
    end = np.append(begin[1:], len(frame))
    subjects = frame["subject"].to_numpy()
    values = frame[channels].to_numpy(np.float32)
    ts = frame["timestamp"].to_numpy(np.int64)
    period_ns = int(round(1e9 / rate_hz))
    parts: list[pd.DataFrame] = []
    for lo, hi in zip(begin, end, strict=True):
        subject = int(subjects[lo])
        run, times = change(subject, values[lo:hi], channels)
        offsets = (np.arange(len(run), dtype=np.int64) * period_ns if times is None
                   else np.round(np.asarray(times) * 1e9).astype(np.int64))
        part = pd.DataFrame(run, columns=channels)
        part.insert(0, "timestamp", ts[lo] + offsets)
        part.insert(0, "activity", frame["activity"].iloc[lo])
        part.insert(0, "subject", subject)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["subject"] = out["subject"].astype(np.int64)
    if isinstance(frame["activity"].dtype, pd.CategoricalDtype):
        out["activity"] = pd.Categorical(out["activity"].astype(str),
                                         categories=frame["activity"].cat.categories)
    return out[list(frame.columns)]


def augment_windows(X: np.ndarray, channels, rng: np.random.Generator, *,
                    rotation: bool | str = True, gain: float = 0.15,
                    cadence: float = 0.15) -> np.ndarray:
    """Randomly perturbed copies of raw windows ``[n, T, C]`` (same shape): per window, a
    uniform random 3-D rotation of the phone (``rotation="upright"``: a turn about the
    upright axis plus a small tilt, ``upright_rotation``, for windows already aligned per
    person), a gain on the acceleration and a time-scale about the window's centre (edges
    held where a slowed window runs out of samples)."""
    X = np.asarray(X, np.float32)
    out = X.copy()
    n, t, _ = X.shape
    if n == 0:
        return out
    acc, gyro = sensor_columns(channels)
    if rotation:
        R = upright_rotation(rng, n) if rotation == "upright" else random_rotation(rng, n)
        for group in (acc, gyro):
            if group is not None:
                out[:, :, group] = np.einsum("nij,ntj->nti", R, out[:, :, group])
    if gain and acc is not None:
        out[:, :, acc] *= (1 + rng.uniform(-gain, gain, n))[:, None, None].astype(np.float32)
    if cadence:
        factors = 1 + rng.uniform(-cadence, cadence, n)
        centre = (t - 1) / 2
        positions = np.clip(centre + (np.arange(t)[None, :] - centre) * factors[:, None], 0, t - 1)
        lo = np.floor(positions).astype(np.int64)
        hi = np.minimum(lo + 1, t - 1)
        frac = (positions - lo)[:, :, None].astype(np.float32)
        rows = np.arange(n)[:, None]
        out = out[rows, lo] * (1 - frac) + out[rows, hi] * frac
    return np.ascontiguousarray(out, dtype=np.float32)


def expand_training(prepared, copies: int, seed: int = 0, *, gain: float = 0.15,
                    cadence: float = 0.15, pocket: bool = False):
    """`prepared` (a ``PreparedData``) with `copies` perturbed copies of every training
    window added (``augment_windows``: random 3-D rotation, gain, time-scale), the derived
    inputs recomputed; the normaliser and the other parts stay as they were. When the
    features align per person, the copies are made from the aligned windows and turned only
    about the upright axis (with a small tilt); the expanded ``train`` windows are then in
    the aligned frame, and what the engine reads is ``inputs("train")``, derived here.
    With `pocket` (``TrainConfig.augment_pocket``) each copy then also goes through
    ``perturb.pocket_windows`` (drift in the pocket, motion scale, bandwidth and native
    rate, one draw per window; the drift's axis across +y when aligned)."""
    from dataclasses import replace

    from ..data.features import derive
    from ..data.windows import Windows

    if copies <= 0 or len(prepared.train) == 0:
        return prepared
    rng = np.random.default_rng([int(seed), 0xA06])
    train = prepared.train
    aligns = prepared.features.aligns
    base = prepared.aligned(train) if aligns else train.X
    extra = [augment_windows(base, train.channels, rng, gain=gain, cadence=cadence,
                             rotation="upright" if aligns else True)
             for _ in range(copies)]
    if pocket:
        from .perturb import pocket_windows

        up = np.array([0.0, 1.0, 0.0]) if aligns else None
        extra = [pocket_windows(x, train.channels, rng, rate_hz=train.config.rate_hz, up=up)
                 for x in extra]
    reps = copies + 1
    expanded = Windows(np.concatenate([base, *extra]), np.tile(train.y, reps),
                       np.tile(train.subjects, reps), np.tile(train.starts, reps),
                       list(train.labels), list(train.channels), train.config)
    inputs = dict(prepared._inputs)
    inputs["train"] = derive(expanded.X, expanded.channels, prepared.features,
                             rate_hz=expanded.config.rate_hz)[0]
    return replace(prepared, train=expanded, _inputs=inputs)
