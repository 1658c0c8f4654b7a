"""The Data tab's left side: open buttons and progress, the loaded data's summary, and the
window, split, activity and channel settings, read back as core config objects."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...data.activities import WISDM2019_CODES
from ...data.splits import RANDOM_SPLIT_WARNING, SplitConfig
from ...data.windows import WindowConfig
from ..widgets import CheckList, InlineMessage, form

# WISDM 2019 activities A..E; v1.1 splits "stairs" into upstairs and downstairs.
WISDM_A_TO_E = [WISDM2019_CODES[c] for c in "ABCDE"] + ["upstairs", "downstairs"]


def _spin(low: int, high: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    return spin


def _row(*widgets, stretch_first: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if stretch_first and i == 0 else 0)
    return row


def _wrap(layout) -> QWidget:
    widget = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    widget.setLayout(layout)
    return widget


class DataPanel(QWidget):
    """The settings column; ``current_settings`` reads it (ValueError when inconsistent)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.open_files_button = QPushButton("Open files…")
        self.open_folder_button = QPushButton("Open folder…")
        self.demo_button = QPushButton("Demo data")
        self.demo_button.setToolTip("Synthetic WISDM-like recordings (6 subjects, 6 activities)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress_box = _wrap(_row(self.progress, self.cancel_button, stretch_first=True))
        self.progress_box.hide()
        self.message = InlineMessage(self)

        self.summary = QLabel("No data loaded. Open WISDM files or a folder, or try the demo.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # Whatever it says, the summary takes the column's width and never widens it.
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        summary_box = QGroupBox("Loaded data")
        QVBoxLayout(summary_box).addWidget(self.summary)

        self.window_size = _spin(8, 4096, " samples")
        self.window_step = _spin(1, 4096, " samples")
        self.window_seconds = QLabel()
        window_box = QGroupBox("Windows")
        window_box.setLayout(form([("Size", self.window_size), ("Step", self.window_step),
                                   ("", self.window_seconds)]))

        self.split_kind = QComboBox()
        self.split_kind.addItem("By subject (new people)", "subject")
        self.split_kind.addItem("Random by window (leaks)", "random")
        self.subject_mode = QComboBox()
        self.subject_mode.addItem("Seeded random pick", "random")
        self.subject_mode.addItem("Choose subjects", "choose")
        self.test_percent = _spin(0, 80, " %")
        self.val_percent = _spin(0, 80, " %")
        self.seed = _spin(0, 2**31 - 1)
        self.reseed_button = QPushButton("New seed")
        self.reseed_button.clicked.connect(self._on_reseed_clicked)
        seed_widget = _wrap(_row(self.seed, self.reseed_button, stretch_first=True))
        self.test_subjects = CheckList()
        self.val_subjects = CheckList()
        self.pick_box = QWidget()
        pick_layout = QHBoxLayout(self.pick_box)
        pick_layout.setContentsMargins(0, 0, 0, 0)
        for title, lst in (("Test subjects", self.test_subjects),
                           ("Validation subjects", self.val_subjects)):
            lst.setMaximumHeight(110)
            col = QVBoxLayout()
            col.addWidget(QLabel(title))
            col.addWidget(lst)
            pick_layout.addLayout(col)
        self.pick_box.hide()
        self.split_message = InlineMessage(self, closable=False)
        # Next to a random split: the measured gap to accuracy on new people, so nobody reports
        # a leaky figure by accident (and the user's own subject-wise figure when known).
        self.split_gap_note = QLabel()
        self.split_gap_note.setWordWrap(True)
        self.split_gap_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.split_gap_note.hide()
        split_box = QGroupBox("Train / validation / test split")
        split_layout = QVBoxLayout(split_box)
        split_layout.addLayout(form([("Split", self.split_kind), ("Subjects", self.subject_mode),
                                     ("Test", self.test_percent),
                                     ("Validation", self.val_percent), ("Seed", seed_widget)]))
        for widget in (self.pick_box, self.split_message, self.split_gap_note):
            split_layout.addWidget(widget)

        self.activity_list = CheckList()
        self.activity_list.setMinimumHeight(7 * 20)   # about seven rows, not two
        self.channel_list = CheckList()
        self.channel_list.setMaximumHeight(120)
        self.all_activities_button = QPushButton("All")
        self.all_activities_button.clicked.connect(self._on_all_activities_clicked)
        self.no_activities_button = QPushButton("None")
        self.no_activities_button.clicked.connect(self._on_no_activities_clicked)
        self.wisdm_ae_button = QPushButton("WISDM A–E")
        self.wisdm_ae_button.setToolTip("Walking, jogging, stairs (up/down), sitting, standing")
        self.wisdm_ae_button.clicked.connect(self._on_wisdm_ae_clicked)
        classes_box = QGroupBox("Activities (classes) and channels")
        classes_layout = QVBoxLayout(classes_box)
        classes_layout.addLayout(_row(self.all_activities_button, self.no_activities_button,
                                      self.wisdm_ae_button))
        for widget in (self.activity_list, QLabel("Channels"), self.channel_list):
            classes_layout.addWidget(widget)
        self.settings_message = InlineMessage(self)

        layout = QVBoxLayout(self)
        layout.addLayout(_row(self.open_files_button, self.open_folder_button,
                              self.demo_button))
        for widget in (self.progress_box, self.message, summary_box, window_box, split_box,
                       classes_box, self.settings_message):
            layout.addWidget(widget)
        layout.addStretch(1)

    def setting_signals(self) -> list:
        """Signals of every control whose change changes the settings."""
        return [self.window_size.valueChanged, self.window_step.valueChanged,
                self.test_percent.valueChanged, self.val_percent.valueChanged,
                self.seed.valueChanged, self.test_subjects.checkedChanged,
                self.val_subjects.checkedChanged, self.activity_list.checkedChanged,
                self.channel_list.checkedChanged]

    def show_settings(self, window: WindowConfig, split: SplitConfig) -> None:
        self.window_size.setValue(window.size)
        self.window_step.setValue(window.step)
        self.split_kind.setCurrentIndex(0 if split.kind == "subject" else 1)
        self.test_percent.setValue(int(round(split.test_fraction * 100)))
        self.val_percent.setValue(int(round(split.val_fraction * 100)))
        self.seed.setValue(split.seed)

    def show_seconds(self, rate_hz: float) -> None:
        size, step = self.window_size.value(), self.window_step.value()
        overlap = max(0.0, 1 - step / size) * 100
        self.window_seconds.setText(f"{size / rate_hz:.2f} s windows, {overlap:.0f} % overlap "
                                    f"at {rate_hz:g} Hz")

    def show_split_kind(self, random_note: str) -> None:
        """Show the subject pickers, or the leak warning and `random_note` for a random split."""
        by_subject = self.split_kind.currentData() == "subject"
        self.subject_mode.setEnabled(by_subject)
        self.pick_box.setVisible(by_subject and self.subject_mode.currentData() == "choose")
        tip = "of subjects" if by_subject else "of windows"
        self.test_percent.setToolTip(f"Share {tip} held out for testing")
        self.val_percent.setToolTip(f"Share {tip} held out for validation")
        if by_subject:
            self.split_message.clear()
            self.split_gap_note.clear()
            self.split_gap_note.hide()
        else:
            self.split_message.show_message(RANDOM_SPLIT_WARNING, "warning")
            self.split_gap_note.setText(random_note)
            self.split_gap_note.show()

    def current_settings(self, rate_hz: float, max_gap_periods
                         ) -> tuple[WindowConfig, SplitConfig, list[str] | None,
                                    list[str] | None]:
        """The settings shown; raises ValueError when they are inconsistent."""
        window = WindowConfig(size=self.window_size.value(), step=self.window_step.value(),
                              rate_hz=rate_hz, max_gap_periods=max_gap_periods)
        kind = self.split_kind.currentData()
        choose = kind == "subject" and self.subject_mode.currentData() == "choose"
        split = SplitConfig(
            kind=kind,
            test_subjects=tuple(int(s) for s in self.test_subjects.checked()) if choose else (),
            val_subjects=tuple(int(s) for s in self.val_subjects.checked()) if choose else (),
            test_fraction=self.test_percent.value() / 100,
            val_fraction=self.val_percent.value() / 100,
            seed=self.seed.value(),
        )
        checked = self.activity_list.checked()
        activities = None if len(checked) == self.activity_list.count() else checked
        if activities is not None and not activities:
            raise ValueError("choose at least one activity")
        chans = self.channel_list.checked()
        channels = None if len(chans) == self.channel_list.count() else chans
        if channels is not None and not channels:
            raise ValueError("choose at least one channel")
        return window, split, activities, channels

    def show_choices(self, activities: list[str], channels: list[str], subjects: list[int],
                     channel_labels: dict[str, str] | None = None) -> None:
        """Offer these activities, channels and subjects (all activities and channels on)."""
        self.activity_list.set_items(activities)
        self.channel_list.set_items(channels, labels=channel_labels)
        names = [str(s) for s in subjects]
        self.test_subjects.set_items(names, checked=[])
        self.val_subjects.set_items(names, checked=[])

    def _on_reseed_clicked(self) -> None:
        self.seed.setValue(random.randrange(0, 100_000))

    def _on_all_activities_clicked(self) -> None:
        self.activity_list.set_checked(self.activity_list.names())

    def _on_no_activities_clicked(self) -> None:
        self.activity_list.set_checked([])

    def _on_wisdm_ae_clicked(self) -> None:
        self.activity_list.set_checked([n for n in self.activity_list.names()
                                        if n in WISDM_A_TO_E])
