"""A fixed-capacity numpy ring buffer and a resampler onto the model's sampling rate.

Both keep memory bounded whatever a stream does: the ring overwrites its oldest samples, the
resampler carries only the last sample between batches.
"""

from __future__ import annotations

import numpy as np

from ..data.rates import matches_rate
from .source import SampleBatch


class RingBuffer:
    """The latest `capacity` rows of a stream (``[n, channels]``, or ``[n]`` when
    ``channels`` is None), appended in batches, read back contiguously (oldest first)."""

    def __init__(self, capacity: int, channels: int | None = None, dtype=np.float32) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1, got {capacity}")
        shape = (capacity,) if channels is None else (capacity, channels)
        self._data = np.zeros(shape, dtype=dtype)
        self._capacity = capacity
        self._end = 0      # index where the next row goes
        self._size = 0
        self.total = 0     # rows ever appended (including overwritten ones)

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        self._end = 0
        self._size = 0

    def append(self, rows: np.ndarray) -> None:
        """Append rows; when more than fit arrive, only the last `capacity` are kept."""
        rows = np.asarray(rows, dtype=self._data.dtype)
        if rows.ndim == self._data.ndim - 1:
            rows = rows[None]
        n = rows.shape[0]
        if n == 0:
            return
        self.total += n
        if n >= self._capacity:
            self._data[:] = rows[-self._capacity:]
            self._end = 0
            self._size = self._capacity
            return
        first = min(n, self._capacity - self._end)
        self._data[self._end:self._end + first] = rows[:first]
        if first < n:
            self._data[:n - first] = rows[first:]
        self._end = (self._end + n) % self._capacity
        self._size = min(self._capacity, self._size + n)

    def append_row(self, row) -> None:
        """Append one row (a value for a ring without channels): ``append`` for the live
        case of one sample at a time, without its array conversions."""
        self._data[self._end] = row
        self._end = (self._end + 1) % self._capacity
        self._size = min(self._capacity, self._size + 1)
        self.total += 1

    def back(self, n: int):
        """The row `n` rows back from the newest (1: the newest); n <= ``len(self)``."""
        return self._data[(self._end - n) % self._capacity]

    def latest(self, n: int | None = None) -> np.ndarray:
        """A contiguous copy of the latest `n` rows (all held rows when None), oldest first."""
        n = self._size if n is None else max(0, min(int(n), self._size))
        start = (self._end - n) % self._capacity
        if start + n <= self._capacity:
            return self._data[start:start + n].copy()
        return np.concatenate([self._data[start:], self._data[:self._end]])


