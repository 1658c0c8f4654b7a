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


# ---------------------------------------------------------------------------- issue 22, 23
def _someone_new(tmp_path, subject: int = 1600):
    """A recording of a person the Data tab does not hold, as a WISDM file."""
    from har_studio.data.demo import demo_dataset, write_wisdm_v11

    frame = demo_dataset(subjects=1, seconds_per_activity=12.0, activities=ACTIVITIES,
                         seed=8).frame.assign(subject=subject)
    return write_wisdm_v11(tmp_path / "someone_new.txt", frame)


def test_the_guide_calibrates_whoever_the_live_tab_replays_and_keeps_the_capture(
        qtbot, dataset, model_file, monkeypatch, tmp_path, _isolated_user_folder):
    """Issue 22 items 1-3 and issue 23 item 4: a recording opened with the Live tab's own
    Open… is offered (its person, said plainly); the running accuracy is not shown while the
    replay is cut to each activity; the capture is kept as a WISDM recording that the core,
    split the same way, turns into the same held-back windows."""
    import datetime

    from har_studio.data.loaders import load
    from har_studio.training.calibration import CalibrationConfig, prepare_calibration
    from har_studio.ui.live.calibrate_capture import person_subject

    tab, state = _replay_tab(qtbot, dataset, model_file, monkeypatch)
    path = _someone_new(tmp_path)
    with qtbot.waitSignal(tab.replay_file.loaded, timeout=30000):
        tab.open_replay_file(path)
    guide, flow = tab.calibration, tab.calibration.flow
    flow.tick_ms = 1
    guide.open_guide()
    people = [guide.subject_combo.itemData(i) for i in range(guide.subject_combo.count())]
    assert people == [1600]                       # not the Data tab's 1 and 2
    assert "someone_new.txt" in guide.from_label.text()
    assert "Subject 1600" in guide.from_label.text() and "held back" in guide.from_label.text()
    guide.source_combo.setCurrentIndex(guide.source_combo.findData("files"))
    assert not guide.subject_combo.isEnabled()
    assert guide.subject_combo.currentText() == "the files' own person"
    seen = []
    flow.captureProgressed.connect(lambda *_: seen.append(
        (tab.view.accuracy_label.text(), tab.view.summary_label.text())))
    with qtbot.waitSignal(flow.calibrationFinished, timeout=60000) as done:
        assert guide.begin(person="Eve", seconds=8, source="live")
    result = done.args[0]
    assert flow._replay_subject == 1600 and seen
    assert all(acc.startswith("Calibrating to Eve") and "accuracy" not in summary
               for acc, summary in seen)
    qtbot.waitUntil(lambda: not tab.is_running, timeout=10000)
    assert tab.view.hold_note is None             # the figures are back after the capture
    assert "accuracy" not in tab.view.summary_label.text() + tab.view.accuracy_label.text()
    # the capture, kept where the guide says, reads back as Eve's labelled recording
    kept = flow.capture_path
    day = datetime.date.today().isoformat()
    assert kept.parent == _isolated_user_folder / "recordings" / "calibration"
    assert kept.name == f"Eve_{day}.txt" and str(kept) in guide.result_page.capture_label.text()
    recording = load(kept)
    assert recording.subjects == [person_subject("Eve")]
    assert set(recording.activities) == set(ACTIVITIES)
    # one definition of the held-back part: the core's split of the kept file
    assert result.record["data_files"] == [str(kept)]
    assert result.record["seconds_per_activity"] == pytest.approx(flow.calib_seconds)
    again = prepare_calibration(result.bundle, recording,
                                CalibrationConfig(seconds=flow.calib_seconds))
    assert again.held_back.class_counts() == result.held_back_windows
    assert again.calibration.class_counts() == result.calibration_windows
    words = guide.result_page.split_label.text()
    assert f"first {flow.calib_seconds:g} s" in words
    assert f"{sum(result.held_back_windows.values())} held-back windows" in words
    assert f"--seconds {flow.calib_seconds:g}" in words
    # Redo one activity: captured again, the others kept, calibrated again
    others = [cap for cap in flow.captures if cap.label != "jogging"]
    with qtbot.waitSignal(flow.calibrationFinished, timeout=60000):
        assert guide.redo_activity("jogging")
    assert [cap for cap in flow.captures if cap.label != "jogging"] == others
    assert all(a is b for a, b in zip(others, [c for c in flow.captures
                                               if c.label != "jogging"], strict=True))
    assert flow.phase == "done" and flow.capture_path.name == f"Eve_{day}-2.txt"
    tab.shutdown()


