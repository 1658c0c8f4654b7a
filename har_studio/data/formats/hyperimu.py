"""HyperIMU (ianovir; Android) CSV logs ``HIMU-<date>.csv``: ``@`` lines (app, date, sampling
time) before the header, columns named after the sensor chip (``MPL_Accelerometer.x``,
``ST_LIS3DHTR.x``, ``bmi3x0_accelerometer.x``...), an optional ``timestamp`` column in Unix
milliseconds. Values are Android's (m/s^2 with gravity); the accelerometer is the column group
named like one, or else the group whose magnitude is about 9.8 (not gravity, not linear).
"""

from __future__ import annotations

import re

import numpy as np

from ..dataset import DataError
from . import phone

APP = "HyperIMU"
FORMAT = "hyperimu"
_NOT_ACCEL = ("linear", "gravity", "uncal", "gyro", "magnet", "rotation", "orientation")


def matches(data: bytes) -> bool:
    """True when decoded text bytes start like a HyperIMU log (``@`` lines, then a header of
    ``<sensor>.x`` columns)."""
    lines = phone.head_lines(data, 12)
    if not lines or not lines[0].lstrip("\ufeff").startswith("@"):
        return False
    i = phone.header_index(lines)
    return i > 0 and ".x" in lines[i] and "hyperimu" in "".join(lines[:i]).lower()


def _groups(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        match = re.fullmatch(r"(.+)\.([xyz])", name)
        if match:
            groups.setdefault(match.group(1), []).append(name)
    return {g: sorted(cols) for g, cols in groups.items() if len(cols) == 3}


def _accelerometer(table, groups: dict[str, list[str]]) -> str | None:
    named = [g for g in groups if "acc" in g.lower() and not any(w in g.lower() for w in _NOT_ACCEL)]
    if named:
        return named[0]
    for group, cols in groups.items():
        if any(w in group.lower() for w in _NOT_ACCEL):
            continue
        values = np.column_stack([phone.numbers(table, c) for c in cols])
        norm = np.nanmedian(np.linalg.norm(values, axis=1)) if len(values) else np.nan
        if 7.0 < norm < 13.0:
            return group
    return None


def read(where: str, data: bytes) -> phone.PhoneRecording:
    """The accelerometer samples of a HyperIMU log (decoded bytes)."""
    lines = phone.head_lines(data, 12)
    i = phone.header_index(lines)
    _, names = phone.split_header(lines[i])
    if all(re.fullmatch(r"[-+.\deE]+", n) for n in names if n):
        raise DataError(f"{where}:{i + 1}: a HyperIMU log without a header line (an old app "
                        "version): turn on the CSV header in HyperIMU's settings and record again")
    table = phone.read_table(where, data)
    groups = _groups(table.header)
    group = _accelerometer(table, groups)
    at = f"{where}:{table.header_line}"
    if group is None:
        linear = any("linear" in g.lower() for g in groups)
        raise DataError(f"{at}: no accelerometer among the HyperIMU columns "
                        f"({', '.join(groups) or 'none'})"
                        + (": linear acceleration has gravity removed" if linear else "")
                        + "; turn on the accelerometer in HyperIMU and record again")
    xyz = np.column_stack([phone.numbers(table, c) for c in groups[group]])
    done = [f"accelerometer from the {group} columns"]
    stamp = phone.find_column(table.header, "timestamp")
    if stamp is not None:
        t = phone.timestamps(table, stamp, 1_000_000)
    else:
        period = re.search(r"sampling\s*(?:time|rate)\s*:\s*(\d+)\s*ms", " ".join(table.preamble),
                           flags=re.IGNORECASE)
        if period is None:
            raise DataError(f"{at}: no timestamp column and no sampling time in the @ lines: turn "
                            "on timestamps in HyperIMU's settings")
        t = np.arange(len(xyz), dtype=np.float64) * int(period.group(1)) * 1e6
        done.append(f"no timestamp column: {period.group(1)} ms a sample (its @ lines)")
    return phone.PhoneRecording(APP, FORMAT, t, xyz, done, "Android", where, table.header_line + 1)
