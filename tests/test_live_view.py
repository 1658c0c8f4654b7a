"""The Live view draws the running figures the session sends, and the queueing its predictions
carry; it keeps no tally of its own."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from har_studio.live.classifier import Prediction  # noqa: E402
from har_studio.live.session import LiveUpdate, RunningFigures  # noqa: E402
from har_studio.live.source import SampleBatch, SourceStats  # noqa: E402
from har_studio.ui.live.view import LiveView  # noqa: E402


def test_view_shows_the_sessions_running_figures(qtbot):
    view = LiveView()
    qtbot.addWidget(view)
    view.reset(None, 0.5)
    # Every window here is right, but the session says 1 of 4 over all it has seen so far:
    # the view must show the session's figures, not count these two itself.
    predictions = [Prediction(t=float(i), label="x", confidence=0.9, probabilities=[0.9, 0.1],
                              truth="x", latency_ms=100.0, class_index=0) for i in range(2)]
    running = RunningFigures(predictions=9, labelled=4, accuracy=0.25,
                             latency_ms_p50=1.5, latency_ms_p99=7.5)
    view.ingest(LiveUpdate(SampleBatch.empty(("x", "y", "z")), predictions, SourceStats(),
                           running))
    view.redraw(network=False, attention=False)
    assert view.running_accuracy == 0.25
    assert "25.0%" in view.accuracy_label.text() and "over 4 windows" in view.accuracy_label.text()
    stats = view.stats_label.text()
    assert "windows 9" in stats and "p50 1.5 ms" in stats and "p99 7.5 ms" in stats

    view.reset(None, 0.5)
    assert view.running_accuracy is None and view.accuracy_label.text() == ""


def test_running_stats_name_queueing_apart_from_latency(qtbot):
    """A replay at max speed: windows wait behind others of the same batch (queue_ms). The
    running line must call that queueing, next to the real latency, as the summary does."""
    view = LiveView()
    qtbot.addWidget(view)
    view.reset(None, 0.5)
    predictions = [Prediction(t=float(i), label="x", confidence=0.9, probabilities=[0.9, 0.1],
                              latency_ms=2.0, queue_ms=10.0 * i, class_index=0)
                   for i in range(1, 11)]
    running = RunningFigures(predictions=10, latency_ms_p50=2.0, latency_ms_p99=2.0)
    view.ingest(LiveUpdate(SampleBatch.empty(("x", "y", "z")), predictions, SourceStats(),
                           running))
    view.redraw(network=False, attention=False)
    stats = view.stats_label.text()
    assert "latency p50 2.0 ms · p99 2.0 ms" in stats
    assert "queueing p50 55.0 ms" in stats and "queueing" in view.stats_label.toolTip()
    assert "latency p50 55" not in stats and "p99 99.1 ms" in stats
    # Windows classified one by one (a phone at real time) wait for nothing: no queueing shown.
    view.reset(None, 0.5)
    alone = [Prediction(t=1.0, label="x", confidence=0.9, probabilities=[0.9, 0.1],
                        latency_ms=2.0, class_index=0)]
    view.ingest(LiveUpdate(SampleBatch.empty(("x", "y", "z")), alone, SourceStats(), running))
    view.redraw(network=True, attention=False)
    assert "queueing" not in view.stats_label.text()


def test_running_stats_say_how_the_pocket_is_aligned(qtbot):
    """A model that aligns each person (data.alignment) says whether the person's upright is
    known yet; other models say nothing about it."""
    view = LiveView()
    qtbot.addWidget(view)
    running = RunningFigures(predictions=1, latency_ms_p50=2.0, latency_ms_p99=2.0)

    def shown(pocket):
        view.reset(None, 0.5)
        p = Prediction(t=1.0, label="x", confidence=0.9, probabilities=[0.9, 0.1],
                       class_index=0, pocket=pocket)
        view.ingest(LiveUpdate(SampleBatch.empty(("x", "y", "z")), [p], SourceStats(), running))
        view.redraw(network=False, attention=False)
        return view.stats_label.text()

    assert "pocket" not in shown(None)
    assert "until the person walks" in shown(0)
    assert "aligned from 12 moving windows" in shown(12)
