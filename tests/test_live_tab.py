"""The Live tab end to end: replay through a small trained model, a UDP stream with garbage,
a bad model file, recording the stream and loading the recording back."""

from __future__ import annotations

import re
import socket

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from har_studio.data import make_windows  # noqa: E402
from har_studio.ui.live import LiveTab  # noqa: E402
from har_studio.ui.state import AppState  # noqa: E402

ACTIVITIES = ("walking", "jogging", "sitting")


@pytest.fixture(scope="module")
def dataset():
    from har_studio.data.demo import demo_dataset

    return demo_dataset(subjects=3, seconds_per_activity=10.0, activities=ACTIVITIES, seed=3)


@pytest.fixture(scope="module")
def bundle(dataset):
    """A tiny ViT trained for a few epochs on the demo data (window 32, step 16)."""
    from tiny_models import trained_tiny_bundle

    return trained_tiny_bundle(dataset, epochs=3)


@pytest.fixture
def tab(qtbot, dataset, bundle):
    state = AppState()
    state.set_dataset(dataset, [])
    state.set_model(bundle)
    widget = LiveTab(state)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    widget.shutdown()
    assert not widget.is_running


def _bars_total(tab) -> float:
    return float(sum(tab.view.probability_bars.values()))


def test_replay_max_speed_fills_every_view(tab, qtbot, dataset, bundle):
    assert tab.current_model() is bundle
    assert all(name in tab.panel.model_info.text() for name in bundle.labels)
    tab.set_source("replay", speed="max", subject=None, activity=None)
    tab.set_options(smoothing="mean", smooth_k=3, threshold=0.5)
    assert tab.panel.hop_spin.value() == bundle.window.step
    seen = []
    tab.predictionMade.connect(seen.append)
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000) as finished:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    summary = finished.args[0]

    expected = len(make_windows(dataset.frame, bundle.window, channels=bundle.channels,
                                labels=bundle.labels))
    assert expected > 0
    assert len(tab.timeline) == expected == summary.windows
    assert seen and seen[-1].label in (*bundle.labels, "uncertain")
    assert tab.view.current_label.text() in (*bundle.labels, "uncertain")
    assert _bars_total(tab) == pytest.approx(1.0, abs=1e-3)
    assert set(tab.view.truth_timeline) <= set(bundle.labels)
    assert tab.view.running_accuracy == pytest.approx(summary.accuracy)
    assert "Running accuracy" in tab.view.accuracy_label.text()
    assert "accuracy" in tab.view.summary_label.text() and "p99" in tab.view.summary_label.text()
    assert summary.latency_ms_p50 is not None and summary.latency_ms_p99 >= summary.latency_ms_p50
    assert tab.view.redraw_count > 0
    attention = tab.view.attention_strip.last
    assert attention is not None and attention.shape[0] == len(bundle.channels)
    assert len(tab.view.signal_plot.curves) == len(bundle.channels)
    x, _ = tab.view.signal_plot.curves[0].getData()
    assert x is not None and len(x) > 0 and x.min() >= -tab.view.signal_plot.span_s - 1e-6
    assert not tab.is_running and tab.panel.start_button.isEnabled()
    assert not tab.panel.stop_button.isEnabled()


def test_replay_matches_offline_predictions(tab, qtbot, dataset, bundle):
    """No smoothing and no threshold: the live labels are exactly the offline argmax."""
    tab.set_source("replay", speed="max", subject=2, activity="jogging")
    tab.set_options(smoothing="none", threshold=0.0, hop=bundle.window.step)
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000):
        assert tab.start()
    frame = dataset.frame
    frame = frame[(frame["subject"] == 2) & (frame["activity"] == "jogging")]
    windows = make_windows(frame, bundle.window, channels=bundle.channels, labels=bundle.labels)
    offline = [bundle.labels[i] for i in bundle.predict_proba(windows.X).argmax(axis=1)]
    assert tab.timeline == offline
    assert set(tab.view.truth_timeline) == {"jogging"}


