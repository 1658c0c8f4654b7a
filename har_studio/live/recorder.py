"""Save an incoming stream as a WISDM-format recording that the Data tab loads back.

Lines are WISDM v1.1 raw: ``subject,Activity,timestamp_ns,x,y,z;`` (accelerometer, m/s^2).
When the stream also carries a gyroscope and the file is named like WISDM 2019
(``data_<id>_accel_<device>.txt``) with an activity that has a WISDM 2019 letter code, the
2019 format is written instead, with the gyroscope in the sibling ``data_<id>_gyro_<device>.txt``
so the pair loads as 6 channels. Everything goes to temporary files that replace the targets
only on ``close()``: an interrupted recording never leaves a half-written file. A write that
fails (a full disk) abandons the recording at once: nothing is published, ``samples`` drops to
0, ``failed`` holds the one-line error naming the file, and ``close()`` raises it.

WISDM files carry no sampling rate, and a window is a number of samples: a 50 Hz phone stream
saved as is would give a 20 Hz model windows of 2.56 s instead of 6.4 s. With ``rate_hz`` (the
model's rate, 20 Hz by default) the stream is resampled onto that rate as it is written
(``live.ring.Resampler``, linear interpolation; a stream already at the rate is written sample
for sample); ``source_rate_hz`` is the rate that arrived, ``resampled`` whether it differed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from pathlib import Path

import numpy as np

from ..atomic import AtomicWriteError, atomic_write
from ..data.activities import WISDM2019_CODES, canonical_activity
from ..data.dataset import ACCEL_CHANNELS as ACCEL
from ..data.dataset import GYRO_CHANNELS as GYRO
from .source import SampleBatch

log = logging.getLogger(__name__)

_WISDM2019_NAME = re.compile(r"^data_(\d+)_accel_(phone|watch)\.txt$", re.IGNORECASE)
_CODE_OF = {name: code for code, name in WISDM2019_CODES.items()}
DEFAULT_RATE_HZ = 20.0      # WISDM's rate, the rate of every shipped preset


def recording_path(folder: str | Path, activity: str, subject: int,
                   channels: tuple[str, ...] | list[str], when: float | None = None) -> Path:
    """Where a new recording of `activity` goes, named for the format ``StreamRecorder`` then
    writes: a WISDM 2019 accel + gyro pair in a folder of its own when the stream has a
    gyroscope and the activity a 2019 letter code, else one WISDM v1.1 file named after the
    subject and activity. `when` (seconds since the epoch, default now) stamps the name."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    activity = canonical_activity(activity)
    if all(c in channels for c in GYRO) and activity in _CODE_OF:
        return Path(folder) / f"recording_{stamp}" / f"data_{int(subject)}_accel_phone.txt"
    safe = "".join(ch if ch.isalnum() else "-" for ch in activity)
    return Path(folder) / f"recording_s{int(subject)}_{safe}_{stamp}.txt"


