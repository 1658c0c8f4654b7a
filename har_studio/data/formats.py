"""Reading one data file: decode it, recognise its layout, parse it into typed columns.

Three layouts are recognised from the content (the file name only adds the sensor and
device of WISDM 2019 files):

- WISDM raw records ``subject,activity,timestamp,x,y,z;`` without a header: WISDM v1.1
  (activities named in full) and WISDM 2019 (letter codes, ``data_<id>_<accel|gyro>_<dev>.txt``).
  ``;`` ends a record, so several records may share a physical line.
- A headed CSV naming its columns (any order or case, common aliases), separated by ``,``,
  ``;`` (then decimal commas are accepted), tab or ``|``.
- The same raw records written by a European spreadsheet: ``1;Walking;123;-0,5;9,8;0,1``.

Text may be UTF-8 (BOM or not), UTF-16 (BOM or not) or Latin-1; images, archives and other
binary files are refused. In a headed CSV the timestamp unit (ns, us, ms, s) is inferred from
the median interval, ISO 8601 dates are accepted, subject ids written as text (``u7``) are
numbered, and a missing subject or timestamp column is tolerated (subject 0; 20 Hz assumed),
each with a warning.

Speed: a WISDM raw file in ASCII is streamed from disk to the C parser with ``;`` as its line
terminator (``parse_plain_raw``; the file is never held in memory). Otherwise the whole file
is parsed by one C-engine ``pandas.read_csv`` call on bytes in which
``;`` record ends were turned into newlines (a length-preserving byte replacement, so byte
offsets and hence physical line numbers stay valid). Validation is vectorised; physical line
numbers are computed only for the few skipped records a report shows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import halves
from .activities import WISDM2019_CODES, activity_order, canonical_activity
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS, DataError

log = logging.getLogger(__name__)

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

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (extract it first)"),
    (b"\x1f\x8b", "gzip-compressed (decompress it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
)


def _role_aliases() -> dict[str, str]:
    """Normalised header name -> role (subject, activity, timestamp, x..z, gx..gz)."""
    table: dict[str, str] = {}
    for name in ("subject", "user", "userid", "id", "subjectid", "participant", "participantid",
                 "person", "uid", "sid", "subj", "usr"):
        table[name] = "subject"
    for name in ("activity", "label", "class", "activitylabel", "activityname", "activitycode",
                 "act", "target", "classlabel"):
        table[name] = "activity"
    for name in ("timestamp", "time", "ts", "t", "timestampns", "timens", "timestampms", "timems",
                 "timestampus", "times", "timestamps"):
        table[name] = "timestamp"
    for axis in "xyz":
        for name in (axis, f"{axis}axis", f"acc{axis}", f"accel{axis}", f"acceleration{axis}",
                     f"a{axis}", f"accelerometer{axis}", f"{axis}acc", f"{axis}accel",
                     f"{axis}acceleration", f"acc{axis}axis", f"accel{axis}axis"):
            table[name] = axis
        for name in (f"g{axis}", f"gyro{axis}", f"gyr{axis}", f"gyroscope{axis}", f"{axis}gyro",
                     f"gyro{axis}axis", f"w{axis}", f"rot{axis}", f"rotation{axis}",
                     f"angularvelocity{axis}"):
            table[name] = f"g{axis}"
    return table


ROLE_ALIASES = _role_aliases()
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$",
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


# --------------------------------------------------------------------------------------------
# Bytes -> UTF-8 text bytes
# --------------------------------------------------------------------------------------------

_PRINTABLE = bytes([9, 10, 12, 13, *range(32, 256)])


def _has_text(raw: bytes) -> bool:
    """True when `raw` holds anything but whitespace (cheap for the usual, non-blank file)."""
    return bool(raw[:4096].strip()) or bool(raw.strip())


def read_text_bytes(path: Path) -> tuple[bytes, list[str]]:
    """The file's content as UTF-8 bytes with one-byte newlines, plus notes on the decoding.

    Handles UTF-8 (with or without BOM), UTF-16 (BOM or not) and Latin-1; refuses binary files
    (images, archives, random bytes) with a DataError naming the file.
    """
    raw = _read_sniffed(path)
    notes: list[str] = []
    if not _has_text(raw):
        raise DataError(f"{path}: the file is empty")
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataError(f"{path}: this is {what}, not a text file of sensor records")
    text: str | None = None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _decode_utf16(path, raw, "utf-16")
        notes.append("decoded as UTF-16")
    else:
        head = raw[:SNIFF_BYTES]
        if b"\x00" in head:
            even, odd = head[0::2], head[1::2]
            if odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
                text = _decode_utf16(path, raw, "utf-16-le")
            elif even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
                text = _decode_utf16(path, raw, "utf-16-be")
            else:
                raise DataError(f"{path}: binary data, not a text file of sensor records")
            notes.append("decoded as UTF-16")
    if text is not None:
        raw = text.encode("utf-8")
    head = raw[:SNIFF_BYTES]
    control = len(head.translate(None, _PRINTABLE))
    if control > max(2, len(head) // 100):
        raise DataError(f"{path}: binary data, not a text file of sensor records")
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("latin-1").encode("utf-8")
            notes.append("decoded as Latin-1")
    if b"\n" not in raw and b"\r" in raw:
        raw = raw.replace(b"\r", b"\n")  # old Mac line ends; same length
    if not _has_text(raw):
        raise DataError(f"{path}: the file is empty")
    return raw, notes


def _binary_reason(head: bytes) -> str | None:
    """Why the first bytes of a file show it is not text (None when they may be text)."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"this is {what}, not a text file of sensor records"
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if (odd.count(0) > 0.4 * len(odd) and even.count(0) == 0) or (
                even.count(0) > 0.4 * len(even) and odd.count(0) == 0):
            return None  # UTF-16 without a BOM
        return "binary data, not a text file of sensor records"
    control = len(head.translate(None, _PRINTABLE))
    if control > max(2, len(head) // 100):
        return "binary data, not a text file of sensor records"
    return None


def _read_sniffed(path: Path) -> bytearray:
    """The file's bytes, read only after its first SNIFF_BYTES showed it may be text: a large
    binary file (an image, a disk image of zeros) is refused after reading 64 KiB. Only
    regular files are read (a FIFO or device would block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise DataError(f"{path}: not a regular file")
            if hasattr(os, "O_NONBLOCK"):  # (opened without blocking: reads may block again)
                os.set_blocking(fd, True)
            head = os.read(fd, SNIFF_BYTES)
            reason = _binary_reason(head)
            if reason:
                raise DataError(f"{path}: {reason}")
            if info.st_size > MAX_FILE_BYTES:
                raise DataError(f"{path}: too large ({info.st_size:,} bytes; at most "
                                f"{MAX_FILE_BYTES:,} per file): split it")
            # One buffer of the file's size, filled in place (no list of chunks to join).
            buffer = bytearray(max(info.st_size, len(head)))
            buffer[:len(head)] = head
            got = len(head)
            with open(fd, "rb", buffering=0, closefd=False) as fh:
                view = memoryview(buffer)
                while got < len(buffer):
                    n = fh.readinto(view[got:])
                    if not n:
                        break
                    got += n
                del view
                if got == len(buffer):  # the file grew since fstat
                    buffer += fh.read()
                else:
                    del buffer[got:]
        except OSError as exc:
            raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return buffer


def _decode_utf16(path: Path, raw: bytes, codec: str) -> str:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise DataError(f"{path}: looks like UTF-16 text but does not decode as UTF-16") from None
    return text.lstrip("\ufeff")


# --------------------------------------------------------------------------------------------
# Layout detection
# --------------------------------------------------------------------------------------------

def normalise_header(token: str) -> str:
    token = re.sub(r"\(.*?\)|\[.*?\]", "", token.strip().strip("\"'").lower())
    return re.sub(r"[^a-z0-9]", "", token)


def _header_roles(tokens: list[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        role = ROLE_ALIASES.get(normalise_header(tok))
        if role and role not in roles:
            roles[role] = i
    return roles


def _is_number(text: str, decimal: str = ".") -> bool:
    text = text.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    return bool(_FLOAT_RE.match(text))


def _looks_like_raw_record(fields: list[str], decimal: str) -> bool:
    if len(fields) == 7 and not fields[6].strip():
        fields = fields[:6]
    if len(fields) != 6:
        return False
    label = fields[1].strip()
    return (bool(_INT_RE.match(fields[0].strip())) and bool(re.search(r"[A-Za-z]", label))
            and _is_number(fields[2]) and all(_is_number(f, decimal) for f in fields[3:]))


def sniff(path: Path, data: bytes) -> Layout:
    """Recognise the layout of `data` (UTF-8 bytes of `path`). Raises DataError if unknown."""
    head_bytes = data[:SNIFF_BYTES]
    truncated = len(data) > SNIFF_BYTES
    head = head_bytes.decode("utf-8", errors="replace")
    lines = head.split("\n")
    if truncated:
        lines = lines[:-1] or [lines[0]]  # the last line may be cut; keep it if it is the only one
    # First non-blank line, its number and byte offset.
    offset = 0
    first_idx = -1
    for i, line in enumerate(lines):
        if line.strip():
            first_idx = i
            break
        offset += len(line.encode("utf-8")) + 1
    if first_idx < 0:
        raise DataError(f"{path}: the file is empty")
    first = lines[first_idx].rstrip("\r")
    first_line_no = first_idx + 1

    # 1) A header row naming the columns?
    best_sep, best_roles, best_tokens = ",", {}, [first]
    for sep in (",", ";", "\t", "|"):
        tokens = first.split(sep)
        roles = _header_roles(tokens)
        if len(roles) > len(best_roles):
            best_sep, best_roles, best_tokens = sep, roles, tokens
    numeric_tokens = sum(_is_number(t) for t in best_tokens)
    if len(best_roles) >= 2 and numeric_tokens == 0:
        return _csv_layout(path, data, lines, first_idx, first_line_no, offset, best_sep,
                           best_roles, best_tokens)

    # 2) Headerless raw records (comma-separated with ';' record ends, or European ';' + ',').
    rec_lines = [ln.rstrip("\r") for ln in lines[first_idx:first_idx + 100] if ln.strip()]
    candidates: list[tuple[int, str, str, list[str]]] = []
    for sep, decimal in ((",", "."), (";", ","), ("\t", ".")):
        records: list[str] = []
        for ln in rec_lines:
            records.extend(r for r in (ln.split(";") if sep != ";" else [ln]) if r.strip())
            if len(records) >= 30:
                break
        good = [fields for fields in (r.split(sep) for r in records[:30])
                if _looks_like_raw_record(fields, decimal)]
        candidates.append((len(good), sep, decimal, [f[1].strip() for f in good]))
    score, sep, decimal, labels = max(candidates, key=lambda c: c[0])
    if score == 0:
        n_fields = max(len(first.split(s)) for s in (",", ";", "\t"))
        preview = first.strip()[:60]
        raise DataError(
            f"{path}:{first_line_no}: not a recognised layout: expected records "
            f"'subject,activity,timestamp,x,y,z' or a header row naming the columns; "
            f"found {n_fields} field{'s' if n_fields != 1 else ''} ({preview!r})"
        )
    name_match = WISDM2019_NAME.match(path.name)
    sensor, device = "accel", ""
    if name_match:
        sensor, device = name_match.group(2).lower(), name_match.group(3).lower()
    letters = all(len(lb) == 1 and lb.upper() in WISDM2019_CODES for lb in labels)
    if sep == ";":
        fmt = "csv"
    elif name_match or letters:
        fmt = "wisdm-2019"
    else:
        fmt = "wisdm-v1.1"
    channels = GYRO_CHANNELS if sensor == "gyro" else ACCEL_CHANNELS
    roles = {"subject": 0, "activity": 1, "timestamp": 2, **{c: 3 + i for i, c in enumerate(channels)}}
    return Layout(kind="raw", format=fmt, sep=sep, decimal=decimal,
                  split_semicolons=sep != ";", body_start=0, base_line=1, ncols=6, roles=roles,
                  sensor=sensor, device=device)


def _csv_layout(path: Path, data: bytes, lines: list[str], first_idx: int, first_line_no: int,
                offset: int, sep: str, roles: dict[str, int], tokens: list[str]) -> Layout:
    missing = [r for r in ("activity", "x", "y", "z") if r not in roles]
    if missing:
        names = ", ".join(t.strip() for t in tokens)
        raise DataError(f"{path}:{first_line_no}: the header names no column for "
                        f"{', '.join(missing)} (columns: {names})")
    header_len = len(lines[first_idx].encode("utf-8")) + 1
    body_start = offset + header_len
    body = data[body_start:]
    if not body.strip():
        raise DataError(f"{path}: has a header row but no data records")
    sample = [ln for ln in body[:SNIFF_BYTES].decode("utf-8", errors="replace").split("\n")[:200]
              if ln.strip()]
    decimal = "."
    if sep == ";" and any("," in ln for ln in sample):
        decimal = ","
    split = sep != ";" and any(ln.rstrip().endswith(";") for ln in sample)
    fmt = "csv"
    return Layout(kind="csv", format=fmt, sep=sep, decimal=decimal, split_semicolons=split,
                  body_start=body_start, base_line=first_line_no + 1, ncols=len(tokens),
                  roles=roles, header=[t.strip() for t in tokens])


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

def _line_mapper(body: bytes | Callable[[], bytes], orig: bytes | Callable[[], bytes],
                 base_line: int) -> Callable[[np.ndarray], np.ndarray]:
    """Record index -> physical line, computed lazily (only when a report needs line numbers).

    Record k is the k-th non-blank line of `body` (what read_csv sees; or a function that
    rebuilds it, so that it need not be kept in memory); `orig` is the same bytes before the
    length-preserving ';' -> newline replacement, so its newlines are the real ones.
    """
    cache: dict[str, np.ndarray] = {}

    def build() -> None:
        nonlocal body, orig
        if callable(orig):
            orig = orig()
        if callable(body):
            body = body()
        arr = np.frombuffer(body, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        starts = np.concatenate(([0], nl + 1))
        ends = np.concatenate((nl, [len(arr)]))
        nonblank = ends > starts
        # Lines starting with whitespace may be blank (spaces, tabs, CR only): check those few.
        maybe = np.flatnonzero(nonblank)
        first = arr[np.minimum(starts[maybe], len(arr) - 1)] if len(arr) else np.zeros(0, np.uint8)
        ws_first = maybe[(first == 32) | (first == 9) | (first == 13)]
        for i in ws_first:
            if not body[starts[i]:ends[i]].strip():
                nonblank[i] = False
        cache["starts"] = starts[nonblank]
        cache["orig_nl"] = np.flatnonzero(np.frombuffer(orig, dtype=np.uint8) == 10)

    def line_of(records: np.ndarray) -> np.ndarray:
        if "starts" not in cache:
            build()
        starts = cache["starts"]
        records = np.clip(records, 0, max(len(starts) - 1, 0))
        offsets = starts[records] if len(starts) else np.zeros(len(records), np.int64)
        return base_line + np.searchsorted(cache["orig_nl"], offsets, side="left")

    return line_of


def _count_fields(body: bytes, sep: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line of `body`: start offset, end offset, number of fields (quote-unaware)."""
    arr = np.frombuffer(body, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(arr)]))
    seps = np.flatnonzero(arr == ord(sep))
    per_line = np.searchsorted(seps, ends) - np.searchsorted(seps, starts)
    return starts, ends, per_line + 1


