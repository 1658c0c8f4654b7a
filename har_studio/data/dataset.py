"""The tidy table every loader returns, and its load report.

The frame has one row per sample, sorted by (subject, timestamp) within each recording:

======== ============== =====================================================
column   dtype          meaning
======== ============== =====================================================
subject  int64          subject / user id
activity category      lower-case activity name (see ``activities.py``)
timestamp int64         nanoseconds (WISDM's own clock; only differences matter)
x y z    float32        accelerometer, m/s^2 including gravity
gx gy gz float32        gyroscope, rad/s (only when a gyroscope file was loaded)
======== ============== =====================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

ACCEL_CHANNELS: tuple[str, ...] = ("x", "y", "z")
GYRO_CHANNELS: tuple[str, ...] = ("gx", "gy", "gz")
CHANNEL_UNITS: dict[str, str] = {
    "x": "m/s²", "y": "m/s²", "z": "m/s²", "gx": "rad/s", "gy": "rad/s", "gz": "rad/s",
}


class DataError(Exception):
    """Input that cannot be used. The message is one line naming the file (and line)."""


@dataclass
class LoadReport:
    """What a load found: shown in the Data tab and printed by ``har-studio inspect``."""

    format: str = ""                       # "wisdm-v1.1", "wisdm-2019", "csv", a phone app's
                                           # ("sensor-logger", "phyphox", ...), or "mixed"
    files: list[str] = field(default_factory=list)
    records: int = 0                       # records kept
    records_read: int = 0                  # records seen (kept + skipped)
    skipped: dict[str, int] = field(default_factory=dict)            # reason -> count
    skipped_lines: dict[str, list[str]] = field(default_factory=dict)  # reason -> first "file:line"s
    subjects: list[int] = field(default_factory=list)
    activities: dict[str, int] = field(default_factory=dict)          # name -> records
    channels: list[str] = field(default_factory=list)
    sampling_hz: float = 0.0               # median of within-run sample intervals
    gaps: int = 0                          # timestamp gaps larger than a few sample periods
    unlabelled: int = 0                    # records of activities.UNLABELLED (no windows)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def skip(self, reason: str, where: str, keep: int = 5) -> None:
        """Count one skipped record; remember the first few places (``file:line``)."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        places = self.skipped_lines.setdefault(reason, [])
        if len(places) < keep:
            places.append(where)


@dataclass
class Dataset:
    """A loaded recording set: the tidy frame plus what loading it found."""

    frame: pd.DataFrame
    report: LoadReport

    @property
    def channels(self) -> list[str]:
        return [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in self.frame.columns]

    @property
    def subjects(self) -> list[int]:
        return sorted(int(s) for s in self.frame["subject"].unique())

    @property
    def activities(self) -> list[str]:
        return sorted(str(a) for a in self.frame["activity"].unique())


def frame_and_files(data: Dataset | pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The tidy frame of a Dataset or a bare DataFrame, and the files it was loaded from
    (none for a bare frame); TypeError for anything else."""
    if isinstance(data, Dataset):
        return data.frame, [str(f) for f in data.report.files]
    if isinstance(data, pd.DataFrame):
        return data, []
    raise TypeError(f"expected a Dataset or a DataFrame, got {type(data).__name__}")
