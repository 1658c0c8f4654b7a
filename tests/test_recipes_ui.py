"""Issue 11's desktop side: a sweep's best recipe loads on the Train tab ("Load recipe..."),
and sweeps are listed in Past runs with their trial table."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from har_studio import paths
from har_studio.training import runs as runs_mod
from har_studio.training.presets import ROBUST, write_preset_file
from har_studio.ui.main_window import MainWindow
from har_studio.ui.state import AppState
from har_studio.ui.train import settings as settings_module
from har_studio.ui.workers import stop_all_workers


@pytest.fixture
def train(qtbot):
    window = MainWindow(AppState())
    qtbot.addWidget(window)
    yield window.tab("Train")
    stop_all_workers()


def test_load_recipe_applies_a_preset_file(train, tmp_path, monkeypatch):
    custom = replace(ROBUST, name="best", title="Sweep best",
                     model={**ROBUST.model, "embedding_dim": 32},
                     training={**ROBUST.training, "epochs": 3, "lr": 0.002})
    path = write_preset_file(tmp_path / "best.toml", custom)
    settings = train.panel.settings
    monkeypatch.setattr(settings_module.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))
    settings.load_recipe_button.click()
    assert settings.preset_name() == "best"
    assert settings.model_overrides()["embedding_dim"] == 32
    values = settings.train_values()
    assert values["epochs"] == 3 and values["lr"] == pytest.approx(0.002)
    assert settings.features() == ROBUST.features
    # choosing a built-in recipe and back again keeps the loaded one
    settings.preset_combo.setCurrentIndex(settings.preset_combo.findData("reference"))
    assert settings.model_overrides()["embedding_dim"] != 32
    settings.preset_combo.setCurrentIndex(settings.preset_combo.findData("best"))
    assert settings.model_overrides()["embedding_dim"] == 32


def test_a_bad_recipe_file_is_one_line(train, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nembedding_dim = 'wide'\n")
    warned = []
    monkeypatch.setattr(settings_module.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(bad), "")))
    monkeypatch.setattr(settings_module.QMessageBox, "warning",
                        staticmethod(lambda parent, title, text: warned.append(text)))
    before = train.panel.settings.preset_name()
    train.panel.settings.load_recipe_button.click()
    assert len(warned) == 1 and "bad.toml" in warned[0] and "\n" not in warned[0]
    assert train.panel.settings.preset_name() == before


def test_sweeps_are_listed_in_past_runs_with_their_table(train, tmp_path):
    folder = paths.runs_dir() / "sweep-test"
    folder.mkdir(parents=True)
    best = write_preset_file(folder / "best.toml", replace(ROBUST, name="best"))
    trials = [{"trial": 1, "status": "finished", "folds": 2, "accuracy_mean": 0.81,
               "accuracy_worst": 0.74, "f1_mean": 0.8, "params": {"lr": 0.001}},
              {"trial": 2, "status": "finished", "folds": 2, "accuracy_mean": 0.88,
               "accuracy_worst": 0.83, "f1_mean": 0.87, "params": {"lr": 0.003}}]
    (folder / "sweep.json").write_text(json.dumps(
        {"state": "finished", "updated": "2026-11-28T04:00:00", "k": 2, "score": "mean",
         "trials": trials, "best": trials[1], "best_preset": str(best)}))
    (info,) = [i for i in runs_mod.list_runs() if i.folder == folder]
    assert info.sweep_path is not None and info.accuracy == pytest.approx(0.88)
    assert "sweep, 2 trials (finished)" in info.stopped_reason

    train.refresh_runs()
    row = train.run_folders().index(str(folder))
    train.panel.runs.runs_list.setCurrentRow(row)
    log = train.view.log_view.toPlainText()
    assert "2-fold cross-validation by subject" in log
    assert log.index("trial 2: mean 0.880") < log.index("trial 1: mean 0.810")  # best first
    assert str(best) in log
