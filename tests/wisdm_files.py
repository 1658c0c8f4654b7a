"""Writers of small WISDM-shaped test files with the quirks of the real ones.

Every writer returns an `Expected`: what a correct loader must report for that file,
computed from what was written (records, kept rows, skips per reason with the physical line
numbers, subjects, activity counts). Tests compare the loader's report against it, so no
number in a test is copied from the loader's own output.

- `write_v11_raw`      WISDM v1.1 raw text (``33,Jogging,49105962326000,-0.69,12.68,0.50;``)
- `write_2019_subject` WISDM 2019 per-subject files (``data_1600_accel_phone.txt``, letter codes)
- `write_headed_csv`   a CSV with a header row (any column order, names, separators, encodings)
- `write_bad_file`     files that no loader can use (empty, binary, a PNG, ...)

Skip reasons are the loader's strings (``har_studio.data.formats`` / ``loaders``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PERIOD_NS = 50_000_000  # 20 Hz

# Skip reasons (as the loader names them)
MISSING = "missing value"
NON_FINITE = "non-finite value"
NOT_A_NUMBER = "not a number"
PLACEHOLDER = "placeholder zeros"
DUPLICATE = "duplicate record"
REPEATED = "repeated timestamp"
TOO_MANY = "too many fields"
NO_GYRO = "no gyroscope data nearby"

V11_NAMES = ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")
CODES = {"A": "walking", "B": "jogging", "C": "stairs", "D": "sitting", "E": "standing",
         "F": "typing"}


@dataclass
class Expected:
    """What loading the written file(s) must give."""

    paths: list[Path] = field(default_factory=list)
    records_read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)           # reason -> count
    lines: dict[str, list[int]] = field(default_factory=dict)   # reason -> physical lines
    subjects: set[int] = field(default_factory=set)
    activities: Counter = field(default_factory=Counter)        # lower-case name -> kept rows

    @property
    def path(self) -> Path:
        return self.paths[0]

    def merge(self, other: Expected) -> Expected:
        """Expectations of loading both (no cross-file duplicates assumed)."""
        lines = {k: list(v) for k, v in self.lines.items()}
        for k, v in other.lines.items():
            lines.setdefault(k, []).extend(v)
        return Expected(self.paths + other.paths, self.records_read + other.records_read,
                        self.kept + other.kept, self.skipped + other.skipped, lines,
                        self.subjects | other.subjects, self.activities + other.activities)


class _Lines:
    """Physical lines of records; each record tagged with its skip reason (None: kept)."""

    def __init__(self) -> None:
        self.lines: list[list[str]] = []
        self.expected = Expected()

    def add(self, record: str, *, reason: str | None = None, subject: int | None = None,
            activity: str | None = None, join: bool = False) -> None:
        if join and self.lines:
            self.lines[-1].append(record)
        else:
            self.lines.append([record])
        e = self.expected
        e.records_read += 1
        if reason is None:
            e.kept += 1
            e.subjects.add(int(subject))
            e.activities[activity] += 1
        else:
            e.skipped[reason] += 1
            e.lines.setdefault(reason, []).append(len(self.lines))

    def blank(self, text: str = "") -> None:
        self.lines.append([text])

    def text(self, sep: str = "", newline: str = "\n") -> str:
        return newline.join(sep.join(parts) for parts in self.lines) + newline


def _value(rng: np.random.Generator, scale: float = 5.0) -> float:
    return float(np.float32(rng.normal(0.0, scale)))


def _fmt(v: float) -> str:
    """Like WISDM's Java writer (Float.toString): shortest float32 text, and an upper-case
    exponent for magnitudes below 1e-3 (``-4.5776367E-4``)."""
    f = np.float32(v)
    if f != 0 and abs(f) < 1e-3:
        return np.format_float_scientific(f, unique=True, trim="-", exp_digits=1).replace("e", "E")
    return str(f)


def write_v11_raw(path: Path, *, subjects: tuple[int, ...] = (33, 7),
                  activities: tuple[str, ...] = ("Walking", "Jogging", "Sitting"),
                  samples: int = 30, quirks: bool = True, seed: int = 0) -> Expected:
    """WISDM v1.1 raw text: ``user,Activity,timestamp_ns,x,y,z;`` one record a line.

    With `quirks`, per (subject, activity) recording: a placeholder row of zeros, an exact
    duplicate row, a row repeating a timestamp with other values, a record missing its last
    value, two records sharing a physical line, and two neighbouring records swapped (out of
    time order); subject 7's lines have spaces after the commas; blank lines in the middle and
    at the end.
    """
    rng = np.random.default_rng(seed)
    out = _Lines()
    t_base = 49105962326000
    for si, s in enumerate(subjects):
        comma = ", " if (quirks and s == 7) else ","
        for ai, act in enumerate(activities):
            name = act.lower()
            t0 = t_base + (si * len(activities) + ai) * 10 * samples * PERIOD_NS
            rows = [(t0 + k * PERIOD_NS, _value(rng), _value(rng, 9.0), _value(rng))
                    for k in range(samples)]
            if quirks:
                rows[5], rows[6] = rows[6], rows[5]  # out of time order: the loader sorts

            def rec(t: int, x: float, y: float, z: float, s=s, act=act, comma=comma) -> str:
                return comma.join([str(s), act, str(t), _fmt(x), _fmt(y), _fmt(z)]) + ";"

            for k, (t, x, y, z) in enumerate(rows):
                out.add(rec(t, x, y, z), subject=s, activity=name, join=quirks and k == 10)
                if not quirks:
                    continue
                if k == 2:
                    out.add(comma.join([str(s), act, "0", "0", "0", "0.0"]) + ";",
                            reason=PLACEHOLDER)
                if k == 3:
                    out.add(rec(t, x, y, z), reason=DUPLICATE)
                if k == 4:
                    out.add(rec(t, x + 1.0, y, z), reason=REPEATED)
                if k == 8:
                    out.add(comma.join([str(s), act, str(t + PERIOD_NS // 2), _fmt(x), _fmt(y)])
                            + ";", reason=MISSING)
            if quirks and ai == 0:
                out.blank()
    if quirks:
        out.blank()
        out.blank("   ")
    Path(path).write_text(out.text(), encoding="ascii", newline="")
    out.expected.paths = [Path(path)]
    return out.expected


def gyro_truth(tau_s: np.ndarray | float) -> tuple:
    """The gyroscope signal `write_2019_subject` writes, at tau seconds since the recording's
    first accelerometer sample: linear in time, so interpolation reproduces it exactly."""
    tau = np.asarray(tau_s, dtype=np.float64)
    return 0.5 + 0.25 * tau, -0.1 * tau, np.full_like(tau, 4.5776367e-4)


@dataclass
class Subject2019:
    """What `write_2019_subject` wrote: per-sensor expectations and the aligned row count."""

    accel: Expected | None
    gyro: Expected | None
    aligned: int                       # rows when accel + gyro are loaded together
    accel_start_ns: dict[str, int]     # activity name -> first accel timestamp


def write_2019_subject(folder: Path, subject: int, *, accel: bool = True, gyro: bool = True,
                       device: str = "phone", activities: str = "AB", samples: int = 60,
                       gyro_lag_ns: int = 17_000_000, gyro_late_samples: int = 3,
                       placeholders: int = 0) -> Subject2019:
    """WISDM 2019 raw files ``data_<subject>_<accel|gyro>_<device>.txt`` in `folder`.

    Accelerometer samples every 50 ms from each activity's start; gyroscope samples every
    50 ms but offset by `gyro_lag_ns` and starting `gyro_late_samples` periods late, so the
    first accelerometer samples have no gyroscope data around them (the loader drops them).
    Values use Java-style exponents (``4.5776367E-4``). Gyroscope values follow `gyro_truth`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(subject)
    acc_out, gyr_out = _Lines(), _Lines()
    aligned = 0
    starts: dict[str, int] = {}
    for ai, code in enumerate(activities):
        name = CODES[code]
        t0 = 252207666810782 + ai * 300 * 1_000_000_000 + subject * 7_000_000
        starts[name] = t0
        a_ts = t0 + np.arange(samples, dtype=np.int64) * PERIOD_NS
        g_ts = (t0 + gyro_lag_ns
                + np.arange(gyro_late_samples, samples, dtype=np.int64) * PERIOD_NS)
        for k, t in enumerate(a_ts):
            if k == 1 and placeholders:
                for _ in range(placeholders):
                    acc_out.add(f"{subject},{code},{t - 1},0.0,0.0,0.0;", reason=PLACEHOLDER)
            vals = (_value(rng), _value(rng, 9.0), 4.5776367e-4 if k % 7 == 0 else _value(rng))
            acc_out.add(f"{subject},{code},{t}," + ",".join(_fmt(v) for v in vals) + ";",
                        subject=subject, activity=name)
        gx, gy, gz = gyro_truth((g_ts - t0) / 1e9)
        for t, a, b, c in zip(g_ts, gx, gy, gz, strict=True):
            gyr_out.add(f"{subject},{code},{t},{float(a)!r},{float(b)!r},{_fmt(c)};",
                        subject=subject, activity=name)
        aligned += int(np.count_nonzero((a_ts >= g_ts[0]) & (a_ts <= g_ts[-1])))
    result = Subject2019(None, None, aligned, starts)
    if accel:
        p = folder / f"data_{subject}_accel_{device}.txt"
        p.write_text(acc_out.text(), encoding="ascii", newline="")
        acc_out.expected.paths = [p]
        result.accel = acc_out.expected
    if gyro:
        p = folder / f"data_{subject}_gyro_{device}.txt"
        p.write_text(gyr_out.text(), encoding="ascii", newline="")
        gyr_out.expected.paths = [p]
        result.gyro = gyr_out.expected
    return result


