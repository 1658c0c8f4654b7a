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


def test_train_tab_fits_a_full_hd_window_too(qtbot, window):
    window.resize(1920, 1080)
    window.show_tab("Train")
    qtbot.waitUntil(lambda: window.width() == 1920)
    clipped = clipped_widgets(window)
    assert clipped == [], "\n".join(clipped)


def _inside(inner, outer) -> bool:
    return (inner.left() >= outer.left() - 0.5 and inner.right() <= outer.right() + 0.5
            and inner.top() >= outer.top() - 0.5 and inner.bottom() <= outer.bottom() + 0.5)


def test_train_plots_show_every_label_and_the_star_whole(qtbot, window):
    """Per-class values, confusion column names and the kept-weights star stay inside their
    plots at 1280x800, even for a perfect class and a star on the last epoch at 1.0."""
    from PySide6.QtCore import QPointF, QRectF

    from har_studio.ui.train.plots import STAR_SIZE

    window.show_tab("Train")
    tab = window.tab("Train")
    qtbot.wait(50)
    bars = tab.results.per_class
    bars.set_values({"walking": 1.0, "jogging": 0.2, "sitting": 0.93, "standing": 0.0})
    qtbot.wait(20)
    view = bars.plot.getPlotItem().getViewBox()
    rects = bars.value_labels.label_rects()
    assert len(rects) == 4
    assert all(_inside(r, view.sceneBoundingRect()) for r in rects), (view.sceneBoundingRect(), rects)

    confusion = tab.results.confusion
    names = confusion.column_names()
    assert len(names) == confusion.class_count == 6
    column_px = confusion.plot.getPlotItem().getViewBox().width() / len(names)
    metrics = confusion.plot.fontMetrics()
    assert all(metrics.horizontalAdvance(name) <= column_px for name in names), names
    assert all(full.startswith(shown.rstrip("…")) for full, shown in
               zip(confusion.labels, names, strict=True))
    axis = confusion.plot.getPlotItem().getAxis("bottom")   # the names' descenders fit
    assert axis.height() >= (abs(axis.style["tickLength"]) + axis.style["tickTextOffset"][1]
                             + metrics.height())

    plots = tab.view.plots
    rows = [{"epoch": e, "epochs": 3, "train_loss": 0.01 / e, "val_loss": 0.02 / e,
             "train_acc": 0.9, "val_acc": 1.0, "kept": e == 3} for e in (1, 2, 3)]
    plots.set_planned_epochs(3)
    plots.set_epochs(rows)
    qtbot.wait(20)
    acc_view = plots.acc_plot.getPlotItem().getViewBox()
    x, y = plots.kept_star.getData()
    centre = acc_view.mapViewToScene(QPointF(float(x[0]), float(y[0])))
    star = QRectF(centre.x() - STAR_SIZE / 2, centre.y() - STAR_SIZE / 2, STAR_SIZE, STAR_SIZE)
    assert _inside(star, acc_view.sceneBoundingRect())
    # small losses read as themselves (no "loss (x0.001)"), and epochs are whole numbers
    for plot in (plots.loss_plot, plots.acc_plot):
        item = plot.getPlotItem()
        assert "(x" not in item.getAxis("left").labelString()
        axis = item.getAxis("bottom")
        ticks = axis.tickValues(0.0, 3.25, axis.width())
        assert ticks and all(float(v).is_integer() for _, values in ticks for v in values)
