"""Activity names: the one place that says what each dataset's labels mean.

Activities are named in lower case everywhere in the app (``walking``, ``upstairs``);
WISDM 2019 letter codes (``A``..``S``, no ``N``) map to the names in its activity_key.txt.
"""

from __future__ import annotations

WISDM2019_CODES: dict[str, str] = {
    "A": "walking",
    "B": "jogging",
    "C": "stairs",
    "D": "sitting",
    "E": "standing",
    "F": "typing",
    "G": "teeth",
    "H": "soup",
    "I": "chips",
    "J": "pasta",
    "K": "drinking",
    "L": "sandwich",
    "M": "kicking",
    "O": "catch",
    "P": "dribbling",
    "Q": "writing",
    "R": "clapping",
    "S": "folding",
}

# WISDM v1.1 (Kwapisz et al. 2010): six activities named in full.
WISDM_V11_ACTIVITIES: tuple[str, ...] = (
    "walking",
    "jogging",
    "upstairs",
    "downstairs",
    "sitting",
    "standing",
)


# The activity of rows nobody has labelled yet (a phone recording opened with "label later",
# the spans the Data tab leaves unmarked). Such rows load and show, but no window is made of
# them: training, evaluation and calibration leave them out (``windows.make_windows``), and the
# load report counts them (``LoadReport.unlabelled``).
UNLABELLED = "unlabelled"
_UNLABELLED_SPELLINGS = frozenset(("unlabelled", "unlabeled", "label later", "labellater",
                                   "not labelled", "not labeled", "nolabel", "no label"))


def is_unlabelled(name: str) -> bool:
    """True for ``UNLABELLED`` and the ways a person writes it ("label later", "unlabeled")."""
    return " ".join(str(name).strip().lower().replace("_", " ").split()) in _UNLABELLED_SPELLINGS


def canonical_activity(name: str) -> str:
    """Lower-case, trimmed activity name; a lone WISDM 2019 letter code becomes its name;
    "label later" and other spellings of unlabelled become ``UNLABELLED``."""
    text = str(name).strip()
    if len(text) == 1 and text.upper() in WISDM2019_CODES:
        return WISDM2019_CODES[text.upper()]
    if is_unlabelled(text):
        return UNLABELLED
    return text.lower()


def parse_activity_list(text: str | None, known: list[str] | None = None) -> list[str] | None:
    """Parse ``"walking,B,stairs"`` into canonical names; None or empty means all.

    Raises ValueError naming any activity that is not in `known` (when given).
    """
    if text is None or not str(text).strip():
        return None
    names = [canonical_activity(part) for part in str(text).split(",") if part.strip()]
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown activit{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)} "
                f"(available: {', '.join(known)})"
            )
    return list(dict.fromkeys(names))


def activity_order(names) -> list[str]:
    """A stable class order: WISDM 2019 key order, then v1.1 order, then alphabetical."""
    known = list(WISDM2019_CODES.values()) + [a for a in WISDM_V11_ACTIVITIES if a not in WISDM2019_CODES.values()]
    rank = {name: i for i, name in enumerate(known)}
    unique = sorted({str(n) for n in names})
    return sorted(unique, key=lambda n: (rank.get(n, len(rank)), n))
