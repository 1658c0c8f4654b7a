"""WISDM 2019 (Weiss 2019): per-subject raw files ``data_<id>_<accel|gyro>_<device>.txt`` with
letter activity codes (A..S, no N). Records are WISDM raw records (``wisdm_raw.py``); the name
gives the sensor and device, the letters tell the format apart from v1.1.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..activities import WISDM2019_CODES

FORMAT = "wisdm-2019"
WISDM2019_NAME = re.compile(r"^data_(\d+)_(accel|gyro)_(phone|watch)\.txt$", re.IGNORECASE)


def sensor_and_device(path: Path) -> tuple[str, str, bool]:
    """(sensor "accel"/"gyro", device "phone"/"watch"/"", whether the name is WISDM 2019's)."""
    match = WISDM2019_NAME.match(path.name)
    if not match:
        return "accel", "", False
    return match.group(2).lower(), match.group(3).lower(), True


def letter_codes(labels: list[str]) -> bool:
    """True when every activity label is a WISDM 2019 letter code."""
    return all(len(lb) == 1 and lb.upper() in WISDM2019_CODES for lb in labels)
