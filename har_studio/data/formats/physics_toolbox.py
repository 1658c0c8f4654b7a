"""Physics Toolbox Sensor Suite (Vieyra Software) CSVs: g-force ``gFx,gFy,gFz`` (accelerometer
with gravity, in g), often with other sensors in the same rows, a trailing comma on every
line, a blank line or ``#`` lines before the header, and with a decimal-comma locale ``;``
separators and ``,`` decimals. Android's file keeps Android's signs; the iPhone's
(``gFTotal`` column, date-time clock) has Core Motion's and is flipped. Values become m/s^2.
"""

from __future__ import annotations

import numpy as np

from ..conventions import IOS_SIGN, STANDARD_GRAVITY
from ..dataset import DataError
from .phone import (
    PhoneRecording,
    find_column,
    head_lines,
    header_index,
    numbers,
    read_table,
    split_header,
)
from .times import seconds_or_dates

APP = "Physics Toolbox"
FORMAT = "physics-toolbox"


def matches(data: bytes) -> bool:
    """True when decoded text bytes have a header naming ``gFx``, ``gFy`` and ``gFz``."""
    lines = head_lines(data, 20)
    i = header_index(lines)
    if i < 0:
        return False
    _, names = split_header(lines[i])
    return {"gfx", "gfy", "gfz"} <= {n.lower() for n in names}


def read(where: str, data: bytes) -> PhoneRecording:
    """The g-force samples of a Physics Toolbox CSV (decoded bytes), in Android's convention."""
    table = read_table(where, data)
    names = table.header
    axes = [find_column(names, f"gF{a}") for a in "xyz"]
    time = find_column(names, "time", "t", r"time \(s\)")
    if time is None:
        raise DataError(f"{where}:{table.header_line}: no time column (columns: "
                        f"{', '.join(names)[:120]})")
    t, base, clock = seconds_or_dates(table.frame[time])
    iphone = find_column(names, "gFTotal") is not None and clock == "date-time"
    sign = IOS_SIGN if iphone else 1.0
    xyz = np.column_stack([numbers(table, a) for a in axes]) * (sign * STANDARD_GRAVITY)
    done = ["signs flipped"] if iphone else []
    done.append("g converted to m/s²")
    if table.decimal == ",":
        done.append("decimal commas")
    return PhoneRecording(APP, FORMAT, t, xyz, done, "iPhone" if iphone else "Android", where,
                          table.header_line + 1, base)
