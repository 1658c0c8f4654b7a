"""One entry point for every supported recording format: ``load(paths) -> Dataset``.

The format of each file is recognised from its content (see ``formats.py``): WISDM v1.1 raw,
WISDM 2019 per-subject raw files, headed CSV. Quirks are handled, not fatal: ``;`` record ends
and several records per line, spaces after commas, placeholder rows of zeros, exact duplicate
rows, repeated timestamps, missing or non-finite values, unknown activities. Each skipped
record is counted under a reason and the first few places (``file:line``) are remembered in
the ``LoadReport``. Only when nothing usable is left does loading fail, with a one-line
``DataError`` naming the file (and line).

Choices worth knowing:

- Exact duplicate records are dropped ("duplicate record"); a later record with the timestamp
  of an earlier one of the same subject and activity but other values is dropped too
  ("repeated timestamp"), so time strictly increases within a recording.
- Rows are grouped into recordings (subject, activity); recordings of one subject keep the
  order in which they first appear in the files, subjects are in ascending order, and rows
  are sorted by time within each recording.
- WISDM 2019 accelerometer and gyroscope files of the same subject and device are aligned on
  the accelerometer's own timestamps (the nominal 20 Hz grid: accelerometer values are kept
  exactly; the gyroscope is linearly interpolated at those instants, per recording). An
  accelerometer sample outside the gyroscope recording, or inside a gyroscope gap longer than
  4 gyroscope periods, is dropped ("no gyroscope data nearby"). ``records_read`` counts the
  records of every file, gyroscope files included; ``records`` counts rows of the frame.
- When some loaded subjects have a gyroscope file and others do not, the subjects without
  one are left out (named in ``report.warnings``) so that every row has the same 6 channels;
  load the accelerometer files alone to keep them. When both phone and watch files of WISDM
  2019 are given, only the phone files are used (a warning says so): the two devices record
  the same sessions on separate clocks.
- A file that cannot be read is reported in ``report.warnings`` and the others are loaded;
  if no file gives usable records, the first file's error is raised.
- Phone apps' recordings (Sensor Logger, phyphox, HyperIMU, Physics Toolbox, SensorLog:
  ``formats/phone_files.py``) are converted to Android's convention, each saying how in
  ``report.warnings``. They name no subject or activity: ``load(..., subject=, activity=)``
  gives them (written to the recording's sidecar, ``sidecar.py``), or the sidecar remembers
  them; ``identity_needed`` says beforehand whether a path needs them. Rows of the activity
  ``activities.UNLABELLED`` load, are counted (``report.unlabelled``), and make no window.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..progress import run_to_end
from .activities import UNLABELLED, activity_order, canonical_activity
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS, DataError, Dataset, LoadReport
from .formats import (
    MAX_REPORTED_LINES,
    ParsedFile,
    Table,
    one_line,
    parse,
    parse_plain_raw,
    read_text_bytes,
    sniff,
)
from .formats.phone_files import APP_NAMES, read_phone, recognise, unit_of
from .sidecar import Identity, make_identity, remembered, write_sidecar

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".txt", ".csv", ".tsv", ".dat")
_NOT_DATA_PREFIXES = ("readme", "license", "licence", "activity_key", "changelog", "notes")
GAP_PERIODS = 4.0

DUPLICATE = "duplicate record"
REPEATED_TIMESTAMP = "repeated timestamp"
NO_GYRO = "no gyroscope data nearby"

PathsLike = str | os.PathLike | Iterable[str | os.PathLike]
PHONE_FORMATS = frozenset(APP_NAMES)     # formats of phone apps' recordings


@dataclass(frozen=True)
class LoadProgress:
    """How far a load has got, in bytes of input read and parsed."""

    done_bytes: int
    total_bytes: int
    file: str


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def load(paths: PathsLike, *, progress: Callable[[int, int], None] | None = None,
         subject: int | str | None = None, activity: str | None = None) -> Dataset:
    """Load files and/or folders (searched recursively) into one Dataset.

    `progress(done_bytes, total_bytes)` is called as files are parsed. `subject` (a person id
    or name) and `activity` (a name, or ``"unlabelled"`` / "label later") are given to phone
    apps' recordings, which name neither, and remembered in their sidecars; files that name
    their own (WISDM, headed CSVs) keep theirs. Raises DataError (one line naming the file,
    and line where it applies) when nothing usable can be read.
    """
    def report(step: LoadProgress) -> None:
        progress(step.done_bytes, step.total_bytes)

    return run_to_end(load_iter(paths, subject=subject, activity=activity),
                      report if progress is not None else None)


def load_iter(paths: PathsLike, *, subject: int | str | None = None,
              activity: str | None = None) -> Generator[LoadProgress, None, Dataset]:
    """Like `load`, as a generator yielding LoadProgress; its return value is the Dataset.

    Closing the generator (``gen.close()``) between yields cancels the load.
    """
    files = find_data_files(paths)
    sizes = [_size(p) for p in files]
    total = int(sum(sizes))
    done = 0
    yield LoadProgress(0, total, str(files[0]))
    parsed: list[ParsedFile] = []
    failures: list[str] = []
    for path, size in zip(files, sizes, strict=True):
        try:
            parsed.append(load_file(path, _identity(path, subject, activity)))
            if parsed[-1].format in PHONE_FORMATS:
                _remember(path, subject, activity, parsed[-1])
        except DataError as exc:
            failures.append(one_line(str(exc)))
            log.debug("%s", exc)  # shown once: in the report's warnings, or as the error
        except (MemoryError, OSError) as exc:  # pragma: no cover - environment trouble
            failures.append(one_line(f"{path}: {exc}"))
        done += size
        yield LoadProgress(done, total, str(path))
    if not parsed:
        extra = f" (and {len(failures) - 1} more file(s) could not be read)" if len(failures) > 1 else ""
        raise DataError(failures[0] + extra)
    return assemble(parsed, failures)


class IdentityNeed(NamedTuple):
    """What the Data tab's dialog must ask before loading a path (``identity_needed``)."""

    needs_subject: bool
    needs_activity: bool
    description: str          # "Sensor Logger" (the app), "" for files that name their own