def test_stop_a_looping_max_speed_replay(tab, qtbot, bundle):
    """The fastest producer there is: Stop must still end it promptly (no update backlog)."""
    tab.set_source("replay", speed="max", loop=True, subject=None, activity=None)
    tab.set_options(hop=bundle.window.step)
    assert tab.start()
    qtbot.waitUntil(lambda: len(tab.timeline) > 500, timeout=15000)
    with qtbot.waitSignal(tab.sessionFinished, timeout=5000) as finished:
        tab.stop()
    assert finished.args[0].stopped_reason == "stopped"
    assert finished.args[0].windows >= len(tab.timeline) > 500


def test_high_threshold_greys_out_the_label(tab, qtbot, bundle):
    tab.set_source("replay", speed="max", subject=1, activity="sitting")
    tab.set_options(smoothing="majority", smooth_k=2, threshold=1.0)
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000) as finished:
        assert tab.start()
    assert tab.timeline and set(tab.timeline) == {"uncertain"}
    assert tab.view.current_label.text() == "uncertain"
    assert "color" in tab.view.current_label.styleSheet()
    predicted, truth = tab.view.timeline_ribbon.codes()
    assert set(predicted[-len(tab.timeline):]) == {-1}
    assert set(truth[-len(tab.timeline):]) == {bundle.labels.index("sitting")}
    # the top class still counts for accuracy, as in the session summary
    assert tab.view.running_accuracy == pytest.approx(finished.args[0].accuracy)


def _demo_lines(dataset, n: int, t0: float) -> list[str]:
    frame = dataset.frame
    walk = frame[(frame["subject"] == 1) & (frame["activity"] == "walking")]
    values = walk[["x", "y", "z"]].to_numpy()[:n]
    return [f"{t0 + i * 0.05:.3f},{x:.4f},{y:.4f},{z:.4f}" for i, (x, y, z) in enumerate(values)]


def test_udp_stream_with_garbage(tab, qtbot, dataset, bundle):
    tab.set_source("udp", host="127.0.0.1", port=0, units="ms2")
    tab.set_options(hop=1, smoothing="none")
    assert tab.start(), tab.view.message.text()
    host, _, port = tab.listening_address.rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert "127.0.0.1" in tab.panel.address_label.text() and f"<b>{port}</b>" in tab.panel.address_label.text()
    lines = _demo_lines(dataset, 38, t0=1000.0)   # 1.85 s of samples, sender timestamps
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto("\n".join(lines[:20]).encode(), ("127.0.0.1", int(port)))
        sock.sendto(b"hello phone\nnot,a,number\n1.0,2.0\n", ("127.0.0.1", int(port)))
        sock.sendto("\n".join(lines[20:]).encode(), ("127.0.0.1", int(port)))
        qtbot.waitUntil(lambda: len(tab.timeline) > 0 and tab.view.bad_packets >= 3, timeout=10000)
    # the stats line is written only by the timer-driven redraw
    qtbot.waitUntil(lambda: "bad packets 3" in tab.view.stats_label.text(), timeout=5000)
    assert tab.view.redraw_count > 0 and tab.is_running
    assert re.search(r"latency p50 [\d.]+ ms", tab.view.stats_label.text())
    assert tab.view.current_label.text() in (*bundle.labels, "uncertain")
    assert _bars_total(tab) == pytest.approx(1.0, abs=1e-3)
    assert tab.view.truth_timeline[0] is None and tab.view.running_accuracy is None
    with qtbot.waitSignal(tab.sessionFinished, timeout=10000) as finished:
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    summary = finished.args[0]
    assert summary.stopped_reason == "stopped"
    assert summary.bad_packets == 3 and summary.windows == len(tab.timeline)
    # the socket was closed: the same port can be bound again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", int(port)))


def test_port_in_use_is_an_inline_error(tab):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        tab.set_source("udp", host="127.0.0.1", port=port)
        assert not tab.start()
    assert not tab.is_running and tab.panel.start_button.isEnabled()
    assert str(port) in tab.view.message.text() and tab.view.message.level() == "error"


