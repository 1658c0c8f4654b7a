"""Label, crop and split a loaded recording, and save the result beside the original.

An edit is plain data (``Edit``): label a time span of one subject with an activity (or
``UNLABELLED``), delete a span, crop to a span (delete the rest), or split at a point. Spans
are half-open ``[start_ns, end_ns)`` on the frame's own timestamps; ``only`` limits an edit
to the rows currently labelled with that activity (the Data tab's plot shows one subject doing
one activity, or the whole recording with ``only=""``). ``EditSession`` keeps the original
frame and the list of edits (undo is ``pop``), and applies them in order.

``save_edits`` writes the result as a new recording beside the first source file (never over
it, never over an earlier save): WISDM v1.1 raw text (``3,Walking,<ns>,x,y,z;``) for an
accelerometer recording, a headed CSV when it has a gyroscope (v1.1 holds no gyroscope), one
file per part when the recording was split (about 1 s per 200,000 samples: the Data tab saves
in the background). Its sidecar (``data/sidecar.py``: ``<file>.harstudio.json``,
key ``edits``) records where it came from (file names and SHA-256) and every edit, so
``apply_edits(original, read_edits(saved).edits)`` gives the saved data again. Files are
written atomically.

Rows labelled ``UNLABELLED`` stay in the file (they can be labelled later) but are never a
class: ``windows.make_windows`` leaves them out of training and evaluation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from .activities import UNLABELLED, canonical_activity
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS
from .sidecar import read_sidecar, sidecar_path, write_sidecar

__all__ = ["UNLABELLED", "Edit", "EditRecord", "EditSession", "Edited", "apply_edit",
           "apply_edits", "read_edits", "save_edits", "unlabelled_count"]

KINDS = ("label", "delete", "crop", "split")
EDITS_KEY = "edits"          # the sidecar's key (``data/sidecar.py``) for what was done
EDITS_FORMAT = "har-studio-edits"
EDITS_VERSION = 1
LABELLED_TAG = "labelled"
_BAD_NAME = re.compile(r"[,;\n\r]")


def usable_activity(name: str) -> str:
    """`name` as the app spells activities; ValueError when a WISDM file cannot hold it."""
    text = canonical_activity(name)
    if not text or _BAD_NAME.search(text) or not re.search(r"[a-z]", text):
        raise ValueError(f"not a usable activity name: {name!r}")
    return text


@dataclass(frozen=True)
class Edit:
    """One change to a recording (see the module docstring); plain data, JSON-friendly."""

    kind: str
    subject: int
    start_ns: int
    end_ns: int
    activity: str = ""   # "label": the new activity (UNLABELLED: not labelled)
    only: str = ""       # when set, only rows currently labelled with this activity change

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown edit {self.kind!r} (expected one of {', '.join(KINDS)})")
        if self.kind == "split" and self.end_ns != self.start_ns:
            raise ValueError("a split is a point: start and end must be equal")
        if self.kind != "split" and self.end_ns <= self.start_ns:
            raise ValueError("an empty span: its end must come after its start")
        if self.kind == "label":
            object.__setattr__(self, "activity", usable_activity(self.activity))

    @classmethod
    def label(cls, subject: int, start_ns: int, end_ns: int, activity: str,
              only: str = "") -> Edit:
        return cls("label", int(subject), int(start_ns), int(end_ns), activity, only)

    @classmethod
    def delete(cls, subject: int, start_ns: int, end_ns: int, only: str = "") -> Edit:
        return cls("delete", int(subject), int(start_ns), int(end_ns), "", only)

    @classmethod
    def crop(cls, subject: int, start_ns: int, end_ns: int, only: str = "") -> Edit:
        return cls("crop", int(subject), int(start_ns), int(end_ns), "", only)

    @classmethod
    def split(cls, subject: int, at_ns: int) -> Edit:
        return cls("split", int(subject), int(at_ns), int(at_ns))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> Edit:
        """An Edit from its dict; ValueError (one line) for anything else."""
        if not isinstance(d, dict):
            raise ValueError(f"an edit must be an object, got {type(d).__name__}")
        try:
            return cls(str(d["kind"]), int(d["subject"]), int(d["start_ns"]), int(d["end_ns"]),
                       str(d.get("activity", "")), str(d.get("only", "")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"an edit lacks or misspells {exc}") from None

    def describe(self, origin_ns: int | None = None) -> str:
        """E.g. 'subject 3, 12.0–30.5 s: label as walking' (seconds from `origin_ns`)."""
        base = self.start_ns if origin_ns is None else origin_ns
        a, b = (self.start_ns - base) / 1e9, (self.end_ns - base) / 1e9
        where = f"subject {self.subject}, " + (f"at {a:.1f} s" if self.kind == "split"
                                               else f"{a:.1f}–{b:.1f} s")
        if self.only:
            where += f" of {self.only}"
        what = {"label": f"label as {self.activity}" if self.activity != UNLABELLED
                else "mark not labelled", "delete": "delete", "crop": "crop to this span",
                "split": "split"}[self.kind]
        return f"{where}: {what}"


@dataclass
class Edited:
    """A frame after edits; ``parts`` numbers each row's part (0 unless split)."""

    frame: pd.DataFrame
    parts: np.ndarray

    @property
    def part_count(self) -> int:
        return int(self.parts.max()) + 1 if len(self.parts) else 1


