"""The guided calibration's pieces without Qt widgets or workers: what to tell the person
per activity, how much of each capture calibrates, where the model is saved, and the
captured samples (``Capture``) made into the tidy frame calibration reads."""

from __future__ import annotations

import re
import time
import zlib
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


def _free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3``... when taken."""
    path, n = folder / f"{stem}{suffix}", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path


def _file_stem(person: str) -> str:
    return re.sub(r"[^\w\- ]+", "", person).strip().replace(" ", "_") or "person"


def model_file_for(person: str, folder: Path | None = None) -> Path:
    """A new file named after `person` in the models folder (``-2``, ``-3``... if taken)."""
    return _free_path(folder or models_folder(), _file_stem(person), ".harmodel")


def person_subject(person: str) -> int:
    """The subject id a person's saved captures carry: the same for the same name (so their
    recordings group as one person in training), in 900000-999999, clear of WISDM's ids."""
    return 900_000 + zlib.crc32(person.strip().lower().encode("utf-8")) % 100_000


def captures_folder() -> Path:
    """Where the guide keeps what it captured (the user's ``recordings/calibration``)."""
    return paths.user_data_dir() / "recordings" / "calibration"


def save_capture(frame, person: str, rate_hz: float, *, folder: Path | None = None,
                 when: float | None = None) -> Path:
    """Keep what the guide captured as a labelled WISDM v1.1 recording (at the model's rate
    `rate_hz`, written atomically) in the user's ``recordings/calibration`` folder, named
    after `person` and the date; the Data tab, ``har-studio calibrate`` and the guide's
    *Recording files…* read it back."""
    from ...data.demo import write_wisdm_v11
    from ...data.windows import at_rate

    folder = folder or captures_folder()
    folder.mkdir(parents=True, exist_ok=True)
    frame = at_rate(frame.assign(subject=person_subject(person)), rate_hz)
    stamp = time.strftime("%Y-%m-%d", time.localtime(when))
    return write_wisdm_v11(_free_path(folder, f"{_file_stem(person)}_{stamp}", ".txt"), frame)


# what to tell the person when an activity is still taken for another after calibration
REDO_HINTS = {
    "walking": "on level ground, at your usual pace",
    "jogging": "at a steady jog",
    "stairs": "on a staircase, up and down",
    "upstairs": "up a staircase",
    "downstairs": "down a staircase",
    "sitting": "sitting still on a chair",
    "standing": "standing still",
}
WEAK_RECALL = 0.8     # below this share of its held-back windows an activity gets advice


def advice(metrics: dict | None, weak: float = WEAK_RECALL) -> list[tuple[str, str]]:
    """(activity, sentence) for each activity the held-back windows still confuse, from
    `metrics` (``labels``, ``confusion``: rows true, columns predicted), worst first."""
    labels = list((metrics or {}).get("labels") or [])
    confusion = np.asarray((metrics or {}).get("confusion") or [], dtype=np.int64)
    out = []
    for i, label in enumerate(labels):
        if i >= len(confusion) or confusion[i].sum() == 0:
            continue
        row = confusion[i]
        recall = row[i] / row.sum()
        if recall >= weak:
            continue
        others = row.copy()
        others[i] = -1
        j = int(others.argmax())
        share = row[j] / row.sum()
        how = REDO_HINTS.get(canonical_activity(label))
        out.append((recall, label, (
            f"{label} and {labels[j]} still look alike ({share:.0%} of {label}'s held-back "
            f"windows were taken for {labels[j]}): record {label} again"
            + (f", {how}." if how else "."))))
    return [(label, text) for _, label, text in sorted(out, key=lambda x: x[0])]


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

    def add(self, t: np.ndarray, values: np.ndarray, breaks: np.ndarray,
            limit_s: float | None = None) -> int:
        """Append a batch (up to `limit_s` seconds captured in all: a fast replay's batch
        holds far more than an activity needs); the number of samples taken."""
        if len(t) == 0:
            return 0
        dt = np.diff(np.concatenate([[t[0] if self._last_t is None else self._last_t], t]))
        ok = (dt > 0) & (dt < 1.0) & ~breaks
        counted = np.cumsum(np.where(ok, dt, 0.0))
        n = len(t)
        if limit_s is not None and self.seconds + counted[-1] > limit_s:
            n = int(np.searchsorted(counted, limit_s - self.seconds)) + 1
        self.seconds += float(counted[n - 1])
        self._last_t = float(t[n - 1])
        self.t.append(t[:n])
        self.values.append(values[:n])
        self.breaks.append(breaks[:n])
        return n

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