def test_replay_without_data_or_model_explains(qtbot, bundle, monkeypatch):
    from har_studio.ui.live import models

    monkeypatch.setattr(models, "default_model_path", lambda: None)   # no built-in model
    state = AppState()
    widget = LiveTab(state)
    qtbot.addWidget(widget)
    assert not widget.panel.start_button.isEnabled()
    assert not widget.start()
    assert "Train tab" in widget.view.message.text()
    state.set_model(bundle)        # the tab follows the shared state
    assert widget.current_model() is bundle and widget.panel.start_button.isEnabled()
    assert not widget.start()      # replay chosen, nothing loaded
    assert "Data tab" in widget.view.message.text()


def test_bad_model_file_names_the_file(tab, qtbot, tmp_path, monkeypatch, bundle):
    bad = tmp_path / "broken.harmodel"
    bad.write_bytes(b"this is not a model file\n" * 20)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(bad), "")))
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(
        lambda *args, **kwargs: shown.append(args) or QMessageBox.StandardButton.Ok))
    qtbot.mouseClick(tab.panel.open_model_button, Qt.MouseButton.LeftButton)
    assert len(shown) == 1 and "broken.harmodel" in shown[0][2]
    assert "broken.harmodel" in tab.view.message.text()
    assert tab.current_model() is bundle          # still the trained model


def test_open_good_model_file(tab, tmp_path, bundle):
    from har_studio.model.io import save_model

    path = save_model(tmp_path / "tiny.harmodel", bundle)
    assert tab.open_model(path)
    opened = tab.current_model()
    assert opened is not bundle and opened.labels == bundle.labels
    assert "tiny.harmodel" in tab.panel.model_combo.currentText()
    assert "tiny.harmodel" in tab.panel.model_info.text()   # the folder and name; elided if long
    assert str(path) == tab.panel.model_info.toolTip()      # the whole path on hover


def test_recording_saves_a_loadable_wisdm_file(tab, qtbot, tmp_path, bundle):
    tab.set_source("replay", subject=1, activity="walking", speed=10, loop=True)
    tab.set_recording(True, activity="Walking", subject=42, folder=tmp_path)
    assert tab.start(), tab.view.message.text()
    qtbot.waitUntil(lambda: tab.recording.samples >= 100, timeout=15000)
    assert not list(tmp_path.rglob("*.txt"))       # written only when recording stops
    with qtbot.waitSignal(tab.sessionFinished, timeout=10000):
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    assert not tab.panel.record_button.isChecked()
    (path,) = tab.recording.paths
    assert path.exists() and path.parent == tmp_path
    assert str(path) in tab.panel.record_status.text()
    from har_studio.data.loaders import load

    loaded = load(path)
    assert loaded.subjects == [42]
    assert loaded.activities == ["walking"]
    assert len(loaded.frame) >= 100
    assert np.all(np.isfinite(loaded.frame[["x", "y", "z"]].to_numpy()))


def test_set_source_rejects_unknown_options(tab):
    with pytest.raises(ValueError):
        tab.set_source("carrier-pigeon")
    with pytest.raises(ValueError):
        tab.set_source("udp", speed="max")
    with pytest.raises(ValueError):
        tab.set_source("replay", speed=3)


def test_replay_a_file_not_loaded_on_the_data_tab(tab, qtbot, tmp_path, dataset, bundle):
    """Issue 13: someone new is replayed from its own file; the Data tab's data stays, and the
    replay shows accuracy per activity and a labelled truth row."""
    from har_studio.data.demo import write_demo_files

    (path,) = write_demo_files(tmp_path, subjects=1, seconds_per_activity=8.0,
                               activities=ACTIVITIES)[:1]
    with qtbot.waitSignal(tab.replay_file.loaded, timeout=30000):
        tab.open_replay_file(path)
    assert tab.state.dataset is dataset                  # the training data is untouched
    assert tab.replay_dataset is tab.replay_file.file_dataset is not None
    assert path.name in tab.panel.replay_file_label.text()
    tab.set_source("replay", speed="max", subject=None, activity=None)
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000) as finished:
        assert tab.start()
    summary = finished.args[0]
    assert summary.windows == len(make_windows(tab.replay_file.file_dataset.frame, bundle.window,
                                               channels=bundle.channels, labels=bundle.labels))
    text = tab.view.accuracy_label.text()
    assert "per activity:" in text and all(a in text for a in ACTIVITIES)
    truth_name, predicted_name = tab.view.timeline_ribbon.row_names
    assert truth_name.startswith("true: ") and truth_name[6:] in ACTIVITIES
    assert predicted_name.startswith("predicted: ")
    tab.panel.replay_data_button.click()
    assert tab.replay_dataset is dataset


