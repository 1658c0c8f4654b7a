"""Phone frames and units: every stream becomes Android's convention, which is WISDM's.

The rule itself is ``data/conventions.py`` (files of the same apps use it too); this module
re-exports it for the live sources and says what each streaming app sends.

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

from ..data.conventions import (
    G_UNITS_BELOW,
    PHONES,
    STANDARD_GRAVITY,
    PhoneFrame,
    check_phone,
    sensor_logger_frame,
)

__all__ = ["G_UNITS_BELOW", "PHONES", "STANDARD_GRAVITY", "PhoneFrame", "check_phone",
           "sensor_logger_frame"]
