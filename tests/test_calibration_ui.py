"""The Live tab's guided calibration (from a replayed recording, with a fast clock), the
built-in model at first start, and the self-test replaying with it."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from har_studio.ui.live import LiveTab  # noqa: E402
from har_studio.ui.live import models as live_models  # noqa: E402
from har_studio.ui.state import AppState  # noqa: E402

ACTIVITIES = ("walking", "jogging", "sitting")


@pytest.fixture(scope="module")
def dataset():
    from har_studio.data.demo import demo_dataset

    return demo_dataset(subjects=2, seconds_per_activity=12.0, activities=ACTIVITIES, seed=5)


@pytest.fixture(scope="module")
def model_file(dataset, tmp_path_factory):
    """A tiny ViT trained briefly on the demo data, saved (window 32, step 16)."""
    from tiny_models import trained_tiny_bundle

    from har_studio.model.io import save_model

    path = tmp_path_factory.mktemp("models") / "tiny.harmodel"
    save_model(path, trained_tiny_bundle(dataset, epochs=2))
    return path


def _tab(qtbot, state) -> LiveTab:
    tab = LiveTab(state)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    return tab


def _replay_tab(qtbot, dataset, model_file, monkeypatch, replay: bool = True):
    """The Live tab on `dataset` with the tiny model open (no built-in model), replaying at
    maximum speed unless `replay` is False; returns (tab, state)."""
    monkeypatch.setattr(live_models, "default_model_path", lambda: None)
    state = AppState()
    state.set_dataset(dataset, [])
    tab = _tab(qtbot, state)
    assert tab.open_model(model_file)
    if replay:
        tab.set_source("replay", speed="max")
    return tab, state


def test_guided_calibration_from_a_replay_writes_a_model_that_the_tab_then_uses(
        qtbot, dataset, model_file, monkeypatch):
    from har_studio.model.io import load_model
    from har_studio.training.calibration import file_sha256

    tab, state = _replay_tab(qtbot, dataset, model_file, monkeypatch)
    guide = tab.calibration
    guide.flow.tick_ms = 1                       # the countdown's "second" is a millisecond
    tab.panel.calibrate_button.click()
    assert guide.isVisible() and guide.begin_button.isEnabled()
    prompts = []
    guide.flow.stepStarted.connect(lambda i, label, prompt: prompts.append((label, prompt)))
    with qtbot.waitSignal(guide.flow.calibrationFinished, timeout=60000) as done:
        assert guide.begin(person="Ada Lovelace", seconds=8, source="live")
    result = done.args[0]
    assert [p[0] for p in prompts] == list(tab.current_model().labels)
    assert ("walking", "Walk normally") in prompts and ("sitting", "Sit on a chair") in prompts
    for cap in guide.flow.captures:
        assert not cap.skipped and cap.seconds >= 8 and cap.samples > 0
    # the new file, named after the person, records its base model
    path = guide.flow.model_path
    assert path.is_file() and path.name == "Ada_Lovelace.harmodel"
    saved = load_model(path).recipe["calibration"]
    assert saved["base_model"]["name"] == "tiny.harmodel"
    assert saved["base_model"]["sha256"] == file_sha256(model_file)
    assert saved["person"] == "Ada Lovelace"
    assert set(saved["calibration_windows"]) == set(ACTIVITIES)
    assert result.before is not None and result.after is not None
    assert "before" in guide.result_page.result_label.text() and guide.result_page.confusion_table.rowCount() == 3
    assert not tab.is_running
    assert tab.panel.activity_combo.currentData() is None     # the replay's settings are given back
    # "Use this model" switches the Live tab to it
    assert guide.result_page.use_button.isEnabled()
    guide.result_page.use_button.click()
    assert tab.current_model() is result.bundle
    assert state.model is result.bundle and state.model_path == str(path)
    assert path.name in tab.panel.model_combo.currentText()
    guide.close()
    tab.shutdown()


def test_skip_and_redo_and_the_phone_rate_is_resampled(qtbot, dataset, model_file, monkeypatch):
    """Skip leaves an activity out; a capture at a phone's 50 Hz is resampled to 20 Hz."""
    import numpy as np

    from har_studio.training.calibration import resample_frame
    from har_studio.ui.live.calibrate_capture import Capture, capture_frame

    tab, state = _replay_tab(qtbot, dataset, model_file, monkeypatch)
    guide = tab.calibration
    flow = guide.flow
    flow.tick_ms = 60_000                        # stays in the countdown: nothing is captured
    guide.show()
    flow.begin(person="Bo", seconds=6)
    flow.redo()
    assert flow.index == 0 and flow.phase == "countdown"
    flow.skip()
    assert flow.captures[0].skipped and flow.index == 1
    # the stream stopping under the guide is said, not waited on forever
    qtbot.waitUntil(lambda: tab.is_running and flow._restart_replay is None, timeout=10000)
    with qtbot.waitSignal(flow.noted, timeout=10000) as noted:
        tab.stop()
    assert "stopped" in noted.args[0]
    guide.close()                                # closing stops the capture
    assert flow.phase == "idle"
    qtbot.waitUntil(lambda: not tab.is_running, timeout=10000)
    # 50 Hz capture -> the saved model says it was resampled
    one = dataset.frame[dataset.frame["subject"] == dataset.subjects[0]]
    fast = resample_frame(one, 50.0, ["x", "y", "z"])
    caps = []
    for label, rows in fast.groupby(fast["activity"].astype(str)):
        cap = Capture(label)
        t = rows["timestamp"].to_numpy(np.int64) / 1e9
        cap.add(t, rows[["x", "y", "z"]].to_numpy(np.float32), np.zeros(len(t), bool))
        caps.append(cap)
    frame = capture_frame(caps, ["x", "y", "z"])
    with qtbot.waitSignal(flow.calibrationFinished, timeout=60000) as done:
        flow.calibrate_recordings(frame, person="Bo", seconds=8)
    assert done.args[0].record["resampled"] is True
    assert abs(done.args[0].record["recording_rate_hz"] - 50.0) < 1.0
    tab.shutdown()