def test_labelling_while_streaming_marks_the_recording(tab, qtbot, tmp_path):
    """Alt+1…9 (or choosing in the record box) labels the samples from then on: a whole
    labelled session in one recording."""
    from har_studio.data.loaders import load

    tab.set_source("replay", subject=1, activity="walking", speed=10, loop=True)
    tab.set_recording(True, activity="walking", subject=7, folder=tmp_path)
    assert tab.start(), tab.view.message.text()
    qtbot.waitUntil(lambda: tab.recording.samples >= 80, timeout=15000)
    jogging = tab.panel.record_activity_combo.findText("jogging")
    assert jogging >= 0
    tab.recording.label_now(jogging)
    assert "“jogging” from now on" in tab.panel.record_status.text()
    before = tab.recording.samples
    qtbot.waitUntil(lambda: tab.recording.samples >= before + 80, timeout=15000)
    with qtbot.waitSignal(tab.sessionFinished, timeout=10000):
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    (path,) = tab.recording.paths
    counts = load(path).report.activities
    assert set(counts) == {"walking", "jogging"} and min(counts.values()) >= 60


def test_an_iphone_on_sensor_logger_reads_as_android(tab, qtbot):
    """The Live tab's Phone setting: Sensor Logger on an iPhone (default settings, axes
    negated) is told from its push and plotted, and classified, as Android's z ~ +9.81."""
    import urllib.request

    from test_phone_frames import iphone_push

    assert tab.panel.phone_combo.currentData() == "auto"
    tab.set_source("http", host="127.0.0.1", port=0, phone="auto")
    assert tab.start(), tab.view.message.text()
    port = tab.listening_address.rpartition(":")[2]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/data", data=iphone_push(60),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200
    qtbot.waitUntil(lambda: "phone: iPhone" in tab.view.stats_label.text(), timeout=10000)
    z = tab.view.signal_plot.curves[2].getData()[1]
    assert z is not None and len(z) and float(np.min(z)) > 9.7
    assert not tab.panel.phone_combo.isEnabled()          # fixed while the session runs
    with qtbot.waitSignal(tab.sessionFinished, timeout=10000):
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    with pytest.raises(ValueError, match="phone"):
        tab.set_source("http", phone="nokia")


# ---------------------------------------------------------------------------- issue 22
def _replay_to_end(tab, qtbot, **options):
    tab.set_source("replay", speed="max", **options)
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000):
        assert tab.start(), tab.message_text()


def test_switching_model_or_data_clears_the_last_sessions_figures(tab, qtbot, tmp_path, bundle):
    """Issue 22 item 5: the label, confidence, running accuracy and replay position of the
    last session do not stay on screen under another model or other data."""
    from har_studio.data.demo import demo_dataset
    from har_studio.model.io import save_model

    view, panel = tab.view, tab.panel
    _replay_to_end(tab, qtbot, subject=1, activity=None)
    assert view.current_label.text() in (*bundle.labels, "uncertain")
    assert "%" in view.confidence_label.text() and "Running accuracy" in view.accuracy_label.text()
    assert " s of " in panel.position_label.text()
    # another model: nothing of the last session is left but a line saying why
    assert tab.open_model(save_model(tmp_path / "other.harmodel", bundle))
    assert view.current_label.text() == "—"
    assert view.confidence_label.text() == view.accuracy_label.text() == ""
    assert view.stats_label.text() == "" and "Model changed" in view.summary_label.text()
    assert view.timeline == [] and view.running_accuracy is None
    # other data: the position in the last recording goes too
    _replay_to_end(tab, qtbot, subject=1, activity=None)
    assert " s of " in panel.position_label.text() and view.accuracy_label.text()
    tab.state.set_dataset(demo_dataset(subjects=2, seconds_per_activity=5.0,
                                       activities=ACTIVITIES, seed=11), [])
    assert panel.position_label.text() == "" and panel.seek_slider.maximum() == 0
    assert view.current_label.text() == "—" and view.accuracy_label.text() == ""
    assert "Other data" in view.summary_label.text()
    # re-choosing the same model (saving it, say) clears nothing
    _replay_to_end(tab, qtbot, subject=1, activity=None)
    shown = view.current_label.text()
    tab.models.refresh(select=panel.model_combo.currentData())
    assert view.current_label.text() == shown != "—"


