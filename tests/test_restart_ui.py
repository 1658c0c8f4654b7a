"""What a user sees after Stop and after a restart: where a run stopped, a past run shown as it
was (batch curve, notes, readable axes), the window's last size and place, and the model
chosen in the Live tab's box."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.model.io import save_model
from har_studio.ui import main_window as main_window_module
from har_studio.ui.main_window import MainWindow, fit_to_screen
from har_studio.ui.restore import restore_session
from har_studio.ui.state import AppState
from har_studio.ui.train import TrainTab
from har_studio.ui.train.run_files import BATCH_FILE, NOTES_FILE
from har_studio.ui.workers import stop_all_workers

TINY_MODEL = {"embedding_dim": 16, "patch_size": 4, "head_num": 2, "att_size": 8, "depth": 1,
              "head_width": 32}
TINY_TRAIN = {"batch_size": 64, "patience": 0, "device": "cpu", "precision": "fp32", "seed": 1}
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def dataset():
    return demo_dataset(subjects=4, seconds_per_activity=20)


def _state(dataset) -> AppState:
    state = AppState()
    state.set_dataset(dataset, ["<demo>"])
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), None, None)
    return state


def _tab(qtbot, state, epochs: int) -> TrainTab:
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.set_settings(TINY_MODEL, {**TINY_TRAIN, "epochs": epochs})
    return tab


def test_stop_shows_the_epoch_it_stopped_at_not_100_percent(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset), epochs=20)
    epochs = []
    tab.epochFinished.connect(epochs.append)
    qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=TIMEOUT)
    with qtbot.waitSignal(tab.trainingFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    done = len(result.history)
    assert result.stopped_reason == "stopped" and 2 <= done < 20
    bar = tab.view.progress_bar
    assert bar.value() == round(1000 * done / 20) < 1000
    assert bar.text() == f"Stopped at epoch {done} of 20"
    # the same when the run is picked again in Past runs (or after a restart)
    again = TrainTab(tab.state)
    qtbot.addWidget(again)
    assert again.show_newest_run()
    assert again.view.progress_bar.text() == f"Stopped at epoch {done} of 20"
    assert again.view.progress_bar.value() == bar.value()


def test_a_past_run_comes_back_with_its_batch_curve_notes_and_plain_axes(qtbot, dataset):
    state = _state(dataset)
    tab = _tab(qtbot, state, epochs=3)
    with qtbot.waitSignal(tab.trainingFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    bx, by = tab.view.plots.curves["batch_loss"].getData()
    assert len(bx) >= 1          # (progress is throttled: a tiny run sends few points)
    log_text = tab.view.log_view.toPlainText()
    assert "Epoch 3/3" in log_text

    restarted = TrainTab(state)          # a restart: the newest run is shown
    qtbot.addWidget(restarted)
    assert restarted.view.log_view.toPlainText() == ""
    assert restarted.show_newest_run()
    plots = restarted.view.plots
    rx, ry = plots.curves["batch_loss"].getData()
    np.testing.assert_allclose(rx, bx, rtol=1e-5)
    np.testing.assert_allclose(ry, by, rtol=1e-5)
    shown_log = restarted.view.log_view.toPlainText()
    assert result.run_dir.name in shown_log
    assert "Epoch 1/3" in shown_log and "Epoch 3/3" in shown_log
    assert restarted.view.progress_bar.text() == "Finished: 3 of 3 epochs"
    for plot in (plots.loss_plot, plots.acc_plot):
        item = plot.getPlotItem()
        assert "(x" not in item.getAxis("left").labelString()   # no "loss (x0.001)"
        bottom = item.getAxis("bottom")
        ticks = bottom.tickValues(*item.getViewBox().viewRange()[0], bottom.width())
        assert ticks and all(float(v).is_integer() for _, values in ticks for v in values)

    # a run of the command line keeps neither: its log is rebuilt from its history
    (result.run_dir / NOTES_FILE).unlink()
    (result.run_dir / BATCH_FILE).unlink()
    cli = TrainTab(state)
    qtbot.addWidget(cli)
    assert cli.show_newest_run()
    text = cli.view.log_view.toPlainText()
    for h in result.history:
        assert f"Epoch {h.epoch}/3: loss {h.train_loss:.4f}" in text
    assert len(cli.view.plots.curves["batch_loss"].getData()[0] or []) == 0

    # a damaged batch file is named in the log, and the rest is still shown
    (result.run_dir / BATCH_FILE).write_text("epoch,smoothed_loss\n0.5,1.2\nnot,numbers\n")
    damaged = TrainTab(state)
    qtbot.addWidget(damaged)
    assert damaged.show_newest_run()
    assert f"{BATCH_FILE}, line 3: not two numbers" in damaged.view.log_view.toPlainText()
    assert damaged.metric_value("accuracy") == pytest.approx(result.metrics["accuracy"])


def test_fit_to_screen_moves_or_shrinks_only_what_does_not_fit():
    screen = QRect(0, 0, 1280, 800)
    assert fit_to_screen(QRect(100, 50, 1000, 700), screen) == QRect(100, 50, 1000, 700)
    assert fit_to_screen(QRect(900, 600, 1000, 700), screen) == QRect(280, 100, 1000, 700)
    assert fit_to_screen(QRect(-50, -10, 1400, 900), screen) == screen
    assert fit_to_screen(QRect(3000, 40, 600, 400), screen) == QRect(680, 40, 600, 400)


def test_the_window_comes_back_at_its_last_size_and_place(qtbot, monkeypatch):
    # (the offscreen screen is 800 px wide, narrower than the window may be: a desktop's)
    monkeypatch.setattr(main_window_module, "available_area",
                        lambda point: QRect(0, 0, 1920, 1080))
    first = MainWindow(AppState())
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(1301, 851)
    first.move(210, 90)
    qtbot.waitUntil(lambda: first.width() == 1301 and first.pos() == QPoint(210, 90))
    first.show_tab("Train")
    first.close()

    second = MainWindow(AppState())          # a restart
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (1301, 851)
    assert second.pos() == QPoint(210, 90)
    assert second.tabs.currentWidget() is second.tab("Train")
    second.close()

    # a place that no longer fits (a smaller screen now) is moved onto the screen
    monkeypatch.setattr(main_window_module, "available_area",
                        lambda point: QRect(0, 0, 1400, 900))
    third = MainWindow(AppState())
    qtbot.addWidget(third)
    assert (third.width(), third.height()) == (1301, 851)
    assert third.pos() == QPoint(99, 49)
    stop_all_workers()


def test_the_live_model_box_comes_back_as_chosen(qtbot, dataset, tmp_path):
    """*Use this model* (or a training) gives the Live tab a model; the user then picks another
    in the Live tab's box: that choice, not the handed-over model, comes back."""
    from tiny_models import trained_tiny_bundle

    from har_studio.ui.live.models import SHIPPED_KEY

    trained = tmp_path / "trained.harmodel"
    other = tmp_path / "other.harmodel"
    bundle = trained_tiny_bundle(dataset, epochs=1)
    save_model(trained, bundle)
    save_model(other, bundle)

    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    restore_session(window, state)
    state.set_model(bundle, str(trained))             # as *Use this model* does
    live = window.tab("Live")
    combo = live.models.combo
    assert combo.currentData() == "state"
    if combo.findData(SHIPPED_KEY) >= 0:              # the built-in model, chosen in the box
        combo.setCurrentIndex(combo.findData(SHIPPED_KEY))
        window.close()
        state2 = AppState()
        window2 = MainWindow(state2)
        qtbot.addWidget(window2)
        assert restore_session(window2, state2) == str(trained)
        assert state2.model is not None                 # the handed-over model is kept ...
        assert window2.tab("Live").models.combo.currentData() == SHIPPED_KEY   # ... not shown
        window = window2
        live = window2.tab("Live")

    assert live.models.open(other)                    # a model file opened in the Live tab
    window.close()
    state3 = AppState()
    window3 = MainWindow(state3)
    qtbot.addWidget(window3)
    restore_session(window3, state3)
    assert window3.tab("Live").models.combo.currentData() == str(other)
    assert state3.model_path == str(trained)
    stop_all_workers()
