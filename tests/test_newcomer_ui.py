"""Issue 13 in the window: a restart restores the activity choice, the current model, the last
results and cross-validation runs; WISDM 2019's 18 activities start at the five A-E."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.training import runs as runs_mod
from har_studio.training.config import TrainConfig
from har_studio.training.crossval import cross_validate
from har_studio.training.engine import run_to_end
from har_studio.ui.data import DataTab
from har_studio.ui.main_window import MainWindow
from har_studio.ui.restore import restore_session
from har_studio.ui.state import AppState
from har_studio.ui.workers import stop_all_workers

TIMEOUT = 60_000
TINY = {"embedding_dim": 16, "patch_size": 4, "head_num": 2, "att_size": 8, "depth": 2,
        "head_width": 32}
FAST = {"epochs": 1, "batch_size": 64, "patience": 0, "device": "cpu", "precision": "fp32"}
EIGHTEEN = ("walking", "jogging", "stairs", "sitting", "standing", "typing", "teeth", "soup",
            "chips", "pasta", "drinking", "sandwich", "kicking", "catch", "dribbling",
            "writing", "clapping", "folding")


def _data_tab(qtbot) -> DataTab:
    tab = DataTab(AppState())
    qtbot.addWidget(tab)
    return tab


def test_eighteen_activities_start_at_a_to_e_and_the_choice_survives_a_restart(qtbot):
    data = demo_dataset(subjects=2, seconds_per_activity=7.0, activities=EIGHTEEN)
    tab = _data_tab(qtbot)
    tab.state.set_dataset(data)
    assert sorted(tab.panel.activity_list.checked()) == ["jogging", "sitting", "stairs", "standing",
                                                    "walking"]
    assert sorted(tab.state.activities) == sorted(tab.panel.activity_list.checked())
    tab.panel.activity_list.set_checked(["walking", "sitting", "teeth"])
    qtbot.waitUntil(lambda: tab.state.activities is not None
                    and sorted(tab.state.activities) == ["sitting", "teeth", "walking"],
                    timeout=TIMEOUT)
    again = _data_tab(qtbot)                      # the app restarted
    again.state.set_dataset(data)
    assert sorted(again.panel.activity_list.checked()) == ["sitting", "teeth", "walking"]
    assert sorted(again.state.activities) == ["sitting", "teeth", "walking"]
    stop_all_workers()


def test_a_restart_restores_the_model_and_the_last_results(qtbot, monkeypatch):
    from har_studio.ui.live import models

    monkeypatch.setattr(models, "default_model_path", lambda: None)   # no built-in model
    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    state.set_dataset(demo_dataset(subjects=4, seconds_per_activity=20))
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), None, None)
    train = window.tab("Train")
    train.set_settings(TINY, FAST)
    with qtbot.waitSignal(train.trainingFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(train.panel.start_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    restore_session(window, state)       # what app start does (remembers from here on)
    state.set_model(result.bundle, str(result.model_path))
    window.close()

    state2 = AppState()
    window2 = MainWindow(state2)               # a restart
    qtbot.addWidget(window2)
    live = window2.tab("Live")
    assert live.current_model() is None
    assert restore_session(window2, state2) == str(result.model_path)
    assert state2.model is not None and state2.model.labels == result.bundle.labels
    assert live.current_model() is not None
    train2 = window2.tab("Train")
    assert train2.metric_value("accuracy") == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    stop_all_workers()


def test_cross_validation_runs_reopen_from_past_runs(qtbot):
    frame = demo_dataset(subjects=4, seconds_per_activity=12,
                         activities=("walking", "jogging", "sitting")).frame
    folder = runs_mod.new_run_dir("cv2")
    cv = run_to_end(cross_validate(frame, k=2, window=WindowConfig(size=32, step=16),
                                   model_overrides=TINY, train_config=TrainConfig(**FAST),
                                   run_dir=folder))
    assert (folder / "crossval.json").is_file()
    infos = runs_mod.list_runs()
    (info,) = [i for i in infos if i.folder == folder]
    assert info.crossval_path is not None and info.accuracy == pytest.approx(cv.accuracy_mean)

    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    train = window.tab("Train")
    train.refresh_runs()
    assert str(folder) in train.run_folders()
    assert "cross-validation, 2 of 2 folds" in train.panel.runs.runs_list.item(0).text()
    train.panel.runs.runs_list.setCurrentRow(train.run_folders().index(str(folder)))
    assert train.results.cv_table.rowCount() == 2
    assert train.metric_value("cv_accuracy") == pytest.approx(cv.accuracy_mean)
    stop_all_workers()


def test_cross_validation_stopped_after_a_fold_says_so_once(qtbot):
    from har_studio.ui.train import TrainTab

    state = AppState()
    state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=10.0,
                                   activities=("walking", "jogging", "sitting")), ["<demo>"])
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), None, None)
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.set_settings(TINY, {**FAST, "epochs": 2})
    tab.panel.cv_check.setChecked(True)
    tab.panel.cv_folds.setValue(3)
    etas = []
    tab.controller.progressed.connect(lambda fraction, eta: etas.append(eta))
    tab.foldFinished.connect(lambda f: tab.stop_training() if f.fold == 1 else None)
    with qtbot.waitSignal(tab.crossValidationFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    cv = blocker.args[0]
    assert cv.stopped and cv.completed == 1
    assert any(e is not None for e in etas)             # an ETA for the whole run
    assert "stopped after 1 of 3 folds" in tab.view.status_label.text()
    assert "3-fold leave-subjects-out, stopped after 1 of 3 folds" in cv.summary()
    log = tab.view.log_view.toPlainText()
    assert log.count(cv.summary()) == 1
    assert tab.view.progress_bar.value() == pytest.approx(1000 / 3, abs=2)
    assert tab.metric_value("cv_accuracy") == pytest.approx(cv.accuracy_mean)
    assert "no validation people" in log                # not "validation none"
    stop_all_workers()


def test_an_interrupted_run_shows_as_such_and_resumes_from_past_runs(qtbot, tmp_path):
    from har_studio.data.demo import write_demo_files
    from har_studio.data.loaders import load
    from har_studio.training.engine import EpochProgress
    from har_studio.training.jobs import train_model
    from har_studio.ui.train import TrainTab

    files = write_demo_files(tmp_path, subjects=4, seconds_per_activity=12.0)
    data = load(files)
    folder = runs_mod.new_run_dir("killed")
    gen = train_model(data, window=WindowConfig(size=32, step=16), split=SplitConfig(),
                      model_overrides=TINY, train_config=TrainConfig(**{**FAST, "epochs": 3}),
                      run_dir=folder)
    for item in gen:
        if isinstance(item, EpochProgress):
            break
    gen.close()                                      # the app was closed mid-run

    tab = TrainTab(AppState())
    qtbot.addWidget(tab)
    tab.refresh_runs()
    row = tab.run_folders().index(str(folder))
    assert "interrupted · resumable" in tab.panel.runs.runs_list.item(row).text()
    tab.panel.runs.runs_list.setCurrentRow(row)
    assert tab.panel.runs.resume_run_button.isEnabled()
    with qtbot.waitSignal(tab.trainingFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(tab.panel.runs.resume_run_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert [h.epoch for h in result.history] == [1, 2, 3] and result.run_dir == folder
    stop_all_workers()


def test_wording_for_a_newcomer(qtbot):
    from har_studio.live.session import SessionSummary
    from har_studio.live.source import SourceStats
    from har_studio.ui.live.panel import address_hint
    from har_studio.ui.live.view import LiveView, summary_text
    from har_studio.ui.train.settings import inputs_text

    hint = address_hint("http", "0.0.0.0", "8000", lambda: ["192.168.1.20"])
    assert "http://192.168.1.20:8000/" in hint and "address:port" not in hint
    assert "6 derived inputs from x, y, z" == inputs_text(6, ["x", "y", "z"])
    assert "3 channels" == inputs_text(3, ["x", "y", "z"])
    text = summary_text(SessionSummary(samples=1, windows=1, queue_ms_p50=40.0,
                                       queue_ms_p99=70.0, latency_ms_p50=2.0,
                                       latency_ms_p99=3.0))
    assert "1 window from 1 sample" in text and "queueing" in text and "p99 70.0 ms" in text
    view = LiveView()
    qtbot.addWidget(view)
    view.last_stats = SourceStats(packets=1, samples=0, warning="listening on every interface")
    stats = view._stats_text(network=True)
    assert "test received" in stats and "listening on every interface" in stats


def test_layout_at_1280x820(qtbot):
    from PySide6.QtCore import QPoint

    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.resize(1280, 820)
    window.show()
    state.set_dataset(demo_dataset(subjects=2, seconds_per_activity=7.0, activities=EIGHTEEN))
    data = window.tab("Data")
    assert data.view.activity_chart.minimumHeight() >= 15 * 18     # a row per activity
    _a_long_file_name_leaves_the_data_column_alone(window, state, data, qtbot)
    window.show_tab("Live")
    live = window.tab("Live")
    qtbot.waitExposed(live)
    button = live.panel.record_button
    viewport = button.window()
    bottom = button.mapTo(viewport, QPoint(0, button.height())).y()
    assert bottom <= viewport.height() - 30       # above the fold, with its message below
    live.view.attention_strip.set_channels(["acc_mag", "body_horiz", "body_vert", "tilt_x",
                                       "tilt_y", "tilt_z"])
    assert live.view.attention_strip.minimumHeight() >= 6 * 15
    # Before any attention the strip shows its rows over a clean axis, not "-400…400 (x0.001)".
    strip = live.view.attention_strip
    bottom = strip.getPlotItem().getAxis("bottom")
    assert not bottom.style["showValues"] and "x0.001" not in bottom.labelString()
    assert strip.getPlotItem().getAxis("left").range == [0.0, 6.0]
    strip.set_attention(np.linspace(0.1, 1.0, 6 * 8, dtype=np.float32).reshape(6, 8))
    assert bottom.style["showValues"] and bottom.range == [0.0, 8.0]
    assert "x0.001" not in bottom.labelString()
    stop_all_workers()


def _a_long_file_name_leaves_the_data_column_alone(window, state, data, qtbot) -> None:
    """A 200-character file name must not widen the Data tab's left column (its scroll area
    would then hide "Demo data", "New seed", "WISDM A-E"): shortened, whole in the tooltip."""
    import dataclasses

    from PySide6.QtCore import QPoint, QRect

    window.show_tab("Data")
    qtbot.waitExposed(data)
    viewport = data.panel.parentWidget()        # the scroll area's viewport
    column = viewport.parentWidget()            # the scroll area: the left column
    width = column.width()
    assert data.panel.width() <= viewport.width()
    dataset = state.dataset
    name = "/recordings/" + ("walking_in_the_park_" * 10)[:200] + ".txt"
    state.set_dataset(dataclasses.replace(dataset, report=dataclasses.replace(
        dataset.report, files=[name])), [])
    qtbot.waitUntil(lambda: "walking_in_the_park" in data.panel.summary.text(), timeout=5000)
    QApplication.processEvents()
    assert column.width() == width and data.panel.width() <= viewport.width()   # no sideways scroll
    assert name in data.panel.summary.toolTip() and name not in data.panel.summary.text()
    panel = data.panel
    for button in (panel.demo_button, panel.reseed_button, panel.wisdm_ae_button):
        corner = button.mapTo(viewport, QPoint(0, 0))
        assert viewport.rect().contains(QRect(corner, button.size())), button.text()
        assert button.width() >= button.sizeHint().width(), button.text()   # text not cut
    window.show_tab("Live")


def test_local_network_shows_a_qr_code_of_the_phone_url(qtbot):
    from har_studio.ui.live.panel import LivePanel

    panel = LivePanel()
    qtbot.addWidget(panel)
    panel._address_cache = ["192.168.1.20"]
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("http"))
    panel.host_combo.setCurrentIndex(panel.host_combo.findData("0.0.0.0"))
    panel.port_spin.setValue(8000)
    panel.update_address_hint()
    assert panel.qr_text == "http://192.168.1.20:8000/"
    assert not panel.qr_label.isHidden() and not panel.qr_label.pixmap().isNull()
    panel.host_combo.setCurrentIndex(panel.host_combo.findData("127.0.0.1"))
    panel.update_address_hint()
    assert panel.qr_label.isHidden()


def test_sensorserver_and_phyphox_are_in_the_source_choice(qtbot):
    from types import SimpleNamespace

    from har_studio.live.apps import PhyphoxSource, SensorServerSource
    from har_studio.ui.live.panel import LivePanel

    panel = LivePanel()
    qtbot.addWidget(panel)
    bundle = SimpleNamespace(channels=["x", "y", "z"])
    for kind, cls in (("sensorserver", SensorServerSource), ("phyphox", PhyphoxSource)):
        panel.source_combo.setCurrentIndex(panel.source_combo.findData(kind))
        panel.host_combo.setEditText("192.168.1.30")     # the phone's address, typed
        assert panel.port_spin.value() == 8080
        panel.update_address_hint()
        assert "192.168.1.30" in panel.address_label.text()
        source = panel.make_source(bundle, None)
        assert isinstance(source, cls) and (source.host, source.port) == ("192.168.1.30", 8080)
