"""The headed CSV family: a header row naming the columns (any order or case, common
aliases), separated by ``,``, ``;`` (then decimal commas are accepted), tab or ``|``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..dataset import DataError
from .common import SNIFF_BYTES, Layout, is_number


def _role_aliases() -> dict[str, str]:
    """Normalised header name -> role (subject, activity, timestamp, x..z, gx..gz)."""
    table: dict[str, str] = {}
    for name in ("subject", "user", "userid", "id", "subjectid", "participant", "participantid",
                 "person", "uid", "sid", "subj", "usr"):
        table[name] = "subject"
    for name in ("activity", "label", "class", "activitylabel", "activityname", "activitycode",
                 "act", "target", "classlabel"):
        table[name] = "activity"
    for name in ("timestamp", "time", "ts", "t", "timestampns", "timens", "timestampms", "timems",
                 "timestampus", "times", "timestamps"):
        table[name] = "timestamp"
    for axis in "xyz":
        for name in (axis, f"{axis}axis", f"acc{axis}", f"accel{axis}", f"acceleration{axis}",
                     f"a{axis}", f"accelerometer{axis}", f"{axis}acc", f"{axis}accel",
                     f"{axis}acceleration", f"acc{axis}axis", f"accel{axis}axis"):
            table[name] = axis
        for name in (f"g{axis}", f"gyro{axis}", f"gyr{axis}", f"gyroscope{axis}", f"{axis}gyro",
                     f"gyro{axis}axis", f"w{axis}", f"rot{axis}", f"rotation{axis}",
                     f"angularvelocity{axis}"):
            table[name] = f"g{axis}"
    return table


ROLE_ALIASES = _role_aliases()

def normalise_header(token: str) -> str:
    token = re.sub(r"\(.*?\)|\[.*?\]", "", token.strip().strip("\"'").lower())
    return re.sub(r"[^a-z0-9]", "", token)


def header_roles(tokens: list[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        role = ROLE_ALIASES.get(normalise_header(tok))
        if role and role not in roles:
            roles[role] = i
    return roles


def csv_layout(path: Path, data: bytes, lines: list[str], first_idx: int, first_line_no: int,
                offset: int, sep: str, roles: dict[str, int], tokens: list[str]) -> Layout:
    missing = [r for r in ("activity", "x", "y", "z") if r not in roles]
    if missing:
        names = ", ".join(t.strip() for t in tokens)
        raise DataError(f"{path}:{first_line_no}: the header names no column for "
                        f"{', '.join(missing)} (columns: {names})")
    header_len = len(lines[first_idx].encode("utf-8")) + 1
    body_start = offset + header_len
    body = data[body_start:]
    if not body.strip():
        raise DataError(f"{path}: has a header row but no data records")
    sample = [ln for ln in body[:SNIFF_BYTES].decode("utf-8", errors="replace").split("\n")[:200]
              if ln.strip()]
    decimal = "."
    if sep == ";" and any("," in ln for ln in sample):
        decimal = ","
    split = sep != ";" and any(ln.rstrip().endswith(";") for ln in sample)
    fmt = "csv"
    return Layout(kind="csv", format=fmt, sep=sep, decimal=decimal, split_semicolons=split,
                  body_start=body_start, base_line=first_line_no + 1, ncols=len(tokens),
                  roles=roles, header=[t.strip() for t in tokens])



def header_layout(path: Path, data: bytes, lines: list[str], first_idx: int,
                  offset: int) -> Layout | None:
    """The layout of a file whose first non-blank line (``lines[first_idx]``, at byte
    `offset`) is a header row naming at least two columns; None when it is not one."""
    first = lines[first_idx].rstrip("\r")
    first_line_no = first_idx + 1
    best_sep, best_roles, best_tokens = ",", {}, [first]
    for sep in (",", ";", "\t", "|"):
        tokens = first.split(sep)
        roles = header_roles(tokens)
        if len(roles) > len(best_roles):
            best_sep, best_roles, best_tokens = sep, roles, tokens
    numeric_tokens = sum(is_number(t) for t in best_tokens)
    if len(best_roles) >= 2 and numeric_tokens == 0:
        return csv_layout(path, data, lines, first_idx, first_line_no, offset, best_sep,
                           best_roles, best_tokens)
    return None
