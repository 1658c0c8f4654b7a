"""Issue 13 in the window: a restart restores the activity choice, the current model, the last
results and cross-validation runs; WISDM 2019's 18 activities start at the five A-E."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

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
    assert sorted(tab.activity_list.checked()) == ["jogging", "sitting", "stairs", "standing",
                                                    "walking"]
    assert sorted(tab.state.activities) == sorted(tab.activity_list.checked())
    tab.activity_list.set_checked(["walking", "sitting", "teeth"])
    qtbot.waitUntil(lambda: tab.state.activities is not None
                    and sorted(tab.state.activities) == ["sitting", "teeth", "walking"],
                    timeout=TIMEOUT)
    again = _data_tab(qtbot)                      # the app restarted
    again.state.set_dataset(data)
    assert sorted(again.activity_list.checked()) == ["sitting", "teeth", "walking"]
    assert sorted(again.state.activities) == ["sitting", "teeth", "walking"]
    stop_all_workers()


def test_a_restart_restores_the_model_and_the_last_results(qtbot):
    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    state.set_dataset(demo_dataset(subjects=4, seconds_per_activity=20))
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), None, None)
    train = window.tab("Train")
    train.set_settings(TINY, FAST)
    with qtbot.waitSignal(train.trainingFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
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
    assert "cross-validation, 2 of 2 folds" in train.runs_list.item(0).text()
    train.runs_list.setCurrentRow(train.run_folders().index(str(folder)))
    assert train.results.cv_table.rowCount() == 2
    assert train.metric_value("cv_accuracy") == pytest.approx(cv.accuracy_mean)
    stop_all_workers()
