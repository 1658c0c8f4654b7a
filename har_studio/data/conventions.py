"""Phone frames and units: the one definition of Android's convention (the model's, WISDM's)
and of how each phone's readings are brought into it, shared by files (``data/formats``) and
live streams (``live/frames.py`` re-exports it).

The model expects what Android reports: acceleration in m/s^2 *with* gravity, axes fixed to
the phone (x right, y up the screen, z out of the screen) and signed as the force that holds
the phone up, so a phone lying flat screen up reads z = +9.81 m/s^2 and one held upright
reads y = +9.81. iOS (Core Motion) uses the opposite sign on all three accelerometer axes
(flat screen up reads z = -1 g) and reports in g. The rotation rate has the same sign on
both. Bringing a reading into Android's convention is a multiplication by ``sign * scale``
(``PhoneFrame``): ``IOS_SIGN`` for an iPhone's raw values, ``STANDARD_GRAVITY`` for g.

Sensor Logger (awesome-sensor-logger UNITS.md, CROSSPLATFORM.md): ``accelerometer`` is user
acceleration *without* gravity and ``gravity`` the gravity vector, both in m/s^2 on both
platforms; ``totalacceleration`` (with gravity) comes from Android only;
``accelerometeruncalibrated`` is in g on iOS and m/s^2 on Android. By default (setting
"Standardise Units & Frames" off) iOS values have the iOS sign; with it on they follow
Android. ``sensor_logger_frame`` tells the platform from what is there when nothing says it.
phyphox's iOS app converts on the phone (it multiplies Core Motion's g by -9.81), so its files
and streams are Android's convention already.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STANDARD_GRAVITY = 9.80665
IOS_SIGN = -1.0         # an iPhone's accelerometer axes against Android's
PHONES = ("auto", "android", "iphone")
G_UNITS_BELOW = 3.0     # a gravity (or raw) magnitude under this is in g, not m/s^2

# Sensor Logger's sensor names, lower case (its CSV files are these, capitalised, + ".csv")
SL_TOTAL = "totalacceleration"
SL_ACCELEROMETER = "accelerometer"
SL_GRAVITY = "gravity"
SL_UNCALIBRATED = "accelerometeruncalibrated"


def check_phone(phone: str) -> str:
    """``phone`` in lower case; ValueError naming the choices otherwise."""
    value = str(phone).lower()
    if value not in PHONES:
        raise ValueError(f"phone must be one of {', '.join(PHONES)}, got {phone!r}")
    return value


@dataclass(frozen=True)
class PhoneFrame:
    """How to bring one app's accelerometer values into Android's convention: multiply by
    ``sign * scale``. ``describe`` says which phone it is and how that was known."""

    platform: str          # "android" or "iphone"
    sign: float = 1.0
    scale: float = 1.0
    describe: str = "Android"


def median_norm(values: np.ndarray) -> float:
    """Median magnitude of ``[n, 3]`` vectors (NaN when there are none); of at most ~10,000
    evenly spread ones (a long recording's median is the same to the units' decision)."""
    if not len(values):
        return float("nan")
    return float(np.median(np.linalg.norm(values[::max(1, len(values) // 10_000)], axis=1)))


def in_g(values: np.ndarray) -> bool:
    """True when vectors that hold gravity (a gravity sensor, a raw accelerometer) are in g:
    their median magnitude is under ``G_UNITS_BELOW``."""
    return len(values) > 0 and median_norm(values) < G_UNITS_BELOW


def sensor_logger_frame(sensors: dict, phone: str = "auto") -> PhoneFrame | None:
    """The frame of Sensor Logger data (``sensors``: lower-case name -> anything with
    ``values``, ``[n, 3]``), or None when it cannot tell (no accelerometer yet). ``phone``
    "android"/"iphone" forces the sign; units are still told from the gravity magnitude."""
    gravity = sensors.get(SL_GRAVITY)
    grav_g = gravity is not None and in_g(gravity.values)
    scale = STANDARD_GRAVITY if grav_g else 1.0
    unit_note = ", values in g" if grav_g else ""
    if phone == "android":
        return PhoneFrame("android", 1.0, scale, "Android (chosen)" + unit_note)
    if phone == "iphone":
        return PhoneFrame("iphone", IOS_SIGN, scale, "iPhone (chosen; axes negated)" + unit_note)
    if SL_TOTAL in sensors:
        return PhoneFrame("android", 1.0, 1.0, "Android (it sends total acceleration)")
    raw = sensors.get(SL_UNCALIBRATED)
    if raw is not None and len(raw.values):
        if in_g(raw.values):
            return PhoneFrame("iphone", IOS_SIGN, scale, "iPhone (its raw accelerometer is in "
                              "g; axes negated)" + unit_note)
        return PhoneFrame("android", 1.0, scale, "Android's frame (raw accelerometer in m/s²)"
                          + unit_note)
    accel = sensors.get(SL_ACCELEROMETER)
    if accel is None or not len(accel.values):
        return None
    if gravity is not None and len(gravity.values):
        return PhoneFrame("iphone", IOS_SIGN, scale,
                          "iPhone (acceleration and gravity without a total: axes negated; "
                          "choose Phone: Android if the app standardises frames)" + unit_note)
    return None
