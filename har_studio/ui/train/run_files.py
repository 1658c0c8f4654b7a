"""What the Train tab keeps beside a run's own files, so a restart shows the run as it was: the
smoothed per-batch loss (``batch_loss.csv``: epoch position, loss) and the notes of its log
(``notes.txt``). Both are written atomically when a run ends and read back, leniently, when
the run is picked in Past runs; a run trained on the command line has neither, and its log is
rebuilt from its history. Qt-free."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ...atomic import atomic_write_text

log = logging.getLogger(__name__)

BATCH_FILE = "batch_loss.csv"
NOTES_FILE = "notes.txt"
MAX_BATCH_POINTS = 20000     # more than a curve can show; keeps the file small
MAX_NOTES_CHARS = 1_000_000


def write_run_view(folder: Path | str, batch_x, batch_y, notes: str) -> None:
    """Keep the batch curve and the notes with the run in `folder` (a warning when the folder
    cannot be written: the run itself is saved already)."""
    x = np.asarray(batch_x, float)
    y = np.asarray(batch_y, float)
    step = max(1, math.ceil(len(x) / MAX_BATCH_POINTS))
    rows = "".join(f"{a:.6g},{b:.6g}\n" for a, b in zip(x[::step], y[::step], strict=False))
    try:
        atomic_write_text(Path(folder) / BATCH_FILE, "epoch,smoothed_loss\n" + rows)
        atomic_write_text(Path(folder) / NOTES_FILE, notes[-MAX_NOTES_CHARS:])
    except OSError as exc:
        log.warning("cannot keep the batch curve and notes with %s: %s", folder, exc)


def read_batch_curve(folder: Path | str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The batch curve kept with a run: (x, loss, problem); empty arrays when there is none,
    and a one-line problem naming the file and line when a line is not two numbers."""
    path = Path(folder) / BATCH_FILE
    empty = np.zeros(0), np.zeros(0)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read(64 * MAX_BATCH_POINTS).splitlines()
    except FileNotFoundError:
        return *empty, None
    except OSError as exc:
        return *empty, f"{path}: cannot be read ({exc.strerror or exc})"
    xs, ys = [], []
    for number, line in enumerate(lines[1:MAX_BATCH_POINTS + 2], start=2):
        try:
            a, b = (float(part) for part in line.split(","))
        except ValueError:
            return *empty, f"{path}, line {number}: not two numbers; the batch curve is left out"
        if math.isfinite(a) and math.isfinite(b):
            xs.append(a)
            ys.append(b)
    return np.asarray(xs, float), np.asarray(ys, float), None


def read_notes(folder: Path | str) -> str:
    """The notes kept with a run ("" when there are none or they cannot be read)."""
    try:
        with open(Path(folder) / NOTES_FILE, encoding="utf-8", errors="replace") as f:
            return f.read(MAX_NOTES_CHARS)
    except OSError:
        return ""
