"""phyphox (RWTH Aachen; Android and iOS) exports of the experiment "Acceleration with g": a
zip holding ``Raw Data.csv`` (and ``meta/``), or that CSV alone.

Every header name is quoted (``"Time (s)","Acceleration x (m/s^2)",...``), numbers are in
scientific notation, and the CSV may use ``,``, ``;`` or tab, with a decimal point or comma.
Both apps write Android's convention already (the iOS app multiplies Core Motion's g by
-9.81), so nothing is converted. "Acceleration (without g)" has gravity removed and is
refused, as are other experiments and one graph's export, each saying what to export instead.
"""

from __future__ import annotations

import re

import numpy as np

from ..dataset import DataError
from . import phone

APP = "phyphox"
FORMAT = "phyphox"
RAW_DATA = "raw data.csv"
_TIME = r"t(ime)?\s*\(s\)"
WITH_G = "record with phyphox's experiment \"Acceleration with g\" and export its data (CSV or zip)"


def matches(data: bytes) -> bool:
    """True when decoded text bytes start like a phyphox CSV export (a quoted time column)."""
    lines = phone.head_lines(data, 10)
    i = phone.header_index(lines, ())
    if i < 0 or '"' not in lines[i]:
        return False
    _, names = phone.split_header(lines[i])
    return bool(names) and re.fullmatch(_TIME, names[0], flags=re.IGNORECASE) is not None


def read(where: str, data: bytes) -> phone.PhoneRecording:
    """The samples of a phyphox ``Raw Data.csv`` (decoded bytes) in Android's convention."""
    table = phone.read_table(where, data)
    names = table.header
    time = phone.find_column(names, _TIME)
    axes = [phone.find_column(names, rf"acceleration {a} \(m/s\^?2\)") for a in "xyz"]
    at = f"{where}:{table.header_line}"
    if any(phone.find_column(names, rf"linear acceleration {a}.*") for a in "xyz"):
        raise DataError(f"{at}: phyphox \"Acceleration (without g)\" has gravity removed: {WITH_G}")
    if time is None or None in axes:
        shown = ", ".join(n for n in names if not n.startswith("_unnamed"))[:120]
        if len(names) <= 3 and time is not None:
            raise DataError(f"{at}: one graph's export from phyphox ({shown}), not the "
                            f"experiment's data: {WITH_G}")
        what = "gyroscope" if any("gyro" in n.lower() for n in names) else "another experiment"
        raise DataError(f"{at}: a phyphox export of {what} ({shown}), not acceleration: {WITH_G}")
    t = phone.numbers(table, time)
    xyz = np.column_stack([phone.numbers(table, a) for a in axes])
    done = ["Android's convention already"]
    if table.decimal == ",":
        done.append("decimal commas")
    return phone.PhoneRecording(APP, FORMAT, t * 1e9, xyz, done, "", where, table.header_line + 1)