def test_the_result_says_what_still_looks_alike_and_offers_redo(qtbot):
    """Issue 22 item 4: the held-back confusion in words, with Redo for that activity."""
    from types import SimpleNamespace

    from har_studio.ui.live.calibrate_capture import advice
    from har_studio.ui.live.calibrate_result import ResultPage

    after = {"accuracy": 0.8, "labels": ["walking", "stairs", "sitting"],
             "confusion": [[51, 49, 0], [2, 98, 0], [0, 0, 100]]}
    assert advice(after) == [("walking", (
        "walking and stairs still look alike (49% of walking's held-back windows were taken "
        "for stairs): record walking again, on level ground, at your usual pace."))]
    page = ResultPage()
    qtbot.addWidget(page)
    result = SimpleNamespace(
        before={"accuracy": 0.6}, after=after,
        calibration_windows={"walking": 40, "stairs": 40, "sitting": 40},
        held_back_windows={"walking": 100, "stairs": 100, "sitting": 100},
        record={"seconds_per_activity": 45.0})
    page.show_result(result, redo=["walking", "stairs", "sitting"])
    assert "60% before" in page.result_label.text() and "80% after" in page.result_label.text()
    assert list(page.advice_rows) == ["walking"]
    words, button = page.advice_rows["walking"]
    assert "record walking again" in words.text() and button.text() == "Redo walking"
    with qtbot.waitSignal(page.redoRequested) as asked:
        button.click()
    assert asked.args == ["walking"]
    page.show_result(result, redo=[])             # calibrated from files: nothing to redo
    assert page.advice_rows["walking"][1].isHidden()


def test_quick_walk_captures_walking_only_for_20_s(qtbot, dataset, model_file, monkeypatch):
    """The demo's quick calibration: walking only, 20 s, CalibrationConfig(seconds=20)."""
    tab, state = _replay_tab(qtbot, dataset, model_file, monkeypatch)
    guide, flow = tab.calibration, tab.calibration.flow
    flow.tick_ms = 1
    guide.open_guide()
    assert guide.quick_button.isEnabled() and "20 s" in guide.quick_button.text()
    guide.name_edit.setText("Di")
    with qtbot.waitSignal(flow.calibrationFinished, timeout=60000) as done:
        guide.quick_button.click()
    result = done.args[0]
    assert [cap.label for cap in flow.captures] == ["walking"]
    assert flow.captures[0].seconds >= 20 and flow.calib_seconds == 20
    assert result.record["seconds_per_activity"] == 20
    assert list(result.record["config"]["activities"]) == ["walking"]
    assert "first 20 s of walking" in guide.result_page.split_label.text()
    assert "--activities walking" in guide.result_page.split_label.text()
    assert result.calibration_windows["walking"] > 0
    assert all(n == 0 for name, n in result.calibration_windows.items() if name != "walking")
    tab.shutdown()


def test_the_result_of_a_walk_says_what_it_kept_or_what_it_can_cost(qtbot):
    """Issue 21: a walk the model already recognised keeps it unchanged and the result says
    so; a walk it took for stairs warns that stairs may now be taken for walking."""
    from types import SimpleNamespace

    from PySide6.QtWidgets import QLabel

    from har_studio.ui.live.calibrate_result import ResultPage

    page = ResultPage()
    qtbot.addWidget(page)
    metrics = {"accuracy": 0.9, "labels": ["walking", "stairs"],
               "confusion": [[90, 10], [5, 95]]}
    kept = "The model already recognises walking (60 of 60 windows, 100%): it is kept as it is"
    result = SimpleNamespace(
        before=metrics, after=metrics, calibration_windows={"walking": 60, "stairs": 0},
        held_back_windows={"walking": 100, "stairs": 100},
        record={"seconds_per_activity": 20.0, "config": {"activities": ["walking"]},
                "kept_because": kept, "at_risk": []})
    page.show_result(result, redo=[])
    assert kept in page.split_label.text()
    risk = ("Before calibrating, 67% of your walking was taken for stairs: now your stairs may "
            "be taken for walking. Capture stairs too (the guide) if it matters")
    result.record.update(kept_because=None, at_risk=[risk])
    page.show_result(result, redo=[])
    assert kept not in page.split_label.text()
    texts = [w.text() for w in page.findChildren(QLabel)]
    assert risk + "." in texts
