"""The streamed fast path of the commonest file, WISDM raw records in ASCII (the v1.1
download as it is): read from disk by the C parser with ``;`` as its line terminator, never
held in memory; a big file in two threads (``halves.py``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import stat
import warnings
from pathlib import Path

import pandas as pd

from .. import halves
from ..dataset import DataError
from .common import MAX_FILE_BYTES, SNIFF_BYTES, ParsedFile
from .reading import line_mapper, read_csv_body
from .sniffing import sniff
from .text import binary_reason, read_text_bytes
from .validate import validate_records


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
            if (binary_reason(head) or head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
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
                return read_csv_body(_GuardedFile(reader, size), layout, names, csv.QUOTE_NONE,
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
                    line_of=line_mapper(lambda: orig().replace(b";", b"\n"), orig,
                                         layout.base_line))
    validate_records(pf, df, layout)
    return pf