def identity_needed(path: str | os.PathLike) -> IdentityNeed:
    """Whether loading `path` (a file, zip or folder) needs a subject and an activity: True for
    a phone app's recording whose sidecar does not remember them. Cheap (a zip's or folder's
    list of files, or a file's first 64 KiB); never raises: a path that cannot be read needs
    nothing here, and its load says what is wrong."""
    unit = unit_of(Path(path))
    app = recognise(unit)
    if app is None:
        return IdentityNeed(False, False, "")
    subject, activity = remembered(unit)
    return IdentityNeed(subject is None, activity is None, app)


def identities_needed(paths: PathsLike) -> list[tuple[Path, IdentityNeed]]:
    """``identity_needed`` of every recording that loading `paths` would read (folders
    searched as ``load`` searches them: a folder of exports gives one entry per export), for
    those that need a subject or an activity. DataError as ``find_data_files``."""
    needs = [(unit, identity_needed(unit)) for unit in find_data_files(paths)]
    return [(unit, need) for unit, need in needs if need.needs_subject or need.needs_activity]


def _identity(path: Path, subject, activity) -> Identity | DataError | None:
    """Who and what for a phone recording: as given, else as its sidecar remembers; None when
    either is unknown; the DataError when what was given is unusable (raised only if `path`
    turns out to be a phone recording: other files name their own)."""
    if subject is None or activity is None:
        kept_subject, kept_activity = remembered(path)
        subject = kept_subject if subject is None else subject
        activity = kept_activity if activity is None else activity
    if subject is None or activity is None:
        return None
    try:
        return make_identity(subject, activity, str(path))
    except DataError as exc:
        return exc


