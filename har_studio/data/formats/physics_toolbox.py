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
from . import phone
from .times import seconds_or_dates

APP = "Physics Toolbox"
FORMAT = "physics-toolbox"


def matches(data: bytes) -> bool:
    """True when decoded text bytes have a header naming ``gFx``, ``gFy`` and ``gFz``."""
    return {"gfx", "gfy", "gfz"} <= {n.lower() for n in phone.header_names(data)}


def read(where: str, data: bytes) -> phone.PhoneRecording:
    """The g-force samples of a Physics Toolbox CSV (decoded bytes), in Android's convention."""
    table = phone.read_table(where, data)
    names = table.header
    axes = [phone.find_column(names, f"gF{a}") for a in "xyz"]
    time = phone.find_column(names, "time", "t", r"time \(s\)")
    if time is None:
        raise DataError(f"{where}:{table.header_line}: no time column (columns: "
                        f"{', '.join(names)[:120]})")
    t, base, clock = seconds_or_dates(table.frame[time])
    iphone = phone.find_column(names, "gFTotal") is not None and clock == "date-time"
    sign = IOS_SIGN if iphone else 1.0
    xyz = np.column_stack([phone.numbers(table, a) for a in axes]) * (sign * STANDARD_GRAVITY)
    done = ["signs flipped"] if iphone else []
    done.append("g converted to m/s²")
    if table.decimal == ",":
        done.append("decimal commas")
    return phone.PhoneRecording(APP, FORMAT, t, xyz, done, "iPhone" if iphone else "Android", where,
                          table.header_line + 1, base)