def test_live_tab_uses_the_built_in_model_at_first_start(qtbot, dataset, model_file,
                                                         monkeypatch):
    monkeypatch.setattr(live_models, "default_model_path", lambda: model_file)
    state = AppState()
    tab = _tab(qtbot, state)
    assert tab.panel.model_combo.currentData() == live_models.SHIPPED_KEY
    assert tab.panel.model_combo.currentText() == live_models.SHIPPED_TEXT
    bundle = tab.current_model()
    assert bundle is not None and list(bundle.labels) == list(ACTIVITIES)
    assert tab.models.current_path() == str(model_file)
    # replaying demo data works with no training
    state.set_dataset(dataset, [])
    assert tab.panel.start_button.isEnabled()
    tab.set_source("replay", speed="max")
    with qtbot.waitSignal(tab.sessionFinished, timeout=30000):
        assert tab.start()
    assert len(tab.timeline) > 0
    # a trained model takes over once there is one
    state.set_model(bundle)
    assert tab.panel.model_combo.currentData() == "state"
    tab.shutdown()


def test_selftest_replays_with_the_built_in_model(qtbot, model_file, monkeypatch):
    from har_studio.ui.main_window import MainWindow
    from har_studio.ui.selftest import TOUR_PREDICTIONS, run_tour

    monkeypatch.setattr(live_models, "default_model_path", lambda: model_file)
    window = MainWindow(AppState())
    qtbot.addWidget(window)
    window.show()
    result = run_tour(window, timeout_s=120)
    shipped = result["shipped_model"]
    assert shipped is not None and shipped["predictions"] >= TOUR_PREDICTIONS
    assert shipped["last_prediction"] in set(ACTIVITIES) | {"uncertain"}
    assert "shipped_replay_s" in result["steps_s"]


def test_calibrate_from_recordings_of_the_data_tab_and_from_files(qtbot, dataset, model_file,
                                                                  monkeypatch, tmp_path):
    """No capture: the Data tab's recording (its chosen person) or recording files."""
    from har_studio.data.demo import write_demo_files
    from har_studio.model.io import load_model

    tab, state = _replay_tab(qtbot, dataset, model_file, monkeypatch, replay=False)
    guide = tab.calibration
    guide.open_guide()
    second = int(dataset.subjects[1])
    guide.subject_combo.setCurrentIndex(guide.subject_combo.findData(second))
    with qtbot.waitSignal(guide.flow.calibrationFinished, timeout=60000) as done:
        assert guide.begin(person="Cy", seconds=8, source="data")
    assert done.args[0].record["subject"] == second
    assert guide.flow.model_path.name == "Cy.harmodel"

    files = write_demo_files(tmp_path / "rec", subjects=1, seconds_per_activity=10.0,
                             activities=ACTIVITIES, seed=9)
    guide.open_guide()
    with qtbot.waitSignal(guide.flow.calibrationFinished, timeout=60000) as done:
        assert guide.begin(person="Cy", seconds=8, source="files", files=[str(f) for f in files])
    path = guide.flow.model_path
    assert path.name == "Cy-2.harmodel"          # the first one is kept
    assert load_model(path).recipe["calibration"]["data_files"] == [str(files[0])]
    # a missing name is asked for, not guessed
    guide.open_guide()
    guide.name_edit.clear()
    assert not guide.begin(source="data")
    assert "name" in guide.message.text()
    tab.shutdown()
