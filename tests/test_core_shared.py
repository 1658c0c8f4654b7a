"""Rules the core keeps in one place: the sampling-rate rule, recording names, the running
figures of a live session, the progress driver and the stop/pause switch."""

from __future__ import annotations

import numpy as np
import pytest
from test_live_classifier import drain, recording, tiny_bundle

from har_studio.data.rates import RATE_TOLERANCE, matches_rate, nominal_rate
from har_studio.live.classifier import StreamingClassifier
from har_studio.live.recorder import StreamRecorder, recording_path
from har_studio.live.replay import ReplaySource
from har_studio.live.ring import Resampler
from har_studio.live.session import LiveControl, run_session
from har_studio.live.source import SampleBatch
from har_studio.progress import RunControl, run_to_end
from har_studio.training import TrainControl

SIX = ("x", "y", "z", "gx", "gy", "gz")


# ------------------------------------------------------------------------------ rates

def test_rate_rule_tolerance_decides_nominal_rate_and_passthrough_alike():
    edge = 20.0 * (1 + RATE_TOLERANCE)
    assert RATE_TOLERANCE == pytest.approx(0.025)
    assert nominal_rate(19.859) == 20.0                   # the WISDM 2019 phones' measured rate
    assert nominal_rate(edge - 0.01) == 20.0 and matches_rate(edge - 0.01, 20.0)
    assert nominal_rate(19.4) == 19.0                     # 19 Hz, not 20: nearer 19
    assert nominal_rate(12.55) == 12.6                    # no whole rate within 2.5 %
    assert nominal_rate(0.0, 20.0) == 20.0 and nominal_rate(5000.0, 7.0) == 7.0
    assert not matches_rate(20.6, 20.0) and not matches_rate(25.059, 20.0)
    assert not matches_rate(None, 20.0) and not matches_rate(20.0, 0.0)

    r = Resampler(20.0)
    ones = np.ones((4, 1), np.float32)
    inside = SampleBatch(np.arange(4) / 20.4, ones, nominal_rate_hz=20.4)
    outside = SampleBatch(np.arange(4) / 20.6, ones, nominal_rate_hz=20.6)
    assert r.passes_through(inside) and not r.passes_through(outside)


def test_replay_announces_the_nominal_rate():
    frame = recording()
    frame["timestamp"] = frame["timestamp"] + (np.arange(len(frame)) * 350_000)  # 19.86 Hz
    src = ReplaySource(frame)
    assert src.nominal_rate_hz == 20.0


# ------------------------------------------------------------------------------ recording names

def test_recording_path_names_the_format_the_recorder_writes(tmp_path):
    from har_studio.data.loaders import load

    pair = recording_path(tmp_path, "Walking", 5, SIX, when=0)
    assert pair.name == "data_5_accel_phone.txt" and pair.parent.name.startswith("recording_")
    single = recording_path(tmp_path, "walking", 5, ("x", "y", "z"), when=0)
    odd = recording_path(tmp_path, "Jump rope", 7, SIX, when=0)
    assert single.parent == tmp_path and single.name.startswith("recording_s5_walking_")
    assert odd.name.startswith("recording_s7_jump-rope_")

    t = np.arange(40) / 20.0
    values = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    for path, channels, fmt, files in ((pair, SIX, "wisdm-2019", 2),
                                       (single, SIX[:3], "wisdm-v1.1", 1),
                                       (odd, SIX, "wisdm-v1.1", 1)):
        rec = StreamRecorder(path, 5, "walking" if path is not odd else "jump rope",
                             channels=channels)
        assert rec.format == fmt
        rec.write(SampleBatch(t, values[:, :len(channels)], channels=channels))
        written = rec.close()
        assert len(written) == files and all(p.exists() for p in written)
    assert set(load(pair.parent).channels) == set(SIX)


# ------------------------------------------------------------------------------ live figures

def test_updates_carry_the_sessions_running_figures():
    src = ReplaySource(recording(), speed="max")
    updates, summary = drain(run_session(src, StreamingClassifier(tiny_bundle(), hop=4),
                                         poll_s=0.0))
    seen = 0
    for u in updates:
        seen += len(u.predictions)
        if seen:
            assert u.running.predictions == seen
            assert u.running.latency_ms_p50 <= u.running.latency_ms_p99
    assert seen == summary.predictions > 0
    last = updates[-1].running
    assert last.labelled == summary.labelled_windows > 0
    assert last.accuracy == pytest.approx(summary.accuracy)


# ------------------------------------------------------------------------------ progress

def test_run_to_end_returns_the_result_and_hands_on_each_item():
    def job():
        yield 1
        yield 2
        return "done"

    seen = []
    assert run_to_end(job(), seen.append) == "done" and seen == [1, 2]
    assert run_to_end(job()) == "done"


@pytest.mark.parametrize("control", [RunControl(), TrainControl(), LiveControl()])
def test_stop_ends_a_pause_and_wins_over_a_later_pause(control):
    control.pause()
    assert control.paused and not control.wait_resumed(0.0)
    control.stop()
    assert control.stopped and not control.paused and control.wait_resumed(0.0)
    control.pause()
    assert not control.paused
