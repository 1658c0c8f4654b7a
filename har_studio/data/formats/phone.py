"""What the phone apps' readers share: reading their CSV tables (any of ``,`` ``;`` tab,
decimal commas, quoted headers, a BOM, a Unicode minus, preamble lines, a trailing comma),
and turning converted samples into a ParsedFile, saying what was done.

A reader hands ``finish`` a ``PhoneRecording``: timestamps in ns and x, y, z already in
Android's convention (m/s^2 with gravity, ``data/conventions.py``), plus what it did ("signs
flipped", "gravity added from Gravity.csv"). ``finish`` drops rows that are not numbers or
are placeholder zeros (counted, with their lines), refuses time that goes backward, and
names the app, the conversion and the rate in one line of the load report.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..dataset import DataError
from ..sidecar import Identity
from .common import (
    BAD_TIMESTAMP,
    MAX_REPORTED_LINES,
    NON_FINITE,
    PLACEHOLDER,
    SNIFF_BYTES,
    ParsedFile,
    Table,
)

UNICODE_MINUS = "\u2212".encode()
_SEPARATORS = (",", ";", "\t")


@dataclass
class PhoneRecording:
    """Samples of one recording in Android's convention, and how they got there."""

    app: str                    # "Sensor Logger"
    format: str                 # "sensor-logger" (the load report's format)
    t_ns: np.ndarray            # int64 or float64 nanoseconds
    xyz: np.ndarray             # float [n, 3], m/s^2 with gravity, Android's signs
    done: list[str]             # what was done to get there, in words
    platform: str = ""          # "iPhone", "Android" or "" (unknown / not relevant)
    where: str = ""             # the file the rows come from (a zip member's label)
    first_line: int = 2         # physical line of the first row
    t_base: int = 0             # ns added to t_ns (which then holds offsets, exact in float64)


@dataclass
class CsvTable:
    """A phone app's CSV: columns by name (quotes and spaces stripped), the lines before the
    header, and where the header was."""

    frame: pd.DataFrame
    header: list[str]
    header_line: int            # 1-based
    preamble: list[str]
    sep: str
    decimal: str


def head_lines(data: bytes, limit: int = 40) -> list[str]:
    """The first `limit` lines of decoded text bytes (from the first 64 KiB)."""
    return data[:SNIFF_BYTES].decode("utf-8", errors="replace").split("\n")[:limit]


def split_header(line: str) -> tuple[str, list[str]]:
    """(separator, names) of a header line: the separator that splits it most, names with
    quotes and spaces stripped."""
    line = line.rstrip("\r").replace("\0", "")

    def fields(sep: str) -> list[str]:
        try:
            return next(csv.reader([line], delimiter=sep), [])
        except csv.Error:       # (a field past csv's size limit, say)
            return line.split(sep)

    sep = max(_SEPARATORS, key=lambda s: len(fields(s)))
    return sep, [n.strip().strip('"').strip() for n in fields(sep)]


def header_index(lines: list[str], skip: tuple[str, ...] = ("@", "#")) -> int:
    """Index of the first line that is not blank and does not start with one of `skip`."""
    for i, line in enumerate(lines):
        text = line.strip()
        if text and not text.startswith(skip):
            return i
    return -1


def header_names(data: bytes, limit: int = 20) -> list[str]:
    """The column names of the first header line of decoded text bytes (lines that are blank
    or start with ``@`` or ``#`` skipped), [] when there is none: what ``matches`` looks at."""
    lines = head_lines(data, limit)
    i = header_index(lines)
    return split_header(lines[i])[1] if i >= 0 else []


def read_table(where: str, data: bytes, dtype: dict | None = None,
               usecols: list[str] | None = None) -> CsvTable:
    """Parse a phone app's CSV (decoded UTF-8 bytes, ``text.decode_text``). DataError naming
    `where` (and the line) when it cannot be read."""
    if UNICODE_MINUS in data:
        data = data.replace(UNICODE_MINUS, b"-")
    lines = head_lines(data, 200)
    hi = header_index(lines)
    if hi < 0:
        raise DataError(f"{where}: no header line")
    sep, names = split_header(lines[hi])
    names = [n or f"_unnamed{i}" for i, n in enumerate(names)]
    offset = sum(len(ln.encode("utf-8")) + 1 for ln in lines[:hi + 1])
    body = data[offset:]
    sample = [ln for ln in lines[hi + 1:] if ln.strip()]
    decimal = "," if sep != "," and any("," in ln for ln in sample) else "."
    if not body.strip():
        raise DataError(f"{where}: has a header but no samples")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(io.BytesIO(body), sep=sep, decimal=decimal, header=None,
                                names=names, index_col=False, usecols=usecols, dtype=dtype,
                                engine="c", skip_blank_lines=True, quotechar='"',
                                encoding="utf-8", encoding_errors="replace")
    except (pd.errors.ParserError, ValueError, OverflowError, TypeError) as exc:
        text = " ".join(str(exc).split())
        match = re.search(r"line (\d+)", text)
        at = f":{hi + 1 + int(match.group(1))}" if match else ""
        raise DataError(f"{where}{at}: cannot be parsed ({text[:160]})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: has a header but no samples") from None
    return CsvTable(frame, names, hi + 1, [ln.rstrip("\r") for ln in lines[:hi]], sep, decimal)


