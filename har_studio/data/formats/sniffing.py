"""Recognising a text file's layout from its content: each format family's module says whether
the first lines are its own (``headed_csv``: a header row naming the columns; ``wisdm_raw``:
headerless WISDM records). A new text layout is one more module and one more line here.
Phone apps' exports (zips, folders, their CSVs) are recognised in ``phone_files.py``.
"""

from __future__ import annotations

from pathlib import Path

from ..dataset import DataError
from .common import SNIFF_BYTES, Layout
from .headed_csv import header_layout
from .wisdm_raw import raw_layout


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

    layout = header_layout(path, data, lines, first_idx, offset)
    if layout is not None:
        return layout
    return raw_layout(path, lines, first_idx)
