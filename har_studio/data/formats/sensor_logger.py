"""Sensor Logger (Kelvin Choi; iOS and Android) exports: a zip of one CSV per sensor (at any
folder depth), the same unpacked into a folder, or its CSVs picked from that folder.

Every sensor CSV is ``time,seconds_elapsed,z,y,x`` (z first: columns are read by name), time in
Unix nanoseconds. Which file holds acceleration *with* gravity differs by platform
(``data/conventions.py`` has the rule the live stream uses too): Android writes
``TotalAcceleration.csv``; an iPhone writes ``Accelerometer.csv`` (gravity removed) and
``Gravity.csv``, summed here, or ``AccelerometerUncalibrated.csv`` in g; iPhone signs are
flipped unless ``Metadata.csv`` says the app's *Standardise Units & Frames* was on.
``Accelerometer.csv`` alone has no gravity and is refused, saying which export to choose.
"""

from __future__ import annotations

import csv
import io
import posixpath
import warnings
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..conventions import (
    IOS_SIGN,
    SL_ACCELEROMETER,
    SL_GRAVITY,
    SL_TOTAL,
    SL_UNCALIBRATED,
    STANDARD_GRAVITY,
    in_g,
    median_norm,
    sensor_logger_frame,
)
from ..dataset import DataError
from .exports import Export
from .phone import PhoneRecording, numbers, read_table
from .text import decode_text

APP = "Sensor Logger"
FORMAT = "sensor-logger"
HEADER = b"time,seconds_elapsed,"
METADATA = "metadata.csv"
PARALLEL_BYTES = 8 << 20      # two files together at least this big: read in two threads
FILE_OF = {SL_TOTAL: "TotalAcceleration.csv", SL_ACCELEROMETER: "Accelerometer.csv",
           SL_GRAVITY: "Gravity.csv", SL_UNCALIBRATED: "AccelerometerUncalibrated.csv"}
ACCEL_FILES = frozenset(f.lower() for f in FILE_OF.values())
KNOWN_FILES = ACCEL_FILES | {METADATA, "gyroscope.csv", "gyroscopeuncalibrated.csv",
                             "magnetometer.csv", "magnetometeruncalibrated.csv",
                             "orientation.csv", "barometer.csv", "location.csv",
                             "annotation.csv"}
NO_GRAVITY = ("Sensor Logger's Accelerometer.csv has gravity removed, and this export has no "
              "Gravity.csv, TotalAcceleration.csv or AccelerometerUncalibrated.csv: record "
              "again with Gravity (iPhone) or Total Acceleration (Android) turned on in Sensor "
              "Logger's sensors, and export the zip of all CSVs")


def is_sensor_csv(head: bytes) -> bool:
    """True when a file starts like one of Sensor Logger's sensor CSVs."""
    return head.lstrip(b"\xef\xbb\xbf").startswith(HEADER)


def export_folder(export: Export) -> str | None:
    """The folder of `export` that holds a Sensor Logger recording ('' for the top), None
    when there is none; DataError when there are several."""
    folders = {f: names for f, names in export.folders(KNOWN_FILES).items()
               if METADATA in names or names & ACCEL_FILES}
    if not folders:
        return None
    if len(folders) > 1:
        shown = ", ".join(sorted(f or "(top)" for f in folders)[:3])
        raise DataError(f"{export.path}: holds {len(folders)} Sensor Logger recordings ({shown}"
                        f"{', ...' if len(folders) > 3 else ''}): extract it and open each "
                        "recording's folder")
    return next(iter(folders))


def _metadata(export: Export, folder: str) -> dict[str, str]:
    member = export.find(folder, METADATA)
    if member is None or not export.members[member]:
        return {}
    data, _ = decode_text(export.label(member), export.read(member))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))
    if len(rows) < 2:
        return {}
    return {k.strip().lower(): v.strip() for k, v in zip(rows[0], rows[1], strict=False)}


def _phone(meta: dict[str, str]) -> tuple[str, str]:
    """(``phone`` for the frame rule, how it was known) from Metadata.csv."""
    platform = meta.get("platform", "").lower()
    standardised = meta.get("standardisation", "").lower() == "true"
    if platform == "ios":
        return ("android", "iPhone, units and frames standardised by the app") if standardised \
            else ("iphone", "")
    if platform == "android":
        return "android", ""
    return "auto", ""


def _typed(source) -> tuple[np.ndarray, np.ndarray]:
    """One typed C read of a clean sensor CSV (a path or a buffer); ValueError if unclean.
    (pandas warns of an invalid cast before it refuses a float where the clock should be a
    whole number: the caller's slower read reports such a file, so the warning is muted.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = pd.read_csv(source, usecols=["time", "x", "y", "z"], engine="c",
                            dtype={"time": np.int64, "x": np.float64, "y": np.float64,
                                   "z": np.float64})
    return frame["time"].to_numpy(), frame[["x", "y", "z"]].to_numpy()


_TYPED_FAILURES = (ValueError, TypeError, OverflowError, pd.errors.ParserError)


def _read_xyz(export: Export, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(time ns int64, values float64 [n, 3] in x, y, z order) of one sensor CSV."""
    where = export.label(member)
    disk = export.disk_path(member)
    if disk is not None:       # a folder's file: the C parser reads it from disk itself
        export.check(member)
        with open(disk, "rb") as fh:
            head = fh.read(64)
        if head.startswith(HEADER):
            try:
                return _typed(disk)
            except _TYPED_FAILURES:
                pass
    data, _ = decode_text(where, export.read(member))
    return _xyz_of_text(where, data)