class StreamRecorder:
    """Writes batches of a stream to `path` labelled with `subject` and `activity`.

    channels: names of the batch columns (default ``x, y, z``); a batch that names its own
    channels is matched by name. rate_hz: the rate written (None: as the stream arrives). Thread-safe: the session thread writes while the UI thread may
    close. ``close()`` returns the files written; ``discard()`` abandons the recording.
    """

    def __init__(self, path: str | Path, subject: int, activity: str,
                 channels: tuple[str, ...] | list[str] = ACCEL,
                 rate_hz: float | None = DEFAULT_RATE_HZ) -> None:
        from .ring import Resampler

        self.path = Path(path)
        self.rate_hz = float(rate_hz) if rate_hz else None
        self._resampler = Resampler(self.rate_hz) if self.rate_hz else None
        self._in_first: float | None = None
        self._in_last: float | None = None
        self._in_count = 0
        self.subject = int(subject)
        self.activity = canonical_activity(activity)
        if not self.activity or any(ch in self.activity for ch in ",;\n"):
            raise ValueError(f"not a usable activity name: {activity!r}")
        self.channels = tuple(channels)
        missing = [c for c in ACCEL if c not in self.channels]
        if missing:
            raise ValueError("a recording needs the accelerometer channels x, y, z")
        match = _WISDM2019_NAME.match(self.path.name)
        code = _CODE_OF.get(self.activity)
        self.format = "wisdm-2019" if match and code else "wisdm-v1.1"
        self._label = code if self.format == "wisdm-2019" else self.activity.capitalize()
        self._with_gyro = self.format == "wisdm-2019" and all(c in self.channels for c in GYRO)
        self.paths = [self.path]
        if self._with_gyro:
            self.paths.append(self.path.with_name(
                f"data_{match.group(1)}_gyro_{match.group(2)}{self.path.suffix}"))
        self._lock = threading.Lock()
        self._contexts = [atomic_write(p, "w", encoding="utf-8") for p in self.paths]
        self._files = [cm.__enter__() for cm in self._contexts]
        self._t0: float | None = None
        self._base_ns = time.time_ns()
        self._last_ns = -1
        self.samples = 0
        self.activities_seen = [self.activity]
        self.closed = False
        self.failed: OSError | None = None

    def set_activity(self, activity: str) -> None:
        """Label the samples from the next batch on with `activity` (labelling while
        streaming: one recording holds a whole labelled session). ValueError when the name is
        unusable, or has no WISDM 2019 letter code in a 2019-format recording."""
        name = canonical_activity(activity)
        if not name or any(ch in name for ch in ",;\n"):
            raise ValueError(f"not a usable activity name: {activity!r}")
        if self.format == "wisdm-2019" and name not in _CODE_OF:
            raise ValueError(f"{name!r} has no WISDM 2019 letter code; this recording is in "
                             "the 2019 format")
        with self._lock:
            self.activity = name
            self._label = _CODE_OF[name] if self.format == "wisdm-2019" else name.capitalize()
            self.activities_seen.append(name)

    @property
    def source_rate_hz(self) -> float:
        """The rate the stream arrived at (mean over the recording; 0 before two samples)."""
        if self._in_count < 2 or self._in_last is None or self._in_last <= self._in_first:
            return 0.0
        return (self._in_count - 1) / (self._in_last - self._in_first)

    @property
    def resampled(self) -> bool:
        """True when the stream arrived at another rate than the one written."""
        src = self.source_rate_hz
        return bool(self.rate_hz and src and abs(src - self.rate_hz) > 0.05 * self.rate_hz)

    def describe_rate(self) -> str:
        """E.g. "20 Hz (resampled from the 50 Hz stream)"."""
        src = self.source_rate_hz
        if not self.rate_hz:
            return f"{src:.0f} Hz (as it arrived)" if src else "the stream's rate"
        if self.resampled:
            return f"{self.rate_hz:g} Hz (resampled from the {src:.0f} Hz stream)"
        return f"{self.rate_hz:g} Hz"

    def write(self, batch: SampleBatch) -> None:
        """Append the samples of `batch` (non-finite rows are skipped)."""
        n = len(batch)
        if n == 0:
            return
        if self._resampler is not None:
            with self._lock:
                if self.closed:
                    return
                t = np.asarray(batch.t, np.float64)
                if self._in_first is None:
                    self._in_first = float(t[0])
                self._in_last = float(t[-1])
                self._in_count += n
                batch = self._resampler.push(batch)
            if len(batch) == 0:
                return
        names = tuple(batch.channels) if batch.channels else self.channels
        values = np.asarray(batch.values, np.float64)
        cols = [names.index(c) for c in ACCEL]
        gcols = [names.index(c) for c in GYRO] if self._with_gyro and all(c in names for c in GYRO) else None
        with self._lock:
            if self.closed:
                return
            if self._t0 is None:
                self._t0 = float(batch.t[0])
            ns = self._base_ns + np.round((np.asarray(batch.t, np.float64) - self._t0) * 1e9).astype(np.int64)
            ok = np.all(np.isfinite(values), axis=1)
            lines, glines = [], []
            for i in np.flatnonzero(ok):
                stamp = max(int(ns[i]), self._last_ns + 1)   # strictly increasing timestamps
                self._last_ns = stamp
                x, y, z = values[i, cols]
                lines.append(f"{self.subject},{self._label},{stamp},{x:.6g},{y:.6g},{z:.6g};\n")
                if gcols is not None:
                    gx, gy, gz = values[i, gcols]
                    glines.append(f"{self.subject},{self._label},{stamp},{gx:.6g},{gy:.6g},{gz:.6g};\n")
            try:
                self._files[0].write("".join(lines))
                self._files[0].flush()  # a full disk shows here, not at close()
                if self._with_gyro:
                    self._files[1].write("".join(glines))
                    self._files[1].flush()
            except OSError as exc:
                self._fail(exc)
                raise self.failed from exc
            self.samples += len(lines)

    def _fail(self, exc: OSError) -> None:
        """Abandon the recording after a failed write (the lock is held)."""
        if not isinstance(exc, AtomicWriteError):
            exc = AtomicWriteError(exc.errno, exc.strerror or str(exc), str(self.path))
        self.failed = exc
        self.samples = 0
        self.closed = True
        for cm in self._contexts:
            with contextlib.suppress(RuntimeError, OSError):
                cm.__exit__(RuntimeError, RuntimeError("failed"), None)
        log.error("recording abandoned: %s", exc)

    def close(self) -> list[Path]:
        """Finish: the files appear at their final paths. Returns them. Raises OSError (one
        line naming the file) when the recording failed; then nothing is published."""
        with self._lock:
            if self.failed is not None:
                raise self.failed
            if self.closed:
                return list(self.paths)
            self.closed = True
            for i, cm in enumerate(self._contexts):
                try:
                    cm.__exit__(None, None, None)
                except OSError as exc:
                    self._contexts = self._contexts[i + 1:]  # the rest are still open
                    self._fail(exc)
                    raise self.failed from exc
        log.info("recorded %d samples to %s", self.samples, self.path)
        return list(self.paths)

    def discard(self) -> None:
        """Abandon the recording: the temporary files are removed, targets left untouched."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for cm in self._contexts:
                with contextlib.suppress(RuntimeError):
                    cm.__exit__(RuntimeError, RuntimeError("discarded"), None)

    def __enter__(self) -> StreamRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
