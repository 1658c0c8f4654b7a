"""The guided calibration's pieces without Qt widgets or workers: what to tell the person
per activity, how much of each capture calibrates, where the model is saved, and the
captured samples (``Capture``) made into the tidy frame calibration reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import paths
from ...data.activities import canonical_activity

PROMPTS = {
    "walking": "Walk normally",
    "jogging": "Jog on the spot or outside",
    "stairs": "Walk up and down stairs",
    "upstairs": "Walk up stairs",
    "downstairs": "Walk down stairs",
    "sitting": "Sit on a chair",
    "standing": "Stand still",
}
# A replayed recording may name an activity more finely than the model (WISDM v1.1's up- and
# downstairs for WISDM 2019's stairs): those are replayed and captured for it.
ALIASES = {"stairs": ("upstairs", "downstairs")}
COUNTDOWN = 3            # "seconds" before each capture
GAP_S = 10.0             # time inserted at a break in the captured stream (windows never span it)


def prompt_for(label: str) -> str:
    """What to tell the person to do for the activity `label`."""
    return PROMPTS.get(canonical_activity(label),
                       f"Do “{label}” as you normally would")


def calibration_seconds(total_s: float, window_s: float) -> float:
    """Of `total_s` captured per activity, the first part calibrates; the rest (a quarter,
    at least 1.2 windows) is held back to score the model before and after."""
    held = max(0.25 * total_s, 1.2 * window_s)
    return max(total_s - held, 1.2 * window_s)


def models_folder() -> Path:
    """The app's folder of calibrated models."""
    folder = paths.user_data_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def model_file_for(person: str, folder: Path | None = None) -> Path:
    """A new file named after `person` in the models folder (``-2``, ``-3``... if taken)."""
    folder = folder or models_folder()
    stem = re.sub(r"[^\w\- ]+", "", person).strip().replace(" ", "_") or "person"
    path, n = folder / f"{stem}.harmodel", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.harmodel", n + 1
    return path


@dataclass
class Capture:
    """The samples captured for one activity."""

    label: str
    t: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    breaks: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False
    _last_t: float | None = None

    def add(self, t: np.ndarray, values: np.ndarray, breaks: np.ndarray) -> None:
        if len(t) == 0:
            return
        dt = np.diff(np.concatenate([[t[0] if self._last_t is None else self._last_t], t]))
        ok = (dt > 0) & (dt < 1.0) & ~breaks
        self.seconds += float(dt[ok].sum())
        self._last_t = float(t[-1])
        self.t.append(t)
        self.values.append(values)
        self.breaks.append(breaks)

    @property
    def samples(self) -> int:
        return int(sum(len(t) for t in self.t))


def capture_frame(captures: list[Capture], channels: list[str], subject: int = 0):
    """The captured activities as a tidy frame (the phone's own rate; calibration resamples).
    Each activity gets its own increasing clock; a break or jump in the stream becomes a gap."""
    import pandas as pd

    parts = []
    start = 0.0
    for cap in captures:
        if cap.skipped or not cap.t:
            continue
        t = np.concatenate(cap.t)
        breaks = np.concatenate(cap.breaks)
        dt = np.diff(t, prepend=t[0])
        bad = (dt <= 0) | (dt > 1.0) | breaks
        dt[bad] = GAP_S
        dt[0] = 0.0
        clock = start + np.cumsum(dt)
        start = float(clock[-1]) + 60.0
        part = pd.DataFrame(np.concatenate(cap.values).astype(np.float32), columns=channels)
        part.insert(0, "timestamp", np.round(clock * 1e9).astype(np.int64))
        part.insert(0, "activity", cap.label)
        part.insert(0, "subject", int(subject))
        parts.append(part)
    if not parts:
        raise ValueError("nothing was captured")
    frame = pd.concat(parts, ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    return frame
