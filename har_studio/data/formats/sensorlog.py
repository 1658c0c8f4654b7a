"""SensorLog (Bernd Thomas; iOS, watchOS) CSVs: one wide row per sample, column names with
units (``accelerometerAccelerationX(G)``, ``accelerometerTimestamp_sinceReboot(s)``,
``loggingTime(txt)``...). Core Motion's values: g and iOS signs, so they are multiplied by
-9.80665. The raw accelerometer includes gravity; without it, Core Motion's user acceleration
plus gravity (``motionUserAcceleration*`` + ``motionGravity*``) is used; user acceleration
alone has no gravity and is refused.
"""

from __future__ import annotations

import numpy as np

from ..conventions import IOS_SIGN, STANDARD_GRAVITY
from ..dataset import DataError
from . import phone
from .times import seconds_or_dates

APP = "SensorLog"
FORMAT = "sensorlog"
_MARKERS = ("accelerometeraccelerationx(g)", "motionuseraccelerationx(g)", "loggingtime(txt)")


def matches(data: bytes) -> bool:
    """True when decoded text bytes have SensorLog's header."""
    return any(n.lower() in _MARKERS for n in phone.header_names(data, 5))


def _xyz(table, prefix: str) -> np.ndarray | None:
    cols = [phone.find_column(table.header, rf"{prefix}{a}\(G\)") for a in "XYZ"]
    if None in cols:
        return None
    return np.column_stack([phone.numbers(table, c) for c in cols])


def read(where: str, data: bytes) -> phone.PhoneRecording:
    """The accelerometer samples of a SensorLog CSV (decoded bytes), in Android's convention."""
    table = phone.read_table(where, data)
    raw = _xyz(table, "accelerometerAcceleration")
    if raw is not None:
        xyz, clock_col = raw, r"accelerometerTimestamp_sinceReboot\(s\)"
        done = ["signs flipped", "g converted to m/s²"]
    else:
        user, grav = _xyz(table, "motionUserAcceleration"), _xyz(table, "motionGravity")
        if user is None or grav is None:
            raise DataError(f"{where}:{table.header_line}: SensorLog file without the "
                            "accelerometer (or with user acceleration but no gravity): turn on "
                            "Accelerometer in SensorLog and record again")
        xyz, clock_col = user + grav, r"motionTimestamp_sinceReboot\(s\)"
        done = ["signs flipped", "gravity added from motionGravity", "g converted to m/s²"]
    time = phone.find_column(table.header, clock_col, r"loggingTime\(txt\)")
    if time is None:
        raise DataError(f"{where}:{table.header_line}: SensorLog file without a time column")
    t, base, _ = seconds_or_dates(table.frame[time])
    return phone.PhoneRecording(APP, FORMAT, t, xyz * (IOS_SIGN * STANDARD_GRAVITY), done, "iPhone",
                          where, table.header_line + 1, base)
