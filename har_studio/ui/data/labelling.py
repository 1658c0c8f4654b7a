"""Label, crop and split the recording shown in the Data tab's signal plot.

``LabelBar`` is the row of controls under the plot's subject/activity choice; ``LabelEditor``
owns the selected span (a ``LinearRegionItem``), the split point (an ``InfiniteLine``), the
core's ``EditSession`` and a ``QUndoStack`` of its edits. Every edit is a ``data.labels.Edit``;
the edited frame is redrawn in the plot, and *Save labelled copy* writes it beside the
original (``save_edits``, in the background) and opens the copy, so what is trained is what
was saved.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ... import paths
from ...data.activities import WISDM_V11_ACTIVITIES, activity_order
from ...data.labels import UNLABELLED, Edit, EditSession, save_edits
from ..widgets import InlineMessage
from ..workers import JobRunner

log = logging.getLogger(__name__)

SHORTCUTS = 9   # Alt+1…9 label the span with the bar's first nine activities


class LabelBar(QWidget):
    """Activity to give, the edit buttons, undo/redo and save, and a one-line status."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.activity_combo = QComboBox()
        self.activity_combo.setEditable(True)
        self.activity_combo.setMinimumContentsLength(12)
        self.activity_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.activity_combo.setToolTip("The activity to give the selected span (Alt+1…9 "
                                       "give the first nine); type a new one if needed")
        self.label_button = QPushButton("Label")
        self.unlabel_button = QPushButton("Not labelled")
        self.unlabel_button.setToolTip("Mark the span as not labelled: kept in the file, "
                                       "left out of training and evaluation (Alt+0)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected span (Del)")
        self.crop_button = QPushButton("Crop")
        self.crop_button.setToolTip("Keep only the selected span of this recording")
        self.split_button = QPushButton("Split")
        self.split_button.setToolTip("Split the recording at the marked point (click the "
                                     "plot to mark it): saved as one file per part")
        self.undo_button, self.redo_button = QToolButton(), QToolButton()
        self.save_button = QPushButton("Save labelled copy")
        self.save_button.setToolTip("Save a new file beside the original (never over it), "
                                    "with what was done in a .edits.json beside it, and open it")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.message = InlineMessage(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.activity_combo, self.label_button, self.unlabel_button,
                       self.delete_button, self.crop_button, self.split_button,
                       self.undo_button, self.redo_button, self.save_button):
            row.addWidget(widget)
        row.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.status)
        column.addWidget(self.message)

    def set_activities(self, names: list[str]) -> None:
        """Offer `names` (then WISDM's six), keeping the text being typed or chosen."""
        current = self.activity_combo.currentText()
        choices = [n for n in dict.fromkeys([*names, *WISDM_V11_ACTIVITIES]) if n != UNLABELLED]
        self.activity_combo.blockSignals(True)
        self.activity_combo.clear()
        self.activity_combo.addItems(choices)
        self.activity_combo.setCurrentText(current or (choices[0] if choices else ""))
        self.activity_combo.blockSignals(False)


class _EditCommand(QUndoCommand):
    """One edit on the undo stack; pushed after the edit was applied (the first redo is a
    no-op), so an edit that cannot apply never reaches the stack."""

    def __init__(self, editor: LabelEditor, edit: Edit) -> None:
        super().__init__(edit.describe(editor.origin_ns))
        self._editor, self._edit, self._applied = editor, edit, True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self._editor.session.push(self._edit)
        self._editor.editsChanged.emit()

    def undo(self) -> None:
        self._editor.session.pop()
        self._editor.editsChanged.emit()


