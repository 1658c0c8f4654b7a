"""Labelling, cropping and splitting on the Data tab's signal plot; undo; saving a labelled
copy beside the original, which reopens as edited and trains."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeySequence

from har_studio.data.demo import write_demo_files
from har_studio.data.labels import UNLABELLED, read_edits, unlabelled_count
from har_studio.ui.data import DataTab
from har_studio.ui.state import AppState
from har_studio.ui.workers import stop_all_workers

TIMEOUT = 20_000


@pytest.fixture
def tab(qtbot, tmp_path):
    widget = DataTab(AppState())
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    paths = write_demo_files(tmp_path / "rec", subjects=2, seconds_per_activity=20.0)
    with qtbot.waitSignal(widget.datasetLoaded, timeout=TIMEOUT):
        widget.open_paths(paths)
    yield widget
    stop_all_workers()


def _count(frame, subject, activity):
    return int(((frame["subject"] == subject) & (frame["activity"] == activity)).sum())


def _plotted(tab):
    xs, _ = tab.view.plot_curves["x"].getData()
    return np.zeros(0) if xs is None else xs


def test_label_a_span_then_undo_and_redo(qtbot, tab):
    labels, original = tab.labels, tab.state.dataset.frame
    tab.select_plot(1, "walking")
    t = _plotted(tab)
    inside = int(((t >= 5.0) & (t < 10.0)).sum())
    assert inside > 80
    labels.select_span(5.0, 10.0)
    assert labels.label_span("jogging")
    edited = labels.session.frame
    assert _count(edited, 1, "walking") == _count(original, 1, "walking") - inside
    assert _count(edited, 1, "jogging") == _count(original, 1, "jogging") + inside
    assert len(_plotted(tab)) == len(t) - inside            # the plot shows the edit
    assert "1 edit, not saved" in tab.label_bar.status.text()
    assert tab.state.dataset.frame is original               # nothing trains on it unsaved
    labels.undo_action.trigger()
    assert labels.session.edits == [] and len(_plotted(tab)) == len(t)
    assert _count(labels.session.frame, 1, "walking") == _count(original, 1, "walking")
    labels.redo_action.trigger()
    assert _count(labels.session.frame, 1, "jogging") == _count(original, 1, "jogging") + inside
    assert labels.undo_stack.count() == 1


def test_alt_shortcuts_label_with_the_bar_activities(qtbot, tab):
    labels = tab.labels
    assert [a.shortcut() for a in labels.label_actions[:2]] == [QKeySequence("Alt+1"),
                                                                 QKeySequence("Alt+2")]
    assert labels.unlabel_action.shortcut() == QKeySequence("Alt+0")
    assert labels.undo_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    second = tab.label_bar.activity_combo.itemText(1)
    tab.select_plot(2, "sitting")
    labels.select_span(0.0, 3.0)
    labels.label_actions[1].trigger()
    assert labels.session.edits[-1].activity == second
    labels.unlabel_action.trigger()
    assert labels.session.edits[-1].activity == UNLABELLED
    assert unlabelled_count(labels.session.frame) > 50
    for subject in (1, 2):
        tab.select_plot(subject, "sitting")
        labels.select_span(0.0, 1000.0)                       # all of it
        assert labels.label_span("walking")
    assert tab.view.plot_activity.findData("sitting") < 0     # no one sits any more
    assert not labels.region.isVisible()
    assert UNLABELLED not in [tab.label_bar.activity_combo.itemText(i)
                              for i in range(tab.label_bar.activity_combo.count())]


def test_crop_delete_and_split_on_the_whole_recording(qtbot, tab):
    labels, original = tab.labels, tab.state.dataset.frame
    tab.select_plot(1, "")                                    # the subject's whole recording
    runs = tab.view.bands.runs
    assert [r[2] for r in runs][:2] == ["walking", "jogging"]
    total = len(_plotted(tab))
    assert total == int((original["subject"] == 1).sum())
    labels.select_span(0.0, 2.0)
    assert labels.delete_span()
    assert len(_plotted(tab)) < total and not labels.region.isVisible()
    labels.select_span(0.0, runs[2][1])                       # walking, jogging, upstairs
    assert labels.crop_to_span()
    kept = labels.session.frame
    assert set(kept[kept["subject"] == 1]["activity"].astype(str)) == {
        "walking", "jogging", "upstairs"}
    assert (kept["subject"] == 2).sum() == (original["subject"] == 2).sum()
    labels.mark_point(runs[1][0])
    assert labels.split_here()
    assert labels.session.result.part_count == 2
    assert labels.undo_stack.count() == 3
    for _ in range(3):
        labels.undo_action.trigger()
    assert len(labels.session.frame) == len(original) and labels.session.result.part_count == 1


def test_a_drag_on_the_plot_selects_a_span_and_a_click_marks_a_point(qtbot, tab):
    box = tab.view.span_box
    tab.select_plot(1, "walking")
    tab.view.accel_plot.setXRange(0, 20, padding=0)
    tab.view.accel_plot.setYRange(-20, 20, padding=0)
    scene = [box.mapViewToScene(QPointF(x, 0.0)) for x in (4.0, 9.0)]
    accepted = []
    drag = SimpleNamespace(button=lambda: Qt.MouseButton.LeftButton,
                           buttonDownScenePos=lambda: scene[1], scenePos=lambda: scene[0],
                           isFinish=lambda: True, accept=lambda: accepted.append(True))
    box.mouseDragEvent(drag)
    a, b = tab.labels.region.getRegion()
    assert accepted and tab.labels.region.isVisible()
    assert a == pytest.approx(4.0, abs=0.05) and b == pytest.approx(9.0, abs=0.05)
    click = SimpleNamespace(button=lambda: Qt.MouseButton.LeftButton, scenePos=lambda: scene[1],
                            accept=lambda: accepted.append(True))
    box.mouseClickEvent(click)
    assert tab.labels.marker.isVisible()
    assert tab.labels.marker.value() == pytest.approx(9.0, abs=0.05)


def test_edits_that_cannot_apply_say_why(qtbot, tab):
    labels = tab.labels
    assert not labels.label_span("walking")
    assert "Select a span first" in tab.label_bar.message.text()
    assert not labels.split_here()
    assert "Mark the point first" in tab.label_bar.message.text()
    tab.select_plot(1, "walking")
    labels.select_span(500.0, 600.0)
    assert not labels.delete_span()
    assert "no samples" in tab.label_bar.message.text()
    assert labels.undo_stack.count() == 0 and not labels.save()
    assert "Nothing to save" in tab.label_bar.message.text()


def test_saved_copy_reopens_as_edited_and_trains(qtbot, tab):
    from tests.tiny_models import trained_tiny_bundle

    labels = tab.labels
    source = tab.state.dataset_paths[0]
    before = open(source, "rb").read()
    tab.select_plot(1, "walking")
    labels.select_span(0.0, 6.0)
    labels.mark_unlabelled()
    tab.select_plot(2, "jogging")
    labels.select_span(2.0, 8.0)
    labels.label_span("walking")
    edited = labels.session.frame
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT) as loaded:
        with qtbot.waitSignal(labels.saved, timeout=TIMEOUT) as saved:
            assert labels.save()
    files, sidecar = saved.args
    assert open(source, "rb").read() == before                # the original is untouched
    assert files[0].parent == sidecar.parent == Path(source).parent
    assert tab.state.dataset_paths == [str(files[0])]
    assert files[0].name == "demo_wisdm_v11.labelled.txt"
    reopened = loaded.args[0].frame
    assert len(reopened) == len(edited)
    assert unlabelled_count(reopened) == unlabelled_count(edited) > 0
    assert _count(reopened, 2, "walking") == _count(edited, 2, "walking")
    assert len(read_edits(files[0]).edits) == 2
    text = tab.summary_text()
    assert text.count(f"{unlabelled_count(edited):,} records are not labelled") == 1
    assert tab.panel.message.text().startswith("Loaded with 1 warning")
    assert "Edits: 2 from demo_wisdm_v11.txt" in text
    assert UNLABELLED not in tab.panel.activity_list.names()
    assert labels.session.edits == []                         # a fresh start on the copy
    bundle = trained_tiny_bundle(loaded.args[0], epochs=1)
    assert UNLABELLED not in bundle.labels and len(bundle.labels) == 6


def test_keys_label_and_undo_in_the_main_window(qtbot):
    """Alt+2 and Ctrl+Z pressed on the Data tab's plot, in the window that also holds the Live
    tab's Alt+1…9: the Data tab's act (the hidden tab's do not)."""
    from PySide6.QtTest import QTest

    from har_studio.data.demo import demo_dataset
    from har_studio.ui.main_window import MainWindow

    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    state.set_dataset(demo_dataset(subjects=2, seconds_per_activity=20.0))
    window.show_tab("Data")
    window.activateWindow()
    qtbot.waitExposed(window)
    tab = window.tab("Data")
    tab.select_plot(1, "walking")
    tab.labels.select_span(1.0, 5.0)
    plot = tab.view.accel_plot
    plot.setFocus()
    qtbot.waitUntil(plot.hasFocus, timeout=5000)
    second = tab.label_bar.activity_combo.itemText(1)
    QTest.keyClick(plot, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert [e.activity for e in tab.labels.session.edits] == [second]
    QTest.keyClick(plot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tab.labels.session.edits == []
    QTest.keyClick(plot, Qt.Key.Key_Delete)
    assert [e.kind for e in tab.labels.session.edits] == ["delete"]
    stop_all_workers()