class _SourceView(io.RawIOBase):
    """A file-like reader of `data` (bytes or a view: nothing is copied up front) that
    returns each ';' as a newline when `semicolons` (a length-preserving change)."""

    def __init__(self, data, semicolons: bool) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._semicolons = semicolons
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        chunk = self._view[self._pos:self._pos + n]
        if self._semicolons:
            chunk = bytes(chunk).replace(b";", b"\n")
        buffer[:n] = chunk
        self._pos += n
        return n

    def fresh(self) -> _SourceView:
        return _SourceView(self._view, self._semicolons)


def _count_byte(data, byte: bytes, step: int = 1 << 24) -> int:
    """Occurrences of `byte` in `data` (bytes or a view), counted in slices (no big copy)."""
    if isinstance(data, (bytes, bytearray)):
        return data.count(byte)
    view = memoryview(data)
    overlap = len(byte) - 1  # a slice ends `overlap` bytes later so no match is cut in two
    return sum(bytes(view[i:i + step + overlap]).count(byte) for i in range(0, len(view), step))


def _semicolons_end_lines(data, step: int = 1 << 22) -> bool:
    """True when `data` has a ``;`` and every ``;`` ends its physical line (``;`` then LF, CRLF
    or the end of the data): then no line holds two records, and ``comment=';'`` in read_csv
    reads the same records as turning each ``;`` into a newline, without translating a byte."""
    return _line_end_semicolons(data, step) > 0


