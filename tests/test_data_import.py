"""Opening a phone app's recording on the Data tab: the dialog asks who and what once (the
loader remembers it beside the file); "label later" opens it not labelled, ready to label."""

from __future__ import annotations

import numpy as np
import pytest
import test_data_tab
from phone_writers import write_sensor_logger
from PySide6.QtWidgets import QDialogButtonBox

from har_studio.data.activities import UNLABELLED
from har_studio.data.labels import read_edits
from har_studio.data.sidecar import subject_number
from har_studio.ui.data import import_dialog
from har_studio.ui.data.import_dialog import LABEL_LATER, IdentityDialog

TIMEOUT = 20_000
SECONDS = 40
tab = test_data_tab.tab   # the Data tab fixture


@pytest.fixture
def recording(tmp_path):
    """An Android Sensor Logger export of a still phone, 20 Hz."""
    n = SECONDS * 20
    t = 1_700_000_000_000_000_000 + np.arange(n) * 50_000_000
    xyz = np.tile([0.2, 9.7, 0.6], (n, 1)) + np.sin(np.arange(n) / 3.0)[:, None]
    return write_sensor_logger(tmp_path / "walk_2024", t, xyz, "android")


@pytest.fixture
def asked(monkeypatch):
    """Replace the dialog: answer from `asked.answer`, record each question."""
    class Calls(list):
        answer: tuple[str, str] | None = ("Alice", UNLABELLED)

    calls = Calls()

    def fake_ask(parent, names, app, activities):
        calls.append((names, app))
        return calls.answer

    monkeypatch.setattr(import_dialog, "ask_identity", fake_ask)
    return calls


def test_the_dialog_needs_a_person_and_gives_an_activity_or_label_later(qtbot):
    dialog = IdentityDialog(["walk_2024"], "Sensor Logger", ["jogging"])
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Open)
    assert not ok.isEnabled()
    dialog.person.setText("  ")
    assert not ok.isEnabled()
    dialog.person.setText("Alice")
    assert ok.isEnabled()
    assert dialog.activity.currentText() == LABEL_LATER
    assert dialog.values() == ("Alice", UNLABELLED)
    dialog.activity.setCurrentText("jogging")
    assert dialog.values() == ("Alice", "jogging")
    dialog.activity.setCurrentText("Cycling")        # typed: a new activity
    assert dialog.values() == ("Alice", "Cycling")
    assert dialog.activity.findText("walking") > 0   # WISDM's six offered too


def test_a_phone_recording_asks_once_then_loads_as_remembered(qtbot, tab, recording, asked):
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT) as loaded:
        tab.open_paths([recording])
    assert asked == [(["walk_2024"], "Sensor Logger")]
    ds = loaded.args[0]
    assert ds.report.subjects == [subject_number("Alice")]
    assert ds.report.unlabelled == len(ds.frame) == SECONDS * 20
    assert tab.panel.activity_list.names() == []             # nothing to train on yet
    assert tab.view.plot_activity.currentData() == UNLABELLED
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT) as again:
        tab.open_paths([recording])
    assert len(asked) == 1                                    # remembered beside the file
    assert again.args[0].report.subjects == [subject_number("Alice")]


def test_cancelling_the_dialog_opens_nothing(qtbot, tab, recording, asked):
    asked.answer = None
    with qtbot.waitSignal(tab.controller.loadCancelled, timeout=TIMEOUT):
        tab.open_paths([recording])
    assert tab.state.dataset is None and not tab.is_loading()
    assert "cancel" in tab.panel.message.text().lower()


def test_label_later_then_label_spans_and_save(qtbot, tab, recording, asked):
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT):
        tab.open_paths([recording])
    labels = tab.labels
    tab.select_plot(subject_number("Alice"), "")
    labels.select_span(0.0, SECONDS / 2)
    assert labels.label_span("walking")
    labels.select_span(SECONDS / 2, SECONDS)
    assert labels.label_span("sitting")
    with qtbot.waitSignal(tab.datasetLoaded, timeout=TIMEOUT) as loaded:
        with qtbot.waitSignal(labels.saved, timeout=TIMEOUT) as saved:
            assert labels.save()
    files = saved.args[0]
    assert files[0].parent == recording.parent and files[0].name == "walk_2024.labelled.txt"
    ds = loaded.args[0]
    assert ds.report.unlabelled == 0
    assert sorted(ds.report.activities) == ["sitting", "walking"]
    assert sorted(tab.panel.activity_list.names()) == ["sitting", "walking"]
    assert read_edits(files[0]).sources[0]["file"] == "walk_2024"
    assert len(asked) == 1                                    # a WISDM copy asks nothing