def _scope(frame: pd.DataFrame, edit: Edit) -> np.ndarray:
    """Rows of the edit's subject (and of its ``only`` activity)."""
    rows = frame["subject"].to_numpy() == edit.subject
    if edit.only:
        rows &= (frame["activity"] == edit.only).to_numpy()
    return rows


def _in_span(frame: pd.DataFrame, edit: Edit) -> np.ndarray:
    ts = frame["timestamp"].to_numpy()
    return _scope(frame, edit) & (ts >= edit.start_ns) & (ts < edit.end_ns)


def _tidy_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the activities still present are categories (in the order they had)."""
    frame["activity"] = frame["activity"].cat.remove_unused_categories()
    return frame


def apply_edit(edited: Edited, edit: Edit) -> Edited:
    """`edited` with `edit` applied (a new frame); ValueError when it changes nothing."""
    frame, parts = edited.frame, edited.parts
    if edit.kind == "split":
        scope = _scope(frame, edit)
        after = scope & (frame["timestamp"].to_numpy() >= edit.start_ns)
        if not after.any() or after.sum() == scope.sum():
            raise ValueError(f"subject {edit.subject} has no samples on both sides of this point")
        parts = parts.copy()
        parts[after] += 1
        return Edited(frame, parts)
    rows = _in_span(frame, edit)
    if not rows.any():
        raise ValueError(f"the span holds no samples of subject {edit.subject}"
                         + (f" doing {edit.only}" if edit.only else ""))
    if edit.kind == "label":
        frame = frame.copy()
        act = frame["activity"]
        if edit.activity not in act.cat.categories:
            act = act.cat.add_categories([edit.activity])
        codes = act.cat.codes.to_numpy().copy()
        codes[rows] = act.cat.categories.get_loc(edit.activity)
        frame["activity"] = pd.Categorical.from_codes(codes, categories=act.cat.categories)
        return Edited(_tidy_categories(frame), parts)
    drop = rows if edit.kind == "delete" else _scope(frame, edit) & ~rows
    if drop.all():
        raise ValueError("nothing would be left of the recording")
    keep = ~drop
    frame = frame.loc[keep].reset_index(drop=True)
    return Edited(_tidy_categories(frame), parts[keep])


def apply_edits(frame: pd.DataFrame, edits) -> Edited:
    """`frame` (the tidy table, left untouched) with `edits` applied in order."""
    edited = Edited(frame, np.zeros(len(frame), np.int32))
    for edit in edits:
        edited = apply_edit(edited, edit)
    return edited


def unlabelled_count(frame: pd.DataFrame) -> int:
    """Samples marked not labelled (left out of training and evaluation)."""
    act = frame["activity"]
    return int((act == UNLABELLED).sum()) if UNLABELLED in set(act.astype(str).unique()) else 0


class EditSession:
    """The edits made to one loaded recording; ``result`` is the edited frame."""

    def __init__(self, frame: pd.DataFrame, sources=()) -> None:
        self.original = frame
        self.sources = [str(s) for s in sources]
        self.edits: list[Edit] = []
        self._result = Edited(frame, np.zeros(len(frame), np.int32))

    @property
    def result(self) -> Edited:
        return self._result

    @property
    def frame(self) -> pd.DataFrame:
        return self._result.frame

    def push(self, edit: Edit) -> None:
        """Apply `edit` (ValueError, nothing changed, when it cannot apply)."""
        self._result = apply_edit(self._result, edit)
        self.edits.append(edit)

    def pop(self) -> Edit:
        """Undo the last edit; returns it."""
        edit = self.edits.pop()
        self._result = apply_edits(self.original, self.edits)
        return edit

    def summary(self) -> dict:
        frame = self.frame
        return {"records": len(frame), "removed": len(self.original) - len(frame),
                "unlabelled": unlabelled_count(frame), "parts": self._result.part_count,
                "edits": len(self.edits)}


# ----------------------------------------------------------------------------- saving
@dataclass
class EditRecord:
    """What a saved copy's sidecar says of it: the sources, the edits, the files written."""

    sources: list[dict]
    edits: list[Edit]
    files: list[str]
    summary: dict = field(default_factory=dict)


