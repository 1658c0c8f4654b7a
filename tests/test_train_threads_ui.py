"""The Train tab's "Threads (0 = auto)" setting reaches the run's recipe (issue 14)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.threads import usable_cores
from har_studio.ui.state import AppState
from har_studio.ui.train import TrainTab

TINY_MODEL = {"embedding_dim": 16, "patch_size": 4, "head_num": 2, "att_size": 8, "depth": 2,
              "head_width": 32}
TINY_TRAIN = {"epochs": 1, "batch_size": 64, "patience": 0, "device": "cpu",
              "precision": "fp32", "seed": 1}


@pytest.fixture
def tab(qtbot):
    state = AppState()
    state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=10), ["<demo>"])
    state.set_data_settings(WindowConfig(size=32, step=16), SplitConfig(), None, None)
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.set_settings(TINY_MODEL, TINY_TRAIN)
    return tab


def test_threads_setting_reaches_the_recipe(qtbot, tab):
    box = tab.panel.settings.train_widgets["threads"]
    assert box.value() == 0                      # auto by default
    assert "auto" in box.toolTip() and f"{usable_cores()} usable core" in box.toolTip()
    box.setValue(1)                              # as a user would, through the widget
    tab.panel.settings.set_preset(tab.panel.settings.preset_name())   # a preset keeps the machine's count
    assert box.value() == 1
    assert tab.panel.settings.train_config().threads == 1
    with qtbot.waitSignal(tab.trainingFinished, timeout=120000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
    recipe = blocker.args[0].bundle.recipe
    assert recipe["training"]["threads"] == 1    # the setting, saved with the others
    assert recipe["threads"]["threads"] == 1     # the count the run used
