"""Writers of phone apps' recordings in each app's exact format (``../shared/reference/
phone-formats.md``): given timestamps (ns) and acceleration in Android's convention (m/s^2
with gravity), each writes what that app would have written, platform quirks included, so
that a test can check that the loader gives back the Android values.

- ``write_sensor_logger``  Sensor Logger export (folder or zip; Android, iPhone, standardised)
- ``write_phyphox``        phyphox ``Raw Data.csv`` / zip (separators, decimal comma, iOS cells)
- ``write_hyperimu``       HyperIMU ``HIMU-*.csv`` (``@`` lines, chip-named columns)
- ``write_physics_toolbox`` Physics Toolbox CSV (g-force, trailing comma; ``;`` locale; iPhone)
- ``write_sensorlog``      SensorLog CSV (g, iOS signs)
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np

G = 9.80665
START_NS = 1_679_068_247_375_690_000


def gravity_of(xyz: np.ndarray, span: int = 25) -> np.ndarray:
    """A smooth gravity estimate (moving average), as a phone's fusion would give."""
    kernel = np.ones(span) / span
    pad = np.pad(xyz, ((span // 2, span - 1 - span // 2), (0, 0)), mode="edge")
    return np.column_stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(3)])


def _sl_csv(t: np.ndarray, v: np.ndarray) -> str:
    """Sensor Logger's sensor CSV: ``time,seconds_elapsed,z,y,x`` (z first), time in ns."""
    elapsed = (t - t[0]) / 1e9 + 0.17668994140625
    lines = ["time,seconds_elapsed,z,y,x"]
    lines += [f"{int(a)},{e!r},{z!r},{y!r},{x!r}"
              for a, e, (x, y, z) in zip(t, elapsed, v.astype(float).tolist(), strict=True)]
    return "\n".join(lines) + "\n"


def sensor_logger_files(t: np.ndarray, xyz: np.ndarray, platform: str = "ios",
                        standardised: bool = False, uncalibrated: bool = False,
                        metadata: bool = True) -> dict[str, str]:
    """File name -> content of a Sensor Logger export of Android-convention `xyz`."""
    grav = gravity_of(xyz)
    user = xyz - grav
    files: dict[str, str] = {}
    if platform == "android":
        files["TotalAcceleration.csv"] = _sl_csv(t, xyz)
        files["Accelerometer.csv"] = _sl_csv(t, user)
        files["Gravity.csv"] = _sl_csv(t, grav)
    elif standardised:
        files["Accelerometer.csv"] = _sl_csv(t, user)
        files["Gravity.csv"] = _sl_csv(t, grav)
    elif uncalibrated:
        files["AccelerometerUncalibrated.csv"] = _sl_csv(t, -xyz / G)
    else:
        files["Accelerometer.csv"] = _sl_csv(t, -user)
        files["Gravity.csv"] = _sl_csv(t, -grav)
    files["Gyroscope.csv"] = _sl_csv(t, np.zeros_like(xyz))
    if metadata:
        cols = "version,device name,recording time,platform,appVersion,device id,sensors,sampleRateMs"
        row = (f"3,{'iPhone 12 mini' if platform == 'ios' else 'SM-A520F'},2023-03-17_15-50-47,"
               f"{platform},1.64,8ea4,Accelerometer|Gravity,10|10")
        if standardised:
            cols += ",standardisation"
            row += ",true"
        files["Metadata.csv"] = f"{cols}\n{row}\n"
    return files


def write_sensor_logger(where: Path, t, xyz, platform="ios", *, as_zip=False, depth="",
                        **kw) -> Path:
    """Write a Sensor Logger export: a folder (returned), or a zip whose CSVs sit under
    `depth` (``"2023-03-17_15-50-47/"``)."""
    files = sensor_logger_files(np.asarray(t), np.asarray(xyz, dtype=np.float64), platform, **kw)
    if as_zip:
        with zipfile.ZipFile(where, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                zf.writestr(depth + name, text)
        return where
    where.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (where / name).write_text(text, encoding="utf-8", newline="\n")
    return where


def java_sci(v: float) -> str:
    """Java DecimalFormat ``0.000000000E0`` (phyphox Android): ``3.674579167E-2``."""
    if v != v:
        return "NaN"
    mantissa, exp = f"{v:.9E}".split("E")
    return f"{mantissa}E{int(exp)}"


def write_phyphox(path: Path, t, xyz, *, sep=",", decimal=".", platform="android",
                  without_g=False, absolute=True, as_zip=False) -> Path:
    """phyphox "Acceleration with g" export: quoted header, scientific notation; iOS joins the
    data lines with a leading newline (no trailing one)."""
    word = "Linear Acceleration" if without_g else "Acceleration"
    names = ["Time (s)", *(f"{word} {a} (m/s^2)" for a in "xyz")]
    if absolute:
        names.append("Absolute acceleration (m/s^2)")
    rows = []
    seconds = (np.asarray(t) - t[0]) / 1e9
    for s, v in zip(seconds, np.asarray(xyz, dtype=float), strict=True):
        cells = [s, *v] + ([float(np.linalg.norm(v))] if absolute else [])
        text = [java_sci(c) for c in cells]
        if decimal == ",":
            text = [c.replace(".", ",") for c in text]
        rows.append(sep.join(text))
    header = sep.join(f'"{n}"' for n in names)
    body = header + "\n" + "\n".join(rows) + ("" if platform == "ios" else "\n")
    if as_zip:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("Raw Data.csv", body)
            zf.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel"\n')
            zf.writestr("meta/time.csv", '"event","experiment time","system time","system time '
                        'text"\n"START",0.000000000E0,1.709290800E9,"2024-03-01 12:00:00.000 UTC+01:00"\n')
        return path
    path.write_text(body, encoding="utf-8", newline="")
    return path


def write_hyperimu(path: Path, t, xyz, *, timestamp=True, chip="MPL_Accelerometer") -> Path:
    """HyperIMU log: two ``@`` lines, a blank line, ``timestamp,<chip>.x,...`` (ms)."""
    period = int(round(np.median(np.diff(t)) / 1e6))
    lines = ["@ HyperIMU - ianovir - 2017",
             f"@ Date: Sat Nov 11 15:39:03 GMT+01:00 2017, Sampling Time: {period}ms", ""]
    cols = ([f"MPL_Gyroscope.{a}" for a in "xyz"] + [f"{chip}.{a}" for a in "xyz"]
            + [f"MPL_Linear_Acceleration.{a}" for a in "xyz"])
    lines.append(",".join((["timestamp"] if timestamp else []) + cols))
    grav = gravity_of(np.asarray(xyz, dtype=float))
    for a, v, g in zip(t, np.asarray(xyz, dtype=float), grav, strict=True):
        cells = ([str(int(a // 1_000_000))] if timestamp else []) + \
            ["0.0", "0.0", "0.0"] + [repr(float(c)) for c in v] + [repr(float(c)) for c in v - g]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_physics_toolbox(path: Path, t, xyz, *, locale="en", platform="android",
                          digits=6) -> Path:
    """Physics Toolbox: Android's multi-record file (blank line, header and rows ending in the
    separator, g-force in g); ``locale="de"``: ``;`` and decimal commas; iPhone: date-time
    clock, gFTotal, Core Motion's signs."""
    gf = np.asarray(xyz, dtype=float) / G
    if platform == "ios":
        gf = -gf
        start = dt.datetime(2018, 10, 3, 17, 23, 55)
        lines = ["time,gFx,gFy,gFz,gFTotal"]
        for a, v in zip(t, gf, strict=True):
            stamp = start + dt.timedelta(microseconds=(int(a) - int(t[0])) // 1000)
            cells = [f"{c:.{digits}f}" for c in (*v, np.linalg.norm(v))]
            lines.append(stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 100:04d},"
                         + ",".join(cells))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    sep = ";" if locale == "de" else ","
    seconds = (np.asarray(t) - t[0]) / 1e9 + 0.031856
    header = sep.join(["time", "gFx", "gFy", "gFz", "ax", "ay", "az", "wx", "wy", "wz"]) + sep
    lines = ["", header]
    for s, v in zip(seconds, gf, strict=True):
        cells = [f"{s:.6f}", *(f"{c:.{digits}f}" for c in v), *(["0.0000"] * 6)]
        if locale == "de":
            cells = [c.replace(".", ",").replace("-", "\u2212") for c in cells]
        lines.append(sep.join(cells) + sep)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_sensorlog(path: Path, t, xyz, *, motion_only=False) -> Path:
    """SensorLog: wide rows, units in the column names, g with Core Motion's signs."""
    g = -np.asarray(xyz, dtype=float) / G
    grav = gravity_of(g)
    cols = ["loggingTime(txt)", "loggingSample(N)", "identifierForVendor(txt)"]
    if not motion_only:
        cols += ["accelerometerTimestamp_sinceReboot(s)", "accelerometerAccelerationX(G)",
                 "accelerometerAccelerationY(G)", "accelerometerAccelerationZ(G)"]
    cols += ["motionTimestamp_sinceReboot(s)", "motionUserAccelerationX(G)",
             "motionUserAccelerationY(G)", "motionUserAccelerationZ(G)", "motionGravityX(G)",
             "motionGravityY(G)", "motionGravityZ(G)", "motionHeading(°)"]
    lines = [",".join(cols)]
    start = dt.datetime(2023, 11, 6, 9, 24, 37, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    for i, (a, v, gr) in enumerate(zip(t, g, grav, strict=True)):
        since = 3000.0 + (int(a) - int(t[0])) / 1e9
        stamp = (start + dt.timedelta(microseconds=(int(a) - int(t[0])) // 1000)).isoformat(
            timespec="milliseconds")
        cells = [stamp, str(i), "5B8A-ID"]
        if not motion_only:
            cells += [repr(since), *(repr(float(c)) for c in v)]
        cells += [repr(since), *(repr(float(c)) for c in v - gr), *(repr(float(c)) for c in gr),
                  "-1.000000"]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
