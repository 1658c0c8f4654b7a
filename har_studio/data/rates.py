"""The one rule for "is this measured sampling rate that rate?".

A rate measured from timestamps is never exactly the sensor's nominal rate: phone clocks run
slow or fast and sample intervals jitter. The WISDM 2019 phones measure 19.86 Hz (0.7 % below
their nominal 20 Hz); one of them 25.06 Hz. The same rule decides four things, so they can
never disagree: the rate the Data tab puts into a window configuration (``nominal_rate``), the
rate a replay announces (``ReplaySource``), whether the live classifier passes a replay to
the model sample for sample or resamples it (``Resampler.passes_through``), and whether
calibration resamples a person's recording (``training.calibration``).

The tolerance is 2.5 %: at 20 Hz, the rate of every WISDM model, that is half a hertz, the
whole band of measured rates that round to 20 Hz, so "nominal 20 Hz" and "fed to a 20 Hz model
unresampled" mean the same thing. It covers the phones' clock error three times over, and a
recording at its edge is stretched by 0.1 s over a 4 s window, less than the gaits of the
training data differ by; 25 Hz is 25 % away and is always resampled.
"""

from __future__ import annotations

RATE_TOLERANCE = 0.025   # relative; see the module docstring for why this value
PLAUSIBLE_HZ = (1.0, 1000.0)   # a measured rate outside this is a clock problem, not a sensor


def matches_rate(hz: float | None, target: float | None) -> bool:
    """True when a measured rate `hz` is the rate `target` (within ``RATE_TOLERANCE``)."""
    return bool(hz and target and target > 0 and matches_rates(hz, target))


def matches_rates(hz, target: float):
    """``matches_rate`` element-wise over a numpy array of measured rates (``target`` > 0)."""
    return abs(hz - target) <= RATE_TOLERANCE * target


def nominal_rate(hz: float | None, fallback: float | None = None) -> float | None:
    """The sensor's rate from a measured one: a whole number of hertz when the measurement
    matches it (19.86 Hz measured is 20 Hz), else the measurement to 0.1 Hz; `fallback` when
    the measurement is missing or outside 1 to 1000 Hz."""
    if not hz or not PLAUSIBLE_HZ[0] <= hz <= PLAUSIBLE_HZ[1]:
        return fallback
    whole = float(round(float(hz)))
    return whole if matches_rate(hz, whole) else round(float(hz), 1)