def _line_end_semicolons(data, step: int = 1 << 22) -> int:
    """The number of ``;`` in `data` when each ends its line (see above), else -1. One pass in
    slices of `step` bytes (no copy of the data)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    n = len(arr)
    found = 0
    for lo in range(0, n, step):
        pos = lo + np.flatnonzero(arr[lo:lo + step] == 59)   # ';'
        if not len(pos):
            continue
        found += len(pos)
        nxt = pos + 1
        if nxt[-1] >= n:        # a ';' as the very last byte ends the data
            nxt = nxt[:-1]
        after = arr[nxt]
        cr = nxt[after == 13]
        if not np.all((after == 10) | (after == 13)) or (
                len(cr) and (cr[-1] + 1 >= n or not np.all(arr[cr + 1] == 10))):
            return -1
    return found


class _NotPlain(ValueError):
    """The streamed file turned out not to be plain WISDM raw records (see parse_plain_raw)."""


class _GuardedFile(io.RawIOBase):
    """Bytes [0, end) of an open file for read_csv, each piece checked as it passes: ASCII,
    and a ';' at least every `span` bytes (so no record the C parser buffers is larger, even
    in a hostile file of megabytes without one). Raises _NotPlain otherwise."""

    def __init__(self, fh, end: int, span: int = 1 << 18) -> None:
        super().__init__()
        self._fh, self._end, self._span = fh, end, span
        self._pos = 0
        self._since = 0       # bytes since the last ';'

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        left = self._end - self._pos
        size = left if size is None or size < 0 else min(size, left)
        data = self._fh.read(size) if size > 0 else b""
        if not data:
            return b""
        self._pos += len(data)
        last = data.rfind(b";")
        self._since = len(data) - 1 - last if last >= 0 else self._since + len(data)
        if self._since > self._span or not data.isascii():
            raise _NotPlain("not plain WISDM raw records")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


# what a read of the streamed path raises for input that is not plain records
_PLAIN_FAILURES = (_NotPlain, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError,
                   OverflowError, TypeError, OSError, UnicodeError)


def parse_plain_raw(path: Path) -> ParsedFile | None:
    """Fast path of the commonest file, WISDM raw records ``subject,activity,time,x,y,z;``
    in ASCII (the v1.1 download as it is): the file is never held in memory. Its first
    SNIFF_BYTES are sniffed; then the C parser reads the file itself with ``;`` as its line
    terminator (a newline is then leading whitespace of the next record), which reads the
    same records as the general path's ';' -> newline translation, without translating a byte.

    Returns None whenever the file is anything else or anything is unusual (not a regular
    file, not ASCII, no ';' for 256 KiB, a record the strict dtypes refuse, a field too
    many): the caller then takes the general path, which reports problems with their one-line
    messages. Line numbers of skipped records are found by reading the file again, only when
    a report needs them.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return None
            if hasattr(os, "O_NONBLOCK"):
                os.set_blocking(fd, True)
            fh = stack.enter_context(open(fd, "rb", buffering=0, closefd=False))
            head = fh.read(SNIFF_BYTES + 1) or b""
            if (_binary_reason(head) or head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
                    or not head.isascii() or b";" not in head or not head.strip()):
                return None
            try:
                layout = sniff(path, head)
            except DataError:
                return None
            if layout.kind != "raw" or not layout.split_semicolons or layout.sep != ",":
                return None
            # The C parser refuses a record with more fields than `names`, except the first
            # one, which sets the width: it must have exactly ncols fields (whole, before the
            # last ';' of the head).
            first = next((r for r in head.split(b";")[:-1] if r.strip()), None)
            if first is None or first.count(b",") != layout.ncols - 1:
                return None
            # Trailing whitespace after the last record would read as an empty record: stop
            # before it.
            tail_at = max(0, info.st_size - SNIFF_BYTES)
            fh.seek(tail_at)
            tail = fh.read(SNIFF_BYTES)
            if not tail.strip():
                return None
            end = tail_at + len(tail.rstrip())
            fh.seek(0)
            # A record with a field too many stops the C parser (ParserError); one with too
            # few has a NaN (a missing value, as on the general path) or fails the int64s.
            names = [f"c{i}" for i in range(layout.ncols)]

            def read(reader, size: int) -> pd.DataFrame:
                return _read_csv(_GuardedFile(reader, size), layout, names, csv.QUOTE_NONE,
                                 strict=True, lineterminator=";", quiet=False)

            # a big file: its second half in a second thread (halves.py)
            cut = halves.middle_cut(fd, end, layout.ncols) \
                if end >= halves.MIN_BYTES and halves.can_split() else None
            # pandas' warnings are silenced once, here: the filters are global, and two
            # threads each saving and restoring them could leave them changed
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                df = read(fh, end) if cut is None else \
                    halves.read_in_two(fd, cut, end, read, _PLAIN_FAILURES)
            if df is None:
                return None
        except _PLAIN_FAILURES:
            return None

    whole: dict[str, bytes] = {}

    def orig() -> bytes:
        if "data" not in whole:
            whole["data"] = bytes(read_text_bytes(path)[0])   # as the general path numbers lines
        return whole["data"]

    pf = ParsedFile(path=path, format=layout.format, sensor=layout.sensor, device=layout.device,
                    table=None, activities=[], records_read=len(df),
                    line_of=_line_mapper(lambda: orig().replace(b";", b"\n"), orig,
                                         layout.base_line))
    _validate(pf, df, layout)
    return pf


