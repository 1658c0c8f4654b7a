""""A loose pocket and another gait": slow drift, motion scale, bandwidth and native rate.

What differs for the people whose walking a model reads as stairs (issue 21): the phone turns
slowly in a loose pocket while they move, their motion is gentler, and their phone filters and
samples the accelerometer its own way. Four perturbations model that, each plain numpy and
seeded:

- ``drift``: the phone turns about a horizontal axis by an angle that wanders as an
  Ornstein-Uhlenbeck process (``ou_angles``: stationary standard deviation `sigma_deg`,
  correlation time `tau_s`: the angle's autocorrelation at lag ``tau_s`` is 1/e). The
  accelerometer (and gyroscope) vector is rotated sample by sample, so its length is kept.
- ``scale_motion``: the part of the acceleration that is not gravity times a factor; gravity
  is the model's own estimate (``data.features.moving_average`` over 1 s) and is kept.
- ``lowpass``: another accelerometer bandwidth: a second-order Butterworth low-pass (bilinear
  transform with a pre-warped cut-off: the gain at the cut-off is -3 dB), run forward as a
  phone's filter would, started in its steady state on the first sample.
- ``native_rate``: the recording as if the phone had sampled at `native_hz` (band-limited
  upsampling, at a random phase against the model's grid); ``pocket_frame`` then lets the
  app's own path (``data.windows.at_rate``, via ``make_windows``) resample it to the model's
  rate, and ``pocket_windows`` resamples windows the same way (linear interpolation).

``pocket_frame`` perturbs a tidy table per person (one draw per person and seed; the third
yardstick of ``bench/bench_quality.py``); ``pocket_windows`` perturbs training windows, one
draw per window (``augment.expand_training(..., style="pocket")``).
"""

from __future__ import annotations

import math

import numpy as np

from ..data.alignment import sensor_columns
from ..data.features import moving_average

PARTS = ("drift", "motion", "bandwidth", "rate")


# ---------------------------------------------------------------------------------------------
# The four perturbations on arrays (time along axis -2: [T, C] or [N, T, C])

def ou_angles(shape, rate_hz: float, sigma, tau_s, rng: np.random.Generator) -> np.ndarray:
    """Ornstein-Uhlenbeck angles (radians), time along the last axis of `shape` ``(..., T)``,
    sampled at `rate_hz`: stationary from the first sample (normal, standard deviation
    `sigma`), each step ``a[t+1] = a[t] r + sigma sqrt(1 - r^2) e`` with ``r = exp(-1 /
    (rate_hz tau_s))``. `sigma` and `tau_s` may be arrays broadcasting against ``shape[:-1]``."""
    shape = tuple(int(s) for s in shape)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), shape[:-1])
    r = np.broadcast_to(np.exp(-1.0 / (rate_hz * np.asarray(tau_s, np.float64))), shape[:-1])
    noise = rng.standard_normal(shape)
    out = np.empty(shape)
    if shape[-1] == 0:
        return out
    out[..., 0] = sigma * noise[..., 0]
    step = sigma * np.sqrt(1 - r * r)
    for t in range(1, shape[-1]):
        out[..., t] = out[..., t - 1] * r + step * noise[..., t]
    return out


