"""Find text the user cannot read in full: a helper for layout tests (not a test itself).

``clipped_widgets(root)`` walks the visible widgets under `root` and returns one line per
label, button, check box, combo box or item-view cell (table, list, tree) whose text is wider than the space it is
given, and per scroll area that needs a horizontal scroll bar (a side panel must fit its
width; scrolling down is fine). The space a widget is given is what its ancestors leave
visible of it, horizontally: a label pushed half out of a panel is clipped even when its own
width would do.

    from tests.layout_check import clipped_widgets      # or: from layout_check import ...
    window.resize(1280, 800); window.show(); qtbot.waitExposed(window)
    assert clipped_widgets(window) == []

Measured with the widget's own ``fontMetrics().horizontalAdvance`` against its visible
width less the style's frame or indicator (a word-wrapped label: against its width, word by
word, and its ``heightForWidth`` against its height). Text painted inside plots (pyqtgraph)
is not a widget: the tabs' own tests check their plots.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QToolButton,
    QWidget,
)

TOLERANCE_PX = 1          # rounding of fractional advances
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</tr>|</div>", re.IGNORECASE)


def plain_text(text: str) -> str:
    """A label's text without markup (rich text: tags dropped, entities decoded)."""
    if "<" in text and ">" in text:
        text = html.unescape(_TAG.sub("", _BREAK.sub("\n", text)))
    return text


