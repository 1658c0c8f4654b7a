"""Parsing what free phone sensor apps send, without ever raising on bad input.

Two wire formats are understood:

* **Lines of comma-separated values** (HyperIMU and similar, over UDP or TCP): an optional
  sender timestamp, then accelerometer x, y, z and optionally gyroscope x, y, z. Lines end
  with ``\\n``, ``\\r\\n`` or ``#``; a datagram may hold several lines. A trailing ``;`` (WISDM
  style) is tolerated.
* **JSON batches** as the Sensor Logger app POSTs them::

      {"payload": [{"name": "accelerometer", "time": 1698..., "values": {"x": .., "y": .., "z": ..}},
                   {"name": "gyroscope", "time": ..., "values": {...}}, ...]}

  ``time`` is in nanoseconds. Other sensor names are counted and ignored.

Every malformed line or entry is counted as a bad packet with a one-line reason; the parsers
return whatever was usable. JSON nested too deep, numbers with absurdly many digits and values
no phone sensor can report (``sensor_limit``) are bad too, never an exception.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..data.conventions import SL_ACCELEROMETER, SL_GRAVITY, SL_TOTAL, SL_UNCALIBRATED

MAX_LINE_BYTES = 1024
_SEPARATORS = re.compile(rb"[\r\n#]+")
_TS_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

# Sensor Logger names (lower case) that carry what the model needs.
ACCEL_NAMES = (SL_TOTAL, SL_ACCELEROMETER)
GRAVITY_NAME = SL_GRAVITY
GYRO_NAME = "gyroscope"
UNCALIBRATED_NAME = SL_UNCALIBRATED   # only read to tell iPhone from Android
KNOWN_JSON_SENSORS = (*ACCEL_NAMES, GRAVITY_NAME, GYRO_NAME, UNCALIBRATED_NAME)

# What a phone sensor can report at most: beyond, a value is corrupt (or hostile), not motion.
MAX_ACCEL_MS2 = 1000.0      # about 100 g; phone accelerometers saturate at 8 to 32 g
MAX_GYRO_RADS = 100.0       # phone gyroscopes saturate at about 35 rad/s (2000 deg/s)
GYRO_CHANNELS = frozenset(("gx", "gy", "gz"))
MAX_NUMBER_CHARS = 40       # digits (and sign, point, exponent) of one JSON number


def sensor_limit(name: str) -> float:
    """Largest magnitude a channel (``x``.. ``gz``) or Sensor Logger sensor can report."""
    return MAX_GYRO_RADS if name in GYRO_CHANNELS or name == GYRO_NAME else MAX_ACCEL_MS2


@dataclass
class ParsedSamples:
    """Samples parsed from one packet: sender time in seconds (NaN where the sender gave none),
    values ``float32 [n, C]``, and the bad lines/entries met on the way."""

    ts: np.ndarray
    values: np.ndarray
    bad: int = 0
    last_error: str | None = None

    @classmethod
    def empty(cls, channels: int) -> ParsedSamples:
        return cls(np.zeros(0, np.float64), np.zeros((0, channels), np.float32))

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass
class JsonBatch:
    """One Sensor Logger POST: samples per known sensor (lower-case name), counts of ignored
    entries of other sensors, and bad entries."""

    sensors: dict[str, ParsedSamples] = field(default_factory=dict)
    other: int = 0
    bad: int = 0
    last_error: str | None = None


def timestamp_seconds(value: float, unit: str = "auto") -> float:
    """A sender timestamp in seconds. ``auto`` guesses the unit from the magnitude of an epoch
    time (ns >= 1e17, us >= 1e14, ms >= 1e11, else seconds)."""
    if unit != "auto":
        return value * _TS_UNITS[unit]
    magnitude = abs(value)
    if magnitude >= 1e17:
        return value * 1e-9
    if magnitude >= 1e14:
        return value * 1e-6
    if magnitude >= 1e11:
        return value * 1e-3
    return value


def _split_fields(line: str, channels: int) -> tuple[float, list[float]]:
    """(timestamp or NaN, C values) of one text line; raises ValueError with the reason."""
    text = line.strip().rstrip(";").strip()
    parts = [p.strip() for p in text.split(",")]
    if parts and parts[-1] == "":
        parts.pop()  # a trailing comma
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"not a number in {text[:40]!r}") from None
    n = len(numbers)
    if n == channels:
        ts, vals = math.nan, numbers
    elif n == channels + 1:
        ts, vals = numbers[0], numbers[1:]
    elif n > channels + 1 and (n - 1) % 3 == 0 and abs(numbers[0]) >= 1e5:
        ts, vals = numbers[0], numbers[1:channels + 1]   # timestamp, then more sensors than needed
    elif n > channels and n % 3 == 0:
        ts, vals = math.nan, numbers[:channels]         # more sensors than needed, no timestamp
    else:
        raise ValueError(f"wrong field count: {n} (expected {channels} values, "
                         f"optionally after a timestamp)")
    if not all(math.isfinite(v) for v in vals) or (not math.isnan(ts) and not math.isfinite(ts)):
        raise ValueError("non-finite value (NaN or inf)")
    return ts, vals


def parse_lines(data: bytes, channels: int = 3, *, ts_unit: str = "auto",
                final: bool = True) -> tuple[ParsedSamples, bytes]:
    """Parse comma-separated lines. Returns the samples and the unterminated tail of `data`
    (always ``b""`` when `final`, as for a UDP datagram whose last line needs no terminator;
    a TCP stream passes ``final=False`` and prepends the tail to the next chunk)."""
    pieces = _SEPARATORS.split(data)
    tail = b""
    if not final:
        tail = pieces.pop() if pieces else b""
        if len(tail) > MAX_LINE_BYTES:
            tail = b""
            pieces.append(b"\x00" * (MAX_LINE_BYTES + 1))  # counted as too long below
    ts_list: list[float] = []
    rows: list[list[float]] = []
    bad = 0
    last_error = None
    for raw in pieces:
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            bad += 1
            last_error = f"line too long ({len(raw)} bytes)"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
            last_error = "not UTF-8 text"
            continue
        try:
            ts, vals = _split_fields(line, channels)
        except ValueError as exc:
            bad += 1
            last_error = str(exc)
            continue
        ts_list.append(math.nan if math.isnan(ts) else timestamp_seconds(ts, ts_unit))
        rows.append(vals)
    if rows:
        with np.errstate(over="ignore"):   # beyond float32 -> inf, refused by the source
            values = np.array(rows, np.float32)
        parsed = ParsedSamples(np.array(ts_list, np.float64), values)
    else:
        parsed = ParsedSamples.empty(channels)
    parsed.bad, parsed.last_error = bad, last_error
    return parsed, tail


def parse_json_batch(body: bytes) -> JsonBatch:
    """Parse one Sensor Logger POST body. A body that is not JSON of the expected shape is one
    bad packet; a malformed entry inside a good body is one bad packet each."""
    out = JsonBatch()
    try:
        # Nested too deep -> RecursionError (raised by the decoder within a millisecond).
        doc = json.loads(body.decode("utf-8"), parse_int=_parse_number, parse_float=_parse_number)
    except (UnicodeDecodeError, ValueError, RecursionError, OverflowError, MemoryError) as exc:
        reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:60]
        out.bad, out.last_error = 1, f"not JSON: {reason or type(exc).__name__}"
        return out
    payload = doc.get("payload") if isinstance(doc, dict) else doc
    if not isinstance(payload, list):
        out.bad, out.last_error = 1, "JSON has no 'payload' list"
        return out
    collected: dict[str, tuple[list[float], list[list[float]]]] = {}
    for entry in payload:
        try:
            name = str(entry["name"]).lower()
        except (TypeError, KeyError):
            out.bad += 1
            out.last_error = "payload entry without a name"
            continue
        if name not in KNOWN_JSON_SENSORS:
            out.other += 1
            continue
        try:
            values = entry["values"]
            vals = [float(values[k]) for k in ("x", "y", "z")]
            ts = float(entry["time"]) * 1e-9
        except (TypeError, KeyError, ValueError, OverflowError) as exc:
            out.bad += 1
            out.last_error = f"malformed {name} entry ({type(exc).__name__})"
            continue
        if not all(math.isfinite(v) for v in vals) or not math.isfinite(ts):
            out.bad += 1
            out.last_error = f"non-finite value in {name} entry"
            continue
        if max(abs(v) for v in vals) > sensor_limit(name):
            out.bad += 1
            out.last_error = f"{name} value out of range ({max(abs(v) for v in vals):.3g})"
            continue
        ts_list, rows = collected.setdefault(name, ([], []))
        ts_list.append(ts)
        rows.append(vals)
    for name, (ts_list, rows) in collected.items():
        ts_arr = np.asarray(ts_list, np.float64)
        order = np.argsort(ts_arr, kind="stable")  # entries of one batch may come in any order
        out.sensors[name] = ParsedSamples(ts_arr[order], np.asarray(rows, np.float32)[order])
    return out


def _parse_number(text: str) -> float:
    """JSON numbers as floats; hundreds of digits are refused (no phone sends them)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters")
    return float(text)



