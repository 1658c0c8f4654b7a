"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or a full disk mid-write never leaves a half-written model, report or recording.
The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less the
user's umask, or those of the file it replaces), not ``mkstemp``'s private ``0o600``. A crash
mid-write leaves a temporary ``.<name>.<random>.tmp`` beside the target;
``remove_stale_temp_files`` clears old ones at start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# mkstemp(prefix=".<name>.", suffix=".tmp"): eight random characters from [a-z0-9_]
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
STALE_AFTER_S = 3600.0


class AtomicWriteError(OSError):
    """Writing `filename` failed (a full disk, no permission); str() is one line naming it."""

    def __str__(self) -> str:
        return f"{self.filename}: cannot write the file ({self.strerror})"


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-and-restore
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)  # replacing a file keeps its permissions
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces `path` in one rename."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(target)) from exc
    try:
        with contextlib.suppress(OSError, AttributeError, NotImplementedError):
            os.fchmod(fd, _mode_for(target))  # (no fchmod on Windows: nothing to fix there)
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, AtomicWriteError):
            raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def remove_stale_temp_files(folders: Iterable[str | os.PathLike],
                            older_than_s: float = STALE_AFTER_S, depth: int = 2) -> list[Path]:
    """Delete temporary files that ``atomic_write`` left behind when a process was killed
    mid-write: ``.<name>.<8 random>.tmp`` regular files in `folders` (and sub-folders up to
    `depth` levels down) not modified for `older_than_s` seconds (a live writer, e.g. a long
    recording, keeps touching its file). Returns what was removed; never raises."""
    removed: list[Path] = []
    limit = time.time() - older_than_s
    pending = [(Path(f), 0) for f in folders]
    while pending:
        folder, level = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if level < depth:
                        pending.append((Path(entry.path), level + 1))
                elif (entry.is_file(follow_symlinks=False) and _TEMP_NAME.match(entry.name)
                      and entry.stat(follow_symlinks=False).st_mtime <= limit):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    if removed:
        log.info("removed %d stale temporary file(s), e.g. %s", len(removed), removed[0])
    return removed


def remove_app_temp_files(older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """``remove_stale_temp_files`` over the app's own folders (runs, models): call at start."""
    from .paths import user_data_dir

    try:
        base = user_data_dir()
    except OSError:
        return []
    return remove_stale_temp_files([base], older_than_s, depth=3)