def _remember(path: Path, subject, activity, pf: ParsedFile) -> None:
    """Write what was given for a phone recording to its sidecar (when it changed)."""
    if subject is None and activity is None:
        return
    kept = remembered(path)
    fields = {}
    if subject is not None:
        fields["subject"] = str(subject).strip()
    if activity is not None:
        fields["activity"] = canonical_activity(activity)
    if all(kept[i] == fields.get(k, kept[i]) for i, k in enumerate(("subject", "activity"))):
        return
    try:
        write_sidecar(path, **fields)
    except OSError as exc:
        pf.warnings.append(f"{path.name}: could not remember the subject and activity "
                           f"beside it ({exc.strerror or exc})")


def _one_line_errors(path: Path, fn, *args):
    """``fn(*args)``; input we did not foresee still becomes one DataError line naming the
    file, never a traceback."""
    try:
        return fn(*args)
    except DataError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, UnicodeError) as exc:
        log.exception("unexpected trouble parsing %s", path)
        raise DataError(f"{path}: cannot be parsed ({type(exc).__name__}: "
                        f"{one_line(str(exc))[:160]})") from None


def load_file(path: Path, identity: Identity | DataError | None = None) -> ParsedFile:
    """Read, recognise and parse one file, zip or export folder (no cross-file steps).
    `identity`: subject and activity of a phone app's recording. Raises DataError."""
    if path.is_dir():
        return _one_line_errors(path, read_phone, path, identity)
    # the plain WISDM raw shape, streamed (None: anything else)
    pf = _one_line_errors(path, parse_plain_raw, path)
    if pf is not None:
        log.debug("%s: %s, %d records (streamed)", path, pf.format, pf.records_read)
        return pf
    pf = _one_line_errors(path, read_phone, path, identity)
    if pf is not None:
        log.debug("%s: %s, %d records", path, pf.format, pf.records_read)
        return pf
    data, notes = read_text_bytes(path)
    layout = sniff(path, data)
    pf = _one_line_errors(path, parse, path, data, layout)
    pf.warnings[:0] = [f"{path.name}: {n}" for n in notes]
    log.debug("%s: %s, %d records", path, layout.format, pf.records_read)
    return pf


