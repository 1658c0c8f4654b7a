"""Phone frames and units: every stream becomes Android's convention, which is WISDM's.

The model expects what Android reports: acceleration in m/s^2 *with* gravity, axes fixed to
the phone (x right, y up the screen, z out of the screen) and signed as the force that holds
the phone up, so a phone lying flat screen up reads z = +9.81 m/s^2 and one held upright
reads y = +9.81. iOS (Core Motion) uses the opposite sign on all three accelerometer axes
(flat screen up reads z = -1 g) and reports in g. The rotation rate has the same sign on
both. What each app sends, and what is done with it:

* **Sensor Logger** (HTTP push, Android and iPhone): ``{"messageId": .., "sessionId": ..,
  "deviceId": .., "payload": [{"name": "accelerometer", "time": ns, "values": {"x", "y",
  "z"}}, {"name": "gravity", ..}, {"name": "totalacceleration", ..}, ..]}``. Per the app's
  documentation (awesome-sensor-logger UNITS.md, CROSSPLATFORM.md): ``accelerometer`` is
  user acceleration *without* gravity and ``gravity`` the gravity vector, both in m/s^2 on
  both platforms; ``totalacceleration`` (with gravity) is sent by Android only;
  ``accelerometeruncalibrated`` is in g on iOS and m/s^2 on Android. By default (setting
  "Standardise Units & Frames" off) iOS values have the iOS sign; with the setting on they
  follow Android. The push carries no platform field, so with ``phone="auto"`` the platform
  is told from what is sent (``sensor_logger_frame``), once per stream:
  ``totalacceleration`` -> Android; ``accelerometeruncalibrated`` near 1 (g) -> iPhone,
  near 9.8 -> Android's frame; ``accelerometer`` with ``gravity`` and no total -> iPhone
  (the documented default; choose Android if "Standardise Units & Frames" is on). Gravity of
  magnitude near 1 means the app sent g: values are multiplied by 9.80665. An iPhone stream
  is negated, then accelerometer + gravity is the sample.
* **HyperIMU**, **SensorServer**: Android apps, Android's convention; nothing converted
  (an app set to send g needs the ``units="g"`` option). Lines from an iOS app (``phone="iphone"``
  on a UDP/TCP source) are negated on the accelerometer axes.
* **phyphox** (Android and iPhone): the iOS app converts on the phone (its sensor input
  multiplies Core Motion's g by -9.81), so both deliver Android's convention; nothing converted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .protocols import UNCALIBRATED_NAME

STANDARD_GRAVITY = 9.80665
PHONES = ("auto", "android", "iphone")
G_UNITS_BELOW = 3.0     # a gravity (or raw) magnitude under this is in g, not m/s^2


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


def _median_norm(values: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(values, axis=1))) if len(values) else float("nan")


def sensor_logger_frame(sensors: dict, phone: str = "auto") -> PhoneFrame | None:
    """The frame of a Sensor Logger batch (``sensors``: lower-case name -> ParsedSamples), or
    None when this batch cannot tell (no accelerometer yet). ``phone`` "android"/"iphone"
    forces the sign; units are still told from the gravity magnitude."""
    gravity = sensors.get("gravity")
    in_g = gravity is not None and len(gravity) and _median_norm(gravity.values) < G_UNITS_BELOW
    scale = STANDARD_GRAVITY if in_g else 1.0
    unit_note = ", values in g" if in_g else ""
    if phone == "android":
        return PhoneFrame("android", 1.0, scale, "Android (chosen)" + unit_note)
    if phone == "iphone":
        return PhoneFrame("iphone", -1.0, scale, "iPhone (chosen; axes negated)" + unit_note)
    if "totalacceleration" in sensors:
        return PhoneFrame("android", 1.0, 1.0, "Android (it sends total acceleration)")
    raw = sensors.get(UNCALIBRATED_NAME)
    if raw is not None and len(raw):
        if _median_norm(raw.values) < G_UNITS_BELOW:
            return PhoneFrame("iphone", -1.0, scale, "iPhone (its raw accelerometer is in g; "
                              "axes negated)" + unit_note)
        return PhoneFrame("android", 1.0, scale, "Android's frame (raw accelerometer in m/s²)"
                          + unit_note)
    accel = sensors.get("accelerometer")
    if accel is None or not len(accel):
        return None
    if gravity is not None and len(gravity):
        return PhoneFrame("iphone", -1.0, scale,
                          "iPhone (acceleration and gravity without a total: axes negated; "
                          "choose Phone: Android if the app standardises frames)" + unit_note)
    return None
