"""Vectorised checks of parsed records: each invalid record is counted under the first reason
that applies; the valid ones become the file's Table (activity codes, subject ids written as
text, dates as timestamps, the timestamp unit of a headed CSV).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ..activities import WISDM2019_CODES, activity_order, canonical_activity
from ..dataset import ACCEL_CHANNELS, GYRO_CHANNELS
from .common import (
    BAD_SUBJECT,
    BAD_TIMESTAMP,
    MAX_REPORTED_LINES,
    MISSING_VALUE,
    NOMINAL_RATE_HZ,
    NON_FINITE,
    NOT_A_NUMBER,
    PLACEHOLDER,
    TOO_MANY_FIELDS,
    UNKNOWN_ACTIVITY,
    Layout,
    ParsedFile,
    Table,
)


def _numeric(series: pd.Series) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(values, missing mask or None, not-a-number mask or None) of a parsed column.

    Numbers come back as they were parsed (int64, float32 or float64); a text column is
    converted with errors coerced, and the masks say which entries were empty or not numbers.
    """
    kind = series.dtype.kind
    if kind in "iuf":
        return series.to_numpy(), None, None
    text = series.astype("string").str.strip()
    missing = series.isna().to_numpy() | (text == "").fillna(True).to_numpy(dtype=bool)
    num = pd.to_numeric(text.where(~missing), errors="coerce")
    values = num.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, missing, np.isnan(values) & ~missing


def _timestamp_scale(ts: np.ndarray, subject: np.ndarray) -> tuple[float, str]:
    """Units of a CSV timestamp column from the median positive interval (-> ns factor)."""
    if len(ts) < 2:
        return 1.0, "ns"
    dt = np.diff(ts.astype(np.float64))
    dt = dt[(dt > 0) & (subject[1:] == subject[:-1])]
    if len(dt) == 0:
        return 1.0, "ns"
    med = float(np.median(dt))
    if med >= 2e5:
        return 1.0, "ns"
    if med >= 200:
        return 1e3, "microseconds"
    if med >= 0.2:
        return 1e6, "milliseconds"
    return 1e9, "seconds"



def _activity_codes(labels: list[str], codes: np.ndarray, fmt: str) -> tuple[np.ndarray, list[str]]:
    """Raw label categories + codes -> canonical names + codes (-1: missing or unknown)."""
    if fmt == "wisdm-2019":
        canon = [WISDM2019_CODES.get(lb.strip().upper(), "") for lb in labels]
    else:
        canon = []
        for lb in labels:
            name = canonical_activity(lb)
            ok = bool(re.search(r"[a-z]", name)) and not (
                len(name) == 1 and name.upper() not in WISDM2019_CODES)
            canon.append(name if ok else "")
    # in the order the combined dataset uses, so that one file's codes need no second mapping
    names = activity_order({c for c in canon if c})
    code_map = np.array([names.index(c) if c else -1 for c in canon] + [-1], dtype=np.int32)
    if np.array_equal(code_map[:-1], np.arange(len(canon))):
        return codes.astype(np.int32), names
    return code_map[codes], names  # code -1 (missing) picks the trailing -1


def _text_ids(series: pd.Series, missing: np.ndarray, pf: ParsedFile) -> tuple[np.ndarray, np.ndarray]:
    """Subject ids written as text (``u7``, ``alice``): their trailing number when that tells
    them apart, else 1, 2, ... in order of appearance. Returns (float values, not-a-number)."""
    text = series.astype("string").str.strip()
    labels = [str(u) for u in pd.unique(text[~missing])]
    digits = [re.search(r"(\d+)\s*$", lb) for lb in labels]
    if all(digits) and len({int(d.group(1)) for d in digits}) == len(labels):
        mapping = {lb: int(d.group(1)) for lb, d in zip(labels, digits, strict=True)}
    else:
        mapping = {lb: i + 1 for i, lb in enumerate(labels)}
    shown = ", ".join(f"{k}->{v}" for k, v in list(mapping.items())[:6])
    pf.warnings.append(f"{pf.name}: subject ids are text; numbered {shown}"
                       f"{', ...' if len(mapping) > 6 else ''}")
    values = text.map(mapping).to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.zeros(len(values), dtype=bool)


