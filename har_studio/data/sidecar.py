"""What HAR Studio remembers beside a recording: ``<file>.harstudio.json``.

A phone app's recording has no subject and no activity in it; the person who opens it says
them once (``load(path, subject=..., activity=...)``, ``--subject`` / ``--activity``, the Data
tab's dialog) and they are written beside the file (beside the folder or zip of an export),
atomically, so that the next load needs no questions. The file is a JSON object; HAR Studio's
own keys are ``subject`` and ``activity``, and other keys (the Data tab's edits, say) are kept
when these are written (``write_sidecar`` merges).
"""

from __future__ import annotations

import json
import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write_text
from .activities import UNLABELLED, canonical_activity
from .dataset import DataError

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".harstudio.json"
MAX_SIDECAR_BYTES = 1 << 20
SIDECAR_VERSION = 1


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the sidecar of a file, zip or export folder lives: beside it, its name +
    ``.harstudio.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar's JSON object for `path` ({} when there is none; one that cannot be read
    is logged and taken as none, never fatal: it only spares a question)."""
    side = sidecar_path(path)
    try:
        if not side.is_file() or side.stat().st_size > MAX_SIDECAR_BYTES:
            return {}
        value = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("%s: ignored (%s)", side, exc)
        return {}
    return value if isinstance(value, dict) else {}


def write_sidecar(path: str | os.PathLike, **fields) -> Path:
    """Merge `fields` into `path`'s sidecar (atomically: a temporary file, then a rename);
    returns the sidecar's path. OSError when the folder cannot be written."""
    data = read_sidecar(path)
    data.update(fields)
    data["harstudio"] = SIDECAR_VERSION
    side = sidecar_path(path)
    atomic_write_text(side, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return side


def subject_number(value: int | str) -> int:
    """A subject id from what a person typed: a whole number as it is (``7``, ``"007"``,
    ``"u7"`` -> 7), a name (``"alice"``) a stable number from 1,000,000 up (the same name
    always gives the same number). ValueError for an empty or negative one."""
    if isinstance(value, bool):
        raise ValueError(f"not a subject id: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a subject id is a whole number >= 0, got {value}")
        return value
    text = " ".join(str(value).split())
    if not text:
        raise ValueError("the subject is empty: give a person id or a name")
    match = re.fullmatch(r"[A-Za-z_-]{0,8}(\d{1,15})", text)
    if match:
        return int(match.group(1))
    return 1_000_000 + zlib.crc32(text.lower().encode("utf-8")) % 9_000_000


@dataclass(frozen=True)
class Identity:
    """Who was recorded and doing what, for a file that does not say it."""

    subject: int
    activity: str          # canonical name, or UNLABELLED
    subject_text: str      # as given (a name stays a name in the sidecar)

    @property
    def unlabelled(self) -> bool:
        return self.activity == UNLABELLED


def make_identity(subject: int | str, activity: str, where: str = "") -> Identity:
    """An Identity from what a person gave; DataError (one line, naming `where`) if unusable."""
    prefix = f"{where}: " if where else ""
    try:
        number = subject_number(subject)
    except ValueError as exc:
        raise DataError(f"{prefix}{exc}") from None
    name = canonical_activity(activity) if activity is not None else ""
    if not name or not re.search(r"[a-z]", name) or len(name) > 64:
        raise DataError(f"{prefix}not an activity: {activity!r} (give a name such as walking, "
                        f"or '{UNLABELLED}' to label it later)")
    return Identity(number, name, str(subject).strip())


def remembered(path: str | os.PathLike) -> tuple[str | None, str | None]:
    """(subject, activity) the sidecar of `path` remembers (None for what it does not)."""
    data = read_sidecar(path)
    subject, activity = data.get("subject"), data.get("activity")
    subject = str(subject) if isinstance(subject, (int, str)) and str(subject).strip() else None
    activity = activity if isinstance(activity, str) and activity.strip() else None
    return subject, activity
