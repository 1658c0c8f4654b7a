"""Clock columns of phone apps' CSVs as nanoseconds: seconds as numbers, date-times
(``2018-10-03 17:23:55.4640``, ISO 8601 with an offset, ``2017-06-23 15:42:42.144 +0200``) and
wall-clock times of day (``23:43:56:095``)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})[:.](\d{1,3})\s*$")


_FIRST_NS = pd.Timestamp("1970-01-01", tz="UTC")
_LAST_NS = pd.Timestamp("2262-01-01", tz="UTC")


def seconds_or_dates(series: pd.Series) -> tuple[np.ndarray, int, str]:
    """(ns as float64 after `base`, NaN where unreadable; `base` ns, what the clock was):
    numbers are seconds. Dates keep every ns: float64 holds the offset from the first."""
    if series.dtype.kind in "iuf":
        return series.to_numpy(dtype=np.float64) * 1e9, 0, "seconds"
    text = series.astype("string").str.strip()
    nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isfinite(nums).mean() > 0.5:
        return nums * 1e9, 0, "seconds"
    parts = text.str.extract(_TIME_OF_DAY)
    if parts.notna().all(axis=1).mean() > 0.5:
        hms = parts[[0, 1, 2]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        frac = pd.to_numeric("0." + parts[3], errors="coerce").to_numpy(dtype=np.float64,
                                                                          na_value=np.nan)
        ns = ((hms[:, 0] * 60 + hms[:, 1]) * 60 + hms[:, 2] + frac) * 1e9
        midnight = np.cumsum(np.diff(ns, prepend=ns[:1]) < -12 * 3600e9)   # past midnight
        return ns + midnight * 86400e9, 0, "time of day"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(text.str.replace(r"\s+([+-]\d{2}):?(\d{2})$", r"\1\2",
                                                 regex=True),
                                errors="coerce", utc=True, format="mixed")
    # a date nanoseconds cannot hold (year 23, from a damaged "23-11-06") counts as unreadable
    ok = (stamps.notna() & (stamps >= _FIRST_NS) & (stamps < _LAST_NS)).to_numpy()
    ns = np.full(len(text), np.nan)
    base = 0
    if ok.any():
        exact = stamps[ok].dt.as_unit("ns").astype("int64").to_numpy()
        base = int(exact[0])
        ns[ok] = (exact - base).astype(np.float64)
    return ns, base, "date-time"
