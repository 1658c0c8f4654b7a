"""Cut the tidy table into fixed-length labelled windows, vectorised.

Windows never cross a boundary of subject, activity or a timestamp gap, so each window
is one person doing one thing without a hole in it. A window is ``size`` samples at the
configuration's rate: a run recorded at another rate (WISDM 2019 holds a phone at 25 Hz and
one activity at 50 Hz among 20 Hz recordings) is first resampled to it (``at_rate``), so a
window always covers the same time and a gait keeps its frequency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .activities import UNLABELLED, activity_order
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS
from .rates import PLAUSIBLE_HZ, matches_rates


@dataclass(frozen=True)
class WindowConfig:
    size: int = 128            # samples per window (6.4 s at 20 Hz)
    step: int = 64             # hop between window starts (50 % overlap)
    rate_hz: float = 20.0      # nominal sampling rate
    max_gap_periods: float = 4.0  # a gap longer than this many sample periods breaks a run

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ValueError(f"window size must be at least 2 samples, got {self.size}")
        if self.step < 1:
            raise ValueError(f"window step must be at least 1 sample, got {self.step}")
        if self.rate_hz <= 0:
            raise ValueError(f"sampling rate must be positive, got {self.rate_hz}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> WindowConfig:
        return cls(**{k: d[k] for k in ("size", "step", "rate_hz", "max_gap_periods") if k in d})


@dataclass
class Windows:
    X: np.ndarray          # float32 [n, size, channels]
    y: np.ndarray          # int64 [n], index into `labels`
    subjects: np.ndarray   # int64 [n]
    starts: np.ndarray     # int64 [n], timestamp (ns) of each window's first sample
    labels: list[str]      # class names, in class-index order
    channels: list[str]
    config: WindowConfig

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, index: np.ndarray) -> Windows:
        return Windows(self.X[index], self.y[index], self.subjects[index], self.starts[index],
                       list(self.labels), list(self.channels), self.config)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(self.labels)) if len(self) else np.zeros(len(self.labels), int)
        return {name: int(c) for name, c in zip(self.labels, counts, strict=True)}


def run_starts(frame: pd.DataFrame, config: WindowConfig,
               activity_codes: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask: True where a new contiguous run (subject, activity, no gap) begins."""
    n = len(frame)
    if n == 0:
        return np.zeros(0, dtype=bool)
    subject = frame["subject"].to_numpy()
    if activity_codes is not None:
        activity = activity_codes
    elif isinstance(frame["activity"].dtype, pd.CategoricalDtype):
        activity = frame["activity"].cat.codes.to_numpy()
    else:
        activity = pd.factorize(frame["activity"])[0]
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    max_gap_ns = config.max_gap_periods * 1e9 / config.rate_hz
    breaks = np.empty(n, dtype=bool)
    breaks[0] = True
    dt = np.diff(ts)
    breaks[1:] = (subject[1:] != subject[:-1]) | (activity[1:] != activity[:-1]) | (dt > max_gap_ns) | (dt < 0)
    return breaks


def run_rates(frame: pd.DataFrame, config: WindowConfig) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """(first row, end row, measured rate in Hz) of every run of `frame` (``run_starts``).
    The rate is the run's median sample interval, so repeated timestamps and a jittery clock do
    not move it; 0 for a run of one sample."""
    n = len(frame)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    begin = np.flatnonzero(run_starts(frame, config))
    end = np.append(begin[1:], n)
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    count = end - begin
    span = (ts[end - 1] - ts[begin]).astype(np.float64)
    rates = np.divide((count - 1) * 1e9, span, out=np.zeros(len(begin)), where=span > 0)
    # the mean interval is exact for a regular run; a run it puts off the rate is checked
    # with the median (a few repeated timestamps must not count as another rate)
    for i in np.flatnonzero((span > 0) & ~matches_rates(rates, config.rate_hz)):
        dt = np.diff(ts[begin[i]:end[i]])
        dt = dt[dt > 0]
        rates[i] = 1e9 / float(np.median(dt)) if dt.size else 0.0
    return begin, end, rates