class Resampler:
    """Turns irregular timestamped samples into samples on a ``1/rate_hz`` grid by linear
    interpolation, carrying the last sample across batches.

    A grid point is emitted once a sample at or after it has arrived, so output lags input by
    at most one sample. The grid restarts at the first sample of a new run: where the batch
    marks a break, time goes backwards, or a gap exceeds ``max_gap_s``; the output marks that
    point in ``breaks``. Truth labels follow the sample at or before each grid point, arrival
    times the sample after it. Batches whose ``nominal_rate_hz`` matches ``rate_hz``
    (``data.rates.matches_rate``) pass through untouched (``passthrough=True``), so replayed
    recordings at the model's rate reach the model sample for sample.
    """

    def __init__(self, rate_hz: float, max_gap_s: float | None = None, *,
                 passthrough: bool = True) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive, got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self.period = 1.0 / self.rate_hz
        self.max_gap_s = max_gap_s if max_gap_s is not None else 4.0 * self.period
        self.passthrough = passthrough
        self.reset()

    def reset(self) -> None:
        """Forget the carried sample; the next sample starts a new grid."""
        self._last_t: float | None = None
        self._last_v: np.ndarray | None = None
        self._last_truth: str | None = None
        self._next_grid = 0.0
        self._pending_break = True

    def passes_through(self, batch: SampleBatch) -> bool:
        """True when `batch` is already at the target rate (no interpolation needed)."""
        return self.passthrough and matches_rate(batch.nominal_rate_hz, self.rate_hz)

    def push(self, batch: SampleBatch) -> SampleBatch:
        """Resample `batch` (or pass it through, see the class docstring)."""
        if len(batch) == 0:
            return batch
        if self.passes_through(batch):
            self.reset()
            return batch
        if len(batch) == 1 and self._last_t is not None and (batch.breaks is None
                                                             or not batch.breaks[0]):
            out = self._push_one(batch)
            if out is not None:
                return out
        t = np.asarray(batch.t, np.float64)
        v = np.asarray(batch.values, np.float32)
        n = len(t)
        # Split into segments at run breaks.
        cut = np.zeros(n, dtype=bool)
        if batch.breaks is not None:
            cut |= np.asarray(batch.breaks, bool)
        prev = np.concatenate([[self._last_t if self._last_t is not None else np.nan], t[:-1]])
        with np.errstate(invalid="ignore"):
            dt = t - prev
            cut |= (dt > self.max_gap_s) | (dt < 0)
        cut[0] |= self._last_t is None
        bounds = np.append(np.flatnonzero(cut), n)
        if bounds[0] != 0:
            bounds = np.concatenate(([0], bounds))
        out_t, out_v, out_b, out_truth, out_arr = [], [], [], [], []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi <= lo:
                continue
            if cut[lo]:
                self.reset()
            seg = self._segment(batch, t, v, lo, hi)
            if seg is not None:
                out_t.append(seg[0])
                out_v.append(seg[1])
                out_b.append(seg[2])
                out_truth.extend(seg[3] or [])
                out_arr.append(seg[4])
        channels = batch.channels
        if not out_t:
            return SampleBatch.empty(channels or v.shape[1], nominal_rate_hz=self.rate_hz)
        truth = out_truth if batch.truth is not None else None
        arrival = np.concatenate(out_arr) if batch.arrival is not None else None
        return SampleBatch(np.concatenate(out_t), np.concatenate(out_v), truth, channels=channels,
                           breaks=np.concatenate(out_b), arrival=arrival,
                           nominal_rate_hz=self.rate_hz)

    def _push_one(self, batch: SampleBatch) -> SampleBatch | None:
        """One sample continuing the run (a phone's datagram): the same grid points, values,
        truth and arrival as the general path, in plain floats (the general path's dozens of
        small numpy calls were most of a live push). None: not that case (a break, time going
        backwards or a gap), the general path decides."""
        t1 = float(batch.t[0])
        t0 = self._last_t
        dt = t1 - t0
        if not (0 < dt <= self.max_gap_s):   # the general path's test for a new run, negated
            return None
        row = np.asarray(batch.values, np.float32)[0]
        v1 = row.tolist()
        v0 = self._last_v.tolist()
        truth1 = batch.truth[0] if batch.truth is not None else None
        truth0 = self._last_truth
        self._last_t, self._last_v, self._last_truth = t1, row.copy(), truth1
        grid0 = self._next_grid
        channels = batch.channels
        if grid0 > t1 + 1e-12:
            return SampleBatch.empty(channels or len(v1), nominal_rate_hz=self.rate_hz)
        count = int(np.floor((t1 - grid0) * self.rate_hz + 1e-9)) + 1
        grid = [grid0 + k * self.period for k in range(count)]
        self._next_grid = grid[-1] + self.period
        values = np.empty((count, len(v1)), np.float32)
        for k, g in enumerate(grid):
            if g == t1:
                values[k] = v1
            elif g <= t0:
                values[k] = v0
            else:   # np.interp's formula, so both paths give the same float32 values
                values[k] = [(b - a) / dt * (g - t0) + a for a, b in zip(v0, v1, strict=True)]
        breaks = np.zeros(count, dtype=bool)
        if self._pending_break:
            breaks[0] = True
            self._pending_break = False
        truth = None
        if batch.truth is not None:
            truth = [truth1 if g >= t1 else truth0 for g in grid]
        arrival = None
        if batch.arrival is not None:
            arrival = np.full(count, float(batch.arrival[0]))
        return SampleBatch(np.array(grid), values, truth, channels=channels, breaks=breaks,
                           arrival=arrival, nominal_rate_hz=self.rate_hz)

    def _segment(self, batch: SampleBatch, t: np.ndarray, v: np.ndarray, lo: int, hi: int):
        """Grid points of one continuous segment, with the carried sample in front."""
        seg_t, seg_v = t[lo:hi], v[lo:hi]
        seg_truth = batch.truth[lo:hi] if batch.truth is not None else None
        seg_arr = batch.arrival[lo:hi] if batch.arrival is not None else None
        if self._last_t is None:
            self._next_grid = float(seg_t[0])
            xt, xv = seg_t, seg_v
            xtruth = seg_truth
        else:
            xt = np.concatenate([[self._last_t], seg_t])
            xv = np.concatenate([self._last_v[None], seg_v])
            xtruth = [self._last_truth, *seg_truth] if seg_truth is not None else None
        self._last_t, self._last_v = float(seg_t[-1]), seg_v[-1].copy()
        self._last_truth = seg_truth[-1] if seg_truth is not None else None
        end = float(xt[-1])
        if self._next_grid > end + 1e-12:
            return None
        count = int(np.floor((end - self._next_grid) * self.rate_hz + 1e-9)) + 1
        grid = self._next_grid + np.arange(count) * self.period
        self._next_grid = float(grid[-1] + self.period)
        values = np.empty((count, xv.shape[1]), np.float32)
        for c in range(xv.shape[1]):
            values[:, c] = np.interp(grid, xt, xv[:, c])
        breaks = np.zeros(count, dtype=bool)
        if self._pending_break:
            breaks[0] = True
            self._pending_break = False
        truth = None
        if xtruth is not None:
            idx = np.clip(np.searchsorted(xt, grid, side="right") - 1, 0, len(xt) - 1)
            truth = [xtruth[i] for i in idx]
        arrival = None
        if seg_arr is not None:
            # The sample that made each grid point computable: first sample at or after it.
            idx = np.clip(np.searchsorted(seg_t, grid - 1e-12, side="left"), 0, len(seg_t) - 1)
            arrival = np.asarray(seg_arr, np.float64)[idx]
        return grid, values, breaks, truth, arrival
