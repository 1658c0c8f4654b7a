"""The Data tab: open recordings, see what was loaded, choose windows, split and classes.

The tab composes ``DataPanel`` (buttons and settings), ``DataView`` (charts and window
counts) and the ``DataController`` that loads data and counts windows off the GUI thread (the
main window's, shared with its menus, drag and drop and start-up). Counts are recomputed,
debounced, whenever a setting changes; the chosen settings go to ``AppState`` so the Train tab
uses exactly what is shown here.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from ...data.activities import activity_order
from ...data.dataset import CHANNEL_UNITS, GYRO_CHANNELS
from ...data.labels import UNLABELLED
from ...data.rates import nominal_rate
from ...training.crossval import data_settings, random_split_guidance
from ..state import AppState
from ..widgets import app_settings, configure_pyqtgraph, make_timer
from .controller import DataController
from .labelling import LabelBar, LabelEditor
from .panel import WISDM_A_TO_E, DataPanel
from .summary import summary_html, summary_rows
from .view import DataView

log = logging.getLogger(__name__)

DEBOUNCE_MS = 150


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """A modal error for something the user must fix now (tests patch this function)."""
    QMessageBox.critical(parent, title, text)


class DataTab(QWidget):
    """Open data, inspect it, and choose window / split / class / channel settings."""

    datasetLoaded = Signal(object)          # Dataset, after state.set_dataset
    loadFailed = Signal(str)                # one-line message
    windowCountsChanged = Signal(object)    # WindowCounts (or None when unavailable)

    def __init__(self, state: AppState, controller: DataController | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state
        self.controller = controller if controller is not None else DataController(state, self)
        self.window_counts = None
        self._populating = False
        self._subjects: list[int] = []
        self._activities: list[str] = []
        self.panel, self.view = DataPanel(), DataView()
        self.label_bar = LabelBar()
        self.view.plot_layout.insertWidget(1, self.label_bar)
        self.labels = LabelEditor(self.view, self.label_bar, self)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(340)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setAcceptDrops(False)  # the main window handles drops

        self._debounce = make_timer(self, DEBOUNCE_MS, self._on_debounce_timeout,
                                    single_shot=True)
        p, c = self.panel, self.controller
        connections = [
            (p.open_files_button.clicked, self.open_files_dialog),
            (p.open_folder_button.clicked, self.open_folder_dialog),
            (p.demo_button.clicked, self.open_demo), (p.cancel_button.clicked, self.cancel_load),
            (p.split_kind.currentIndexChanged, self._on_split_choice_changed),
            (p.subject_mode.currentIndexChanged, self._on_split_choice_changed),
            *((signal, self._on_setting_changed) for signal in p.setting_signals()),
            (c.loadStarted, self._on_controller_load_started),
            (c.loadProgressed, self._on_controller_load_progressed),
            (c.datasetLoaded, self._on_controller_dataset_loaded),
            (c.loadFailed, self._on_controller_load_failed),
            (c.loadCancelled, self._on_controller_load_cancelled),
            (c.countsReady, self._on_controller_counts_ready),
            (c.countsFailed, self._on_controller_counts_failed),
            (state.datasetChanged, self._on_state_dataset_changed),
            (self.labels.editsChanged, self._on_labels_edits_changed),
            (self.labels.saved, self._on_labels_saved),
        ]
        for signal, slot in connections:
            signal.connect(slot)
        self._populating = True
        try:
            p.show_settings(state.window_config, state.split_config)
        finally:
            self._populating = False
        p.show_seconds(self._rate_hz())
        p.show_split_kind(self._subject_wise_note())
        if state.dataset is not None:
            self._on_state_dataset_changed(state.dataset)

    # ------------------------------------------------------------------ loading
    def open_files_dialog(self) -> None:
        self.controller.open_files_dialog(self)

    def open_folder_dialog(self) -> None:
        self.controller.open_folder_dialog(self)

    def open_paths(self, paths, *, demo_on_failure: bool = False) -> None:
        """Load files and/or folders in the background (cancels a load in progress)."""
        self.controller.open_paths(paths, demo_on_failure=demo_on_failure)

    def open_demo(self) -> None:
        """Load the built-in synthetic recordings."""
        self.controller.open_demo()

    def cancel_load(self) -> None:
        self.controller.cancel_load()

    def is_loading(self) -> bool:
        return self.controller.is_loading()

    def _on_controller_load_started(self, text: str) -> None:
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat(text)
        self.panel.progress_box.show()
        self.panel.message.clear()

    def _on_controller_load_progressed(self, fraction: float, text: str) -> None:
        self.panel.progress.setValue(int(1000 * fraction))
        self.panel.progress.setFormat(text)

    def _on_controller_dataset_loaded(self, dataset) -> None:
        self.panel.progress_box.hide()
        n = len(dataset.report.warnings)
        if n:   # said in full once, in the summary ("Warning" rows)
            self.panel.message.show_message(
                f"Loaded with {n} warning{'s' if n > 1 else ''}: see “Loaded data” below.",
                "warning")
        self.datasetLoaded.emit(dataset)

    def _on_controller_load_failed(self, text: str, modal: bool) -> None:
        self.panel.progress_box.hide()
        self.panel.message.show_message(f"Could not load data: {text}", "error")
        self.loadFailed.emit(text)
        if modal:
            show_error(self, "Could not open data", text)

    def _on_controller_load_cancelled(self) -> None:
        self.panel.progress_box.hide()
        self.panel.message.show_message("Loading cancelled.", "info")

    # ------------------------------------------------------------------ dataset shown
    def _on_state_dataset_changed(self, dataset) -> None:
        self._populating = True
        try:
            subjects, shown = self.view.show_dataset(dataset)
            order = [a for a in shown if a != UNLABELLED]   # never a class
            self._subjects, self._activities = subjects, order
            self.labels.set_dataset(dataset, self.state.dataset_paths)
            if dataset is None:
                self.panel.summary.setText("No data loaded.")
                self.panel.summary.setToolTip("")
                self.panel.show_choices([], [], [])
            else:
                self.panel.summary.setText(summary_html(summary_rows(dataset, subjects, order)))
                self.panel.summary.setToolTip("\n".join(str(f) for f in dataset.report.files[:50]))
                self.panel.show_choices(order, dataset.channels, subjects, {
                    c: f"{c}  ({'gyroscope' if c in GYRO_CHANNELS else 'accelerometer'}, "
                       f"{CHANNEL_UNITS.get(c, '')})" for c in dataset.channels})
                self.panel.activity_list.set_checked(initial_activities(order))
        finally:
            self._populating = False
        self.panel.show_split_kind(self._subject_wise_note())
        self.panel.show_seconds(self._rate_hz())
        if dataset is not None:
            self._apply_settings()
        else:
            self._set_counts(None)

    # ------------------------------------------------------------------ labelling
    def _on_labels_edits_changed(self) -> None:
        session, ds = self.labels.session, self.state.dataset
        if session is not None and ds is not None:
            before = self.view.plot_selection()[:2]
            self.view.show_frame(session.frame, ds.channels)
            if self.view.plot_selection()[:2] != before:   # what was plotted is gone
                self.labels.clear_selection()

    def _on_labels_saved(self, files, sidecar) -> None:
        self.panel.message.show_message(
            f"Saved {files[0].name}{f' and {len(files) - 1} more part(s)' if len(files) > 1 else ''}"
            f" in {files[0].parent} (what was done: {sidecar.name}); opening it.", "info")
        self.open_paths(files)

    def summary_text(self) -> str:
        """The summary as plain text lines ``Key: value`` (for tests and copying)."""
        if self.state.dataset is None:
            return "No data loaded."
        rows = summary_rows(self.state.dataset, self._subjects, self._activities)
        return "\n".join(f"{k}: {v}" for k, v in rows)

    def select_plot(self, subject: int, activity: str) -> None:
        """Show `subject` doing `activity` in the signal plot."""
        self.view.select_plot(subject, activity)

    def counts_rows(self) -> list[list[str]]:
        """The counts table as text (for tests)."""
        return self.view.counts_rows()

    # ------------------------------------------------------------------ settings -> state
    def _on_setting_changed(self, *_args) -> None:
        self.panel.show_seconds(self._rate_hz())
        if not self._populating:
            self._debounce.start()

    def _on_split_choice_changed(self, _index: int) -> None:
        self.panel.show_split_kind(self._subject_wise_note())
        self._on_setting_changed()

    def _on_debounce_timeout(self) -> None:
        self._apply_settings()
        if self.panel.split_kind.currentData() == "random":
            self.panel.split_gap_note.setText(self._subject_wise_note())

    def _subject_wise_note(self) -> str:
        """The measured random-vs-subject gap, plus the user's last subject-wise figure."""
        if self.panel.split_kind.currentData() != "random":
            return ""
        try:
            window, _split, activities, channels = self.current_settings()
        except ValueError:
            return random_split_guidance(None)
        given = data_settings(window, activities, channels)
        ds = self.state.dataset
        if ds is None:
            return random_split_guidance(given)
        # "all" as the concrete names a cross-validation records, else as given
        resolved = data_settings(window,
                                 activity_order(ds.activities) if activities is None
                                 else activities,
                                 list(ds.channels) if channels is None else channels)
        return random_split_guidance(resolved, given)

    def split_guidance(self) -> str:
        """The subject-wise estimate shown next to a random split ("" for a subject split)."""
        return self.panel.split_gap_note.text() if self.panel.split_gap_note.isVisibleTo(self) else ""

    def split_warning(self) -> str:
        """The warning shown under the split settings ("" when none)."""
        return self.panel.split_message.text()

    def _rate_hz(self) -> float:
        ds = self.state.dataset
        return nominal_rate(ds.report.sampling_hz if ds is not None else 0.0,
                            self.state.window_config.rate_hz or 20.0)

    def current_settings(self):
        """(WindowConfig, SplitConfig, activities, channels) the controls show; raises
        ValueError when they are inconsistent."""
        return self.panel.current_settings(self._rate_hz(),
                                           self.state.window_config.max_gap_periods)

    def _apply_settings(self) -> None:
        """Send the settings to the state and recount windows in the background."""
        self._debounce.stop()
        try:
            window, split, activities, channels = self.current_settings()
        except ValueError as exc:
            self.panel.settings_message.show_message(str(exc), "error")
            self._set_counts(None)
            return
        self.panel.settings_message.clear()
        self.state.set_data_settings(window, split, activities, channels)
        if self.state.dataset is not None:
            app_settings().setValue("data/activities",
                                    json.dumps(self.panel.activity_list.checked()))
        if self.state.dataset is not None:
            self.view.counts_label.setText("Counting windows…")
            self.controller.recount(window, split, activities, channels)

    def _on_controller_counts_ready(self, counts) -> None:
        self._set_counts(counts)

    def _on_controller_counts_failed(self, text: str) -> None:
        self.panel.settings_message.show_message(text, "error")
        self._set_counts(None)

    def _set_counts(self, counts) -> None:
        self.window_counts = counts
        self.view.set_counts(counts)
        if counts is not None and counts.total == 0:
            self.panel.settings_message.show_message(
                "No windows: every recording is shorter than the window size "
                "(or no activity is selected).", "warning")
        self.windowCountsChanged.emit(counts)


def initial_activities(order: list[str]) -> list[str]:
    """The activities ticked when data opens: the last choice (kept across restarts) when the
    data has them all, else WISDM's five A-E when the data has many more (WISDM 2019's 18),
    else all."""
    try:
        last = json.loads(str(app_settings().value("data/activities", "null")))
    except ValueError:
        last = None
    if isinstance(last, list) and last and all(str(a) in order for a in last):
        return [str(a) for a in last]
    five = [a for a in order if a in WISDM_A_TO_E]
    if len(order) > 6 and len(five) >= 3:
        return five
    return list(order)