def _text_times(series: pd.Series, missing: np.ndarray, values: np.ndarray, notnum: np.ndarray,
                pf: ParsedFile) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps written as dates (ISO 8601): nanoseconds since 1970 (as float64 values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(series.astype("string").str.strip(), errors="coerce",
                                format="ISO8601", utc=True)
    ok = parsed.notna().to_numpy()
    if ok.sum() <= 0.5 * (~missing).sum():
        return values, notnum
    pf.warnings.append(f"{pf.name}: timestamps read as dates")
    ns = np.full(len(values), np.nan)
    if ok.any():  # float64 ns: sub-microsecond rounding, harmless at 20 Hz
        ns[ok] = parsed[ok].dt.as_unit("ns").astype("int64").to_numpy()
    return ns, ~ok & ~missing


def validate_records(pf: ParsedFile, df: pd.DataFrame, layout: Layout) -> None:
    """Vectorised checks of every record; keeps the valid ones in `pf.table`.

    A record is skipped for the first reason that applies, in this order: too many fields,
    missing value, not a number, non-finite value, bad subject id, unknown activity,
    placeholder zeros, bad timestamp. Cheap whole-column tests come first, so a clean file
    costs a handful of passes and no masks.
    """
    n = len(df)
    roles = layout.roles
    col = {role: df.columns[i] for role, i in roles.items()}
    channels = [c for c in (*ACCEL_CHANNELS, *GYRO_CHANNELS) if c in roles]

    values: dict[str, np.ndarray] = {}
    missing: np.ndarray | None = None
    notnum: np.ndarray | None = None
    converted: set[str] = set()  # text columns: NaN there is already missing / not a number
    for role in ("subject", "timestamp", *channels):
        if role not in col:
            continue
        v, miss, nn = _numeric(df[col[role]])
        if nn is not None and role in ("subject", "timestamp") and nn.sum() > 0.5 * (~miss).sum():
            v, nn = _text_ids(df[col[role]], miss, pf) if role == "subject" else \
                _text_times(df[col[role]], miss, v, nn, pf)
        values[role] = v
        if miss is not None:
            converted.add(role)
            if miss.any():
                missing = miss if missing is None else missing | miss
        if nn is not None and nn.any():
            notnum = nn if notnum is None else notnum | nn
    act = df[col["activity"]]
    if not isinstance(act.dtype, pd.CategoricalDtype):
        act = act.astype("category")
    act_codes, names = _activity_codes([str(c) for c in act.cat.categories],
                                       act.cat.codes.to_numpy(), layout.format)
    pf.activities = names
    if "subject" not in values:
        values["subject"] = np.zeros(n, np.int64)
        pf.warnings.append(f"{pf.name}: no subject column; all records belong to subject 0")
    if "timestamp" not in values:
        values["timestamp"] = np.arange(n, dtype=np.int64) * int(round(1e9 / NOMINAL_RATE_HZ))
        pf.warnings.append(f"{pf.name}: no timestamp column; assumed {NOMINAL_RATE_HZ:g} Hz in "
                           "file order")
    subj, ts = values["subject"], values["timestamp"]
    for role in ("subject", "timestamp"):  # NaN in a number column that was parsed as float
        v = values[role]
        if role in converted:
            continue
        if v.dtype.kind == "f" and not np.isfinite(np.add.reduce(v, dtype=np.float64)):
            nan = np.isnan(v)
            if nan.any():
                missing = nan if missing is None else missing | nan

    # Each entry: reason -> mask, or None when a cheap test showed no record has the problem.
    reasons: list[tuple[str, np.ndarray | None]] = []
    extra = df["_extra"] if "_extra" in df.columns else None
    reasons.append((TOO_MANY_FIELDS, extra.notna().to_numpy()
                    if extra is not None and extra.count() else None))
    nonfinite = None
    for c in channels:
        v = values[c]
        if not np.isfinite(np.add.reduce(v, dtype=np.float64)):
            bad = ~np.isfinite(v)
            nan = np.isnan(v)
            if c in converted:  # its NaNs are counted as missing / not a number already
                bad &= ~nan
            elif nan.any():
                missing = nan if missing is None else missing | nan
            nonfinite = bad if nonfinite is None else nonfinite | bad
    reasons.append((MISSING_VALUE, missing))
    reasons.append((NOT_A_NUMBER, notnum))
    reasons.append((NON_FINITE, nonfinite))
    bad_subj = None
    if subj.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad_subj = ~((subj == np.round(subj)) & (np.abs(subj) < 2**62)) & ~np.isnan(subj)
    elif subj.dtype.kind == "u" or (n and (subj.max() >= 2**62 or subj.min() <= -2**62)):
        bad_subj = (subj >= 2**62) if subj.dtype.kind == "u" else np.abs(subj) >= 2**62
    reasons.append((BAD_SUBJECT, bad_subj))
    reasons.append((UNKNOWN_ACTIVITY, act_codes < 0 if n and act_codes.min() < 0 else None))
    first = values[channels[0]]
    zero_rows = np.flatnonzero(first == 0)
    placeholder = None
    if len(zero_rows):
        z = np.ones(len(zero_rows), bool)
        for c in channels[1:3]:
            z &= values[c][zero_rows] == 0
        z &= (ts[zero_rows] == 0) | (pf.sensor == "accel")
        if z.any():
            placeholder = np.zeros(n, bool)
            placeholder[zero_rows[z]] = True
    reasons.append((PLACEHOLDER, placeholder))
    # 0 is a placeholder time in raw WISDM records; a headed CSV's relative clock starts there
    ts_low = 0 if layout.kind == "csv" else 1
    with np.errstate(invalid="ignore"):
        ts_ok = (ts >= ts_low) & (ts < 9e18) if ts.dtype.kind in "fu" else None
        if ts_ok is not None:
            reasons.append((BAD_TIMESTAMP, ~ts_ok if not ts_ok.all() else None))
        else:
            reasons.append((BAD_TIMESTAMP, ~(ts >= ts_low) if n and not (ts.min() >= ts_low)
                            else None))

    bad_any: np.ndarray | None = None
    for reason, mask in reasons:
        if mask is None:
            continue
        if bad_any is not None:
            mask = mask & ~bad_any
        count = int(np.count_nonzero(mask))
        if count:
            pf.skipped[reason] = pf.skipped.get(reason, 0) + count
            places = pf.lines(np.flatnonzero(mask)[:MAX_REPORTED_LINES])
            pf.skipped_lines.setdefault(reason, []).extend(places)
            bad_any = mask if bad_any is None else bad_any | mask
    if bad_any is None:
        keep = None
        rec = np.arange(n, dtype=np.int64)
    else:
        keep = ~bad_any
        rec = np.flatnonzero(keep)

    def take(a: np.ndarray) -> np.ndarray:
        return a if keep is None else a[keep]

    ts_k = take(ts)
    subj_k = take(subj).astype(np.int64, copy=False)
    if layout.kind == "csv" and "timestamp" in roles:
        scale, unit = _timestamp_scale(ts_k, subj_k)
        if unit != "ns":
            pf.warnings.append(f"{pf.name}: timestamps read as {unit}")
        if scale != 1.0:
            ts_k = np.round(ts_k.astype(np.float64) * scale)
    if ts_k.dtype.kind == "f":
        ts_k = np.round(ts_k)
    pf.table = Table(
        subject=subj_k,
        activity=take(act_codes),
        timestamp=ts_k.astype(np.int64, copy=False),
        channels={c: take(values[c]).astype(np.float32, copy=False) for c in channels},
        rec=rec,
    )