class LabelEditor(QObject):
    """The edits of the loaded recording, made on `view`'s signal plot with `bar`."""

    editsChanged = Signal()          # the edited frame changed (an edit, undo or redo)
    saved = Signal(object, object)   # data files written, sidecar
    failed = Signal(str)             # an edit or a save that could not be done (one line)

    def __init__(self, view, bar: LabelBar, parent: QWidget) -> None:
        super().__init__(parent)
        self.view, self.bar = view, bar
        self.session: EditSession | None = None
        self.origin_ns = 0
        self.undo_stack = QUndoStack(self)
        self._saver = JobRunner(self, receiver=self)
        # own actions, not createUndoAction's: their text grows with the command's description
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        for action, slot, can in ((self.undo_action, self.undo_stack.undo,
                                   self.undo_stack.canUndoChanged),
                                  (self.redo_action, self.undo_stack.redo,
                                   self.undo_stack.canRedoChanged)):
            action.setEnabled(False)
            action.triggered.connect(slot)
            can.connect(action.setEnabled)
        self.undo_stack.undoTextChanged.connect(self._on_undo_text_changed)
        self.undo_stack.redoTextChanged.connect(self._on_redo_text_changed)
        bar.undo_button.setDefaultAction(self.undo_action)
        bar.redo_button.setDefaultAction(self.redo_action)
        self.region = pg.LinearRegionItem((0, 1), brush=pg.mkBrush(255, 200, 0, 60))
        self.region.setZValue(10)
        self.marker = pg.InfiniteLine(0, movable=True, pen=pg.mkPen("#c00000", width=2))
        plot = view.accel_plot
        plot.addItem(self.region, ignoreBounds=True)
        plot.addItem(self.marker, ignoreBounds=True)
        self.region.hide()
        self.marker.hide()
        self.label_actions = [self._action(f"Alt+{i + 1}", self._label_with(i), parent)
                              for i in range(SHORTCUTS)]
        self.unlabel_action = self._action("Alt+0", self.mark_unlabelled, parent)
        self.delete_action = self._action("Del", self.delete_span, parent)
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            parent.addAction(action)
        for signal, slot in ((view.span_box.spanDragged, self._on_span_dragged),
                             (view.span_box.pointClicked, self._on_point_clicked),
                             (view.plotChanged, self._on_view_plot_changed),
                             (bar.label_button.clicked, self._on_label_clicked),
                             (bar.unlabel_button.clicked, self.mark_unlabelled),
                             (bar.delete_button.clicked, self.delete_span),
                             (bar.crop_button.clicked, self.crop_to_span),
                             (bar.split_button.clicked, self.split_here),
                             (bar.save_button.clicked, self.save),
                             (self.editsChanged, self._update_status),
                             (self.failed, self._on_failed)):
            signal.connect(slot)
        self._update_status()

    def _on_undo_text_changed(self, text: str) -> None:
        self.undo_action.setToolTip(f"Undo: {text} (Ctrl+Z)" if text else "Nothing to undo")

    def _on_redo_text_changed(self, text: str) -> None:
        self.redo_action.setToolTip(f"Redo: {text}" if text else "Nothing to redo")

    @staticmethod
    def _action(keys: str, slot, parent: QWidget) -> QAction:
        action = QAction(parent)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        parent.addAction(action)
        return action

    def _label_with(self, index: int):
        def label() -> None:
            combo = self.bar.activity_combo
            if index < combo.count():
                combo.setCurrentIndex(index)
                self.label_span(combo.currentText())
        return label

    # ------------------------------------------------------------------ the recording
    def set_dataset(self, dataset, sources) -> None:
        """Start editing `dataset` (None: nothing to edit); earlier edits are dropped."""
        if self.session is not None and self.session.edits:
            log.info("%d unsaved edits dropped: other data was opened", len(self.session.edits))
        self.undo_stack.clear()
        self.session = None if dataset is None else EditSession(dataset.frame, sources)
        self.region.hide()
        self.marker.hide()
        if dataset is not None:
            self.bar.set_activities(activity_order(dataset.activities))
        self._update_status()

    def has_unsaved_edits(self) -> bool:
        return self.session is not None and bool(self.session.edits)

    # ------------------------------------------------------------------ selecting
    def select_span(self, start_s: float, end_s: float) -> None:
        """Select the span [start_s, end_s) in the plot's seconds."""
        self.region.setRegion((start_s, end_s))
        self.region.show()

    def mark_point(self, at_s: float) -> None:
        """Mark the point where *Split* cuts, in the plot's seconds."""
        self.marker.setValue(at_s)
        self.marker.show()

    def _on_span_dragged(self, x0: float, x1: float, _finished: bool) -> None:
        self.select_span(x0, x1)

    def _on_point_clicked(self, x: float) -> None:
        self.mark_point(x)

    def _on_view_plot_changed(self) -> None:
        self.clear_selection()   # its seconds were those of the other plot

    def clear_selection(self) -> None:
        """Hide the span and the point (another plot is shown)."""
        self.region.hide()
        self.marker.hide()

    # ------------------------------------------------------------------ edits
    def _span(self) -> tuple[int, int, int, str] | None:
        subject, activity, origin = self.view.plot_selection()
        if self.session is None or subject is None or not self.region.isVisible():
            self.failed.emit("Select a span first: drag across the plot.")
            return None
        self.origin_ns = origin
        a, b = self.region.getRegion()
        return int(subject), origin + round(a * 1e9), origin + round(b * 1e9), activity

    def _apply(self, make) -> bool:
        """Apply the edit `make()` builds; False (with a message) when it cannot apply."""
        try:
            edit = make()
            if edit is None:
                return False
            self.session.push(edit)
        except ValueError as exc:
            self.failed.emit(f"Cannot do that: {exc}")
            return False
        self.undo_stack.push(_EditCommand(self, edit))
        self.editsChanged.emit()
        return True

    def _on_label_clicked(self) -> None:
        self.label_span(self.bar.activity_combo.currentText())

    def label_span(self, activity: str) -> bool:
        """Give the selected span `activity` (UNLABELLED: not labelled)."""
        def make():
            span = self._span()
            return span and Edit.label(span[0], span[1], span[2], activity, only=span[3])
        return self._apply(make)

    def mark_unlabelled(self) -> bool:
        return self.label_span(UNLABELLED)

    def delete_span(self) -> bool:
        def make():
            span = self._span()
            return span and Edit.delete(*span[:3], only=span[3])
        done = self._apply(make)
        if done:
            self.region.hide()
        return done

    def crop_to_span(self) -> bool:
        def make():
            span = self._span()
            return span and Edit.crop(*span[:3], only=span[3])
        return self._apply(make)

    def split_here(self) -> bool:
        """Split the plotted subject's recording at the marked point."""
        def make():
            subject, _activity, origin = self.view.plot_selection()
            if self.session is None or subject is None or not self.marker.isVisible():
                self.failed.emit("Mark the point first: click the plot where to split.")
                return None
            self.origin_ns = origin
            return Edit.split(int(subject), origin + round(self.marker.value() * 1e9))
        return self._apply(make)

    # ------------------------------------------------------------------ saving
    def save(self) -> bool:
        """Write the labelled copy and its sidecar in the background (``saved`` then);
        False (with a message) when there is nothing to save or a save is under way."""
        if self.session is None or not self.session.edits:
            self.failed.emit("Nothing to save: no edits yet.")
            return False
        if self._saver.running:
            return False
        snapshot = copy.copy(self.session)        # edits made while it saves are not in it
        snapshot.edits = list(self.session.edits)
        has_source = any(Path(s).exists() for s in snapshot.sources)
        folder = None if has_source else paths.user_data_dir() / "recordings"
        self.bar.save_button.setEnabled(False)
        self.bar.status.setText(f"Saving {len(snapshot.frame):,} samples…")
        self._saver.start(lambda: save_edits(snapshot, folder=folder, name="demo"))
        return True

    def _on_runner_succeeded(self, result) -> None:
        files, sidecar = result
        log.info("saved the labelled copy %s", files[0])
        self._update_status()
        self.bar.status.setText(f"Saved {files[0].name}; opening it…")
        self.saved.emit(files, sidecar)

    def _on_runner_failed(self, exc, tb: str) -> None:
        if not isinstance(exc, (OSError, ValueError)):
            log.error("saving the labelled copy failed\n%s", tb)
        self._update_status()
        self.failed.emit(f"Could not save: {' '.join(str(exc).split())}")

    def _on_failed(self, text: str) -> None:
        self.bar.message.show_message(text, "warning")

    def _update_status(self) -> None:
        self.bar.message.clear()
        session = self.session
        for widget in (self.bar.label_button, self.bar.unlabel_button, self.bar.delete_button,
                       self.bar.crop_button, self.bar.split_button):
            widget.setEnabled(session is not None)
        self.bar.save_button.setEnabled(self.has_unsaved_edits() and not self._saver.running)
        if session is None or not session.edits:
            self.bar.status.setText("Drag on the plot to select a span, click to mark a "
                                    "point; then label, delete, crop or split.")
            return
        s = session.summary()
        parts = f", {s['parts']} parts" if s["parts"] > 1 else ""
        self.bar.status.setText(
            f"{s['edits']} edit{'s' if s['edits'] != 1 else ''}, not saved: "
            f"{s['records']:,} samples ({s['unlabelled']:,} not labelled, "
            f"{s['removed']:,} removed{parts}). Last: {self.undo_stack.undoText()}")
