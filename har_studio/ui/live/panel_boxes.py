"""Two boxes of the Live tab's side column, built here to keep ``panel.py`` short: recording
the incoming stream, and the guided calibration's entry. Each function builds its box and sets
its widgets as attributes of the panel (as Qt Designer's ``setupUi`` does)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from ... import paths


def wrapped_label() -> QLabel:
    """An empty word-wrapped label whose text can be selected (status lines)."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def record_box(panel) -> QGroupBox:
    """The "Record the incoming stream" box; its widgets become attributes of `panel`."""
    box = QGroupBox("Record the incoming stream")
    form = QFormLayout(box)
    panel.record_activity_combo = QComboBox()
    panel.record_activity_combo.setEditable(True)
    panel.record_activity_combo.setToolTip("The activity the person is doing while recording")
    panel.record_subject_spin = QSpinBox()
    panel.record_subject_spin.setRange(0, 999_999)
    panel.record_subject_spin.setValue(99)
    folder_row = QHBoxLayout()
    panel.record_folder_edit = QLineEdit(str(paths.user_data_dir() / "recordings"))
    panel.browse_button = QPushButton("…")
    panel.browse_button.setToolTip("Choose the folder recordings are saved in")
    folder_row.addWidget(panel.record_folder_edit, 1)
    folder_row.addWidget(panel.browse_button)
    panel.record_button = QPushButton("● Record")
    panel.record_button.setCheckable(True)
    panel.record_button.setToolTip("Save the incoming samples to a WISDM-format file "
                                   "(written when recording stops)")
    panel.record_status = wrapped_label()
    form.addRow("Activity", panel.record_activity_combo)
    form.addRow("Subject id", panel.record_subject_spin)
    form.addRow("Folder", folder_row)
    form.addRow(panel.record_button)
    form.addRow(panel.record_status)
    return box


def calibrate_box(panel) -> QGroupBox:
    """The box that opens the guided calibration (`panel.calibrate_button`)."""
    box = QGroupBox("Calibrate")
    layout = QVBoxLayout(box)
    panel.calibrate_button = QPushButton("Calibrate to this person…")
    panel.calibrate_button.setToolTip("Fine-tune the model to one person: they do each "
                                      "activity for a minute (a phone or a replay)")
    layout.addWidget(panel.calibrate_button)
    return box
