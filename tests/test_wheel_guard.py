"""Issue 22.10: the mouse wheel over an unfocused spin or combo box scrolls the panel instead
of changing the setting (Step went from 64 to 51 while scrolling the Data tab's panel)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QSpinBox

from har_studio.ui.data import DataTab
from har_studio.ui.state import AppState
from har_studio.ui.widgets import install_wheel_guard
from har_studio.ui.workers import stop_all_workers


@pytest.fixture
def guard(qapp):
    guard = install_wheel_guard(qapp)
    assert install_wheel_guard(qapp) is guard        # once, however often it is asked
    yield guard
    qapp.removeEventFilter(guard)
    del qapp._har_wheel_guard


def _wheel(widget, steps: int = -1) -> QWheelEvent:
    """Send one wheel notch (down) over the middle of `widget`; the event afterwards."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event


def test_an_unguarded_spin_box_takes_the_wheel(qtbot, qapp):
    # The control the test needs (the bug itself); an earlier test's main window may have
    # installed the application's guard: take it off for this one.
    installed = getattr(qapp, "_har_wheel_guard", None)
    if installed is not None:
        qapp.removeEventFilter(installed)
    try:
        spin = QSpinBox()
        qtbot.addWidget(spin)
        spin.setRange(0, 100)
        spin.setValue(64)
        spin.show()
        _wheel(spin)
        assert spin.value() == 63
    finally:
        if installed is not None:
            qapp.installEventFilter(installed)


def test_wheel_over_an_unfocused_setting_leaves_it_and_passes_it_on(qtbot, guard):
    tab = DataTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    qtbot.waitExposed(tab)
    step, split = tab.panel.window_step, tab.panel.split_kind
    step.setValue(64)
    for widget in (step, split, tab.panel.window_size, tab.label_bar.activity_combo):
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert not step.hasFocus()
    event = _wheel(step)
    assert step.value() == 64 and not event.isAccepted()   # the scroll area gets it
    index = split.currentIndex()
    _wheel(split)
    assert split.currentIndex() == index
    tab.activateWindow()
    step.setFocus()
    qtbot.waitUntil(step.hasFocus, timeout=5000)
    _wheel(step)
    assert step.value() == 63                              # focused: the wheel is the user's
    stop_all_workers()
