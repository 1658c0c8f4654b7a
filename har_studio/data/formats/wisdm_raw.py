"""The WISDM raw family: records ``subject,activity,timestamp,x,y,z;`` without a header, ``;``
ending a record (so several may share a physical line): WISDM v1.1 (activities named in full)
and WISDM 2019 (letter codes, ``wisdm2019.py``); also the same records as a European
spreadsheet writes them, ``1;Walking;123;-0,5;9,8;0,1``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..dataset import ACCEL_CHANNELS, GYRO_CHANNELS, DataError
from . import wisdm2019
from .common import INT_RE, Layout, is_number


def _looks_like_raw_record(fields: list[str], decimal: str) -> bool:
    if len(fields) == 7 and not fields[6].strip():
        fields = fields[:6]
    if len(fields) != 6:
        return False
    label = fields[1].strip()
    return (bool(INT_RE.match(fields[0].strip())) and bool(re.search(r"[A-Za-z]", label))
            and is_number(fields[2]) and all(is_number(f, decimal) for f in fields[3:]))



def raw_layout(path: Path, lines: list[str], first_idx: int) -> Layout:
    """The layout of headerless raw records starting at ``lines[first_idx]``; DataError (naming
    the file and line) when the lines are not such records."""
    first = lines[first_idx].rstrip("\r")
    first_line_no = first_idx + 1
    # Headerless raw records (comma-separated with ';' record ends, or European ';' + ',').
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
    sensor, device, named = wisdm2019.sensor_and_device(path)
    if sep == ";":
        fmt = "csv"
    elif named or wisdm2019.letter_codes(labels):
        fmt = wisdm2019.FORMAT
    else:
        fmt = "wisdm-v1.1"
    channels = GYRO_CHANNELS if sensor == "gyro" else ACCEL_CHANNELS
    roles = {"subject": 0, "activity": 1, "timestamp": 2, **{c: 3 + i for i, c in enumerate(channels)}}
    return Layout(kind="raw", format=fmt, sep=sep, decimal=decimal,
                  split_semicolons=sep != ";", body_start=0, base_line=1, ncols=6, roles=roles,
                  sensor=sensor, device=device)