def find_data_files(paths: PathsLike) -> list[Path]:
    """Files named in `paths`, with folders searched recursively for data-looking files."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            inside = sorted(
                f for f in p.rglob("*")
                if f.is_file() and _looks_like_data(f)
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not inside:
                raise DataError(f"{p}: no data files ({', '.join(DATA_SUFFIXES)}) in this folder")
            found.extend(unit_of(f) for f in inside)
        elif p.is_file():
            found.append(unit_of(p))
        elif not p.exists():
            raise DataError(f"{p}: no such file or folder")
        else:
            raise DataError(f"{p}: not a regular file")
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)
    if not unique:
        raise DataError("no data files given")
    return list(unique.values())


# --------------------------------------------------------------------------------------------
# Combining files
# --------------------------------------------------------------------------------------------

def assemble(parsed: list[ParsedFile], failures: list[str] | None = None) -> Dataset:
    """Combine parsed files into one tidy Dataset (sort, de-duplicate, align, report)."""
    # WISDM 2019: one device only (phone preferred).
    devices = {pf.device for pf in parsed if pf.format == "wisdm-2019" and pf.device}
    if len(devices) > 1:
        keep = "phone" if "phone" in devices else sorted(devices)[0]
        left = [pf for pf in parsed
                if pf.format == "wisdm-2019" and pf.device and pf.device != keep]
        failures = [*(failures or []), (
            f"{len(left)} WISDM 2019 {'/'.join(sorted(devices - {keep}))} file(s) left out: "
            f"{keep} and other devices record the same sessions on separate clocks; "
            "load them separately")]
        parsed = [pf for pf in parsed if pf not in left]

    report = LoadReport(files=[str(p.path) for p in parsed])
    report.warnings.extend(failures or [])
    for pf in parsed:
        report.warnings.extend(pf.warnings)
    report.records_read = sum(pf.records_read for pf in parsed)
    for pf in parsed:
        for reason, count in pf.skipped.items():
            report.skipped[reason] = report.skipped.get(reason, 0) + count
            places = report.skipped_lines.setdefault(reason, [])
            for line in pf.skipped_lines.get(reason, []):
                if len(places) < MAX_REPORTED_LINES:
                    places.append(f"{pf.name}:{line}")

    # One activity code list for all files.
    names = activity_order({a for pf in parsed for a in pf.activities})
    index = {a: i for i, a in enumerate(names)}
    for i, pf in enumerate(parsed):
        t = pf.table
        if pf.activities != names[:len(pf.activities)]:
            code_map = np.array([index[a] for a in pf.activities] + [-1], dtype=np.int32)
            t.activity = code_map[t.activity]
        # which file a row came from (one file: None, every row is file 0's)
        t.file = np.full(len(t), i, dtype=np.int32) if len(parsed) > 1 else None

    parts: list[Table] = []
    accel19 = [pf.table for pf in parsed if pf.format == "wisdm-2019" and pf.sensor == "accel"]
    gyro19 = [pf.table for pf in parsed if pf.format == "wisdm-2019" and pf.sensor == "gyro"]
    other = [pf.table for pf in parsed if pf.format != "wisdm-2019"]
    if accel19 or gyro19:
        acc = _tidy(_concat(accel19, report), parsed, report) if accel19 else None
        gyr = _tidy(_concat(gyro19, report), parsed, report) if gyro19 else None
        part = _combine_2019(acc, gyr, parsed, report)
        if part is not None:
            parts.append(part)
    facts: dict = {}   # the last tidied table, its recordings' starts and time differences
    if other:
        parts.append(_tidy(_concat(other, report), parsed, report, facts))
    table = parts[0] if len(parts) == 1 else _tidy(_concat(parts, report), parsed, report, facts)
    if len(table) == 0:
        raise DataError(_nothing_usable(parsed, report))

    for pf in parsed:  # every skip is counted: free the raw bytes kept for line numbers
        pf.line_of = None
    used = np.flatnonzero(np.bincount(table.file, minlength=len(parsed))) if len(parsed) > 1 \
        else [0]
    formats = sorted({parsed[int(i)].format for i in used})
    report.format = formats[0] if len(formats) == 1 else "mixed"
    if facts.get("table") is not table:
        facts.clear()
    counts = _counts(table.activity, facts.get("starts"), len(names))
    frame = _to_frame(table, names, counts)
    _summarise(frame, report, facts.get("starts"), facts.get("dts"), counts[counts > 0])
    return Dataset(frame, report)


def _counts(codes: np.ndarray, starts: np.ndarray | None, n: int) -> np.ndarray:
    """Rows per code (``bincount``); `starts`, when given, begin runs of one code each, so
    the runs are counted instead of the rows."""
    if starts is None or len(starts) == 0:
        return np.bincount(codes, minlength=n)
    lengths = np.diff(np.append(starts, len(codes)))
    return np.bincount(codes[starts], weights=lengths, minlength=n).astype(np.int64)


def _to_frame(table: Table, names: list[str], counts: np.ndarray | None = None) -> pd.DataFrame:
    """The tidy frame (see dataset.py) of a combined table; unused activities dropped.
    `counts`: rows per activity code, when known."""
    if counts is None:
        counts = np.bincount(table.activity, minlength=len(names))
    if counts.all():
        codes, cats = table.activity, names
    else:
        used = np.flatnonzero(counts)
        remap = np.full(len(names), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        codes, cats = remap[table.activity], [names[i] for i in used]
    data = {
        "subject": table.subject,
        "activity": pd.Categorical.from_codes(codes, categories=cats, validate=False),
        "timestamp": table.timestamp,
    }
    for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS):
        if c in table.channels:
            data[c] = table.channels[c]
    return pd.DataFrame(data, copy=False)  # the arrays are ours: no consolidation copy


def _nothing_usable(parsed: list[ParsedFile], report: LoadReport) -> str:
    where = str(parsed[0].path) if len(parsed) == 1 else f"{len(parsed)} files"
    skipped = sum(report.skipped.values())
    if not skipped:
        return f"{where}: no usable records"
    reason = max(report.skipped, key=report.skipped.get)
    first = report.skipped_lines.get(reason, [])
    at = f", first at {first[0]}" if first else ""
    details = ", ".join(f"{r}: {c}" for r, c in report.skipped.items())
    return (f"{where}: no usable records ({report.records_read} read, {skipped} skipped: "
            f"{details}{at})")


def _concat(tables: list[Table], report: LoadReport) -> Table:
    """Concatenate tables keeping only the channels all of them have (warning if any lost)."""
    if len(tables) > 1:
        every = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if any(c in t.channels for t in tables)]
        dropped = [c for c in every if not all(c in t.channels for t in tables)]
        if dropped:
            report.warnings.append(f"channels {', '.join(dropped)} are missing from some files "
                                   "and were dropped so that every row has the same channels")
    return Table.concat(tables)


def _skip_rows(report: LoadReport, reason: str, table: Table, rows: np.ndarray,
               parsed: list[ParsedFile]) -> None:
    """Count rows of `table` as skipped for `reason`, with the first few places."""
    if len(rows) == 0:
        return
    report.skipped[reason] = report.skipped.get(reason, 0) + len(rows)
    places = report.skipped_lines.setdefault(reason, [])
    recs = table.rec[rows]
    files = np.zeros(len(rows), np.int32) if table.file is None else table.file[rows]
    for i in np.lexsort((recs, files))[:MAX_REPORTED_LINES - len(places)]:
        pf = parsed[int(files[i])]
        line = pf.lines(np.array([recs[i]]))
        places.append(f"{pf.name}:{line[0]}" if line else pf.name)


def _blocks(subject: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Start rows of the blocks of equal (subject, activity)."""
    if len(subject) == 0:
        return np.zeros(0, np.int64)
    change = (subject[1:] != subject[:-1]) | (activity[1:] != activity[:-1])
    return np.concatenate(([0], np.flatnonzero(change) + 1))


