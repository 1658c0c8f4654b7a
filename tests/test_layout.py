"""Every tab at 1280x800 (a common laptop and projector size), with the demo data loaded and a
small trained model's results shown: no label, button, combo box or table cell is clipped,
and no side panel needs a horizontal scroll bar (``layout_check.clipped_widgets``)."""

from __future__ import annotations

import shutil

import pytest
from layout_check import clipped_widgets
from PySide6.QtGui import QFont

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.progress import run_to_end
from har_studio.training.config import TrainConfig
from har_studio.training.jobs import train_model
from har_studio.ui.main_window import MainWindow
from har_studio.ui.restore import restore_session
from har_studio.ui.state import AppState

SIZE = (1280, 800)
FONT_PT = 10
SMALL_MODEL = {"embedding_dim": 16, "patch_size": 4, "head_num": 2, "att_size": 8, "depth": 2,
               "head_width": 32}


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """A user folder holding one finished run of a small model (3 epochs on demo data)."""
    home = tmp_path_factory.mktemp("layout_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAR_STUDIO_HOME", str(home))
        config = TrainConfig(epochs=3, batch_size=64, patience=0, device="cpu",
                             precision="fp32", seed=1)
        result = run_to_end(train_model(
            demo_dataset(subjects=4, seconds_per_activity=20),
            window=WindowConfig(size=32, step=16), split=SplitConfig(),
            model_overrides=SMALL_MODEL, train_config=config))
    assert result is not None and result.model_path is not None
    return home


@pytest.fixture
def desktop_font(qapp):
    """A 10 pt font, as common desktops use (offscreen Qt uses 9 pt: text would fit there and
    be clipped on a real screen)."""
    before = qapp.font()
    font = QFont(before)
    font.setPointSize(FONT_PT)
    qapp.setFont(font)
    yield font
    qapp.setFont(before)


@pytest.fixture
def window(qtbot, desktop_font, trained_home, tmp_path, monkeypatch):
    """The main window at 1280x800 after a restart: demo data, the run and its model."""
    home = tmp_path / "home"
    shutil.copytree(trained_home / "runs", home / "runs")
    monkeypatch.setenv("HAR_STUDIO_HOME", str(home))
    state = AppState()
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.resize(*SIZE)
    win.show()
    qtbot.waitExposed(win)
    restore_session(win, state)
    win.data.open_demo()
    qtbot.waitUntil(lambda: state.dataset is not None, timeout=60000)
    data_tab = win.tab("Data")
    qtbot.waitUntil(lambda: not data_tab.is_loading(), timeout=60000)
    assert state.model is not None
    assert (win.width(), win.height()) == SIZE, "the window cannot be as small as 1280x800"
    return win


@pytest.mark.parametrize("name", ["Data", "Train", "Live"])
def test_no_text_is_clipped_at_1280x800(qtbot, window, name):
    window.show_tab(name)
    qtbot.wait(50)   # let the layouts settle after the tab switch
    clipped = clipped_widgets(window)
    assert clipped == [], "\n".join(clipped)