def _read_csv(body, layout: Layout, names: list[str], quoting: int,
              strict: bool, comment: str | None = None,
              lineterminator: str | None = None, quiet: bool = True) -> pd.DataFrame:
    """One C-engine read_csv of `body`. `strict` fixes every dtype (fastest; raises on text in
    a number column), otherwise only the activity column is typed and the rest inferred.
    `quiet`: pandas' warnings silenced here (else by the caller)."""
    dtype: dict[str, object] = {names[layout.roles["activity"]]: "category"}
    if strict:
        for role, i in layout.roles.items():
            if role in ("subject", "timestamp"):
                dtype[names[i]] = np.int64
            elif role != "activity":
                dtype[names[i]] = np.float32
        if "_extra" in names:
            dtype["_extra"] = np.float64
    with warnings.catch_warnings() if quiet else contextlib.nullcontext():
        if quiet:
            warnings.simplefilter("ignore")
        if isinstance(body, _SourceView):
            source = body.fresh()
        else:
            source = body if isinstance(body, _GuardedFile) else io.BytesIO(body)
        return pd.read_csv(
            source, sep=layout.sep, header=None, names=names, index_col=False,
            decimal=layout.decimal, dtype=dtype, engine="c", quoting=quoting, low_memory=True,
            encoding="utf-8", encoding_errors="replace", skip_blank_lines=True, comment=comment,
            lineterminator=lineterminator,
        )


