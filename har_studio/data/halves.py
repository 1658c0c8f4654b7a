"""Parse a big plain WISDM raw file in two processes: the second half in a forked child.

pandas' C parser holds the GIL, so threads do not help; a forked child does, where the machine
has a second core. The child inherits the imported pandas (no start-up of its own), reads its
half of the file by offset and sends back plain column arrays through a pipe (raw bytes and a
JSON header: nothing is unpickled). The two halves are joined into the frame one read of the
whole file gives (same dtypes, rows in file order), so everything after it is unchanged.

Used only where it is safe and pays: Linux's ``fork``, no other Python thread in the process
(the app loads in worker threads beside Qt: never forked there), a core to spare (beside two
busy processes on two cores the fork costs more than it saves), a file of at least
``MIN_BYTES``. Anything unusual in either half (the same checks as one read) returns None, and
the caller takes its general path. ``bench/bench_live.py`` (``startup``) measures ``inspect``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

MIN_BYTES = 16 << 20          # smaller files: one read (the fork costs a few milliseconds)
_LOOK = 1 << 16               # bytes read at the middle to find a record boundary
_FAILED = 3                   # the child's exit status when its half is not plain records


def can_fork() -> bool:
    """A child may parse half of a file: Linux (fork is unsafe with macOS system libraries), no
    other Python thread, and a core to spare right now."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and threading.active_count() == 1 and _spare_core())


def _spare_core() -> bool:
    """Fewer other runnable threads than cores at this moment (``/proc/loadavg``). Measured on
    the 2-core machine (``inspect`` of 1.43 M lines, whole process, medians of 5): beside one
    busy process the two halves take 0.89 s against 1.07 s for one read; beside two (a load of
    3) 1.21-1.24 s against 1.11-1.14 s, so one read then."""
    from ..threads import other_runnable, usable_cores

    return other_runnable(samples=3, interval_s=0.002) < usable_cores()


def middle_cut(fd: int, end: int, fields: int) -> int | None:
    """Byte offset just after a ``;`` near the middle of [0, end), where the record that
    follows is whole (a ``;`` after it within the look) and has exactly `fields` fields: the C
    parser does not check the width of the first record it reads, so this one is checked
    here. None: no such place (then one read)."""
    mid = end // 2
    chunk = os.pread(fd, min(_LOOK, end - mid), mid)
    first = chunk.find(b";")
    if first < 0:
        return None
    cut = mid + first + 1
    rest = chunk[first + 1:].split(b";")[:-1]
    record = next((r for r in rest if r.strip()), None)
    if record is None or record.count(b",") != fields - 1 or cut >= end:
        return None
    return cut


class _At:
    """``read(size)`` of a file descriptor from an offset on (``pread``: no file position
    shared with the other process)."""

    def __init__(self, fd: int, pos: int) -> None:
        self._fd, self._pos = fd, pos

    def read(self, size: int = -1) -> bytes:
        data = os.pread(self._fd, size, self._pos)
        self._pos += len(data)
        return data


def _send(df: pd.DataFrame, w: int) -> None:
    """The frame as a JSON header (length-prefixed) and each column's raw bytes."""
    columns, arrays = [], []
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = np.ascontiguousarray(s.cat.codes.to_numpy())
            columns.append({"name": name, "dtype": codes.dtype.str,
                            "categories": [str(c) for c in s.cat.categories]})
            arrays.append(codes)
        else:
            a = np.ascontiguousarray(s.to_numpy())
            columns.append({"name": name, "dtype": a.dtype.str})
            arrays.append(a)
    header = json.dumps({"rows": len(df), "columns": columns}).encode()
    with open(w, "wb", closefd=False) as out:
        out.write(len(header).to_bytes(8, "little") + header)
        for a in arrays:
            out.write(memoryview(a).cast("B"))


def _receive(r: int) -> pd.DataFrame:
    with open(r, "rb", closefd=False) as pipe:
        size = int.from_bytes(pipe.read(8), "little")
        header = json.loads(pipe.read(size))
        out = {}
        for col in header["columns"]:
            dtype = np.dtype(col["dtype"])
            a = np.frombuffer(pipe.read(dtype.itemsize * header["rows"]), dtype)
            if "categories" in col:
                out[col["name"]] = pd.Categorical.from_codes(a, categories=col["categories"],
                                                             validate=False)
            else:
                out[col["name"]] = a
    return pd.DataFrame(out, copy=False)


def _join(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of `a` then `b`; categorical columns over the union of both halves' categories."""
    out = {}
    for name in a.columns:
        x, y = a[name], b[name]
        if isinstance(x.dtype, pd.CategoricalDtype):
            cats = sorted(set(map(str, x.cat.categories)) | set(map(str, y.cat.categories)))
            at = {c: i for i, c in enumerate(cats)}
            codes = []
            for s in (x, y):
                remap = np.array([at[str(c)] for c in s.cat.categories] + [-1], np.int32)
                codes.append(remap[s.cat.codes.to_numpy()])   # -1 (missing) picks the last
            out[name] = pd.Categorical.from_codes(np.concatenate(codes), categories=cats,
                                                  validate=False)
        else:
            out[name] = np.concatenate([x.to_numpy(), y.to_numpy()])
    return pd.DataFrame(out, copy=False)


def read_in_two(fd: int, cut: int, end: int,
                read: Callable[[object, int], pd.DataFrame],
                failures: tuple[type[BaseException], ...]) -> pd.DataFrame | None:
    """``read(reader, size)`` of bytes [0, cut) here and [cut, end) in a forked child, joined.
    `read` raises one of `failures` for input that is not plain records (then None)."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns when the process has other OS threads (a BLAS pool): the child
        # runs none of their code, only the C parser, and then exits
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:   # the child: never returns, never runs the parent's cleanup
        status = 1
        try:
            os.close(r)
            try:
                part = read(_At(fd, cut), end - cut)
            except failures:
                status = _FAILED
            else:
                _send(part, w)
                status = 0
        finally:
            os._exit(status)
    os.close(w)
    try:
        try:
            first = read(_At(fd, 0), cut)
        except failures:
            return None
        second = _receive(r)
        _, wait_status = os.waitpid(pid, 0)
        pid = 0
        if os.waitstatus_to_exitcode(wait_status) != 0:
            return None
        return _join(first, second)
    except (ValueError, OSError, EOFError):   # a child that failed midway: a short pipe
        return None
    finally:
        os.close(r)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
