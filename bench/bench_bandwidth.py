"""Should a high-rate phone be low-passed before it is brought to 20 Hz? (JSON on stdout.)

The app brings a run recorded at another rate to the model's 20 Hz by linear interpolation
(``data.windows.at_rate``, and ``live.ring.Resampler`` live), with no anti-aliasing filter, so
motion above 10 Hz folds into the 0-10 Hz band. That is right only if the 20 Hz phones the
model learnt from fold it in too. This measures it on the development recordings: for every
moving run (walking, jogging, stairs) recorded at the model's rate, the share of its 0.5-10 Hz
power that lies in 8-10 Hz (a phone whose sensor band-limits below ~8 Hz shows almost none);
for every run recorded at twice the rate or more (WISDM 2019: 1626's jogging, 50 Hz), the
share of its power above 10 Hz, and the same 8-10 Hz share after the app's resampling and
after a windowed-sinc low-pass at ``--cutoff`` Hz before it.

    .venv/bin/python bench/bench_bandwidth.py [--data DIR] [--cutoff 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from har_studio.data.loaders import load  # noqa: E402
from har_studio.data.windows import WindowConfig, at_rate, run_rates  # noqa: E402

DEFAULT_DATA = next((d / "shared" / "data" / "wisdm2019" / "phone" / "accel"
                     for d in Path(__file__).resolve().parents
                     if (d / "shared" / "data" / "wisdm2019").is_dir()), None)
MOVING = ("walking", "jogging", "stairs")
RATE = 20.0


def power(values: np.ndarray, rate: float, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum of the three axes summed (Hann segments, half overlapping)."""
    window = np.hanning(segment)[:, None]
    total = np.zeros(segment // 2 + 1)
    for start in range(0, len(values) - segment + 1, segment // 2):
        part = values[start:start + segment]
        total += (np.abs(np.fft.rfft((part - part.mean(0)) * window, axis=0)) ** 2).sum(1)
    return np.fft.rfftfreq(segment, 1 / rate), total


def share(freq: np.ndarray, p: np.ndarray, band: tuple[float, float],
          of: tuple[float, float]) -> float:
    def inside(lo, hi):
        return p[(freq >= lo) & (freq < hi)].sum()
    return round(float(inside(*band) / inside(*of)), 4)


def low_pass(values: np.ndarray, rate: float, cutoff: float, taps: int = 41) -> np.ndarray:
    """A linear-phase windowed-sinc (Hamming) low-pass of each axis, unit gain at 0 Hz."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff / rate * n) * np.hamming(taps)
    kernel /= kernel.sum()
    return np.stack([np.convolve(values[:, j], kernel, mode="same")
                     for j in range(values.shape[1])], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--cutoff", type=float, default=8.0)
    args = parser.parse_args(argv)
    frame = load(args.data).frame
    axes = ["x", "y", "z"]
    begin, end, rates = run_rates(frame, WindowConfig(size=2, step=1, rate_hz=RATE))
    at_20: dict[str, list[float]] = {a: [] for a in MOVING}
    high: list[dict] = []
    for lo, hi, rate in zip(begin, end, rates, strict=True):
        run = frame.iloc[lo:hi]
        activity = str(run["activity"].iloc[0])
        if activity not in MOVING or hi - lo < 1024:
            continue
        if abs(rate - RATE) < 1:
            at_20[activity].append(share(*power(run[axes].to_numpy(float), RATE, 128),
                                         (8, 10), (0.5, 10)))
        elif rate >= 2 * RATE:
            native = run[axes].to_numpy(float)
            filtered = run.copy()
            filtered[axes] = low_pass(native, rate, args.cutoff)
            entry = {"subject": int(run["subject"].iloc[0]), "activity": activity,
                     "rate_hz": round(float(rate), 1),
                     "native_share_above_10hz": share(*power(native, rate, 2 ** int(np.log2(
                         rate * 6.4))), (10, rate / 2), (0.5, rate / 2))}
            for name, part in (("resampled", run), (f"low_passed_{args.cutoff:g}hz_resampled",
                                                    filtered)):
                resampled = at_rate(part, RATE, axes)[axes].to_numpy(float)
                entry[f"{name}_share_8_10hz"] = share(*power(resampled, RATE, 128),
                                                      (8, 10), (0.5, 10))
            high.append(entry)
    out = {"data": args.data, "share_8_10hz_of_0p5_10hz_at_20hz": {
        a: {"runs": len(v), "median": round(float(np.median(v)), 4),
            "min": min(v), "max": max(v)} for a, v in at_20.items() if v},
        "high_rate_runs": high}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