def button_text(text: str) -> str:
    """A button's text as shown: '&Open' -> 'Open', '&&' -> '&'."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def name_of(widget: QWidget) -> str:
    """Class, object name and the start of its text, for a failure message."""
    text = ""
    if isinstance(widget, (QLabel, QAbstractButton)):
        text = plain_text(widget.text())
    elif isinstance(widget, QComboBox):
        text = widget.currentText()
    text = " ".join(text.split())
    name = type(widget).__name__ + (f"#{widget.objectName()}" if widget.objectName() else "")
    return f"{name} {text[:60]!r}" if text else name


def visible_span(widget: QWidget, root: QWidget) -> tuple[int, int]:
    """The horizontal extent of `widget` (its own x coordinates) that its ancestors up to
    `root` leave visible; (0, 0) when none of it is."""
    left, right = 0, widget.width()
    child: QWidget = widget
    offset = 0
    parent = widget.parentWidget()
    while parent is not None:
        offset += child.x()
        left = max(left, -offset)
        right = min(right, parent.width() - offset)
        if parent is root or parent.isWindow():
            break
        child, parent = parent, parent.parentWidget()
    return (left, right) if right > left else (0, 0)


def _available(widget: QWidget, root: QWidget) -> int:
    left, right = visible_span(widget, root)
    return right - left


def _label_problem(label: QLabel, width: int) -> str | None:
    text = plain_text(label.text()).strip()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    metrics = label.fontMetrics()
    margins = label.contentsMargins()
    room = width - margins.left() - margins.right() - 2 * label.margin() - max(label.indent(), 0)
    if label.wordWrap():
        longest = max((metrics.horizontalAdvance(word) for word in text.split()), default=0)
        if longest > room + TOLERANCE_PX:
            return f"a word needs {longest} px, has {room}"
        if label.hasHeightForWidth():
            needed = label.heightForWidth(label.width())
            if needed > label.height() + TOLERANCE_PX:
                return f"wrapped text needs {needed} px of height, has {label.height()}"
        return None
    if label.textFormat() == Qt.TextFormat.PlainText or "<" not in label.text():
        needed = max(metrics.horizontalAdvance(line) for line in text.splitlines())
    else:   # rich text: the laid-out document's width, as QLabel computes its size hint
        needed = label.sizeHint().width() - (label.width() - room)
    if needed > room + TOLERANCE_PX:
        return f"text needs {needed} px, has {room}"
    return None


def _button_problem(button: QAbstractButton, width: int) -> str | None:
    text = button_text(button.text()).strip()
    if not text:
        return None
    style = button.style()
    needed = max(button.fontMetrics().horizontalAdvance(line) for line in text.splitlines())
    if not button.icon().isNull():
        needed += button.iconSize().width() + 4
    if isinstance(button, (QCheckBox, QRadioButton)):
        indicator = (QStyle.PixelMetric.PM_IndicatorWidth if isinstance(button, QCheckBox)
                     else QStyle.PixelMetric.PM_ExclusiveIndicatorWidth)
        spacing = (QStyle.PixelMetric.PM_CheckBoxLabelSpacing if isinstance(button, QCheckBox)
                   else QStyle.PixelMetric.PM_RadioButtonLabelSpacing)
        room = width - style.pixelMetric(indicator, None, button) - style.pixelMetric(
            spacing, None, button)
    else:
        frame = style.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, button)
        room = width - 2 * frame
        if isinstance(button, QPushButton) and button.menu() is not None:
            room -= style.pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, button)
    if needed > room + TOLERANCE_PX:
        return f"text needs {needed} px, has {room}"
    return None


def _combo_problem(combo: QComboBox, width: int) -> str | None:
    text = combo.currentText().strip()
    if not text:
        return None
    option = QStyleOptionComboBox()
    option.initFrom(combo)
    option.rect = QRect(0, 0, width, combo.height())
    option.editable = combo.isEditable()
    option.frame = combo.hasFrame()
    option.currentText = text
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    needed = combo.fontMetrics().horizontalAdvance(text)
    if not combo.itemIcon(combo.currentIndex()).isNull():
        needed += combo.iconSize().width() + 4
    if needed > field.width() + TOLERANCE_PX:
        return f"text needs {needed} px, has {field.width()}"
    return None


def _item_view_problems(view: QAbstractItemView, max_rows: int = 200) -> list[str]:
    """Cells of a table, list or tree (top level) whose text, with its check box and icon,
    is wider than the visible part of the cell."""
    problems = []
    model = view.model()
    if model is None:
        return problems
    metrics = view.fontMetrics()
    viewport = view.viewport().rect()
    style = view.style()
    indicator = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, view) + 4
    root = QModelIndex()
    columns = 1 if isinstance(model, QAbstractListModel) else model.columnCount(root)
    for row in range(min(model.rowCount(root), max_rows)):
        for column in range(columns):
            index = model.index(row, column, root)
            text = index.data(Qt.ItemDataRole.DisplayRole)
            if text is None or str(text) == "":
                continue
            rect = view.visualRect(index)
            if rect.isEmpty() or not rect.intersects(viewport):
                continue
            room = (min(rect.right(), viewport.right()) - max(rect.left(), viewport.left())
                    + 1 - 6)   # the cell's text margins
            if index.data(Qt.ItemDataRole.CheckStateRole) is not None:
                room -= indicator
            if index.data(Qt.ItemDataRole.DecorationRole) is not None:
                room -= view.iconSize().width() + 4 if view.iconSize().width() > 0 else 20
            lines = str(text).splitlines() or [""]
            needed = max(metrics.horizontalAdvance(line) for line in lines)
            if needed > room + TOLERANCE_PX:
                problems.append(f"{name_of(view)} cell ({row}, {column}) {lines[0][:40]!r}: "
                                f"text needs {needed} px, has {room}")
    return problems


def clipped_widgets(root: QWidget) -> list[str]:
    """One line per visible widget under `root` (included) whose text does not fit."""
    QApplication.processEvents()
    problems: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible() or widget.window() is not root.window():
            continue
        if isinstance(widget, QScrollArea):
            bar = widget.horizontalScrollBar()
            if bar.isVisible() and bar.maximum() > 0:
                problems.append(f"{name_of(widget)} (holding {name_of(widget.widget())}): "
                                f"needs a horizontal scroll bar ({bar.maximum()} px more)")
            continue
        if isinstance(widget, QAbstractItemView):
            problems += _item_view_problems(widget)
            continue
        if isinstance(widget, QToolButton) and isinstance(widget.parentWidget(), QTabBar):
            continue   # a tab bar's scroll arrows
        width = _available(widget, root)
        if width <= 0:
            continue          # scrolled out of view or in a collapsed part
        problem = None
        if isinstance(widget, QLabel):
            problem = _label_problem(widget, width)
        elif isinstance(widget, QAbstractButton):
            problem = _button_problem(widget, width)
        elif isinstance(widget, QComboBox):
            problem = _combo_problem(widget, width)
        if problem:
            problems.append(f"{name_of(widget)}: {problem}")
    return problems