def test_a_bad_replay_file_says_what_start_replays_instead(tab, qtbot, tmp_path, dataset,
                                                            bundle):
    """Issue 22 item 7: "loading passwd…" does not stay on screen, and Start replays what the
    row then names (the Data tab's data), not silently something else."""
    bad = tmp_path / "passwd"
    bad.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/false\n")
    tab.open_replay_file(bad)
    assert "loading passwd" in tab.panel.replay_file_label.text()
    assert not tab.start() and "Still loading" in tab.message_text()   # not the old data
    with qtbot.waitSignal(tab.replay_file.failed, timeout=30000):
        pass
    assert "loading" not in tab.panel.replay_file_label.text()
    assert tab.panel.replay_file_label.text() == "the Data tab's data"
    assert "passwd" in tab.message_text() and "the Data tab's data instead" in tab.message_text()
    assert tab.replay_dataset is dataset
    _replay_to_end(tab, qtbot, subject=2, activity="sitting")
    frame = dataset.frame[(dataset.frame["subject"] == 2) & (dataset.frame["activity"] == "sitting")]
    assert tab.last_summary.windows == len(make_windows(frame, bundle.window,
                                                        channels=bundle.channels,
                                                        labels=bundle.labels))


def test_a_recording_opened_as_a_model_says_open_it_under_replay(tab, tmp_path, monkeypatch,
                                                                 bundle):
    """Issue 22 item 12: a data file chosen in Open model… is named as what it is."""
    from har_studio.data.demo import write_demo_files

    (path,) = write_demo_files(tmp_path, subjects=1, seconds_per_activity=3.0,
                               activities=ACTIVITIES)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(
        lambda *args, **kwargs: shown.append(args) or QMessageBox.StandardButton.Ok))
    assert not tab.open_model(path)
    text = tab.message_text()
    assert path.name in text and "looks like a WISDM recording" in text
    assert "open it under Replay" in text and "safetensors" not in text
    assert shown and shown[0][2] == text
    assert tab.current_model() is bundle


def test_attention_rows_are_named_for_a_visitor(tab):
    strip = tab.view.attention_strip
    strip.set_channels(["acc_mag", "body_horiz", "body_vert", "tilt_x", "gyro_mag"])
    assert strip.row_names == ["motion", "sideways motion", "up-down motion", "tilt x",
                               "rotation"]
    ticks = strip.getPlotItem().getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == strip.row_names
    assert "acc_mag" in strip.getPlotItem().getAxis("left").toolTip()


def test_no_text_is_clipped_on_the_live_tab_at_1280x800(qtbot, qapp, dataset, bundle):
    """Issue 22 item 9, the Live tab: at 1280x800 and a desktop's 10 pt font, before and
    after a replay, no label, button or combo box is cut, the left panel needs no sideways
    scroll bar and the attention strip has room for its axis title."""
    from layout_check import clipped_widgets
    from PySide6.QtGui import QFont

    from har_studio.ui.main_window import MainWindow

    before = qapp.font()
    font = QFont(before)
    font.setPointSize(10)
    qapp.setFont(font)
    try:
        state = AppState()
        window = MainWindow(state)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        state.set_dataset(dataset, [])
        window.show_tab("Live")
        live = window.tab("Live")
        assert live.current_model() is not None     # the built-in model
        qtbot.wait(50)
        assert clipped_widgets(window) == []
        _replay_to_end(live, qtbot, subject=1, activity=None)
        qtbot.wait(50)
        assert clipped_widgets(window) == []
        strip = live.view.attention_strip
        axis = strip.getPlotItem().getAxis("bottom")
        assert strip.height() >= strip.minimumHeight() >= 52 + 15 * len(strip.row_names)
        assert axis.geometry().bottom() <= strip.getPlotItem().geometry().bottom() + 1
        live.shutdown()
    finally:
        qapp.setFont(before)
