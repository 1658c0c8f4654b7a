"""The Train tab's left side: the data summary, the settings form, past runs, and the
Start / Pause / Stop row with the cross-validation choice."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...data.activities import activity_order
from .runs_browser import RunsBrowser
from .settings import TrainSettingsForm


def data_summary(state) -> str:
    """The Data tab's choices as the Train tab shows them (HTML)."""
    ds, window, split = state.dataset, state.window_config, state.split_config
    if ds is None:
        return "<b>No dataset loaded.</b>"
    channels = list(state.channels or ds.channels)
    classes = activity_order(state.activities or ds.activities)
    if split.kind == "subject":
        chosen = (f"test subjects {', '.join(map(str, split.test_subjects))}"
                  if split.test_subjects else f"{split.test_fraction:.0%} of subjects for test")
        split_text = f"by subject ({chosen})"
    else:
        split_text = f"random by window ({split.test_fraction:.0%} test) ⚠"
    return (f"Window <b>{window.size}</b> samples ({window.size / window.rate_hz:.1f} s), "
            f"step {window.step}<br>"
            f"Channels <b>{', '.join(channels)}</b><br>"
            f"<b>{len(classes)}</b> classes: {', '.join(classes)}<br>"
            f"Split {split_text}<br>"
            f"{len(ds.subjects)} subjects, {len(ds.frame):,} samples")


class TrainPanel(QWidget):
    """Settings and run controls; the tab connects the buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        data_box = QGroupBox("Data")
        data_layout = QVBoxLayout(data_box)
        data_layout.addWidget(self.data_label)
        hint = QLabel("<i>Window, channels, activities and split are set on the Data tab.</i>")
        hint.setStyleSheet("color: #666;")
        hint.setWordWrap(True)
        data_layout.addWidget(hint)

        self.settings = TrainSettingsForm()
        settings_page = QWidget()
        settings_layout = QVBoxLayout(settings_page)
        settings_layout.addWidget(data_box)
        settings_layout.addWidget(self.settings)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings_page)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # Scroll down, never sideways: the panel is at least as wide as the settings need
        # (their widest row, with the vertical scroll bar beside them).
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(settings_page.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 2)
        self.settings_scroll = scroll

        self.runs = RunsBrowser()
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(scroll, "Settings")
        self.side_tabs.addTab(self.runs, "Past runs")

        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop after the current batch. The weights of the last finished epoch (with “Keep "
            "the best validation epoch”: of the best one) are kept, evaluated and saved; the "
            "log names the epoch")
        self.cv_check = QCheckBox("Cross-validate by subject")
        self.cv_check.setToolTip(
            "Instead of one model: train k models, each tested on a group of subjects it never "
            "saw (every subject tested once). The mean and spread over folds estimate the "
            "accuracy on new people. With early stopping (patience) or “Keep the best "
            "validation epoch”, 2 validation subjects come from each fold's training "
            "subjects; otherwise every fold trains its set epochs with no validation.")
        self.cv_folds = QSpinBox()
        self.cv_folds.setRange(2, 50)
        self.cv_folds.setValue(4)
        self.cv_folds.setSuffix(" folds")
        self.cv_folds.setToolTip("k: the subjects are dealt into k groups")
        cv_row = QHBoxLayout()
        cv_row.addWidget(self.cv_check, 1)
        cv_row.addWidget(self.cv_folds)
        self.start_reason = QLabel()
        self.start_reason.setWordWrap(True)
        self.start_reason.setStyleSheet("color: #8a6100;")
        controls = QHBoxLayout()
        controls.addWidget(self.start_button, 2)
        controls.addWidget(self.pause_button, 1)
        controls.addWidget(self.stop_button, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addWidget(self.side_tabs, 1)
        layout.addLayout(cv_row)
        layout.addLayout(controls)
        layout.addWidget(self.start_reason)

    def show_data(self, state) -> None:
        """The Data tab's choices, and the network shape they give the size estimate."""
        ds, size = state.dataset, state.window_config.size
        self.data_label.setText(data_summary(state))
        if ds is None:
            self.settings.set_data_shape(size, 3, 6)
        else:
            channels = list(state.channels or ds.channels)
            classes = state.activities or ds.activities
            self.settings.set_data_shape(size, len(channels), len(classes), channels)

    def cv_fold_count(self) -> int:
        """k when "Cross-validate by subject" is ticked, else 0."""
        return self.cv_folds.value() if self.cv_check.isChecked() else 0

    def set_paused(self, paused: bool) -> None:
        """Show the Pause button as `paused` without toggling it."""
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def set_running(self, running: bool, blocked: str | None, stoppable: bool) -> None:
        """Enable what makes sense; `blocked` is why Start cannot be pressed (or None)."""
        self.start_button.setEnabled(blocked is None)
        self.start_reason.setText("" if running or blocked is None else blocked)
        self.start_reason.setVisible(bool(self.start_reason.text()))
        self.start_button.setToolTip(blocked or "Train a model with these settings")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running and stoppable)
        self.settings.set_editable(not running)
        self.cv_check.setEnabled(not running)
        self.cv_folds.setEnabled(not running)
        self.runs.set_running(running, blocked is None)