def _ordered(dts: np.ndarray, breaks: np.ndarray) -> bool:
    """True when time never goes back (``dts``: successive differences) except at `breaks`
    (sorted positions in ``dts`` where one recording ends and another begins)."""
    back = np.flatnonzero(dts < 0)
    if len(back) == 0:
        return True
    if len(back) > len(breaks):
        return False
    at = np.searchsorted(breaks, back)
    return bool(np.all((at < len(breaks)) & (breaks[np.minimum(at, len(breaks) - 1)] == back)))


def _gather_blocks(table: Table, b_start: np.ndarray, b_len: np.ndarray) -> Table:
    """The rows of blocks [b_start, b_start + b_len) in the order given: a copy of each run of
    rows (memcpy), not a gather of every row."""
    spans = [(int(b), int(b + n)) for b, n in zip(b_start, b_len, strict=True)]

    def cat(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[b:e] for b, e in spans])

    return Table(cat(table.subject), cat(table.activity), cat(table.timestamp),
                 {k: cat(v) for k, v in table.channels.items()}, cat(table.rec),
                 None if table.file is None else cat(table.file))


# above this many blocks, rows are gathered by index rather than block by block
_MAX_COPIED_BLOCKS = 4096


def _tidy(table: Table, parsed: list[ParsedFile], report: LoadReport,
          facts: dict | None = None) -> Table:
    """Sort into recordings and drop duplicate records and repeated timestamps.

    Recordings (subject, activity) of a subject keep the order in which they first appear;
    subjects ascend; time ascends within a recording. Work is per block of equal
    (subject, activity), so already tidy input (the usual case) costs a few passes.
    `facts`, when given, receives the ``starts`` of the returned table's recordings and its
    successive time differences ``dts`` (so that the report need not compute them again).
    """
    n = len(table)
    if n == 0:
        return table
    starts = _blocks(table.subject, table.activity)
    b_subject = table.subject[starts]
    s_codes, _ = pd.factorize(b_subject, sort=True)
    n_act = int(table.activity.max()) + 1
    b_key = s_codes.astype(np.int64) * n_act + table.activity[starts]
    group, uniques = pd.factorize(b_key)  # recording ids, in order of first appearance
    g_subject = np.asarray(uniques) // n_act
    rank_of_group = np.empty(len(uniques), dtype=np.int64)
    rank_of_group[np.lexsort((np.arange(len(uniques)), g_subject))] = np.arange(len(uniques))
    b_rank = rank_of_group[group]
    ts = table.timestamp
    dts = np.diff(ts)
    in_order = bool(np.all(np.diff(b_rank) > 0)) and _ordered(dts, starts[1:] - 1)
    if not in_order:
        lengths = np.diff(np.append(starts, n))
        # Usually each recording's blocks are in time order already: put the blocks in
        # recording order (stable) and check, a copy of each block instead of a sort of
        # every row.
        border = np.argsort(b_rank, kind="stable")
        b_len = lengths[border]
        new_start = np.cumsum(b_len) - b_len
        # recordings begin where the rank changes (blocks of one recording merge)
        breaks = new_start[1:][np.diff(b_rank[border]) != 0] - 1
        if len(starts) <= _MAX_COPIED_BLOCKS:
            moved = _gather_blocks(table, starts[border], b_len)
            moved_dts = np.diff(moved.timestamp)
        else:
            order = np.arange(n) + np.repeat(starts[border] - new_start, b_len)
            moved, moved_dts = None, np.diff(ts[order])
        if _ordered(moved_dts, breaks):
            table = moved if moved is not None else table.take(order)
            dts = moved_dts
            starts = np.concatenate(([0], breaks + 1))
        else:
            rank = np.repeat(b_rank, lengths)
            order = np.lexsort((ts, rank))  # stable: the first of equal timestamps stays first
            table = table.take(order)
            starts = _blocks(table.subject, table.activity)
            dts = np.diff(table.timestamp)
    repeat = np.flatnonzero(dts == 0)
    if len(repeat):
        repeat = repeat[~np.isin(repeat, starts[1:] - 1)] + 1  # later rows of an equal time
    if len(repeat):
        # Exact copy of the group's earlier rows, or other values under the same timestamp?
        # A group of equal timestamps is its first row and the repeats after it.
        involved = np.union1d(repeat - 1, repeat)
        group_id = np.cumsum(~np.isin(involved, repeat))
        sub = pd.DataFrame({"g": group_id,
                            **{c: v[involved] for c, v in table.channels.items()}})
        exact = sub.duplicated(keep="first").to_numpy()
        exact_rows = involved[exact]
        other_rows = np.setdiff1d(repeat, exact_rows)
        _skip_rows(report, DUPLICATE, table, exact_rows, parsed)
        _skip_rows(report, REPEATED_TIMESTAMP, table, other_rows, parsed)
        keep = np.ones(n, dtype=bool)
        keep[repeat] = False
        table = table.take(keep)
    elif facts is not None:
        facts.update(table=table, starts=starts, dts=dts)
    return table