def numbers(table: CsvTable, column: str) -> np.ndarray:
    """A column as float64 (NaN where a cell is empty or not a number)."""
    series = table.frame[column]
    if series.dtype.kind in "iuf":
        return series.to_numpy(dtype=np.float64)
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)


def timestamps(table: CsvTable, column: str, ns_per_unit: int) -> np.ndarray:
    """A clock column in ns: exact int64 when the column is whole numbers (Unix ms would lose
    their last digits in float64), else float64."""
    series = table.frame[column]
    if series.dtype.kind in "iu":
        return series.to_numpy(dtype=np.int64) * ns_per_unit
    return numbers(table, column) * ns_per_unit


def find_column(names: list[str], *patterns: str) -> str | None:
    """The first name matching one of `patterns` (regular expressions, case-insensitive)."""
    for pattern in patterns:
        for name in names:
            if re.fullmatch(pattern, name, flags=re.IGNORECASE):
                return name
    return None


def rate_hz(t_ns: np.ndarray) -> float:
    """Median sampling rate of rising timestamps (0 when it cannot be told)."""
    dt = np.diff(t_ns)
    dt = dt[dt > 0]
    return 1e9 / float(np.median(dt)) if len(dt) else 0.0


def _skip(pf: ParsedFile, reason: str, rows: np.ndarray, first_line: int) -> None:
    if len(rows):
        pf.skipped[reason] = pf.skipped.get(reason, 0) + len(rows)
        pf.skipped_lines.setdefault(reason, []).extend(
            int(first_line + r) for r in rows[:MAX_REPORTED_LINES])


def finish(path: Path, rec: PhoneRecording, identity: Identity) -> ParsedFile:
    """The ParsedFile of a converted recording: rows that are not numbers or are placeholder
    zeros skipped (counted with their lines); DataError when time goes backward or nothing is
    left. The load report gets one line saying what was done."""
    where = rec.where or str(path)
    t = np.asarray(rec.t_ns)
    xyz = np.asarray(rec.xyz, dtype=np.float64)
    n = len(t)
    first_line = rec.first_line
    pf = ParsedFile(path=path, format=rec.format, sensor="accel", device="", table=None,
                    activities=[identity.activity], records_read=n,
                    line_of=lambda recs: first_line + np.asarray(recs, dtype=np.int64))
    with np.errstate(invalid="ignore"):
        finite = (np.abs(xyz) < 3e38).all(axis=1)     # (float32 holds them)
        when = t.astype(np.float64) + rec.t_base
        timed = finite & (when >= 0) & (when < 9e18) if t.dtype.kind == "f" else finite & (t >= 0)
    zeros = timed & (xyz == 0).all(axis=1)
    _skip(pf, NON_FINITE, np.flatnonzero(~finite), first_line)
    _skip(pf, BAD_TIMESTAMP, np.flatnonzero(finite & ~timed), first_line)
    _skip(pf, PLACEHOLDER, np.flatnonzero(zeros), first_line)
    keep = np.flatnonzero(timed & ~zeros)
    if len(keep) == 0:
        raise DataError(f"{where}: no usable samples ({n} rows, none with numbers for x, y, z"
                        " and time)")
    ts = np.round(t[keep]).astype(np.int64) if t.dtype.kind == "f" else t[keep].astype(np.int64)
    ts += rec.t_base
    back = np.flatnonzero(np.diff(ts) < 0)
    if len(back):
        i = int(keep[back[0] + 1])
        raise DataError(f"{where}:{first_line + i}: time goes backward ({len(back)} time(s)); "
                        "the file is damaged or joins two recordings: open each recording's "
                        "own export")
    hz = rate_hz(ts)
    what = ", ".join([*rec.done, f"{hz:.0f} Hz" if hz else "rate unknown"])
    pf.warnings.append(f"{path.name}: {rec.app}{', ' + rec.platform if rec.platform else ''}: "
                       f"{what}")
    pf.table = Table(
        subject=np.full(len(keep), identity.subject, dtype=np.int64),
        activity=np.zeros(len(keep), dtype=np.int32),
        timestamp=ts,
        channels={c: xyz[keep, k].astype(np.float32) for k, c in enumerate("xyz")},
        rec=keep.astype(np.int64),
    )
    return pf