DEFAULT_HEADER = (("subject", "user"), ("activity", "activity"), ("timestamp", "timestamp"),
                  ("x", "x-axis"), ("y", "y-axis"), ("z", "z-axis"))


def write_headed_csv(path: Path, *, header: tuple[tuple[str, str], ...] = DEFAULT_HEADER,
                     subjects: tuple[int, ...] = (1, 2),
                     activities: tuple[str, ...] = ("Walking", "Jogging"), samples: int = 20,
                     sep: str = ",", decimal: str = ".", newline: str = "\r\n",
                     encoding: str = "utf-8", nonfinite: int = 0, text_values: int = 0,
                     missing: int = 0, extra_fields: int = 0, time_unit_ns: int = 1,
                     seed: int = 0) -> Expected:
    """A CSV with a header row. `header` pairs (role, column name) in column order; roles are
    subject, activity, timestamp, x, y, z, gx, gy, gz or "extra" (a text column to ignore).

    `activities` are written as given (names, or WISDM 2019 letters, whose expected names come
    from their codes). Bad rows appended per recording: `nonfinite` rows with nan/inf,
    `text_values` rows with a word in a number column, `missing` rows with an empty field,
    `extra_fields` rows with three fields too many. Timestamps are written in units of
    `time_unit_ns` nanoseconds (1: ns, 1_000_000: ms).
    """
    rng = np.random.default_rng(seed)
    out = _Lines()
    out.blank(sep.join(name for _, name in header))  # the header row: not a record
    roles = [r for r, _ in header]

    def num(v: float) -> str:
        text = repr(float(np.float32(v)))
        return text.replace(".", decimal) if decimal != "." else text

    for si, s in enumerate(subjects):
        for ai, act in enumerate(activities):
            name = CODES.get(act, act.lower()) if len(act) == 1 else act.lower()
            t0 = 1_000_000_000_000 + (si * len(activities) + ai) * 100 * samples * PERIOD_NS

            def row(k: int, override: dict | None = None, s=s, act=act, t0=t0) -> list[str]:
                values = {"subject": str(s), "activity": act,
                          "timestamp": str((t0 + k * PERIOD_NS) // time_unit_ns),
                          "extra": "café"}
                for r in roles:
                    if r not in values:
                        values[r] = num(_value(rng))
                values.update(override or {})
                return [values[r] for r in roles]

            for k in range(samples):
                out.add(sep.join(row(k)), subject=s, activity=name)
            num_roles = [r for r in roles if r in ("x", "y", "z", "gx", "gy", "gz")]
            for j in range(nonfinite):
                bad = ["nan", "inf", "-inf"][j % 3]
                out.add(sep.join(row(samples + j, {num_roles[j % len(num_roles)]: bad})),
                        reason=NON_FINITE if bad != "nan" else MISSING)
            for j in range(text_values):
                out.add(sep.join(row(samples + 10 + j, {num_roles[0]: "abc"})),
                        reason=NOT_A_NUMBER)
            for j in range(missing):
                out.add(sep.join(row(samples + 20 + j, {num_roles[-1]: ""})), reason=MISSING)
            for j in range(extra_fields):
                out.add(sep.join(row(samples + 30 + j) + ["1", "2", "3"]), reason=TOO_MANY)
    data = out.text(newline=newline)
    Path(path).write_bytes(data.encode(encoding))
    out.expected.paths = [Path(path)]
    return out.expected


BAD_KINDS = ("empty", "blank", "header_only", "binary", "png", "wrong_columns", "all_text",
             "all_nan", "long_garbage_line", "gyro_only_header")


def write_bad_file(path: Path, kind: str) -> Path:
    """Write a file no loader can use. Kinds (`BAD_KINDS`):

    empty, blank (whitespace only), header_only, binary (random bytes), png (a PNG image
    named .csv), wrong_columns (4 fields a line), all_text (every value a word), all_nan (every
    value NaN), long_garbage_line (20 MB on one line, no newline), gyro_only_header (a header
    without accelerometer columns).
    """
    path = Path(path)
    rng = np.random.default_rng(1)
    if kind == "empty":
        data = b""
    elif kind == "blank":
        data = b"\n  \n\t\n"
    elif kind == "header_only":
        data = b"user,activity,timestamp,x-axis,y-axis,z-axis\r\n"
    elif kind == "binary":
        data = bytes(rng.integers(0, 256, 4096, dtype=np.uint8))
    elif kind == "png":
        data = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
                + bytes(rng.integers(0, 256, 200, dtype=np.uint8)))
    elif kind == "wrong_columns":
        data = b"".join(b"%d,Walking,%d,1.5\n" % (i, 1000 + i) for i in range(20))
    elif kind == "all_text":
        data = b"user,activity,timestamp,x,y,z\n" + b"".join(
            b"alice,Walking,noon,up,down,left\n" for _ in range(20))
    elif kind == "all_nan":
        data = b"user,activity,timestamp,x,y,z\n" + b"".join(
            b"1,Walking,%d,nan,NaN,nan\n" % (1000 + i * PERIOD_NS) for i in range(20))
    elif kind == "long_garbage_line":
        data = b"1,2,3,4," * (20 * 1024 * 1024 // 8)
    elif kind == "gyro_only_header":
        data = b"user,activity,timestamp,gx,gy,gz\n1,Walking,1000,0.1,0.2,0.3\n"
    else:
        raise ValueError(f"unknown bad file kind {kind!r}")
    path.write_bytes(data)
    return path


def write_long_line_v11(path: Path, records: int = 350_000) -> int:
    """About 20 MB of valid v1.1 records on ONE line (``;`` separated, no newline). Returns
    the number of records written (all valid, distinct timestamps)."""
    k = np.arange(records, dtype=np.int64)
    t = 49105962326000 + k * PERIOD_NS
    x = np.round(np.sin(k / 10.0) * 5, 6)
    parts = [f"33,Walking,{ti},{xi!r},9.81,0.5;" for ti, xi in zip(t.tolist(), x.tolist(),
                                                                   strict=True)]
    Path(path).write_bytes("".join(parts).encode("ascii"))
    return records


def isclose_all(a, b, tol: float = 1e-4) -> bool:
    """Element-wise closeness of two sequences (helper for float32 round trips)."""
    return all(math.isclose(float(u), float(v), rel_tol=tol, abs_tol=tol)
               for u, v in zip(a, b, strict=True))