def read_edits(data_path: str | Path) -> EditRecord | None:
    """The edits recorded in the sidecar of a saved copy (None: the file is no saved copy);
    ValueError (one line naming the sidecar) when the record is malformed."""
    value = read_sidecar(data_path).get(EDITS_KEY)
    if value is None:
        return None
    where = sidecar_path(data_path).name
    try:
        if not isinstance(value, dict) or value.get("format") != EDITS_FORMAT:
            raise ValueError("not a HAR Studio edit record")
        if int(value.get("version", 0)) > EDITS_VERSION:
            raise ValueError(f"written by a newer HAR Studio (version {value.get('version')})")
        return EditRecord([dict(s) for s in value.get("sources", [])],
                          [Edit.from_dict(e) for e in value.get("edits", [])],
                          [str(f) for f in value.get("files", [])], dict(value.get("summary", {})))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {' '.join(str(exc).split())}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _free_stem(folder: Path, stem: str, suffix: str, parts: int) -> str:
    """`stem`.labelled, or .labelled-2, -3…: the first name no file (or part) has yet."""
    for n in range(1, 10_000):
        name = f"{stem}.{LABELLED_TAG}" + (f"-{n}" if n > 1 else "")
        names = [name + suffix] if parts == 1 else [f"{name}.part{k + 1}{suffix}"
                                                    for k in range(parts)]
        if not any((folder / x).exists() or sidecar_path(folder / x).exists() for x in names):
            return name
    raise ValueError(f"{folder}: too many labelled copies of {stem}")


def recording_text(frame: pd.DataFrame) -> str:
    """`frame` as WISDM v1.1 raw text (accelerometer only) or, with a gyroscope, as a headed
    CSV. Values are written with 9 significant digits: they read back as the same float32."""
    gyro = all(c in frame.columns for c in GYRO_CHANNELS)
    chans = [*ACCEL_CHANNELS, *(GYRO_CHANNELS if gyro else ())]
    act = frame["activity"]
    names = np.array([str(c) if gyro else str(c)[:1].upper() + str(c)[1:]
                      for c in act.cat.categories], dtype=object)
    columns = [frame["subject"].to_numpy().tolist(), names[act.cat.codes.to_numpy()].tolist(),
               frame["timestamp"].to_numpy().tolist(),
               *(frame[c].to_numpy(np.float64).tolist() for c in chans)]
    row = "{},{},{}" + ",{:.9g}" * len(chans) + ("\n" if gyro else ";\n")
    head = ",".join(["subject", "activity", "timestamp", *chans]) + "\n" if gyro else ""
    return head + "".join([row.format(*values) for values in zip(*columns, strict=True)])


def save_edits(session: EditSession, folder: str | Path | None = None,
               name: str = "recording") -> tuple[list[Path], Path]:
    """Write the edited recording (one file per part) and its sidecar beside the first
    source (or in `folder`, named after `name`, when there is no source file). Returns the
    data files and the sidecar. Never replaces an existing file."""
    sources = [Path(s) for s in session.sources if Path(s).exists()]   # a file, zip or folder
    where = Path(folder) if folder is not None else (
        sources[0].parent if sources else Path.cwd())
    stem = sources[0].stem if sources else name
    result = session.result
    gyro = all(c in result.frame.columns for c in GYRO_CHANNELS)
    suffix = ".csv" if gyro else ".txt"
    parts = result.part_count
    base = _free_stem(where, stem, suffix, parts)
    files = [where / (base + suffix)] if parts == 1 else [
        where / f"{base}.part{k + 1}{suffix}" for k in range(parts)]
    for k, path in enumerate(files):
        part = result.frame.loc[result.parts == k] if parts > 1 else result.frame
        atomic_write_text(path, recording_text(part))
    record = {
        "format": EDITS_FORMAT, "version": EDITS_VERSION,
        "sources": [{"file": s.name, "path": str(s.resolve()),
                     **({"bytes": s.stat().st_size, "sha256": _sha256(s)} if s.is_file()
                        else {})} for s in sources],
        "files": [f.name for f in files],
        "edits": [e.to_dict() for e in session.edits],
        "summary": session.summary(),
    }
    for path in reversed(files):   # every part says where it came from; the first, last
        sidecar = write_sidecar(path, **{EDITS_KEY: record})
    return files, sidecar
