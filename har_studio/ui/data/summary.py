"""What the Data tab says about a loaded dataset: the summary table's rows, as HTML or text."""

from __future__ import annotations

from pathlib import Path

from ...data.labels import read_edits
from ...data.sidecar import SIDECAR_SUFFIX

FORMAT_NAMES = {
    "wisdm-v1.1": "WISDM v1.1 raw text",
    "wisdm-2019": "WISDM 2019 raw (per subject)",
    "csv": "CSV with header",
    "demo": "Built-in demo (synthetic)",
    "mixed": "Mixed formats",
}


def ranges(values) -> str:
    """[1, 2, 3, 5] -> '1–3, 5'."""
    values = sorted(int(v) for v in values)
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(str(values[i]) if i == j else f"{values[i]}–{values[j]}")
        i = j + 1
    return ", ".join(out)


MAX_NAME_CHARS = 36   # longer file names are shortened in the middle (the tooltip has them whole)


def shorten(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """'a_very_long_recording_name.txt' -> 'a_very_lo…name.txt': a long file name must not
    widen the Data tab's column (a name has no place to wrap)."""
    name = str(name)
    if len(name) <= limit:
        return name
    tail = max(8, limit // 3)
    return name[:limit - tail - 1] + "…" + name[-tail:]


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_rows(dataset, subjects: list[int], activities: list[str]) -> list[tuple[str, str]]:
    """(key, value) rows describing `dataset` and what its loading skipped or warned about."""
    r = dataset.report
    files = [shorten(Path(f).name) for f in r.files]
    file_text = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    rows = [
        ("Files", f"{len(files)}: {file_text}" if files else "—"),
        ("Format", FORMAT_NAMES.get(r.format, r.format or "unknown")),
        ("Records", f"{r.records:,}" + (f" of {r.records_read:,} read"
                                         if r.records_read and r.records_read != r.records
                                         else "")),
        ("Subjects", f"{len(subjects)}: " + ranges(subjects)),
        ("Activities", f"{len(activities)}: " + ", ".join(activities)),
        ("Channels", ", ".join(dataset.channels)),
        ("Sampling rate", f"{r.sampling_hz:.1f} Hz" if r.sampling_hz else "unknown"),
        ("Gaps", f"{r.gaps:,}"),
    ]
    skipped_total = sum(r.skipped.values())
    if skipped_total:
        parts = []
        for reason, count in sorted(r.skipped.items(), key=lambda kv: -kv[1]):
            places = r.skipped_lines.get(reason, [])
            where = f" (first at {', '.join(shorten(p) for p in places[:3])})" if places else ""
            parts.append(f"{reason}: {count:,}{where}")
        rows.append(("Skipped", f"{skipped_total:,} — " + "; ".join(parts)))
    else:
        rows.append(("Skipped", "none"))
    rows += labelling_rows(dataset)
    for w in r.warnings:
        rows.append(("Warning", w))
    return rows


def labelling_rows(dataset) -> list[tuple[str, str]]:
    """Where a labelled copy came from and how many edits made it (from its sidecar). The
    records not labelled are counted by the load report's warning."""
    files = [Path(f) for f in dataset.report.files]
    if not files or not files[0].is_file():
        return []
    try:
        record = read_edits(files[0])
    except ValueError as exc:
        return [("Edits", str(exc))]
    if record is None:
        return []
    origin = ", ".join(shorten(s.get("file", "?")) for s in record.sources) or "demo data"
    return [("Edits", f"{len(record.edits)} from {origin} (in {shorten(files[0].name)}"
                      f"{SIDECAR_SUFFIX})")]


def summary_html(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:8px'><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>"
        for k, v in rows)
    return f"<table>{cells}</table>"
