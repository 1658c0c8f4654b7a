"""What every format module shares: limits, skip reasons, the layout a sniff finds, the
column table records are parsed into and the parsed file with its skip counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SNIFF_BYTES = 1 << 16
MAX_FILE_BYTES = 4 << 30      # one data file (WISDM 2019 as a whole is ~ 1 GB)
MAX_REPORTED_LINES = 5
NOMINAL_RATE_HZ = 20.0

WISDM2019_NAME = re.compile(r"^data_(\d+)_(accel|gyro)_(phone|watch)\.txt$", re.IGNORECASE)

# Skip reasons, in the order they are tested (a record is counted under the first that applies).
TOO_MANY_FIELDS = "too many fields"
MISSING_VALUE = "missing value"
NOT_A_NUMBER = "not a number"
NON_FINITE = "non-finite value"
BAD_SUBJECT = "bad subject id"
UNKNOWN_ACTIVITY = "unknown activity"
PLACEHOLDER = "placeholder zeros"
BAD_TIMESTAMP = "bad timestamp"

INT_RE = re.compile(r"^[+-]?\d+$")
FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$",
                       re.IGNORECASE)


@dataclass
class Layout:
    """How one file is laid out (what `sniff` found)."""

    kind: str                   # "raw" (headerless records) or "csv" (headed)
    format: str                 # "wisdm-v1.1", "wisdm-2019" or "csv"
    sep: str = ","
    decimal: str = "."
    split_semicolons: bool = True   # ";" ends a record (turned into a newline before parsing)
    body_start: int = 0         # byte offset of the first record (after a header)
    base_line: int = 1          # physical line number at body_start
    ncols: int = 6              # fields per record
    roles: dict[str, int] = field(default_factory=dict)  # role -> column index
    sensor: str = "accel"       # "accel" or "gyro" (WISDM 2019 file names)
    device: str = ""            # "phone", "watch" or ""
    header: list[str] | None = None


@dataclass
class Table:
    """Column arrays of records (numpy, no pandas overhead) while files are combined.

    `activity` holds codes into a list of names kept alongside; `file` and `rec` say where
    each record came from (index of its file, index of the record in that file), for the
    line numbers of the report.
    """

    subject: np.ndarray               # int64
    activity: np.ndarray              # int32 codes
    timestamp: np.ndarray             # int64 ns
    channels: dict[str, np.ndarray]   # name -> float32
    rec: np.ndarray                   # int64
    file: np.ndarray | None = None    # int32 (set when files are combined)

    def __len__(self) -> int:
        return int(len(self.subject))

    def take(self, index: np.ndarray) -> Table:
        """Rows at `index` (integer positions or a boolean mask)."""
        return Table(self.subject[index], self.activity[index], self.timestamp[index],
                     {k: v[index] for k, v in self.channels.items()}, self.rec[index],
                     None if self.file is None else self.file[index])

    @staticmethod
    def concat(tables: list[Table]) -> Table:
        """Rows of all `tables` (channels: those every table has)."""
        if len(tables) == 1:
            return tables[0]
        names = [c for c in tables[0].channels if all(c in t.channels for t in tables)]
        return Table(
            np.concatenate([t.subject for t in tables]),
            np.concatenate([t.activity for t in tables]),
            np.concatenate([t.timestamp for t in tables]),
            {c: np.concatenate([t.channels[c] for t in tables]) for c in names},
            np.concatenate([t.rec for t in tables]),
            np.concatenate([t.file for t in tables]) if all(t.file is not None for t in tables)
            else None,
        )


@dataclass
class ParsedFile:
    """One file's valid records as typed columns, and what was skipped on the way."""

    path: Path
    format: str
    sensor: str
    device: str
    table: Table
    activities: list[str]           # names of the table's activity codes
    records_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_lines: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    line_of: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def lines(self, records: np.ndarray) -> list[int]:
        """Physical line numbers (1-based) of record indices of this file."""
        if self.line_of is None or len(records) == 0:
            return []
        return [int(v) for v in self.line_of(np.asarray(records, dtype=np.int64))]


def one_line(text: str) -> str:
    """Collapse a message onto one line (DataError messages must be single lines)."""
    return " ".join(str(text).split())


def is_number(text: str, decimal: str = ".") -> bool:
    text = text.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    return bool(FLOAT_RE.match(text))

