"""Parsing a sniffed file: one C-engine ``pandas.read_csv`` over the bytes (``;`` record ends
turned into newlines on the fly, a length-preserving change, so byte offsets and physical
line numbers stay valid), with a repair pass for lines with too many fields.
"""

from __future__ import annotations

import contextlib
import csv
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..dataset import DataError
from .common import MAX_REPORTED_LINES, TOO_MANY_FIELDS, Layout, ParsedFile, one_line
from .validate import validate_records


def line_mapper(body: bytes | Callable[[], bytes], orig: bytes | Callable[[], bytes],
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



def read_csv_body(body, layout: Layout, names: list[str], quoting: int,
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
            source = body if isinstance(body, io.RawIOBase) else io.BytesIO(body)
        return pd.read_csv(
            source, sep=layout.sep, header=None, names=names, index_col=False,
            decimal=layout.decimal, dtype=dtype, engine="c", quoting=quoting, low_memory=True,
            encoding="utf-8", encoding_errors="replace", skip_blank_lines=True, comment=comment,
            lineterminator=lineterminator,
        )


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
            df = read_csv_body(body, layout, names[:-1], quoting, strict=True, comment=comment)
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
            df = read_csv_body(body, layout, names, quoting, strict, comment)
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
                df = read_csv_body(body, layout, names, q, strict=False)
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
                    line_of=line_mapper(body if blanked else rebuild, orig, layout.base_line))
    validate_records(pf, df, layout)
    return pf


