"""The Train tab driven through its real widgets: start, live curves, results, stop, save, runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import RANDOM_SPLIT_WARNING, SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.ui.state import AppState
from har_studio.ui.train import TrainTab

TINY_MODEL = {"embedding_dim": 16, "patch_size": 4, "head_num": 2, "att_size": 8, "depth": 2,
              "head_width": 32}
TINY_TRAIN = {"epochs": 2, "batch_size": 64, "patience": 0, "device": "cpu",
              "precision": "fp32", "seed": 1}


@pytest.fixture(scope="module")
def dataset():
    return demo_dataset(subjects=4, seconds_per_activity=20)


def _state(dataset, split: SplitConfig | None = None) -> AppState:
    state = AppState()
    state.set_dataset(dataset, ["<demo>"])
    state.set_data_settings(WindowConfig(size=32, step=16), split or SplitConfig(), None, None)
    return state


def _tab(qtbot, state: AppState, **train) -> TrainTab:
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.set_settings(TINY_MODEL, {**TINY_TRAIN, **train})
    return tab


def _row_value(tab: TrainTab, key: str) -> str:
    table = tab.results.metrics_table
    for row in range(table.rowCount()):
        if table.item(row, 0).data(Qt.ItemDataRole.UserRole) == key:
            return table.item(row, 1).text()
    raise AssertionError(f"no metrics row {key!r}")


def _train(qtbot, tab: TrainTab):
    with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_training_shows_curves_results_and_hands_over_the_model(qtbot, dataset):
    state = _state(dataset)
    tab = _tab(qtbot, state)
    assert tab.panel.start_button.isEnabled()
    assert not tab.panel.stop_button.isEnabled()
    with qtbot.waitSignal(state.modelChanged, timeout=60000):
        result = _train(qtbot, tab)

    assert result.stopped_reason == "completed"
    epochs = len(result.history)
    assert epochs == 2
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        x, y = tab.view.plots.curves[key].getData()
        assert len(x) == epochs, key
        assert np.all(np.isfinite(y))
    bx, by = tab.view.plots.curves["batch_loss"].getData()
    assert bx is not None and len(bx) >= 1
    assert np.all(by > 0)

    acc = result.metrics["accuracy"]
    assert 0.0 <= acc <= 1.0
    assert float(_row_value(tab, "accuracy")) == pytest.approx(acc, abs=5e-5)
    assert tab.metric_value("accuracy") == acc
    assert _row_value(tab, "stopped_reason") == "completed"
    assert _row_value(tab, "split") == "subject"
    assert _row_value(tab, "test_subjects") == ", ".join(
        map(str, result.bundle.recipe["split"]["test_subjects"]))
    labels = result.bundle.labels
    assert tab.results.confusion.class_count == len(labels) == 6
    assert tab.results.confusion.counts.sum() == result.metrics["windows"]
    assert tab.results.confusion.cell_labels.texts() == [
        str(v) for v in np.asarray(result.metrics["confusion"]).ravel()]
    assert tab.results.per_class.names == labels
    np.testing.assert_allclose(tab.results.per_class.values,
                               [result.metrics["per_class"][n] for n in labels])
    assert not tab.results.leak_warning.isVisible() and tab.results.leak_warning.text() == ""

    assert state.model is result.bundle
    assert state.model_path == str(result.model_path)
    assert tab.panel.start_button.isEnabled() and not tab.panel.stop_button.isEnabled()
    # the run is listed (and selected) in Past runs
    assert str(result.run_dir) in tab.run_folders()
    assert tab.panel.runs.runs_list.currentItem().data(Qt.ItemDataRole.UserRole) == str(result.run_dir)


def test_save_model_and_export(qtbot, dataset, tmp_path, monkeypatch):
    from har_studio.model.io import load_model
    from har_studio.ui.train import export
    from har_studio.ui.train import model_actions as module

    tab = _tab(qtbot, _state(dataset), epochs=1)
    result = _train(qtbot, tab)
    assert tab.results.save_button.isEnabled()

    target = tmp_path / "saved"          # the suffix is added
    monkeypatch.setattr(module.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), module.MODEL_FILTER)))
    qtbot.mouseClick(tab.results.save_button, Qt.MouseButton.LeftButton)
    saved = tmp_path / "saved.harmodel"
    bundle = load_model(saved)
    assert bundle.labels == result.bundle.labels
    assert bundle.model_config == result.bundle.model_config
    X = np.random.default_rng(0).normal(size=(5, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(bundle.predict_proba(X), result.bundle.predict_proba(X),
                               atol=1e-5)

    monkeypatch.setattr(export, "onnxruntime_available", lambda: False)
    out = tmp_path / "export"
    written = tab.export_results(out)
    names = {p.name for p in written}
    assert {"report.json", "report.csv", "curves.png", "confusion.png", "per_class.png"} <= names
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "onnxruntime is not installed" in tab.results.export_label.text()


def test_stop_keeps_the_best_model_and_shows_results(qtbot, dataset):
    state = _state(dataset)
    tab = _tab(qtbot, state, epochs=200)
    with qtbot.waitSignal(tab.epochFinished, timeout=60000):
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    assert not tab.panel.start_button.isEnabled()          # one training at a time
    assert tab.panel.stop_button.isEnabled()
    with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.stopped_reason == "stopped"
    assert 1 <= len(result.history) < 200
    assert _row_value(tab, "stopped_reason") == "stopped"
    assert 0.0 <= float(_row_value(tab, "accuracy")) <= 1.0
    assert tab.results.confusion.class_count == 6
    assert state.model is result.bundle
    assert len(tab.view.plots.curves["train_loss"].getData()[0]) == len(result.history)
    assert tab.panel.start_button.isEnabled()


def test_pause_holds_training_until_resumed(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset), epochs=200)
    with qtbot.waitSignal(tab.epochFinished, timeout=60000):
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.panel.pause_button, Qt.MouseButton.LeftButton)
    assert tab.panel.pause_button.text() == "Resume"
    assert tab.controller.control.paused
    qtbot.mouseClick(tab.panel.pause_button, Qt.MouseButton.LeftButton)
    assert tab.panel.pause_button.text() == "Pause"
    assert not tab.controller.control.paused
    with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].stopped_reason == "stopped"


def test_random_split_shows_the_leak_warning(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset, SplitConfig(kind="random")), epochs=1)
    _train(qtbot, tab)
    assert tab.results.leak_warning.text() == RANDOM_SPLIT_WARNING
    assert _row_value(tab, "split") == "random"


def test_size_labels_follow_the_model_settings(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset))
    params, macs = tab.panel.settings.parameters, tab.panel.settings.macs
    text = tab.panel.settings.size_label.text()
    assert f"{params:,}" in text
    tab.set_settings({"embedding_dim": 32}, None)
    assert tab.panel.settings.parameters > params
    assert tab.panel.settings.macs > macs
    assert tab.panel.settings.size_label.text() != text
    # edits through the widget update the estimate too (after a short coalescing delay)
    before = tab.panel.settings.parameters
    tab.panel.settings.model_widgets["head_width"].setValue(64)
    qtbot.waitUntil(lambda: tab.panel.settings.parameters != before, timeout=2000)
    # the estimate agrees with a real model of the same shape
    from har_studio.model.summary import count_macs, count_parameters
    from har_studio.model.vit import TimeSeriesViT

    config = tab.panel.settings.model_config()
    from har_studio.data.features import output_channels

    inputs = len(output_channels(["x", "y", "z"], tab.panel.settings.features()))
    assert (config.series, config.modal, config.classes) == (32, inputs, 6)
    assert tab.panel.settings.parameters == count_parameters(TimeSeriesViT(config))
    assert tab.panel.settings.macs == count_macs(config)
    assert tab.panel.settings.size_ms > 0   # how long it takes: bench/bench_responsiveness.py


def test_invalid_model_settings_block_start(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset))
    tab.set_settings({"patch_size": 5}, None)           # 32 is not divisible by 5
    assert not tab.panel.start_button.isEnabled()
    assert "patch size" in tab.panel.start_reason.text()
    tab.set_settings({"patch_size": 4}, None)
    assert tab.panel.start_button.isEnabled()


def test_reference_preset_restores_the_paper_configuration(qtbot, dataset):
    tab = _tab(qtbot, _state(dataset))
    qtbot.mouseClick(tab.panel.settings.reference_button, Qt.MouseButton.LeftButton)
    model = tab.panel.settings.model_overrides()
    assert (model["embedding_dim"], model["patch_size"], model["head_num"], model["att_size"],
            model["depth"], model["head_width"]) == (256, 4, 4, 64, 3, 1024)
    train = tab.panel.settings.train_config()
    assert (train.epochs, train.batch_size, train.lr, train.patience) == (30, 128, 1e-3, 5)


def test_start_is_disabled_without_a_dataset(qtbot):
    state = AppState()
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    assert not tab.panel.start_button.isEnabled()
    assert "Load a dataset" in tab.panel.start_reason.text()
    assert "No dataset" in tab.panel.data_label.text()


def test_too_few_windows_is_a_plain_message(qtbot, dataset):
    state = _state(dataset)
    state.set_data_settings(WindowConfig(size=1024, step=512), SplitConfig(), None, None)
    tab = _tab(qtbot, state)
    tab.set_settings({"patch_size": 4}, None)
    with qtbot.waitSignal(tab.trainingFailed, timeout=30000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    text = blocker.args[0]
    assert text.startswith("no windows")
    assert "Traceback" not in text
    assert tab.view.message.level() == "error" and tab.view.message.text() == text
    assert tab.panel.start_button.isEnabled()


def test_past_run_reopens_curves_and_results(qtbot, dataset):
    state = _state(dataset)
    tab = _tab(qtbot, state)
    result = _train(qtbot, tab)
    other = TrainTab(state)            # a fresh tab (as after a restart) lists the run
    qtbot.addWidget(other)
    assert other.run_folders() == [str(result.run_dir)]
    other.panel.runs.runs_list.setCurrentRow(0)
    x, y = other.view.plots.curves["val_loss"].getData()
    assert len(x) == len(result.history)
    np.testing.assert_allclose(y, [h.val_loss for h in result.history], rtol=1e-6)
    assert float(_row_value(other, "accuracy")) == pytest.approx(result.metrics["accuracy"],
                                                                abs=5e-5)
    assert other.results.confusion.class_count == 6
    minutes = float(_row_value(other, "minutes"))
    assert math.isfinite(minutes) and minutes >= 0
    qtbot.mouseClick(other.panel.runs.refresh_button, Qt.MouseButton.LeftButton)
    assert other.run_folders() == [str(result.run_dir)]
    assert other.panel.runs.runs_list.currentRow() == 0
    state.set_model(None)
    qtbot.mouseClick(other.panel.runs.use_model_button, Qt.MouseButton.LeftButton)
    assert state.model is not None and state.model.labels == result.bundle.labels
    assert state.model_path == str(result.model_path)


def test_resume_training_from_a_model_file(qtbot, dataset, monkeypatch):
    from har_studio.ui.train import model_actions as module

    state = _state(dataset)
    tab = _tab(qtbot, state)
    first = _train(qtbot, tab)
    tab.set_settings({"embedding_dim": 24}, None)   # the model file's shape wins
    monkeypatch.setattr(module.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(first.model_path), module.MODEL_FILTER)))
    assert tab.panel.runs.resume_button.isEnabled()
    with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.runs.resume_button, Qt.MouseButton.LeftButton)
    resumed = blocker.args[0]
    assert resumed.bundle.model_config == first.bundle.model_config
    assert tab.panel.settings.model_overrides()["embedding_dim"] == 16
    assert "Starting from the weights" in tab.view.log_view.toPlainText()
    # it starts where the first run ended, not from scratch
    assert resumed.history[0].train_loss < first.history[0].train_loss
    assert resumed.run_dir != first.run_dir
    assert tab.run_folders()[:2] == [str(resumed.run_dir), str(first.run_dir)]

    # a model that does not fit the Data tab's settings is refused with a plain message
    state.set_data_settings(WindowConfig(size=64, step=32), SplitConfig(), None, None)
    qtbot.mouseClick(tab.panel.runs.resume_button, Qt.MouseButton.LeftButton)
    assert not tab.running
    assert tab.view.message.level() == "error"
    assert "windows of 32 samples" in tab.view.message.text()

    # data with only one of the model's activities (a person's recording) fine-tunes it: a
    # short schedule, said in the log, and the model keeps every activity it knows
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), ["walking"], None)
    tab.set_settings(None, {"epochs": 20})
    with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.runs.resume_button, Qt.MouseButton.LeftButton)
    tuned = blocker.args[0]
    assert "Fine-tuning the model on walking (1 of the" in tab.view.log_view.toPlainText()
    assert len(tuned.history) <= 5
    assert list(tuned.bundle.labels) == list(first.bundle.labels)


def test_export_writes_a_checked_onnx_model(qtbot, dataset, tmp_path):
    pytest.importorskip("onnxruntime")
    tab = _tab(qtbot, _state(dataset), epochs=1)
    _train(qtbot, tab)
    tab.export_results(tmp_path)
    assert not tab.results.export_button.isEnabled()          # one export at a time
    qtbot.waitUntil(lambda: "ONNX" in tab.results.export_label.text()
                    and "Exporting" not in tab.results.export_label.text(), timeout=60000)
    assert "onnxruntime matches torch" in tab.results.export_label.text()
    assert (tmp_path / "model.onnx").stat().st_size > 1000
    qtbot.waitUntil(tab.results.export_button.isEnabled, timeout=5000)


def test_a_crash_in_training_is_shown_inline(qtbot, dataset, monkeypatch):
    from har_studio.training import engine as module

    def broken_train(*args, **kwargs):
        yield module.TrainNote("about to fail", "info")
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(module, "train", broken_train)
    state = _state(dataset)
    tab = _tab(qtbot, state)
    with qtbot.waitSignal(tab.trainingFailed, timeout=30000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == "Training failed: RuntimeError: simulated failure"
    assert tab.view.message.level() == "error"
    assert "about to fail" in tab.view.log_view.toPlainText()
    assert state.model is None
    assert tab.panel.start_button.isEnabled() and not tab.panel.stop_button.isEnabled()


def test_presets_set_the_inputs_model_and_training(qtbot, dataset):
    from har_studio.data.features import output_channels
    from har_studio.training.presets import DEFAULT_PRESET, PRESETS

    tab = _tab(qtbot, _state(dataset))
    combo = tab.panel.settings.preset_combo
    assert tab.panel.settings.preset_name() == DEFAULT_PRESET
    tab.set_settings(None, {"seed": 7})
    for name, preset in PRESETS.items():
        combo.setCurrentIndex(combo.findData(name))
        assert tab.panel.settings.features() == preset.features
        assert tab.panel.settings.features_label.text() == preset.features.describe()
        model = tab.panel.settings.model_overrides()
        assert all(model[k] == v for k, v in preset.model.items())
        assert tab.panel.settings.train_config().seed == 7          # kept across presets
        config = tab.panel.settings.model_config()   # the demo data's raw channels are x, y, z
        assert config.modal == len(output_channels(["x", "y", "z"], preset.features))
    qtbot.mouseClick(tab.panel.settings.reference_button, Qt.MouseButton.LeftButton)
    assert tab.panel.settings.preset_name() == "reference" and tab.panel.settings.features().is_identity


def test_cross_validation_by_subject_fills_the_fold_table(qtbot, dataset):
    from har_studio.data.features import FeatureConfig
    from har_studio.training.crossval import find_cv

    tab = _tab(qtbot, _state(dataset), epochs=1)
    tab.panel.cv_check.setChecked(True)
    tab.panel.cv_folds.setValue(2)
    folds = []
    tab.foldFinished.connect(folds.append)
    with qtbot.waitSignal(tab.crossValidationFinished, timeout=60000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    cv = blocker.args[0]
    assert cv.completed == 2 and [f.fold for f in folds] == [1, 2]
    assert tab.results.cv_panel.isVisibleTo(tab) and tab.results.cv_table.rowCount() == 2
    tested = []
    for row, fold in enumerate(cv.folds):
        assert tab.results.cv_table.item(row, 2).data(Qt.ItemDataRole.UserRole) == fold["accuracy"]
        tested += [int(s) for s in tab.results.cv_table.item(row, 1).text().split(", ")]
    assert sorted(tested) == sorted(dataset.subjects)     # every subject tested once
    assert f"{cv.accuracy_mean:.1%} ± {cv.accuracy_std:.1%}" in tab.results.cv_summary.text()
    assert tab.view.progress_bar.value() == 1000 and not tab.running
    assert FeatureConfig.from_dict(cv.settings["features"]) == tab.panel.settings.features()
    assert find_cv(cv.settings)["accuracy_mean"] == cv.accuracy_mean   # remembered
    # unticked, Start trains one model again and the fold table goes away
    tab.panel.cv_check.setChecked(False)
    _train(qtbot, tab)
    assert not tab.results.cv_panel.isVisibleTo(tab)


def test_saving_the_model_updates_the_live_tab(qtbot, dataset, tmp_path, monkeypatch):
    """AppState changes only through signalling setters: after Save, the Live tab names the
    saved file, not the run folder's copy."""
    from har_studio.ui.live import LiveTab
    from har_studio.ui.train import model_actions as module

    state = _state(dataset)
    tab = _tab(qtbot, state, epochs=1)
    live = LiveTab(state)
    qtbot.addWidget(live)
    result = _train(qtbot, tab)
    assert str(result.model_path) == live.models.info.toolTip()
    assert result.model_path.name in live.models.combo.currentText()

    target = tmp_path / "kept.harmodel"
    monkeypatch.setattr(module.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), module.MODEL_FILTER)))
    with qtbot.waitSignal(state.modelPathChanged, timeout=5000) as blocker:
        qtbot.mouseClick(tab.results.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(target)]
    assert state.model_path == str(target) and state.model is result.bundle
    assert str(target) == live.models.info.toolTip()
    assert "kept.harmodel" in live.models.combo.currentText()
    with pytest.raises(AttributeError):
        state.model_path = "elsewhere"      # read-only: only set_model_path changes it
