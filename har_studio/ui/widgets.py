"""Small shared widgets and helpers for the tabs.

- ``app_settings()``: the app's ``QSettings`` (an INI file in the user data folder, so
  ``HAR_STUDIO_HOME`` isolates tests). Use it for preferences and remembered choices.
- ``InlineMessage``: a coloured banner inside a tab for non-blocking messages (like Orange's
  ``Msg``): ``show_message(text, level)``, ``clear()``, ``text()``, ``level()``.
- ``CheckList``: a list of checkable names with ``checkedChanged``; ``set_items``,
  ``checked()``, ``set_checked``.
- ``BarChart``: a horizontal bar chart (pyqtgraph) with names on the left axis.
- ``fill_table(table, headers, rows)``: fill a read-only ``QTableWidget`` quickly.
- ``form(rows)``: a ``QFormLayout`` from ``(label, widget)`` pairs.
- ``CHANNEL_COLORS`` / ``channel_pen(name)``: the same colour for a channel in every plot.
- ``configure_pyqtgraph()``: light plot background; call before creating plots.
- ``install_wheel_guard(app)``: app-wide, spin boxes and combo boxes take the mouse wheel
  only when focused, so scrolling a panel never changes a setting under the pointer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QWidget,
)

from .. import paths

SETTINGS_FILE = "settings.ini"

CHANNEL_COLORS: dict[str, str] = {
    "x": "#d62728", "y": "#2ca02c", "z": "#1f77b4",
    "gx": "#ff7f0e", "gy": "#17becf", "gz": "#9467bd",
}

_LEVEL_STYLE = {
    "info": ("#e8f1fb", "#1f5fa8", "ℹ"),
    "warning": ("#fff4d6", "#8a6100", "⚠"),
    "error": ("#fde8e8", "#a11d1d", "✖"),
}

_pg_configured = False


def app_settings() -> QSettings:
    """The app's settings: ``settings.ini`` in the user data folder (read on each call)."""
    return QSettings(str(paths.user_data_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


def make_timer(parent: QObject, interval_ms: int, slot, *, single_shot: bool = False) -> QTimer:
    """A timer calling `slot` every `interval_ms` (once after it, with `single_shot`: restart
    it to coalesce a burst of changes into one call); not started."""
    timer = QTimer(parent)
    timer.setSingleShot(single_shot)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer


def settings_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings stored under `key` (QSettings returns a str for one item, None for none)."""
    value = settings.value(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def configure_pyqtgraph() -> None:
    """Light background, dark foreground: plots match the rest of a desktop app. Idempotent."""
    global _pg_configured
    if not _pg_configured:
        pg.setConfigOptions(background="w", foreground="k", antialias=False)
        _pg_configured = True


class WheelGuard(QObject):
    """An application event filter: a spin box or combo box that does not have the focus
    passes the wheel on (the scroll area around it scrolls) instead of changing its value,
    and gets the focus by a click or Tab only (``StrongFocus``, not ``WheelFocus``)."""

    GUARDED = (QAbstractSpinBox, QComboBox)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(obj, self.GUARDED):
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        elif kind == QEvent.Type.Wheel and isinstance(obj, self.GUARDED) and not obj.hasFocus():
            event.ignore()   # not accepted: Qt offers it to the parent (the panel scrolls)
            return True
        return False


def install_wheel_guard(app) -> WheelGuard:
    """Install one ``WheelGuard`` on `app` (idempotent); before the windows are made, so
    every tab's spin and combo boxes are polished with it."""
    guard = getattr(app, "_har_wheel_guard", None)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
        app._har_wheel_guard = guard
    return guard


def channel_pen(name: str, width: float = 1.0):
    return pg.mkPen(CHANNEL_COLORS.get(name, "#555555"), width=width)


class InlineMessage(QFrame):
    """A banner inside a tab: info, warning or error text that does not block the user."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None, *, closable: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("InlineMessage")
        self._level = ""
        self._icon = QLabel(self)
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._label, 1)
        self._close = QToolButton(self)
        self._close.setText("×")
        self._close.setAutoRaise(True)
        self._close.setToolTip("Dismiss")
        self._close.clicked.connect(self._on_close_clicked)
        self._close.setVisible(closable)
        layout.addWidget(self._close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, level: str = "info") -> None:
        """Show `text` with level "info", "warning" or "error"."""
        bg, fg, icon = _LEVEL_STYLE.get(level, _LEVEL_STYLE["info"])
        self._level = level
        self.setStyleSheet(
            f"#InlineMessage {{ background: {bg}; border: 1px solid {fg}; border-radius: 3px; }}"
            f" QLabel {{ color: {fg}; }}")
        self._icon.setText(icon)
        self._label.setText(text)
        self.show()

    def clear(self) -> None:
        self._label.setText("")
        self._level = ""
        self.hide()

    def text(self) -> str:
        """The message shown, or "" when cleared."""
        return self._label.text() if self._level else ""

    def level(self) -> str:
        return self._level

    def _on_close_clicked(self) -> None:
        self.clear()
        self.closed.emit()


class CheckList(QListWidget):
    """Checkable names; ``checkedChanged`` fires once per user change (not per item)."""

    checkedChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._updating = False
        self.itemChanged.connect(self._on_item_changed)

    def set_items(self, names: Iterable[str], checked: Iterable[str] | None = None,
                  labels: dict[str, str] | None = None) -> None:
        """Replace the items; `checked` None checks all. `labels` maps name -> shown text."""
        names = [str(n) for n in names]
        on = set(names if checked is None else (str(c) for c in checked))
        self._updating = True
        try:
            self.clear()
            for name in names:
                item = QListWidgetItem((labels or {}).get(name, name))
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if name in on else Qt.CheckState.Unchecked)
                self.addItem(item)
        finally:
            self._updating = False

    def names(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def checked(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: Iterable[str]) -> None:
        """Check exactly `names` (others unchecked); emits ``checkedChanged`` once if changed."""
        on = {str(n) for n in names}
        before = self.checked()
        self._updating = True
        try:
            for i in range(self.count()):
                item = self.item(i)
                state = item.data(Qt.ItemDataRole.UserRole) in on
                item.setCheckState(Qt.CheckState.Checked if state else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        if self.checked() != before:
            self.checkedChanged.emit()

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        if not self._updating:
            self.checkedChanged.emit()


class BarChart(pg.PlotWidget):
    """Horizontal bars with names on the left axis (long activity names stay readable)."""

    def __init__(self, parent: QWidget | None = None, *, color: str = "#4c72b0",
                 x_label: str = "") -> None:
        super().__init__(parent)
        self._color = color
        self._bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=color, pen=None)
        self.addItem(self._bars)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.getPlotItem().invertY(True)
        if x_label:
            self.setLabel("bottom", x_label)
        self.names: list[str] = []
        self.values: list[float] = []

    def set_data(self, names: Sequence[str], values: Sequence[float]) -> None:
        self.names = [str(n) for n in names]
        self.values = [float(v) for v in values]
        ys = list(range(len(self.names)))
        self._bars.setOpts(x0=[0.0] * len(ys), y=ys, width=self.values, height=0.7)
        self.getAxis("left").setTicks([[(i, n) for i, n in enumerate(self.names)]])
        if self.names:
            self.setYRange(-0.6, len(self.names) - 0.4, padding=0)
            self.setXRange(0, max(max(self.values), 1.0), padding=0.05)


def fill_table(table: QTableWidget, headers: Sequence[str], rows: Sequence[Sequence],
               row_headers: Sequence[str] | None = None) -> None:
    """Fill `table` read-only; numbers are right-aligned."""
    table.setUpdatesEnabled(False)
    try:
        table.clear()
        table.setColumnCount(len(headers))
        table.setRowCount(len(rows))
        table.setHorizontalHeaderLabels(list(headers))
        if row_headers is not None:
            table.setVerticalHeaderLabels(list(row_headers))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(str(value))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                if isinstance(value, (int, float)):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.resizeColumnsToContents()
    finally:
        table.setUpdatesEnabled(True)


def form(rows: Sequence[tuple[str, QWidget]]) -> QFormLayout:
    """A QFormLayout of labelled widgets."""
    layout = QFormLayout()
    layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, widget in rows:
        layout.addRow(label, widget)
    return layout