def at_rate(frame: pd.DataFrame, rate_hz: float, channels: list[str] | None = None, *,
            max_gap_periods: float = WindowConfig.max_gap_periods) -> pd.DataFrame:
    """`frame` with every run (``run_starts``: subject, activity, no gap longer than
    `max_gap_periods` periods) recorded at a rate other than `rate_hz`
    (``data.rates.matches_rate``) resampled onto a ``1/rate_hz`` grid from the run's first
    sample by linear interpolation, as ``live.ring.Resampler`` resamples a phone's stream.
    Runs at the rate are left as they are, and so is `frame` (the same object) when every run
    is; so is a run whose timestamps give no sensor's rate (outside ``data.rates.PLAUSIBLE_HZ``:
    a clock in other units, say), windowed as recorded. `channels` (default: every sensor
    column) are interpolated; the other columns keep the run's first value."""
    config = WindowConfig(size=2, step=1, rate_hz=rate_hz, max_gap_periods=max_gap_periods)
    begin, end, rates = run_rates(frame, config)
    off = ((rates >= PLAUSIBLE_HZ[0]) & (rates <= PLAUSIBLE_HZ[1])
           & ~matches_rates(rates, rate_hz))
    if not off.any():
        return frame
    if channels is None:
        channels = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in frame.columns]
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    values = frame[channels].to_numpy(dtype=np.float64)
    period_ns = 1e9 / rate_hz
    parts, kept = [], 0
    for i in np.flatnonzero(off):
        lo, hi = int(begin[i]), int(end[i])
        if kept < lo:
            parts.append(frame.iloc[kept:lo])
        t = ts[lo:hi]
        keep = np.concatenate([[True], np.diff(t) > 0])   # np.interp needs rising times
        t, v = t[keep], values[lo:hi][keep]
        grid = t[0] + np.round(np.arange(int((t[-1] - t[0]) // period_ns) + 1) * period_ns
                               ).astype(np.int64)
        part = frame.iloc[np.full(len(grid), lo)].copy()
        part["timestamp"] = grid
        rel = (t - t[0]).astype(np.float64)
        at = (grid - t[0]).astype(np.float64)
        for j, c in enumerate(channels):
            part[c] = np.interp(at, rel, v[:, j]).astype(frame[c].dtype, copy=False)
        parts.append(part)
        kept = hi
    if kept < len(frame):
        parts.append(frame.iloc[kept:])
    return pd.concat(parts, ignore_index=True)


def _categories(frame: pd.DataFrame) -> pd.Series:
    act = frame["activity"]
    return act if isinstance(act.dtype, pd.CategoricalDtype) else act.astype(str).astype("category")


def _labels(frame: pd.DataFrame, activities: list[str] | None) -> list[str]:
    """The activities present in `frame` (those in `activities`, when given), in class order."""
    act = _categories(frame)
    present = [str(c) for c in act.cat.categories[np.unique(act.cat.codes[act.cat.codes >= 0])]
               if str(c) != UNLABELLED]   # unlabelled rows make no window
    return activity_order(present if activities is None else [a for a in present if a in activities])


def _codes(frame: pd.DataFrame, labels: list[str], activities: list[str] | None) -> np.ndarray:
    """Each row's class index in `labels`; -1 for an activity that is not a class (or not in
    `activities`), so its runs yield no window. Category codes, never 1M string compares."""
    act = _categories(frame)
    codes = act.cat.rename_categories([str(c) for c in act.cat.categories]
                                      ).cat.set_categories(labels).cat.codes.to_numpy()
    if activities is not None:
        codes = np.where(np.isin(codes, [labels.index(a) for a in activities if a in labels]),
                         codes, -1)
    return codes


def make_windows(
    frame: pd.DataFrame,
    config: WindowConfig | None = None,
    *,
    channels: list[str] | None = None,
    activities: list[str] | None = None,
    labels: list[str] | None = None,
) -> Windows:
    """Window `frame` (the tidy table). `activities` filters; `labels` fixes the class order
    (a model's own labels, say); windows of activities outside `labels` are dropped. Runs at
    another rate than ``config.rate_hz`` are resampled to it first (``at_rate``)."""
    config = config or WindowConfig()
    if channels is None:
        channels = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in frame.columns]
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise ValueError(f"the data has no channel {', '.join(missing)} (it has {', '.join(c for c in frame.columns if c in ACCEL_CHANNELS + GYRO_CHANNELS)})")
    labels = _labels(frame, activities) if labels is None else list(labels)
    if len(frame) >= 2:
        frame = at_rate(frame, config.rate_hz, channels, max_gap_periods=config.max_gap_periods)
    codes = _codes(frame, labels, activities)

    empty = Windows(np.zeros((0, config.size, len(channels)), np.float32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64), np.zeros(0, np.int64), list(labels), list(channels), config)
    if len(frame) < config.size:
        return empty

    breaks = run_starts(frame, config, activity_codes=codes)
    run_begin = np.flatnonzero(breaks)
    run_end = np.append(run_begin[1:], len(frame))
    lengths = run_end - run_begin
    per_run = np.where((lengths >= config.size) & (codes[run_begin] >= 0),
                       (lengths - config.size) // config.step + 1, 0)
    total = int(per_run.sum())
    if total == 0:
        return empty
    # Start index of every window: each run's begin, plus step * (0..k-1) within the run.
    first = np.repeat(run_begin, per_run)
    offset_in_run = np.arange(total) - np.repeat(np.cumsum(per_run) - per_run, per_run)
    starts = first + offset_in_run * config.step

    values = frame[channels].to_numpy(dtype=np.float32)
    X = np.lib.stride_tricks.sliding_window_view(values, config.size, axis=0)[starts]  # [n, C, size]
    X = np.ascontiguousarray(X.transpose(0, 2, 1))
    y = codes[starts].astype(np.int64)
    subjects = frame["subject"].to_numpy(dtype=np.int64)[starts]
    ts = frame["timestamp"].to_numpy(dtype=np.int64)[starts]
    return Windows(X, y, subjects, ts, list(labels), list(channels), config)
