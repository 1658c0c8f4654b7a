"""Input features derived from raw sensor windows: what the model actually reads.

People carry phones in different orientations, so the same posture puts gravity along
different phone axes for different people, and a model trained on raw x, y, z learns the
orientations of its training subjects. The features here describe the motion in ways that do
not depend (or depend less) on how the phone sits in the pocket:

- ``gravity``: the accelerometer low-passed (a centred moving average, ``lowpass_s`` long),
  i.e. the direction of gravity in phone axes; ``body``: acceleration minus gravity.
- ``gravity_abs``: absolute components of the unit gravity vector (|cos| of the angle between
  gravity and each phone axis): the tilt of the phone, blind to the common pocket flips
  (upside down, screen in or out).
- ``magnitude`` / ``body_magnitude``: |acceleration|, |body acceleration| (invariant under
  any rotation of the phone).
- ``vertical`` / ``horizontal``: body acceleration along gravity (signed) and the length of
  its part perpendicular to gravity (both rotation-invariant).
- ``gyro_magnitude``, ``gyro_vertical``, ``gyro_horizontal``: the same for the gyroscope
  (rotation about the vertical axis = turning; about a horizontal axis = swinging).
- ``raw`` (every raw channel as given), ``acc`` (x, y, z), ``gyro`` (gx, gy, gz).

``per_window`` optionally centres or standardises each derived channel within each window.

Everything is computed from one window alone (pure numpy, vectorised over windows), so
training, evaluation, replay and the live stream compute exactly the same inputs. The
configuration is saved in the model file; the default (``raw``, no per-window scaling) is the
identity and reproduces the reference model's inputs exactly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

ACC = ("x", "y", "z")
GYRO = ("gx", "gy", "gz")

# feature group -> (raw channels it needs, the names of what it outputs; None: the raw names)
FEATURE_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "raw": ((), None),
    "acc": (ACC, ("x", "y", "z")),
    "gravity": (ACC, ("grav_x", "grav_y", "grav_z")),
    "body": (ACC, ("body_x", "body_y", "body_z")),
    "gravity_abs": (ACC, ("tilt_x", "tilt_y", "tilt_z")),
    "magnitude": (ACC, ("acc_mag",)),
    "body_magnitude": (ACC, ("body_mag",)),
    "vertical": (ACC, ("body_vert",)),
    "horizontal": (ACC, ("body_horiz",)),
    "gyro": (GYRO, ("gx", "gy", "gz")),
    "gyro_magnitude": (GYRO, ("gyro_mag",)),
    "gyro_vertical": (ACC + GYRO, ("gyro_vert",)),
    "gyro_horizontal": (ACC + GYRO, ("gyro_horiz",)),
}
PER_WINDOW = ("none", "center", "standardise")
ALIGN = ("none", "person")
FEATURE_HELP = {
    "raw": "every raw channel as recorded",
    "acc": "raw acceleration x, y, z",
    "gravity": "low-passed acceleration (gravity in phone axes)",
    "body": "acceleration minus gravity",
    "gravity_abs": "phone tilt: |cos| of gravity's angle to each axis (flip-invariant)",
    "magnitude": "|acceleration| (rotation-invariant)",
    "body_magnitude": "|body acceleration| (rotation-invariant)",
    "vertical": "body acceleration along gravity (rotation-invariant)",
    "horizontal": "body acceleration across gravity (rotation-invariant)",
    "gyro": "raw gyroscope gx, gy, gz",
    "gyro_magnitude": "|rotation rate| (rotation-invariant)",
    "gyro_vertical": "rotation rate about the vertical (turning)",
    "gyro_horizontal": "rotation rate about horizontal axes (swinging)",
}


@dataclass(frozen=True)
class FeatureConfig:
    """Which features the model reads (default: the raw channels, unchanged)."""

    outputs: tuple[str, ...] = ("raw",)
    lowpass_s: float = 1.0          # moving-average length of the gravity filter, seconds
    per_window: str = "none"        # "none", "center" or "standardise" each window's channels
    align: str = "none"             # "person": raw samples turned into each person's upright,
                                    # unit-gain frame first (data.alignment)

    def __post_init__(self) -> None:
        outputs = self.outputs
        if isinstance(outputs, str) or not isinstance(outputs, (tuple, list)):
            raise ValueError(f"feature outputs must be a list of names, got {outputs!r}")
        outputs = tuple(outputs)
        if not outputs:
            raise ValueError("feature outputs must name at least one feature")
        unknown = [o for o in outputs if o not in FEATURE_GROUPS]
        if unknown:
            raise ValueError(f"unknown feature(s) {', '.join(map(str, unknown))} "
                             f"(known: {', '.join(FEATURE_GROUPS)})")
        if len(set(outputs)) != len(outputs):
            raise ValueError(f"feature outputs repeat a name: {', '.join(outputs)}")
        object.__setattr__(self, "outputs", outputs)
        lp = self.lowpass_s
        if isinstance(lp, bool) or not isinstance(lp, (int, float)) or not math.isfinite(lp) \
                or lp <= 0:
            raise ValueError(f"lowpass_s must be a positive number of seconds, got {lp!r}")
        object.__setattr__(self, "lowpass_s", float(lp))
        if self.per_window not in PER_WINDOW:
            raise ValueError(f"per_window must be one of {', '.join(PER_WINDOW)}, "
                             f"got {self.per_window!r}")
        if self.align not in ALIGN:
            raise ValueError(f"align must be one of {', '.join(ALIGN)}, got {self.align!r}")

    @property
    def is_identity(self) -> bool:
        """True when `derive` returns the raw windows unchanged (the reference inputs)."""
        return self.outputs == ("raw",) and self.per_window == "none" and self.align == "none"

    @property
    def aligns(self) -> bool:
        """True when each person's samples are aligned before features are derived."""
        return self.align != "none"

    def to_dict(self) -> dict:
        d = {"outputs": list(self.outputs), "lowpass_s": self.lowpass_s,
             "per_window": self.per_window}
        if self.aligns:   # absent for "none", so older model files read back unchanged
            d["align"] = self.align
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> FeatureConfig:
        """Build from a dict (None or {} give the identity); bad values raise ValueError."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f"feature configuration must be a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - {"outputs", "lowpass_s", "per_window", "align"})
        if unknown:
            raise ValueError(f"unknown feature setting(s): {', '.join(map(str, unknown))}")
        outputs = d.get("outputs", ("raw",))
        if not isinstance(outputs, (list, tuple)) or not all(isinstance(o, str) for o in outputs):
            raise ValueError(f"feature outputs must be a list of names, got {outputs!r}")
        return cls(outputs=tuple(outputs), lowpass_s=d.get("lowpass_s", 1.0),
                   per_window=d.get("per_window", "none"), align=d.get("align", "none"))

    def describe(self) -> str:
        """One short line for the UI and logs."""
        if self.is_identity:
            return "raw channels"
        text = " + ".join(self.outputs)
        if self.per_window != "none":
            text += f", {self.per_window} per window"
        if self.aligns:
            text += ", aligned to each person's pocket"
        return text


def required_channels(config: FeatureConfig) -> tuple[str, ...]:
    """Raw channels the features need (beyond ``raw``, which takes whatever there is)."""
    needed: list[str] = []
    for name in config.outputs:
        for c in FEATURE_GROUPS[name][0]:
            if c not in needed:
                needed.append(c)
    return tuple(needed)


def output_channels(channels: list[str] | tuple[str, ...], config: FeatureConfig) -> list[str]:
    """Names of the derived channels for raw `channels` (raises ValueError if one is missing)."""
    channels = list(channels)
    missing = [c for c in required_channels(config) if c not in channels]
    if missing:
        wanted = [o for o in config.outputs
                  if any(c in missing for c in FEATURE_GROUPS[o][0])]
        raise ValueError(f"feature(s) {', '.join(wanted)} need channel(s) {', '.join(missing)}, "
                         f"which the data lacks (it has {', '.join(channels) or 'none'})")
    names: list[str] = []
    for name in config.outputs:
        produced = FEATURE_GROUPS[name][1]
        names.extend(channels if produced is None else produced)
    if len(set(names)) != len(names):
        raise ValueError(f"features {', '.join(config.outputs)} produce a channel twice "
                         f"({', '.join(names)})")
    return names


def moving_average(X: np.ndarray, length: int) -> np.ndarray:
    """Centred moving average along axis 1 of ``[n, T, C]``, edges padded with the edge
    value (so each output sample uses only its own window), vectorised with cumulative sums."""
    n, t, c = X.shape
    length = int(max(1, min(length, 2 * t - 1)))
    if length == 1 or t == 0:
        return X.astype(np.float32, copy=True)
    left = length // 2
    right = length - 1 - left
    padded = np.concatenate([np.repeat(X[:, :1], left, axis=1), X,
                             np.repeat(X[:, -1:], right, axis=1)], axis=1).astype(np.float64)
    csum = np.concatenate([np.zeros((n, 1, c)), np.cumsum(padded, axis=1)], axis=1)
    return ((csum[:, length:] - csum[:, :-length]) / length).astype(np.float32)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ntc,ntc->nt", v, v))[..., None]


def feature_value(key: str, get, ops):
    """The one definition of each derived quantity, for windows ``[n, T, C]`` of either
    numpy (``derive``) or torch (``model.pipeline``, the live inference graph). `get(name)`
    gives another quantity (computed once); `ops` does what numpy and torch spell
    differently: ``take`` (raw channels), ``lowpass`` (``moving_average`` over
    ``lowpass_s``), ``norm`` and ``dot`` (over the channel axis, keeping it), ``floor``
    (elementwise maximum with a number), ``abs``."""
    if key == "acc":
        return ops.take(ACC)
    if key == "gyro":
        return ops.take(GYRO)
    if key == "gravity":
        return ops.lowpass(get("acc"))
    if key == "body":
        return get("acc") - get("gravity")
    if key == "unit_gravity":
        return get("gravity") / ops.floor(ops.norm(get("gravity")), 1e-6)
    if key == "gravity_abs":
        return ops.abs(get("unit_gravity"))
    if key == "magnitude":
        return ops.norm(get("acc"))
    if key == "body_magnitude":
        return ops.norm(get("body"))
    if key == "vertical":
        return ops.dot(get("body"), get("unit_gravity"))
    if key == "horizontal":
        return ops.norm(get("body") - get("vertical") * get("unit_gravity"))
    if key == "gyro_magnitude":
        return ops.norm(get("gyro"))
    if key == "gyro_vertical":
        return ops.dot(get("gyro"), get("unit_gravity"))
    if key == "gyro_horizontal":
        return ops.norm(get("gyro") - get("gyro_vertical") * get("unit_gravity"))
    raise ValueError(f"unknown feature {key!r}")  # pragma: no cover - FeatureConfig validates


def derived_inputs(config: FeatureConfig, raw, ops):
    """The derived inputs of `config` (``feature_value`` per output group, the raw windows
    for ``raw``), joined along channels and scaled per window: numpy or torch as `ops`
    (``concat``, ``per_window``) and the ``feature_value`` ops say; `ops.keep(value)` is
    applied to each computed quantity."""
    cache: dict = {}

    def get(key: str):
        if key not in cache:
            cache[key] = ops.keep(feature_value(key, get, ops))
        return cache[key]

    out = ops.concat([raw if name == "raw" else get(name) for name in config.outputs])
    if config.per_window != "none" and out.shape[1] > 0:
        out = ops.per_window(out, config.per_window)
    return out


class _NumpyOps:
    """``feature_value``'s operations in numpy (float32 values, float64 filter)."""

    def __init__(self, X: np.ndarray, channels: list[str], config: FeatureConfig,
                 rate_hz: float) -> None:
        self.X, self.channels = X, channels
        self.length = int(round(config.lowpass_s * rate_hz))

    def take(self, group):
        return self.X[:, :, [self.channels.index(c) for c in group]]

    def lowpass(self, v):
        return moving_average(v, self.length)

    norm = staticmethod(_norm)
    abs = staticmethod(np.abs)
    floor = staticmethod(np.maximum)

    @staticmethod
    def dot(a, b):
        return np.einsum("ntc,ntc->nt", a, b)[..., None]

    @staticmethod
    def keep(value):
        return value.astype(np.float32, copy=False)

    @staticmethod
    def concat(parts):
        return np.concatenate(parts, axis=2).astype(np.float32, copy=False)

    @staticmethod
    def per_window(out, mode: str):
        out = out - out.mean(axis=1, keepdims=True)
        if mode == "standardise":
            out = out / np.maximum(out.std(axis=1, keepdims=True), 1e-3)
        return out.astype(np.float32, copy=False)


def derive(X: np.ndarray, channels: list[str] | tuple[str, ...], config: FeatureConfig,
           *, rate_hz: float = 20.0) -> tuple[np.ndarray, list[str]]:
    """Derived inputs ``float32 [n, T, C']`` and their names, from raw windows ``[n, T, C]``
    (m/s^2, rad/s) with channel names `channels`. The identity config returns X unchanged."""
    X = np.asarray(X, dtype=np.float32)
    channels = list(channels)
    if X.ndim != 3 or X.shape[2] != len(channels):
        raise ValueError(f"expected windows [n, T, {len(channels)}] for channels "
                         f"{', '.join(channels)}, got {list(X.shape)}")
    names = output_channels(channels, config)
    if config.is_identity:
        return X, names
    out = derived_inputs(config, X, _NumpyOps(X, channels, config, rate_hz))
    return np.ascontiguousarray(out), names