def _runs(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """Begin and end row of each (subject, activity) block of a tidy table."""
    begin = _blocks(table.subject, table.activity)
    return begin, np.append(begin[1:], len(table)).astype(np.int64)


def _combine_2019(acc: Table | None, gyr: Table | None, parsed: list[ParsedFile],
                  report: LoadReport) -> Table | None:
    """Accelerometer (and gyroscope, aligned) rows of WISDM 2019 files."""
    if gyr is None or len(gyr) == 0:
        return acc
    if acc is None:
        first = next(pf for pf in parsed if pf.format == "wisdm-2019" and pf.sensor == "gyro")
        raise DataError(f"{first.path}: a gyroscope file needs the matching accelerometer "
                        "file (data_<subject>_accel_<device>.txt) loaded with it")
    if len(acc) == 0:
        return acc
    acc_subjects = set(pd.unique(acc.subject).tolist())
    gyr_subjects = set(pd.unique(gyr.subject).tolist())
    both = acc_subjects & gyr_subjects
    gyro_only = sorted(gyr_subjects - acc_subjects)
    acc_only = sorted(acc_subjects - gyr_subjects)
    if gyro_only:
        report.warnings.append(
            f"subject(s) {', '.join(map(str, gyro_only))}: gyroscope data without accelerometer "
            "data, left out")
    if not both:
        report.warnings.append("no subject has both accelerometer and gyroscope data; "
                               "loaded the accelerometer only")
        return acc
    if acc_only:
        report.warnings.append(
            f"subject(s) {', '.join(map(str, acc_only))} have no gyroscope data and were left "
            "out so that every row has the same 6 channels (load the accelerometer files alone "
            "to include them)")
        acc = acc.take(np.isin(acc.subject, sorted(both)))
    return align_gyro(acc, gyr, parsed, report)


def align_gyro(acc: Table, gyr: Table, parsed: list[ParsedFile] | None = None,
               report: LoadReport | None = None) -> Table:
    """Add gx, gy, gz to tidy accelerometer rows, interpolated at the accelerometer timestamps.

    Per (subject, activity) recording, np.interp over the gyroscope samples of the same
    recording; rows outside the gyroscope recording or in a gyroscope gap longer than
    GAP_PERIODS gyroscope periods are dropped (counted as "no gyroscope data nearby").
    """
    g_begin, g_end = _runs(gyr)
    g_lookup = {(int(gyr.subject[b]), int(gyr.activity[b])): (b, e)
                for b, e in zip(g_begin, g_end, strict=True)}
    g_ts = gyr.timestamp
    g_vals = [gyr.channels[c] for c in GYRO_CHANNELS]

    a_begin, a_end = _runs(acc)
    a_ts = acc.timestamp
    out = [np.zeros(len(acc), dtype=np.float32) for _ in GYRO_CHANNELS]
    ok = np.zeros(len(acc), dtype=bool)
    for b, e in zip(a_begin, a_end, strict=True):
        run = g_lookup.get((int(acc.subject[b]), int(acc.activity[b])))
        if run is None:
            continue
        gb, ge = run
        gt = g_ts[gb:ge]
        at = a_ts[b:e]
        period = float(np.median(np.diff(gt))) if len(gt) > 1 else 0.0
        pos = np.searchsorted(gt, at, side="left")
        hi = np.minimum(pos, len(gt) - 1)
        lo = np.maximum(pos - 1, 0)
        exact = gt[hi] == at
        inside = (at >= gt[0]) & (at <= gt[-1])
        ok[b:e] = inside & (exact | ((gt[hi] - gt[lo]) <= GAP_PERIODS * period))
        x = (at - at[0]).astype(np.float64)
        xp = (gt - at[0]).astype(np.float64)
        for k in range(3):
            out[k][b:e] = np.interp(x, xp, g_vals[k][gb:ge])
    channels = {c: v for c, v in acc.channels.items() if c in ACCEL_CHANNELS}
    channels.update({c: out[k] for k, c in enumerate(GYRO_CHANNELS)})
    result = Table(acc.subject, acc.activity, acc.timestamp, channels, acc.rec, acc.file)
    if report is not None and parsed is not None:
        _skip_rows(report, NO_GYRO, result, np.flatnonzero(~ok), parsed)
    return result if ok.all() else result.take(ok)


def _summarise(frame: pd.DataFrame, report: LoadReport, starts: np.ndarray | None = None,
               dts: np.ndarray | None = None, counts: np.ndarray | None = None) -> None:
    """Fill the report's record, subject, activity, channel, rate and gap fields. `starts`
    (recordings' first rows), `dts` (successive time differences) and `counts` (rows per
    activity category) are the frame's when given."""
    report.records = int(len(frame))
    s = frame["subject"].to_numpy()
    a = frame["activity"].cat.codes.to_numpy()
    ts = frame["timestamp"].to_numpy()
    if starts is None or dts is None:
        starts = _blocks(s, a)
        dts = np.diff(ts)
    report.subjects = sorted({int(v) for v in s[starts]})
    if counts is None:
        counts = np.bincount(a, minlength=len(frame["activity"].cat.categories))
    cats = [str(c) for c in frame["activity"].cat.categories]
    report.activities = {name: int(counts[cats.index(name)]) for name in activity_order(cats)
                         if counts[cats.index(name)] > 0}
    report.channels = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in frame.columns]
    report.unlabelled = report.activities.get(UNLABELLED, 0)
    if report.unlabelled:
        report.warnings.append(f"{report.unlabelled:,} records are not labelled (activity "
                               f"'{UNLABELLED}'): they make no window for training, evaluation "
                               "or calibration until they are labelled")
    ends = starts[1:] - 1         # differences across two recordings do not count
    within = dts > 0
    within[ends] = False
    dt = dts[within]
    if len(dt):
        # Median of at most ~200k evenly spaced intervals: the same figure, a fraction of the time.
        sample = dt[:: max(1, len(dt) // 200_000)]
        period = _median(sample)
        report.sampling_hz = round(1e9 / period, 3)
        report.gaps = int(np.count_nonzero(dt > GAP_PERIODS * period))
        _warn_mixed_rates(frame, dts, starts, period, report)
    else:
        report.sampling_hz = 0.0
        report.gaps = 0


def _warn_mixed_rates(frame: pd.DataFrame, dts: np.ndarray, starts: np.ndarray, period: float,
                      report: LoadReport) -> None:
    """Warn when some recordings (subject, activity) run at another rate than most (a 50 Hz
    phone recording among 20 Hz WISDM files): a window is a number of samples, so windowing
    resamples them (``windows.at_rate``), and the user should know. `dts`: successive time
    differences of the frame."""
    if len(starts) > 5000:      # thousands of tiny recordings: not worth the time
        return
    ends = np.append(starts[1:], len(dts) + 1)
    odd = []
    for b, e in zip(starts, ends, strict=True):
        if e - b < 3:
            continue
        d = dts[b:e - 1]
        d = d[d > 0][:: max(1, (e - b) // 1000)]   # a median of <= ~1,000 spread intervals
        if len(d) == 0:
            continue
        p = _median(d)
        if abs(p - period) > 0.1 * period:
            odd.append((int(frame["subject"].iat[b]), str(frame["activity"].iat[b]), 1e9 / p))
    if not odd:
        return
    named = ", ".join(f"subject {s} {a} ({hz:.0f} Hz)" for s, a, hz in odd[:4])
    more = f" and {len(odd) - 4} more" if len(odd) > 4 else ""
    report.warnings.append(
        f"mixed sampling rates: most recordings are at {1e9 / period:.0f} Hz but {named}{more} "
        "are not; windowing resamples them to the window's rate, so that a window spans the "
        "same time for every recording")


def _median(values: np.ndarray) -> float:
    """``float(np.median(values))`` of a non-empty array of integers, the same value (the mean
    of the middle two, in float64) at a third of the cost for the short arrays of
    ``_warn_mixed_rates``: one partition around the middle, none of np.median's generality."""
    m = len(values)
    lo, hi = (m - 1) // 2, m // 2
    part = np.partition(values, (lo, hi))
    return (float(part[lo]) + float(part[hi])) / 2


def _size(path: Path) -> int:
    try:
        if path.is_dir():   # an export folder
            return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def _looks_like_data(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in DATA_SUFFIXES and not name.startswith(_NOT_DATA_PREFIXES)
