"""Built-in demo recordings: synthetic WISDM-shaped data so the app works end to end offline.

The signals imitate a phone in a front trouser pocket at 20 Hz. Postures differ by the
direction of gravity (standing: along y; sitting: the thigh is horizontal, so along z);
gaits add periodic accelerations at the step frequency (walking about 1.9 Hz, jogging about
2.8 Hz with much larger amplitude and heel-strike spikes, upstairs slower with a forward tilt,
downstairs faster with sharper impacts). Every subject has their own phone orientation,
amplitude and tempo, and a run has noise and a slow drift, so a model has to generalise across
people rather than memorise one waveform. Everything is seeded and deterministic.

Qt-free, numpy + pandas only.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from .activities import WISDM_V11_ACTIVITIES, activity_order
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS, Dataset, LoadReport

log = logging.getLogger(__name__)

GRAVITY = 9.81
DEMO_FILE_NAME = "demo_wisdm_v11.txt"
_GAP_BETWEEN_ACTIVITIES_S = 3.0   # recordings of one subject are separated by a pause
_DECIMALS = 4                     # values are rounded so that written text round-trips exactly


@dataclass(frozen=True)
class _Profile:
    """How one activity moves the phone."""

    gravity: tuple[float, float, float]   # unit-ish direction of gravity in phone axes
    step_hz: float                        # 0 for still postures
    amplitude: float                      # vertical acceleration amplitude, m/s^2
    impact: float                         # heel-strike spike height, m/s^2
    sway: float                           # lateral/forward amplitude relative to `amplitude`
    noise: float                          # white noise, m/s^2
    gyro: float                           # angular velocity amplitude, rad/s


_PROFILES: dict[str, _Profile] = {
    "walking": _Profile((0.05, 0.98, 0.18), 1.9, 3.0, 2.0, 0.45, 0.35, 1.2),
    "jogging": _Profile((0.10, 0.95, 0.28), 2.8, 7.5, 7.0, 0.55, 0.8, 3.0),
    "upstairs": _Profile((0.05, 0.88, 0.47), 1.5, 2.4, 1.2, 0.5, 0.35, 1.0),
    "downstairs": _Profile((0.12, 0.96, -0.10), 1.75, 3.6, 4.5, 0.35, 0.45, 1.5),
    "sitting": _Profile((0.15, 0.20, 0.97), 0.0, 0.0, 0.0, 0.0, 0.06, 0.02),
    "standing": _Profile((-0.08, 0.99, 0.10), 0.0, 0.25, 0.0, 1.0, 0.08, 0.05),
}
# Names used by WISDM 2019 for similar activities share the v1.1 profiles.
_PROFILES["stairs"] = _PROFILES["upstairs"]


def _profile(name: str) -> _Profile:
    """The activity's profile; an unknown name gets a stable made-up one (seeded by the name)."""
    if name in _PROFILES:
        return _PROFILES[name]
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    rng = np.random.default_rng(digest)
    g = rng.normal(size=3)
    g /= np.linalg.norm(g)
    moving = rng.random() < 0.5
    return _Profile(
        tuple(float(v) for v in g),
        float(rng.uniform(0.8, 3.2)) if moving else 0.0,
        float(rng.uniform(0.5, 5.0)) if moving else float(rng.uniform(0.05, 0.4)),
        float(rng.uniform(0.0, 3.0)) if moving else 0.0,
        float(rng.uniform(0.2, 1.0)),
        float(rng.uniform(0.05, 0.5)),
        float(rng.uniform(0.05, 2.0)),
    )


