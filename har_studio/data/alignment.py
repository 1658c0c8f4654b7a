"""Per-person alignment: undo how this person's phone sits in the pocket, from their own
unlabelled stream.

A phone in a trouser pocket is upright, upside down, sideways or tilted, and a new phone may
read every acceleration a few percent high or low. Features computed from one window cannot
tell "this person sits" from "this person carries the phone sideways": both put gravity on
another axis. A person's own stream can: while they move (walking, jogging, stairs: the thigh
is roughly vertical), the mean direction of gravity in phone axes is their "upright". Rotating
every sample so that this direction lies along the phone's +y axis (a phone upright in the
pocket) makes sitting look like sitting for everyone, whatever the pocket; dividing by the
median length of gravity takes out the phone's gain.

- ``estimate(X, channels)``: the alignment of one person from raw windows ``[n, T, C]``
  (m/s^2): the rotation, the gain correction, and how many moving windows set the reference.
  With fewer than ``MIN_MOVING`` moving windows the rotation is the identity (most phones sit
  upright or upside down, and the tilt inputs are blind to that flip).
- ``align_windows(X, channels, subjects)``: every subject's windows aligned with that
  subject's own estimate (training, evaluation, replay of whole recordings).
- ``RunningAlignment``: the same estimate kept up to date over a live stream, window by
  window (a live person is one person; ``reset`` for the next one).

Only the recording's own, unlabelled samples are used: the same at training time, on a test
person and on a live phone. Pure numpy, Qt-free.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

ACC = ("x", "y", "z")
GYRO = ("gx", "gy", "gz")
UPRIGHT = np.array([0.0, 1.0, 0.0])   # gravity's direction in phone axes, phone upright
STANDARD_GRAVITY = 9.80665
MOTION_THRESHOLD = 1.5   # m/s^2: std of |a| within a window above which the person moves
MIN_MOVING = 3           # moving windows needed before the rotation is trusted
GAIN_LIMITS = (0.5, 2.0)  # a gain correction outside this is not a phone's error: ignored


def _groups(channels) -> tuple[list[int] | None, list[int] | None]:
    channels = list(channels)
    acc = [channels.index(c) for c in ACC] if all(c in channels for c in ACC) else None
    gyro = [channels.index(c) for c in GYRO] if all(c in channels for c in GYRO) else None
    return acc, gyro


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest proper rotation taking direction `a` to direction `b` (``R @ a ~ b``)."""
    a = np.asarray(a, np.float64) / np.linalg.norm(a)
    b = np.asarray(b, np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-9:   # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 0.0, 1.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    K = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + K + K @ K / (1 + c)


def window_summary(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For acceleration windows ``[n, T, 3]``: the unit mean direction (gravity) ``[n, 3]``,
    the length of the mean ``[n]`` and whether the person moves in each window ``[n]``."""
    acc = np.asarray(acc, np.float64)
    mean = acc.mean(axis=1)
    length = np.linalg.norm(mean, axis=1)
    unit = mean / np.maximum(length, 1e-9)[:, None]
    motion = np.linalg.norm(acc, axis=2).std(axis=1)
    finite = np.isfinite(length) & np.isfinite(motion)
    return unit, np.where(finite, length, np.nan), finite & (motion > MOTION_THRESHOLD)


@dataclass(frozen=True)
class Alignment:
    """How one person's raw samples are turned into the upright, unit-gain frame."""

    rotation: np.ndarray                     # [3, 3], applied to x, y, z (and gx, gy, gz)
    scale: float = 1.0                       # multiplies the acceleration
    reference: tuple[float, ...] | None = None   # the person's upright gravity direction
    moving: int = 0                          # moving windows behind `reference`

    @classmethod
    def identity(cls) -> Alignment:
        return cls(np.eye(3))

    @classmethod
    def from_parts(cls, reference_sum: np.ndarray | None, moving: int,
                   median_length: float | None) -> Alignment:
        """From the summed unit gravity of the moving windows, their count and the median
        length of gravity over all windows."""
        rotation, reference = np.eye(3), None
        if moving >= MIN_MOVING and reference_sum is not None \
                and np.linalg.norm(reference_sum) > 1e-6 * moving:
            ref = np.asarray(reference_sum, np.float64) / np.linalg.norm(reference_sum)
            rotation, reference = rotation_between(ref, UPRIGHT), tuple(float(v) for v in ref)
        scale = 1.0
        if median_length is not None and np.isfinite(median_length) and median_length > 0:
            s = STANDARD_GRAVITY / float(median_length)
            if GAIN_LIMITS[0] <= s <= GAIN_LIMITS[1]:
                scale = s
        return cls(rotation, scale, reference, int(moving))

    def apply(self, X: np.ndarray, channels) -> np.ndarray:
        """Raw windows ``[n, T, C]`` in this person's upright, unit-gain frame (a new array)."""
        X = np.array(X, dtype=np.float32, copy=True)
        acc, gyro = _groups(channels)
        R = self.rotation.astype(np.float32)
        if acc is not None:
            X[..., acc] = (X[..., acc] @ R.T) * np.float32(self.scale)
        if gyro is not None:
            X[..., gyro] = X[..., gyro] @ R.T
        return X

    def to_dict(self) -> dict:
        return {"reference": None if self.reference is None else
                [round(v, 4) for v in self.reference],
                "gain_correction": round(self.scale, 4), "moving_windows": self.moving}


def estimate(X: np.ndarray, channels) -> Alignment:
    """One person's alignment from their raw windows ``[n, T, C]`` (identity without x, y, z
    or without enough moving windows)."""
    acc, _ = _groups(channels)
    X = np.asarray(X)
    if acc is None or X.ndim != 3 or len(X) == 0:
        return Alignment.identity()
    unit, length, moving = window_summary(X[..., acc])
    lengths = length[np.isfinite(length)]
    return Alignment.from_parts(unit[moving].sum(axis=0) if moving.any() else None,
                                int(moving.sum()),
                                float(np.median(lengths)) if lengths.size else None)


def estimate_per_subject(X: np.ndarray, channels, subjects) -> dict[int, Alignment]:
    """``{subject: Alignment}`` from each subject's own windows."""
    subjects = np.asarray(subjects)
    return {int(s): estimate(X[subjects == s], channels) for s in np.unique(subjects)}


def align_windows(X: np.ndarray, channels, subjects=None,
                  alignments: dict[int, Alignment] | Alignment | None = None) -> np.ndarray:
    """Raw windows aligned per person: `alignments` (one for all, or one per subject) or,
    when not given, each subject's own estimate (all of `X` as one person without
    `subjects`). A subject missing from `alignments` gets its own estimate."""
    X = np.asarray(X, np.float32)
    if isinstance(alignments, Alignment):
        return alignments.apply(X, channels)
    if subjects is None:
        return estimate(X, channels).apply(X, channels)
    subjects = np.asarray(subjects)
    found = dict(alignments or {})
    out = np.empty_like(X)
    for s in np.unique(subjects):
        sel = subjects == s
        a = found.get(int(s))
        if a is None:
            a = estimate(X[sel], channels)
        out[sel] = a.apply(X[sel], channels)
    return out


class RunningAlignment:
    """A person's alignment over a live stream: updated with each window classified, so the
    estimate improves as they move. Before ``MIN_MOVING`` moving windows the rotation is the
    identity."""

    def __init__(self, channels, keep: int = 2048) -> None:
        self.channels = list(channels)
        self._acc, _ = _groups(self.channels)
        self._lengths: deque[float] = deque(maxlen=keep)
        self._sum = np.zeros(3)
        self._moving = 0
        self.current = Alignment.identity()

    def reset(self) -> None:
        self._lengths.clear()
        self._sum = np.zeros(3)
        self._moving = 0
        self.current = Alignment.identity()

    def update(self, X: np.ndarray) -> Alignment:
        """Take raw windows ``[n, T, C]`` into the estimate; returns the alignment to use."""
        if self._acc is None or len(X) == 0:
            return self.current
        unit, length, moving = window_summary(np.asarray(X)[..., self._acc])
        self._lengths.extend(float(v) for v in length[np.isfinite(length)])
        if moving.any():
            self._sum += unit[moving].sum(axis=0)
            self._moving += int(moving.sum())
        median = float(np.median(self._lengths)) if self._lengths else None
        self.current = Alignment.from_parts(self._sum, self._moving, median)
        return self.current