def _numeric(series: pd.Series) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(values, missing mask or None, not-a-number mask or None) of a parsed column.

    Numbers come back as they were parsed (int64, float32 or float64); a text column is
    converted with errors coerced, and the masks say which entries were empty or not numbers.
    """
    kind = series.dtype.kind
    if kind in "iuf":
        return series.to_numpy(), None, None
    text = series.astype("string").str.strip()
    missing = series.isna().to_numpy() | (text == "").fillna(True).to_numpy(dtype=bool)
    num = pd.to_numeric(text.where(~missing), errors="coerce")
    values = num.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, missing, np.isnan(values) & ~missing


def _timestamp_scale(ts: np.ndarray, subject: np.ndarray) -> tuple[float, str]:
    """Units of a CSV timestamp column from the median positive interval (-> ns factor)."""
    if len(ts) < 2:
        return 1.0, "ns"
    dt = np.diff(ts.astype(np.float64))
    dt = dt[(dt > 0) & (subject[1:] == subject[:-1])]
    if len(dt) == 0:
        return 1.0, "ns"
    med = float(np.median(dt))
    if med >= 2e5:
        return 1.0, "ns"
    if med >= 200:
        return 1e3, "microseconds"
    if med >= 0.2:
        return 1e6, "milliseconds"
    return 1e9, "seconds"


def parse(path: Path, data: bytes, layout: Layout) -> ParsedFile:
    """Parse `data` laid out as `layout` into a ParsedFile (valid records only, skips counted)."""
    # No copies of the file's bytes: read_csv reads `orig` through a view that turns ';' into
    # newlines on the fly; the translated bytes are built only for the rare repair below.
    orig = memoryview(data)[layout.body_start:] if layout.body_start else data
    # The plain WISDM shape (each record alone on its line, ending in ';'): read_csv stops
    # each line at ';' itself (comment=';'), so the bytes go through untranslated.
    comment = ";" if layout.kind == "raw" and layout.split_semicolons and \
        _semicolons_end_lines(orig) else None
    body = _SourceView(orig, layout.split_semicolons and comment is None)
    names = [f"c{i}" for i in range(layout.ncols)] + ["_extra"]
    quoting = csv.QUOTE_NONE if layout.kind == "raw" else csv.QUOTE_MINIMAL
    skipped: dict[str, int] = {}
    skipped_lines: dict[str, list[int]] = {}
    df = None
    err: Exception | None = None
    blanked = False

    def rebuild() -> bytes:
        whole = bytes(orig) if isinstance(orig, memoryview) else orig
        return whole.replace(b";", b"\n") if layout.split_semicolons else whole

    if layout.kind == "raw":
        # Fastest path: exactly ncols columns. Valid only if every record has exactly ncols
        # fields, i.e. the separators add up (raw records are never quoted).
        try:
            df = _read_csv(body, layout, names[:-1], quoting, strict=True, comment=comment)
            if _count_byte(orig, layout.sep.encode()) != (layout.ncols - 1) * len(df):
                df = None
        except (pd.errors.ParserError, ValueError, OverflowError, TypeError):
            df = None
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: no data records") from None
    for strict in (True, False):
        if df is not None:
            break
        try:
            df = _read_csv(body, layout, names, quoting, strict, comment)
            break
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: no data records") from None
        except (pd.errors.ParserError, ValueError, OverflowError, TypeError) as exc:
            err = exc
    if df is None:
        # Lines with more fields than expected (+1) stop the C parser: blank them, count them.
        body = rebuild()
        starts, ends, nfields = _count_fields(body, layout.sep)
        bad = np.flatnonzero(nfields > layout.ncols + 1)
        if len(bad):
            buf = bytearray(body)
            for i in bad:
                buf[starts[i]:ends[i]] = b" " * int(ends[i] - starts[i])
            body = bytes(buf)
            blanked = True
            orig_nl = np.flatnonzero(np.frombuffer(orig, dtype=np.uint8) == 10)
            lines = layout.base_line + np.searchsorted(orig_nl, starts[bad[:MAX_REPORTED_LINES]])
            skipped[TOO_MANY_FIELDS] = len(bad)
            skipped_lines[TOO_MANY_FIELDS] = [int(v) for v in lines]
        for q in dict.fromkeys((quoting, csv.QUOTE_NONE)):
            try:
                df = _read_csv(body, layout, names, q, strict=False)
                break
            except pd.errors.EmptyDataError:
                df = pd.DataFrame({n: pd.Series(dtype=object) for n in names})
                break
            except (pd.errors.ParserError, ValueError, OverflowError, TypeError) as exc:
                err = exc
        if df is None:
            raise DataError(f"{path}: cannot be parsed ({one_line(str(err))[:160]})") from None
    pf = ParsedFile(path=path, format=layout.format, sensor=layout.sensor, device=layout.device,
                    table=None, activities=[], records_read=len(df) + sum(skipped.values()),
                    skipped=skipped, skipped_lines=skipped_lines,
                    line_of=_line_mapper(body if blanked else rebuild, orig, layout.base_line))
    _validate(pf, df, layout)
    return pf


def _activity_codes(labels: list[str], codes: np.ndarray, fmt: str) -> tuple[np.ndarray, list[str]]:
    """Raw label categories + codes -> canonical names + codes (-1: missing or unknown)."""
    if fmt == "wisdm-2019":
        canon = [WISDM2019_CODES.get(lb.strip().upper(), "") for lb in labels]
    else:
        canon = []
        for lb in labels:
            name = canonical_activity(lb)
            ok = bool(re.search(r"[a-z]", name)) and not (
                len(name) == 1 and name.upper() not in WISDM2019_CODES)
            canon.append(name if ok else "")
    # in the order the combined dataset uses, so that one file's codes need no second mapping
    names = activity_order({c for c in canon if c})
    code_map = np.array([names.index(c) if c else -1 for c in canon] + [-1], dtype=np.int32)
    if np.array_equal(code_map[:-1], np.arange(len(canon))):
        return codes.astype(np.int32), names
    return code_map[codes], names  # code -1 (missing) picks the trailing -1


def _text_ids(series: pd.Series, missing: np.ndarray, pf: ParsedFile) -> tuple[np.ndarray, np.ndarray]:
    """Subject ids written as text (``u7``, ``alice``): their trailing number when that tells
    them apart, else 1, 2, ... in order of appearance. Returns (float values, not-a-number)."""
    text = series.astype("string").str.strip()
    labels = [str(u) for u in pd.unique(text[~missing])]
    digits = [re.search(r"(\d+)\s*$", lb) for lb in labels]
    if all(digits) and len({int(d.group(1)) for d in digits}) == len(labels):
        mapping = {lb: int(d.group(1)) for lb, d in zip(labels, digits, strict=True)}
    else:
        mapping = {lb: i + 1 for i, lb in enumerate(labels)}
    shown = ", ".join(f"{k}->{v}" for k, v in list(mapping.items())[:6])
    pf.warnings.append(f"{pf.name}: subject ids are text; numbered {shown}"
                       f"{', ...' if len(mapping) > 6 else ''}")
    values = text.map(mapping).to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.zeros(len(values), dtype=bool)


def _text_times(series: pd.Series, missing: np.ndarray, values: np.ndarray, notnum: np.ndarray,
                pf: ParsedFile) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps written as dates (ISO 8601): nanoseconds since 1970 (as float64 values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(series.astype("string").str.strip(), errors="coerce",
                                format="ISO8601", utc=True)
    ok = parsed.notna().to_numpy()
    if ok.sum() <= 0.5 * (~missing).sum():
        return values, notnum
    pf.warnings.append(f"{pf.name}: timestamps read as dates")
    ns = np.full(len(values), np.nan)
    if ok.any():  # float64 ns: sub-microsecond rounding, harmless at 20 Hz
        ns[ok] = parsed[ok].dt.as_unit("ns").astype("int64").to_numpy()
    return ns, ~ok & ~missing


def _validate(pf: ParsedFile, df: pd.DataFrame, layout: Layout) -> None:
    """Vectorised checks of every record; keeps the valid ones in `pf.table`.

    A record is skipped for the first reason that applies, in this order: too many fields,
    missing value, not a number, non-finite value, bad subject id, unknown activity,
    placeholder zeros, bad timestamp. Cheap whole-column tests come first, so a clean file
    costs a handful of passes and no masks.
    """
    n = len(df)
    roles = layout.roles
    col = {role: df.columns[i] for role, i in roles.items()}
    channels = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in roles]

    values: dict[str, np.ndarray] = {}
    missing: np.ndarray | None = None
    notnum: np.ndarray | None = None
    converted: set[str] = set()  # text columns: NaN there is already missing / not a number
    for role in ("subject", "timestamp", *channels):
        if role not in col:
            continue
        v, miss, nn = _numeric(df[col[role]])
        if nn is not None and role in ("subject", "timestamp") and nn.sum() > 0.5 * (~miss).sum():
            v, nn = _text_ids(df[col[role]], miss, pf) if role == "subject" else \
                _text_times(df[col[role]], miss, v, nn, pf)
        values[role] = v
        if miss is not None:
            converted.add(role)
            if miss.any():
                missing = miss if missing is None else missing | miss
        if nn is not None and nn.any():
            notnum = nn if notnum is None else notnum | nn
    act = df[col["activity"]]
    if not isinstance(act.dtype, pd.CategoricalDtype):
        act = act.astype("category")
    act_codes, names = _activity_codes([str(c) for c in act.cat.categories],
                                       act.cat.codes.to_numpy(), layout.format)
    pf.activities = names
    if "subject" not in values:
        values["subject"] = np.zeros(n, np.int64)
        pf.warnings.append(f"{pf.name}: no subject column; all records belong to subject 0")
    if "timestamp" not in values:
        values["timestamp"] = np.arange(n, dtype=np.int64) * int(round(1e9 / NOMINAL_RATE_HZ))
        pf.warnings.append(f"{pf.name}: no timestamp column; assumed {NOMINAL_RATE_HZ:g} Hz in "
                           "file order")
    subj, ts = values["subject"], values["timestamp"]
    for role in ("subject", "timestamp"):  # NaN in a number column that was parsed as float
        v = values[role]
        if role in converted:
            continue
        if v.dtype.kind == "f" and not np.isfinite(np.add.reduce(v, dtype=np.float64)):
            nan = np.isnan(v)
            if nan.any():
                missing = nan if missing is None else missing | nan

    # Each entry: reason -> mask, or None when a cheap test showed no record has the problem.
    reasons: list[tuple[str, np.ndarray | None]] = []
    extra = df["_extra"] if "_extra" in df.columns else None
    reasons.append((TOO_MANY_FIELDS, extra.notna().to_numpy()
                    if extra is not None and extra.count() else None))
    nonfinite = None
    for c in channels:
        v = values[c]
        if not np.isfinite(np.add.reduce(v, dtype=np.float64)):
            bad = ~np.isfinite(v)
            nan = np.isnan(v)
            if c in converted:  # its NaNs are counted as missing / not a number already
                bad &= ~nan
            elif nan.any():
                missing = nan if missing is None else missing | nan
            nonfinite = bad if nonfinite is None else nonfinite | bad
    reasons.append((MISSING_VALUE, missing))
    reasons.append((NOT_A_NUMBER, notnum))
    reasons.append((NON_FINITE, nonfinite))
    bad_subj = None
    if subj.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad_subj = ~((subj == np.round(subj)) & (np.abs(subj) < 2**62)) & ~np.isnan(subj)
    elif subj.dtype.kind == "u" or (n and (subj.max() >= 2**62 or subj.min() <= -2**62)):
        bad_subj = (subj >= 2**62) if subj.dtype.kind == "u" else np.abs(subj) >= 2**62
    reasons.append((BAD_SUBJECT, bad_subj))
    reasons.append((UNKNOWN_ACTIVITY, act_codes < 0 if n and act_codes.min() < 0 else None))
    first = values[channels[0]]
    zero_rows = np.flatnonzero(first == 0)
    placeholder = None
    if len(zero_rows):
        z = np.ones(len(zero_rows), bool)
        for c in channels[1:3]:
            z &= values[c][zero_rows] == 0
        z &= (ts[zero_rows] == 0) | (pf.sensor == "accel")
        if z.any():
            placeholder = np.zeros(n, bool)
            placeholder[zero_rows[z]] = True
    reasons.append((PLACEHOLDER, placeholder))
    # 0 is a placeholder time in raw WISDM records; a headed CSV's relative clock starts there
    ts_low = 0 if layout.kind == "csv" else 1
    with np.errstate(invalid="ignore"):
        ts_ok = (ts >= ts_low) & (ts < 9e18) if ts.dtype.kind in "fu" else None
        if ts_ok is not None:
            reasons.append((BAD_TIMESTAMP, ~ts_ok if not ts_ok.all() else None))
        else:
            reasons.append((BAD_TIMESTAMP, ~(ts >= ts_low) if n and not (ts.min() >= ts_low)
                            else None))

    bad_any: np.ndarray | None = None
    for reason, mask in reasons:
        if mask is None:
            continue
        if bad_any is not None:
            mask = mask & ~bad_any
        count = int(np.count_nonzero(mask))
        if count:
            pf.skipped[reason] = pf.skipped.get(reason, 0) + count
            places = pf.lines(np.flatnonzero(mask)[:MAX_REPORTED_LINES])
            pf.skipped_lines.setdefault(reason, []).extend(places)
            bad_any = mask if bad_any is None else bad_any | mask
    if bad_any is None:
        keep = None
        rec = np.arange(n, dtype=np.int64)
    else:
        keep = ~bad_any
        rec = np.flatnonzero(keep)

    def take(a: np.ndarray) -> np.ndarray:
        return a if keep is None else a[keep]

    ts_k = take(ts)
    subj_k = take(subj).astype(np.int64, copy=False)
    if layout.kind == "csv" and "timestamp" in roles:
        scale, unit = _timestamp_scale(ts_k, subj_k)
        if unit != "ns":
            pf.warnings.append(f"{pf.name}: timestamps read as {unit}")
        if scale != 1.0:
            ts_k = np.round(ts_k.astype(np.float64) * scale)
    if ts_k.dtype.kind == "f":
        ts_k = np.round(ts_k)
    pf.table = Table(
        subject=subj_k,
        activity=take(act_codes),
        timestamp=ts_k.astype(np.int64, copy=False),
        channels={c: take(values[c]).astype(np.float32, copy=False) for c in channels},
        rec=rec,
    )