def horizontal_axes(up: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Unit axes perpendicular to `up` ``[..., 3]`` (any length), at angle `heading`
    (radians) from a fixed reference in the horizontal plane: ``[..., 3]``."""
    up = np.asarray(up, np.float64)
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    ref = np.where(np.abs(up[..., :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 0, 1.0]))
    e1 = ref - np.sum(ref * up, axis=-1, keepdims=True) * up
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(up, e1)
    heading = np.asarray(heading, np.float64)[..., None]
    return np.cos(heading) * e1 + np.sin(heading) * e2


def rotate_about(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Vectors `v` ``[..., T, 3]`` turned by `angle` ``[..., T]`` about the unit `axis`
    ``[..., 3]`` (Rodrigues): the length of every vector is kept."""
    k = np.asarray(axis, np.float64)[..., None, :]
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    v = np.asarray(v, np.float64)
    return v * c + np.cross(k, v) * s + k * np.sum(k * v, axis=-1, keepdims=True) * (1 - c)


def drift(values: np.ndarray, channels, angles: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """`values` ``[..., T, C]`` with the accelerometer (and gyroscope) vectors turned by
    `angles` ``[..., T]`` about `axis` ``[..., 3]``: the phone turning in the pocket."""
    out = np.array(values, np.float32)
    for group in sensor_columns(list(channels)):
        if group is not None:
            out[..., group] = rotate_about(out[..., group], axis, angles)
    return out


def gravity_of(acc: np.ndarray, rate_hz: float, lowpass_s: float = 1.0) -> np.ndarray:
    """Gravity in phone axes as the model estimates it (``features.moving_average``:
    centred, `lowpass_s` long) for ``[T, 3]`` or ``[N, T, 3]``."""
    acc = np.asarray(acc, np.float32)
    flat = acc[None] if acc.ndim == 2 else acc
    g = moving_average(flat, int(round(lowpass_s * rate_hz)))
    return g[0] if acc.ndim == 2 else g


def scale_motion(values: np.ndarray, channels, factor, *, rate_hz: float,
                 lowpass_s: float = 1.0) -> np.ndarray:
    """Gentler (`factor` < 1) or harder motion: the acceleration's part that is not gravity
    (``gravity_of``) times `factor`, gravity left as it was; the gyroscope times `factor`.
    `factor` is a number or one per window ``[N]``."""
    out = np.array(values, np.float32)
    f = np.asarray(factor, np.float32)
    f = f.reshape(f.shape + (1, 1)) if f.ndim else f
    acc, gyro = sensor_columns(list(channels))
    if acc is not None:
        g = gravity_of(out[..., acc], rate_hz, lowpass_s)
        out[..., acc] = g + (out[..., acc] - g) * f
    if gyro is not None:
        out[..., gyro] *= f
    return out


def butterworth(cutoff_hz, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Second-order Butterworth low-pass biquad coefficients ``(b [..., 3], a [..., 3])`` by
    the bilinear transform with the cut-off pre-warped, so the gain at `cutoff_hz` is exactly
    1/sqrt(2) (-3 dB) and at 0 Hz exactly 1. `cutoff_hz` below Nyquist; may be an array."""
    fc = np.asarray(cutoff_hz, np.float64)
    if np.any(fc <= 0) or np.any(fc >= rate_hz / 2):
        raise ValueError(f"cut-off must lie between 0 and {rate_hz / 2:g} Hz, got {cutoff_hz}")
    k = np.tan(np.pi * fc / rate_hz)
    q = 1 / math.sqrt(2)
    norm = 1 / (1 + k / q + k * k)
    b0 = k * k * norm
    b = np.stack([b0, 2 * b0, b0], axis=-1)
    a = np.stack([np.ones_like(k), 2 * (k * k - 1) * norm, (1 - k / q + k * k) * norm], axis=-1)
    return b, a


def lowpass(values: np.ndarray, cutoff_hz, rate_hz: float) -> np.ndarray:
    """`values` ``[T, C]`` or ``[N, T, C]`` through ``butterworth(cutoff_hz)`` along time,
    forward (causal, as a sensor's filter), from the steady state of the first sample.
    `cutoff_hz` is a number or one per window ``[N]``."""
    x = np.asarray(values, np.float64)
    b, a = butterworth(cutoff_hz, rate_hz)
    if b.ndim == 2:                       # one filter per window: [N, 1, 3] against [N, C]
        b, a = b[:, None, :], a[:, None, :]
    y = np.empty_like(x)
    if x.shape[-2] == 0:
        return y.astype(np.float32)
    # Direct form II transposed; state for a constant input x0 (DC gain 1): y = x0.
    x0 = x[..., 0, :]
    z1 = x0 * (1 - b[..., 0])
    z2 = x0 * b[..., 2] - x0 * a[..., 2]
    for t in range(x.shape[-2]):
        xt = x[..., t, :]
        yt = b[..., 0] * xt + z1
        z1 = b[..., 1] * xt - a[..., 1] * yt + z2
        z2 = b[..., 2] * xt - a[..., 2] * yt
        y[..., t, :] = yt
    return y.astype(np.float32)


def _upsample(values: np.ndarray, factor: int, extra: int) -> np.ndarray:
    """Band-limited upsampling by an integer `factor` along axis -2 (FFT zero-padding of the
    run mirrored at both ends, so its edges do not ring): ``T * factor + extra`` samples,
    sample ``i * factor`` being the input's sample ``i``."""
    x = np.asarray(values, np.float64)
    t = x.shape[-2]
    if factor == 1 and extra == 0:
        return x.copy()
    ext = np.concatenate([x[..., ::-1, :], x, x[..., ::-1, :]], axis=-2)
    spec = np.fft.rfft(ext, axis=-2)
    if (3 * t) % 2 == 0:                # the Nyquist bin is split between + and - frequency
        spec[..., -1, :] *= 0.5
    fine = np.fft.irfft(spec, n=3 * t * factor, axis=-2) * factor
    return fine[..., t * factor: t * factor + t * factor + extra, :]


def native_rate(values: np.ndarray, rate_hz: float, native_hz: float,
                offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The run `values` ``[T, C]`` (or ``[N, T, C]``) at `rate_hz` as a phone sampling at
    `native_hz` would have recorded it: ``(samples, times)``, times in seconds from the run's
    first sample. Both rates are whole Hz; the phone's first sample falls `offset` steps of
    ``1 / lcm(rate, native)`` after the run's (``0 <= offset < lcm / rate``), so the model's
    grid meets the phone's at another phase. Enough samples that a ``1/rate_hz`` grid from the
    first one holds ``T`` samples."""
    rate, native = int(round(rate_hz)), int(round(native_hz))
    if rate != rate_hz or native != native_hz or rate <= 0 or native <= 0:
        raise ValueError(f"rates must be whole Hz, got {rate_hz} and {native_hz}")
    fine_hz = math.lcm(rate, native)
    factor, step = fine_hz // rate, fine_hz // native
    if not 0 <= offset < factor:
        raise ValueError(f"offset must lie in [0, {factor}), got {offset}")
    t = np.asarray(values).shape[-2]
    last = offset + (t - 1) * factor              # fine index of the model's last grid point
    stop = last + (-(last - offset) % step) + 1   # through the first phone sample at or after it
    fine = _upsample(values, factor, max(0, stop - t * factor))
    idx = np.arange(offset, stop, step)
    return fine[..., idx, :].astype(np.float32), idx / fine_hz


def resample_linear(values: np.ndarray, times: np.ndarray, rate_hz: float, count: int
                    ) -> np.ndarray:
    """Samples `values` ``[..., S, C]`` taken at `times` (seconds, rising, from 0) read on a
    ``1/rate_hz`` grid from the first: ``[..., count, C]`` by linear interpolation, as
    ``data.windows.at_rate`` resamples a run."""
    grid = np.arange(count) / rate_hz
    pos = np.interp(grid, times, np.arange(len(times), dtype=np.float64))
    lo = np.minimum(np.floor(pos).astype(np.int64), len(times) - 2)
    frac = (pos - lo)[:, None]
    v = np.asarray(values, np.float64)
    return (v[..., lo, :] * (1 - frac) + v[..., lo + 1, :] * frac).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Draws and their use on a tidy table (yardstick) and on windows (training)

RANGES = {"sigma_deg": (5.0, 20.0), "tau_s": (1.0, 5.0), "motion": (0.6, 1.3),
          "cutoff_hz": (3.0, 8.0), "native_hz": (50, 100)}


def _draw(rng: np.random.Generator, n: int | None = None) -> dict:
    """One pocket per person (`n` None) or per window: drift sd and correlation time, axis
    heading, motion factor, cut-off, native rate and phase."""
    size = n
    r = RANGES
    return {"sigma": np.radians(rng.uniform(*r["sigma_deg"], size)),
            "tau": rng.uniform(*r["tau_s"], size),
            "heading": rng.uniform(0, 2 * np.pi, size),
            "motion": rng.uniform(*r["motion"], size),
            "cutoff": rng.uniform(*r["cutoff_hz"], size),
            "native": rng.choice(np.asarray(r["native_hz"]), size)}


def _pocket_run(run: np.ndarray, channels, d: dict, parts, rate_hz: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """One run ``[T, C]`` of one person through `parts`; returns the samples and, when the
    rate changed, their times in seconds from the run's start (else None)."""
    acc, _ = sensor_columns(list(channels))
    if "motion" in parts:
        run = scale_motion(run, channels, d["motion"], rate_hz=rate_hz)
    if "drift" in parts and acc is not None and len(run):
        up = run[:, acc].mean(axis=0)       # the run's gravity: the axis is across it
        angles = ou_angles((len(run),), rate_hz, d["sigma"], d["tau"], rng)
        run = drift(run, channels, angles, horizontal_axes(up, d["heading"]))
    if "bandwidth" in parts and acc is not None:
        run = run.copy()
        run[:, acc] = lowpass(run[:, acc], d["cutoff"], rate_hz)
    if "rate" in parts and len(run) > 1:
        factor = math.lcm(int(rate_hz), int(d["native"])) // int(rate_hz)
        return native_rate(run, rate_hz, float(d["native"]), int(rng.integers(factor)))
    return run, None


def pocket_frame(frame, seed: int = 0, parts=PARTS, *,
                 rate_hz: float = 20.0):
    """The tidy table as if each person's phone sat loose in their pocket and they moved
    another way: per subject (seeded by `seed` and the subject id) one draw of ``RANGES``;
    every run (subject, activity, no gap; first put on the ``1/rate_hz`` grid by
    ``data.windows.at_rate``) gets the perturbations named in `parts` (``PARTS``), in the
    order motion, drift, bandwidth, rate. With "rate" the runs come back at the phone's
    native rate (50 or 100 Hz timestamps) for ``make_windows`` to resample through the app's
    own path. Returns a new frame with the same columns."""
    from .augment import map_runs

    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown perturbation(s) {', '.join(unknown)} (known: {', '.join(PARTS)})")
    draws: dict[int, tuple[dict, np.random.Generator]] = {}

    def change(subject: int, run: np.ndarray, channels: list[str]):
        if subject not in draws:
            rng = np.random.default_rng([int(seed), subject & 0x7FFFFFFF, 0x9C3])
            draws[subject] = (_draw(rng), rng)
        d, rng = draws[subject]
        return _pocket_run(run, channels, d, parts, rate_hz, rng)

    return map_runs(frame, rate_hz, change)


def pocket_windows(X: np.ndarray, channels, rng: np.random.Generator, *, rate_hz: float,
                   up: np.ndarray | None = None) -> np.ndarray:
    """Training copies of raw windows ``[N, T, C]`` (same shape), each with its own draw of
    all four perturbations (``RANGES``): motion scale, drift about a horizontal axis (across
    `up`, e.g. +y for windows aligned per person; default each window's mean acceleration),
    bandwidth, and native rate read back on the window's grid by linear interpolation."""
    X = np.asarray(X, np.float32)
    n, t, _ = X.shape
    if n == 0:
        return X.copy()
    acc, _ = sensor_columns(list(channels))
    d = _draw(rng, n)
    out = scale_motion(X, channels, d["motion"], rate_hz=rate_hz)
    if acc is not None:
        ups = X[..., acc].mean(axis=1) if up is None else np.broadcast_to(up, (n, 3))
        angles = ou_angles((n, t), rate_hz, d["sigma"], d["tau"], rng)
        out = drift(out, channels, angles, horizontal_axes(ups, d["heading"]))
        out[..., acc] = lowpass(out[..., acc], d["cutoff"], rate_hz)
    for native in np.unique(d["native"]):
        rows = np.flatnonzero(d["native"] == native)
        factor = math.lcm(int(rate_hz), int(native)) // int(rate_hz)
        offsets = rng.integers(factor, size=len(rows))
        for offset in range(factor):
            sel = rows[offsets == offset]
            if len(sel):
                samples, times = native_rate(out[sel], rate_hz, float(native), offset)
                out[sel] = resample_linear(samples, times, rate_hz, t)
    return np.ascontiguousarray(out, dtype=np.float32)
