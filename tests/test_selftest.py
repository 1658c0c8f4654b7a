"""The end-to-end tour behind `HARStudio --self-test` and `--screenshots`, in process."""

from __future__ import annotations

from PySide6.QtGui import QImage

from har_studio.ui.main_window import MainWindow
from har_studio.ui.selftest import TOUR_PREDICTIONS, run_tour
from har_studio.ui.state import AppState


def _window(qtbot) -> MainWindow:
    window = MainWindow(AppState())
    qtbot.addWidget(window)
    window.show()
    return window


def test_tour_loads_trains_and_replays(qtbot):
    window = _window(qtbot)
    result = run_tour(window, timeout_s=120)
    assert result["records"] == window.state.dataset.report.records > 0
    assert result["epochs"] == 1
    assert 0.0 <= result["train_accuracy_metric"] <= 1.0
    assert result["predictions"] >= TOUR_PREDICTIONS
    labels = set(window.state.model.labels) | {"uncertain"}
    assert result["last_prediction"] in labels
    # (+ "shipped_replay_s" where resources/models holds the built-in model)
    assert {"load_demo_s", "train_s", "replay_s"} <= set(result["steps_s"])
    from har_studio.model.shipped import default_model_path

    if default_model_path() is not None:   # the built-in model replayed the demo data first
        assert result["shipped_model"]["predictions"] >= TOUR_PREDICTIONS
    assert result["screenshots"] == []


def test_screenshots_are_pictures_of_each_tab(qtbot, tmp_path):
    window = _window(qtbot)
    result = run_tour(window, screenshots_dir=tmp_path / "shots", timeout_s=180)
    names = sorted(p.rsplit("/", 1)[-1] for p in result["screenshots"])
    assert names == ["data.png", "live.png", "train.png"]
    for path in result["screenshots"]:
        image = QImage(path)
        assert not image.isNull() and image.width() > 200 and image.height() > 200