def _rotation(rng: np.random.Generator, max_angle_rad: float) -> np.ndarray:
    """A random rotation matrix by at most `max_angle_rad` (Rodrigues)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(-max_angle_rad, max_angle_rad)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _activity_signal(profile: _Profile, n: int, rate_hz: float, rng: np.random.Generator,
                     subject_rot: np.ndarray, tempo: float, strength: float,
                     gyro: bool) -> np.ndarray:
    """[n, 3] accelerometer (+[n, 3] gyroscope when `gyro`) for one recording."""
    t = np.arange(n) / rate_hz
    g = np.asarray(profile.gravity, dtype=np.float64)
    g = subject_rot @ (g / np.linalg.norm(g))
    # Slow wobble of the phone in the pocket: gravity direction drifts a little.
    drift = np.cumsum(rng.normal(scale=0.004, size=(n, 3)), axis=0)
    drift -= drift.mean(axis=0)
    g_dir = g + drift
    g_dir /= np.linalg.norm(g_dir, axis=1, keepdims=True)
    acc = GRAVITY * g_dir

    # Body frame: "up" is gravity; two horizontal axes perpendicular to it.
    up = g
    side = np.cross(up, [0.0, 0.0, 1.0] if abs(up[2]) < 0.9 else [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    fwd = np.cross(side, up)

    out_gyro = rng.normal(scale=profile.gyro * 0.3 + 0.01, size=(n, 3))
    if profile.step_hz > 0:
        f = profile.step_hz * tempo
        # Tempo wanders a little over the recording (frequency modulation).
        inst_f = f * (1 + 0.03 * np.sin(2 * np.pi * t / rng.uniform(8, 20) + rng.uniform(0, 6.3)))
        phase = 2 * np.pi * np.cumsum(inst_f) / rate_hz + rng.uniform(0, 2 * np.pi)
        amp = profile.amplitude * strength
        vertical = amp * (np.sin(phase) + 0.35 * np.sin(2 * phase + 0.6))
        # Heel strike: a short spike once per step.
        spikes = profile.impact * strength * np.maximum(np.cos(phase), 0.0) ** 12
        lateral = amp * profile.sway * np.sin(0.5 * phase + 0.3)     # sway at stride frequency
        forward = amp * profile.sway * 0.8 * np.sin(phase + 1.2)
        acc = acc + np.outer(vertical + spikes, up) + np.outer(lateral, side) + np.outer(forward, fwd)
        w = profile.gyro * strength
        out_gyro += np.stack([w * np.sin(phase + 0.4), 0.6 * w * np.sin(0.5 * phase),
                              0.4 * w * np.sin(phase + 2.0)], axis=1)
    elif profile.amplitude > 0:
        # Standing still but swaying gently (~0.3 Hz).
        sway = profile.amplitude * strength * np.sin(2 * np.pi * 0.3 * tempo * t + rng.uniform(0, 6.3))
        acc = acc + np.outer(sway, fwd)
    acc = acc + rng.normal(scale=profile.noise, size=(n, 3))
    if gyro:
        return np.concatenate([acc, out_gyro], axis=1)
    return acc


def demo_frame(subjects: int = 6, seconds_per_activity: float = 60.0,
               activities=WISDM_V11_ACTIVITIES, rate_hz: float = 20.0, gyro: bool = False,
               seed: int = 0) -> pd.DataFrame:
    """A tidy frame (see ``dataset.py``) of synthetic recordings, one per subject and activity.

    Subjects are numbered 1..`subjects`; each does every activity for `seconds_per_activity`
    seconds, one after another with a short pause between (so windows never join them).
    """
    if subjects < 1:
        raise ValueError(f"need at least one subject, got {subjects}")
    if seconds_per_activity <= 0 or rate_hz <= 0:
        raise ValueError("seconds_per_activity and rate_hz must be positive")
    names = [str(a).strip().lower() for a in activities]
    if not names:
        raise ValueError("need at least one activity")
    n = max(1, int(round(seconds_per_activity * rate_hz)))
    period_ns = 1e9 / rate_hz
    rng = np.random.default_rng(seed)
    channels = list(ACCEL_CHANNELS) + (list(GYRO_CHANNELS) if gyro else [])

    blocks: list[np.ndarray] = []
    times: list[np.ndarray] = []
    subject_col: list[np.ndarray] = []
    activity_col: list[np.ndarray] = []
    for subject in range(1, subjects + 1):
        srng = np.random.default_rng([seed, subject])
        rot = _rotation(srng, 0.25)                # phone orientation in this person's pocket
        tempo = srng.uniform(0.9, 1.1)              # cadence
        strength = srng.uniform(0.8, 1.25)          # how hard they move
        t0 = int(srng.integers(10**12, 5 * 10**13)) // 1000 * 1000
        for k, name in enumerate(names):
            arng = np.random.default_rng([seed, subject, k])
            blocks.append(_activity_signal(_profile(name), n, rate_hz, arng, rot, tempo,
                                           strength, gyro))
            jitter = arng.integers(-2_000_000, 2_000_001, size=n)     # ±2 ms clock jitter
            ts = t0 + (np.arange(n) * period_ns).astype(np.int64) + jitter
            times.append(ts.astype(np.int64))
            t0 = int(ts[-1] + _GAP_BETWEEN_ACTIVITIES_S * 1e9)
            subject_col.append(np.full(n, subject, dtype=np.int64))
            activity_col.append(np.full(n, k, dtype=np.int16))
    del rng
    values = np.round(np.concatenate(blocks), _DECIMALS).astype(np.float32)
    frame = pd.DataFrame({
        "subject": np.concatenate(subject_col),
        "activity": pd.Categorical.from_codes(np.concatenate(activity_col), categories=names),
        "timestamp": np.concatenate(times),
    })
    for i, c in enumerate(channels):
        frame[c] = values[:, i]
    return frame


def _v11_name(activity: str) -> str:
    """WISDM v1.1 spells activities capitalised (``Walking``, ``Upstairs``)."""
    return activity[:1].upper() + activity[1:]


def write_wisdm_v11(path, frame: pd.DataFrame) -> Path:
    """Write a tidy frame (subject, activity, timestamp in ns, x, y, z) as WISDM v1.1 raw text
    (``33,Jogging,49105962326000,x,y,z;``), atomically. Other channels are not written: the
    v1.1 format has only the accelerometer."""
    path = Path(path)
    activity = frame["activity"].astype("category")
    names = np.array([_v11_name(str(a)) for a in activity.cat.categories], dtype=object)
    codes = activity.cat.codes.to_numpy()
    subj = frame["subject"].to_numpy()
    ts = frame["timestamp"].to_numpy()
    fmt = f"%.{_DECIMALS}f"
    xs, ys, zs = (np.char.mod(fmt, frame[c].to_numpy(dtype=np.float64)) for c in ACCEL_CHANNELS)
    lines = [f"{s},{a},{t},{x},{y},{z};" for s, a, t, x, y, z
             in zip(subj.tolist(), names[codes].tolist(), ts.tolist(), xs, ys, zs, strict=True)]
    atomic_write_text(path, "\n".join(lines) + "\n")
    log.info("wrote %d records to %s", len(lines), path)
    return path


def write_demo_files(folder, **demo_frame_kwargs) -> list[Path]:
    """Write the demo recording as WISDM v1.1 raw text (``33,Jogging,49105962326000,x,y,z;``).

    Returns the written file paths (one file, ``demo_wisdm_v11.txt``). Gyroscope channels,
    if requested, are not written: the v1.1 format has only the accelerometer.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_wisdm_v11(folder / DEMO_FILE_NAME, demo_frame(**demo_frame_kwargs))]


