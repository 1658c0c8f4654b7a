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

import math
from dataclasses import dataclass

import numpy as np

from .features import ACC, GYRO

UPRIGHT = np.array([0.0, 1.0, 0.0])   # gravity's direction in phone axes, phone upright
STANDARD_GRAVITY = 9.80665
MOTION_THRESHOLD = 1.5   # m/s^2: std of |a| within a window above which the person moves
MIN_MOVING = 3           # moving windows needed before the rotation is trusted
GAIN_LIMITS = (0.5, 2.0)  # a gain correction outside this is not a phone's error: ignored


def sensor_columns(channels) -> tuple[list[int] | None, list[int] | None]:
    """Columns of x, y, z and of gx, gy, gz in `channels` (None for a sensor not all there)."""
    channels = list(channels)
    acc = [channels.index(c) for c in ACC] if all(c in channels for c in ACC) else None
    gyro = [channels.index(c) for c in GYRO] if all(c in channels for c in GYRO) else None
    return acc, gyro


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest proper rotation taking direction `a` to direction `b` (``R @ a ~ b``).
    Plain float arithmetic: it runs for every live window while the person moves."""
    ax, ay, az = (float(v) for v in a)
    bx, by, bz = (float(v) for v in b)
    na, nb = math.sqrt(ax * ax + ay * ay + az * az), math.sqrt(bx * bx + by * by + bz * bz)
    ax, ay, az, bx, by, bz = ax / na, ay / na, az / na, bx / nb, by / nb, bz / nb
    c = ax * bx + ay * by + az * bz
    if c < -1 + 1e-9:   # opposite: half a turn about any axis perpendicular to a
        axis = np.cross([ax, ay, az], [1.0, 0.0, 0.0] if abs(ax) < 0.9 else [0.0, 0.0, 1.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx, vy, vz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
    k = 1.0 / (1.0 + c)
    # I + [v]x + [v]x^2 / (1 + c), written out
    return np.array([
        [1 - k * (vy * vy + vz * vz), -vz + k * vx * vy, vy + k * vx * vz],
        [vz + k * vx * vy, 1 - k * (vx * vx + vz * vz), -vx + k * vy * vz],
        [-vy + k * vx * vz, vx + k * vy * vz, 1 - k * (vx * vx + vy * vy)],
    ])


def window_summary(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For acceleration windows ``[n, T, 3]``: the unit mean direction (gravity) ``[n, 3]``,
    the length of the mean ``[n]`` and whether the person moves in each window ``[n]``."""
    acc = np.asarray(acc, np.float64)
    mean = acc.mean(axis=1)
    length = np.sqrt(np.einsum("nc,nc->n", mean, mean))
    unit = mean / np.maximum(length, 1e-9)[:, None]
    motion = np.sqrt(np.einsum("ntc,ntc->nt", acc, acc)).std(axis=1)
    finite = np.isfinite(length) & np.isfinite(motion)
    return unit, np.where(finite, length, np.nan), finite & (motion > MOTION_THRESHOLD)


def upright_from(reference_sum: np.ndarray | None, moving: int
                 ) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """The rotation onto the upright and the person's reference direction, from the summed
    unit gravity of their `moving` moving windows (the identity and None below MIN_MOVING)."""
    if moving >= MIN_MOVING and reference_sum is not None:
        x, y, z = (float(v) for v in reference_sum)
        norm = math.sqrt(x * x + y * y + z * z)
        if norm > 1e-6 * moving:
            reference = (x / norm, y / norm, z / norm)
            return rotation_between(reference, UPRIGHT), reference
    return np.eye(3), None


def gain_correction(median_length: float | None) -> float:
    """What multiplies the acceleration so that gravity's median length is standard gravity
    (1 when unknown or outside GAIN_LIMITS: not a phone's error)."""
    if median_length is None or not np.isfinite(median_length) or median_length <= 0:
        return 1.0
    s = STANDARD_GRAVITY / float(median_length)
    return s if GAIN_LIMITS[0] <= s <= GAIN_LIMITS[1] else 1.0


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

    def apply(self, X: np.ndarray, channels) -> np.ndarray:
        """Raw windows ``[n, T, C]`` in this person's upright, unit-gain frame (a new array)."""
        X = np.array(X, dtype=np.float32, copy=True)
        acc, gyro = sensor_columns(channels)
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
    acc, _ = sensor_columns(channels)
    X = np.asarray(X)
    if acc is None or X.ndim != 3 or len(X) == 0:
        return Alignment.identity()
    unit, length, moving = window_summary(X[..., acc])
    lengths = length[np.isfinite(length)]
    rotation, reference = upright_from(unit[moving].sum(axis=0), int(moving.sum()))
    scale = gain_correction(float(np.median(lengths)) if lengths.size else None)
    return Alignment(rotation, scale, reference, int(moving.sum()))


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
    identity. Cheap enough for every live window (tens of microseconds): the gain comes from
    the median of the latest `keep` windows' gravity lengths, and the rotation is recomputed
    only when a moving window arrives."""

    def __init__(self, channels, keep: int = 512) -> None:
        self.channels = list(channels)
        self._acc, _ = sensor_columns(self.channels)
        self._lengths = np.zeros(max(1, int(keep)))
        self._count = 0
        self._sum = np.zeros(3)
        self._moving = 0
        self.current = Alignment.identity()

    def reset(self) -> None:
        self._count = 0
        self._sum = np.zeros(3)
        self._moving = 0
        self.current = Alignment.identity()

    def update(self, X: np.ndarray) -> Alignment:
        """Take raw windows ``[n, T, C]`` into the estimate; returns the alignment to use."""
        if self._acc is None or len(X) == 0:
            return self.current
        unit, length, moving = window_summary(np.asarray(X)[..., self._acc])
        keep = len(self._lengths)
        for value in length[np.isfinite(length)]:
            self._lengths[self._count % keep] = value
            self._count += 1
        current = self.current
        rotation, reference = current.rotation, current.reference
        if moving.any():
            self._sum += unit[moving].sum(axis=0)
            self._moving += int(moving.sum())
            rotation, reference = upright_from(self._sum, self._moving)
        scale = current.scale
        if self._count and (self._count <= 64 or self._count % 16 < len(X)):
            # the gain moves slowly: its median is refreshed every 16 windows once settled
            scale = gain_correction(float(np.median(self._lengths[:min(self._count, keep)])))
        self.current = Alignment(rotation, scale, reference, self._moving)
        return self.current