# --------------------------------------------------------------------- phone apps (pulled)
# SensorServer (Android) sends one JSON text message per sensor event over a WebSocket:
#   {"values": [x, y, z], "timestamp": <ns since boot>, "accuracy": 3}
# and adds "type": "android.sensor.gyroscope" when several sensors share the connection.
SENSORSERVER_ACCEL = "android.sensor.accelerometer"
SENSORSERVER_GYRO = "android.sensor.gyroscope"


@dataclass
class SensorEvent:
    """One SensorServer message: sensor type (None when the connection has one sensor),
    timestamp in seconds and three values."""

    sensor: str | None
    ts: float
    values: tuple[float, float, float]


def _loads_bounded(text: str | bytes):
    """json.loads that refuses long numbers; raises ValueError (also for deep nesting)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_int=_parse_number, parse_float=_parse_number)
    except (UnicodeDecodeError, RecursionError, OverflowError, MemoryError) as exc:
        raise ValueError("nested too deep" if isinstance(exc, RecursionError)
                         else type(exc).__name__) from None


def parse_sensorserver_message(text: str | bytes) -> SensorEvent:
    """Parse one SensorServer message; raises ValueError with a one-line reason."""
    try:
        doc = _loads_bounded(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {str(exc)[:60]}") from None
    if not isinstance(doc, dict):
        raise ValueError("message is not a JSON object")
    values = doc.get("values")
    ts = doc.get("timestamp")
    if not isinstance(values, list) or len(values) < 3 or not isinstance(ts, float):
        raise ValueError("message without 'values' (3 numbers) and 'timestamp'")
    try:
        vals = tuple(float(v) for v in values[:3])
    except (TypeError, ValueError):
        raise ValueError("non-numeric sensor value") from None
    if not all(math.isfinite(v) for v in vals) or not math.isfinite(ts):
        raise ValueError("non-finite value")
    sensor = doc.get("type")
    sensor = str(sensor).lower() if sensor is not None else None
    limit = sensor_limit(GYRO_NAME if sensor == SENSORSERVER_GYRO else "x")
    if max(abs(v) for v in vals) > limit:
        raise ValueError(f"value out of range for a phone sensor ({max(abs(v) for v in vals):.3g})")
    return SensorEvent(sensor, ts * 1e-9, vals)   # Android event time is in nanoseconds


# phyphox: the phone is an HTTP server; /get?acc_time=T&accX=T|acc_time... answers
#   {"buffer": {"accX": {"size": 0, "updateMode": "partial", "buffer": [9.81E0, ...]}, ...},
#    "status": {"session": "a1b2c3", "measuring": true, "timedRun": false, "countDown": 0}}
# Buffer values are numbers or null; times are seconds since the experiment started.
PHYPHOX_ACCEL_BUFFERS = ("acc_time", "accX", "accY", "accZ")


@dataclass
class PhyphoxReply:
    """One phyphox /get answer: time and value columns, the session id and whether the
    phone is measuring, with the rows that were unusable."""

    samples: ParsedSamples
    session: str | None
    measuring: bool
    last_time: float | None = None   # the latest time in the answer, usable row or not


def parse_phyphox_get(body: bytes, buffers: tuple[str, ...] = PHYPHOX_ACCEL_BUFFERS) -> PhyphoxReply:
    """Parse a phyphox /get body for ``buffers`` (time first, then x, y, z); raises ValueError
    when it is not such JSON. Rows with a null, non-finite or impossible value are bad."""
    try:
        doc = _loads_bounded(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {str(exc)[:60]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("buffer"), dict):
        raise ValueError("phyphox answer without 'buffer'")
    status = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    columns = []
    for name in buffers:
        entry = doc["buffer"].get(name)
        data = entry.get("buffer") if isinstance(entry, dict) else None
        if not isinstance(data, list):
            raise ValueError(f"phyphox answer without buffer {name!r} (is the experiment "
                             f"'Acceleration with g' running?)")
        columns.append(data)
    n = min(len(c) for c in columns)
    bad = max(len(c) for c in columns) - n
    ts_list: list[float] = []
    rows: list[list[float]] = []
    last_error = "phyphox buffers of different lengths" if bad else None
    for i in range(n):
        row = [c[i] for c in columns]
        if not all(isinstance(v, float) and math.isfinite(v) for v in row):
            bad += 1
            last_error = "null or non-finite value in a phyphox buffer"
            continue
        if max(abs(v) for v in row[1:]) > MAX_ACCEL_MS2:
            bad += 1
            last_error = "value out of range for a phone sensor"
            continue
        ts_list.append(row[0])
        rows.append(row[1:])
    samples = ParsedSamples(np.asarray(ts_list, np.float64),
                            np.asarray(rows, np.float32).reshape(-1, len(buffers) - 1), bad, last_error)
    session = status.get("session")
    times = [t for t in columns[0] if isinstance(t, float) and math.isfinite(t)]
    return PhyphoxReply(samples, str(session) if session is not None else None,
                        bool(status.get("measuring", True)), max(times) if times else None)