def demo_dataset(**demo_frame_kwargs) -> Dataset:
    """The demo frame wrapped in a Dataset with a filled LoadReport (format ``"demo"``)."""
    frame = demo_frame(**demo_frame_kwargs)
    rate_hz = float(demo_frame_kwargs.get("rate_hz", 20.0))
    subject = frame["subject"].to_numpy()
    act = frame["activity"].cat.codes.to_numpy()
    ts = frame["timestamp"].to_numpy()
    same_run = (subject[1:] == subject[:-1]) & (act[1:] == act[:-1])
    dt = np.diff(ts)[same_run]
    sampling_hz = float(1e9 / np.median(dt)) if len(dt) else rate_hz
    gaps = int(np.count_nonzero(dt > 4.0 * 1e9 / rate_hz))
    counts = frame["activity"].value_counts()
    report = LoadReport(
        format="demo",
        files=["<built-in demo data>"],
        records=len(frame),
        records_read=len(frame),
        subjects=sorted(int(s) for s in np.unique(subject)),
        activities={name: int(counts.get(name, 0))
                    for name in activity_order(frame["activity"].cat.categories)},
        channels=[c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in frame.columns],
        sampling_hz=round(sampling_hz, 3),
        gaps=gaps,
        warnings=["Synthetic demo data: made up to show the app, not real recordings."],
    )
    return Dataset(frame, report)