def _xyz_of_text(where: str, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``_read_xyz`` of a sensor CSV's decoded bytes."""
    if not is_sensor_csv(data[:64]):
        raise DataError(f"{where}:1: not a Sensor Logger sensor file (expected the header "
                        "time,seconds_elapsed,z,y,x)")
    try:   # the usual, clean file: one typed read
        return _typed(io.BytesIO(data))
    except _TYPED_FAILURES:
        table = read_table(where, data)
    missing = [c for c in ("time", "x", "y", "z") if c not in table.header]
    if missing:
        raise DataError(f"{where}:1: no column {', '.join(missing)}")
    xyz = np.column_stack([numbers(table, c) for c in "xyz"])
    return numbers(table, "time"), xyz


def _read_two(export: Export, first: str, second: str):
    """``_read_xyz`` of two members; a big pair in two threads (pandas' C parser releases the
    GIL, as ``halves.py`` uses for one big WISDM file)."""
    from ...threads import usable_cores

    if export.members[first] + export.members[second] < PARALLEL_BYTES or usable_cores() < 2:
        return _read_xyz(export, first), _read_xyz(export, second)
    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(_read_xyz, export, second)
        return _read_xyz(export, first), later.result()


def matches(data: bytes) -> bool:
    """A sensor CSV on its own, renamed (one with its own name stands for its export folder:
    ``phone_files.unit_of``)."""
    return is_sensor_csv(data[:64])


def read(where: str, data: bytes) -> PhoneRecording:
    """One sensor CSV under another name: which sensor it was is told from its magnitude.
    About 1 is the raw accelerometer in g, which only an iPhone writes (signs flipped);
    about 9.8 is acceleration with gravity in m/s^2, which has Android's signs on both
    platforms (TotalAcceleration, or an iPhone's standardised output); about 0 has no gravity."""
    t, values = _xyz_of_text(where, data)
    finite = values[np.isfinite(values).all(axis=1)]
    norm = median_norm(finite) if len(finite) else float("nan")
    if not norm >= 0.5:
        raise DataError(f"{where}: a Sensor Logger file without gravity (or without numbers): "
                        f"{NO_GRAVITY}")
    if in_g(finite):
        return PhoneRecording(APP, FORMAT, t, values * (IOS_SIGN * STANDARD_GRAVITY),
                              ["signs flipped", "g converted to m/s²",
                               "read as AccelerometerUncalibrated (magnitude about 1 g)"],
                              "iPhone", where)
    return PhoneRecording(APP, FORMAT, t, values, ["read as TotalAcceleration (magnitude about "
                                                   "9.8 m/s²)"], "", where)


def read_export(export: Export, folder: str) -> PhoneRecording:
    """The recording in `folder` of `export`, in Android's convention."""
    present, empty = {}, []
    for name, file in FILE_OF.items():
        member = export.find(folder, file)
        if member is not None:
            (present.__setitem__(name, member) if export.members[member]
             else empty.append(posixpath.basename(member)))
    phone, known = _phone(_metadata(export, folder))
    done: list[str] = []
    if SL_TOTAL in present:
        t, values = _read_xyz(export, present[SL_TOTAL])
        frame = sensor_logger_frame({SL_TOTAL: SimpleNamespace(values=values)}, phone)
        scale = STANDARD_GRAVITY if in_g(values) else 1.0
        done.append("total acceleration from TotalAcceleration.csv")
    elif SL_ACCELEROMETER in present and SL_GRAVITY in present:
        (t, user), (tg, grav) = _read_two(export, present[SL_ACCELEROMETER],
                                          present[SL_GRAVITY])
        if len(tg) == len(t) and np.array_equal(tg, t):
            grav_at = grav
        else:
            order = np.argsort(tg, kind="stable")
            grav_at = np.column_stack([np.interp(t, tg[order], grav[order, k]) for k in range(3)])
        frame = sensor_logger_frame({SL_ACCELEROMETER: SimpleNamespace(values=user),
                                     SL_GRAVITY: SimpleNamespace(values=grav)}, phone)
        values, scale = user + grav_at, frame.scale
        done.append("gravity added from Gravity.csv")
    elif SL_UNCALIBRATED in present:
        t, values = _read_xyz(export, present[SL_UNCALIBRATED])
        frame = sensor_logger_frame({SL_UNCALIBRATED: SimpleNamespace(values=values)}, phone)
        scale = STANDARD_GRAVITY if in_g(values) else 1.0
        done.append("raw accelerometer from AccelerometerUncalibrated.csv")
    elif SL_ACCELEROMETER in present:
        raise DataError(f"{export.label(present[SL_ACCELEROMETER])}: {NO_GRAVITY}")
    elif empty:
        raise DataError(f"{export.path}: a Sensor Logger export with no accelerometer data "
                        f"({', '.join(sorted(empty))} empty): turn the accelerometer on in "
                        "Sensor Logger and record again")
    else:
        raise DataError(f"{export.path}: a Sensor Logger export without accelerometer files "
                        "(TotalAcceleration.csv, or Accelerometer.csv and Gravity.csv)")
    if frame is None:   # (cannot happen: each branch above has an accelerometer)
        raise DataError(f"{export.path}: cannot tell the phone of this Sensor Logger export")
    if frame.sign < 0:
        done.insert(0, "signs flipped")
    if scale != 1.0:
        done.append("g converted to m/s²")
    if phone == "auto":
        done.append(f"no Metadata.csv: taken as {frame.describe}")
    platform = known or ("iPhone" if frame.platform == "iphone" else "Android")
    member = present.get(SL_TOTAL) or present.get(SL_ACCELEROMETER) or present[SL_UNCALIBRATED]
    return PhoneRecording(APP, FORMAT, t, values * (frame.sign * scale), done, platform,
                          export.label(member), first_line=2)
