"""Parse a big plain WISDM raw file in two threads: each reads half of the bytes.

pandas' C parser releases the GIL while it tokenises and converts numbers, so two threads
parse on two cores (measured on the 2-core machine, 1.43 M lines, in-process medians of 15
under a shared load: two threads 0.41 s, a forked child for the second half 0.54 s, one read
0.45 s). Each thread reads its half of the file by offset (``pread``: no shared file
position); the halves are joined into the frame one read of the whole file gives (same dtypes,
rows in file order), so everything after it is unchanged. Threads work in the CLI and in the
app's load thread, on Linux and macOS (Windows has no ``os.pread``: one read there); a pandas
whose parser holds the GIL gives the same frame, only no faster.

Used for a file of at least ``MIN_BYTES`` on a machine with a second core. Anything unusual in
either half (the same checks as one read) returns None, and the caller takes its general
path. ``bench/bench_live.py`` (``startup``) measures ``inspect``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np
import pandas as pd

MIN_BYTES = 16 << 20          # smaller files: one read (a thread costs a little to start)
_LOOK = 1 << 16               # bytes read at the middle to find a record boundary


def can_split() -> bool:
    """A second core for the second half, and ``os.pread`` to read at an offset (not on
    Windows, where one read serves)."""
    from ..threads import usable_cores

    return hasattr(os, "pread") and usable_cores() > 1


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
    shared with the other thread)."""

    def __init__(self, fd: int, pos: int) -> None:
        self._fd, self._pos = fd, pos

    def read(self, size: int = -1) -> bytes:
        data = os.pread(self._fd, size, self._pos)
        self._pos += len(data)
        return data


def _join(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of `a` then `b`; categorical columns over the union of both halves' categories."""
    out = {}
    for name in a.columns:
        x, y = a[name], b[name]
        if isinstance(x.dtype, pd.CategoricalDtype):
            if list(x.cat.categories) == list(y.cat.categories):   # the usual case: as they are
                out[name] = pd.Categorical.from_codes(
                    np.concatenate([x.cat.codes.to_numpy(), y.cat.codes.to_numpy()]),
                    categories=x.cat.categories, validate=False)
                continue
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
    """``read(reader, size)`` of bytes [0, cut) here and [cut, end) in a second thread,
    joined. `read` raises one of `failures` for input that is not plain records (then None);
    anything else it raises is raised here."""
    second: dict[str, object] = {}

    def run() -> None:
        try:
            second["frame"] = read(_At(fd, cut), end - cut)
        except BaseException as exc:  # handed to the caller's thread
            second["error"] = exc

    worker = threading.Thread(target=run, name="har-studio-parse-half", daemon=True)
    worker.start()
    try:
        first = read(_At(fd, 0), cut)
    except failures:
        first = None
    finally:
        worker.join()
    error = second.get("error")
    if error is not None:
        if isinstance(error, failures):
            return None
        raise error
    if first is None:
        return None
    return _join(first, second["frame"])
