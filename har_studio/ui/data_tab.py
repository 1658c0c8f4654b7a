"""The Data tab: open recordings, see what was loaded, choose windows, split and classes.

Loading runs ``loaders.load_iter`` in a ``GeneratorWorker`` (progress bar, Cancel; a new load
cancels the old one). Window counts per split and class are recomputed off the GUI thread,
debounced, whenever a setting changes; the chosen settings go to ``AppState`` so the Train tab
uses exactly what is shown here.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ..data.activities import WISDM2019_CODES, activity_order
from ..data.dataset import ACCEL_CHANNELS, CHANNEL_UNITS, GYRO_CHANNELS, DataError, Dataset
from ..data.splits import RANDOM_SPLIT_WARNING, SplitConfig, split_windows
from ..data.windows import WindowConfig, make_windows
from .state import AppState
from .widgets import (
    BarChart,
    CheckList,
    InlineMessage,
    app_settings,
    channel_pen,
    configure_pyqtgraph,
    fill_table,
    form,
    settings_list,
)
from .workers import GeneratorWorker

log = logging.getLogger(__name__)

FORMAT_NAMES = {
    "wisdm-v1.1": "WISDM v1.1 raw text",
    "wisdm-2019": "WISDM 2019 raw (per subject)",
    "csv": "CSV with header",
    "demo": "Built-in demo (synthetic)",
    "mixed": "Mixed formats",
}
# WISDM 2019 activities A..E; v1.1 splits "stairs" into upstairs and downstairs.
WISDM_A_TO_E = [WISDM2019_CODES[c] for c in "ABCDE"] + ["upstairs", "downstairs"]
RECENT_MAX = 8
DEBOUNCE_MS = 150
_USER_ERRORS = (DataError, OSError, ValueError, UnicodeError)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """A modal error for something the user must fix now (tests patch this function)."""
    QMessageBox.critical(parent, title, text)


@dataclass
class WindowCounts:
    """What the current settings give: windows per split and class."""

    labels: list[str]
    train: list[int]
    val: list[int]
    test: list[int]
    split: dict = field(default_factory=dict)
    warning: str | None = None

    @property
    def total(self) -> int:
        return sum(self.train) + sum(self.val) + sum(self.test)

    def imbalance(self) -> float:
        """max / min training windows over classes (inf when a class has none)."""
        present = [c for c in self.train]
        if not present or max(present) == 0:
            return float("nan")
        return float("inf") if min(present) == 0 else max(present) / min(present)


def count_windows(frame, window: WindowConfig, split: SplitConfig,
                  activities: list[str] | None, channels: list[str] | None) -> WindowCounts:
    """Window and split `frame` as training will, and count (runs in a worker thread)."""
    windows = make_windows(frame, window, channels=channels, activities=activities)
    if len(windows) == 0:
        zeros = [0] * len(windows.labels)
        return WindowCounts(list(windows.labels), zeros, list(zeros), list(zeros))
    parts = split_windows(windows, split)
    k = len(windows.labels)

    def per_class(index: np.ndarray) -> list[int]:
        return [int(c) for c in np.bincount(windows.y[index], minlength=k)]

    return WindowCounts(list(windows.labels), per_class(parts.train), per_class(parts.val),
                        per_class(parts.test), parts.to_dict(), parts.warning)


class DataTab(QWidget):
    """Open data, inspect it, and choose window / split / class / channel settings."""

    datasetLoaded = Signal(object)          # Dataset, after state.set_dataset
    loadFailed = Signal(str)                # one-line message
    windowCountsChanged = Signal(object)    # WindowCounts (or None when unavailable)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state
        self._load_worker: GeneratorWorker | None = None
        self._load_paths: list[str] = []
        self._demo_on_failure = False
        self._count_worker: GeneratorWorker | None = None
        self._old_workers: set[GeneratorWorker] = set()
        self._arrays: dict[str, np.ndarray] = {}
        self._activity_codes: dict[str, int] = {}
        self._subjects: list[int] = []
        self._activities: list[str] = []
        self._populating = False
        self.window_counts: WindowCounts | None = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)

        self._build_ui()
        self._init_from_state()
        state.datasetChanged.connect(self._on_state_dataset_changed)
        if state.dataset is not None:
            self._on_state_dataset_changed(state.dataset)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        # --- open / progress
        self.open_files_button = QPushButton("Open files…")
        self.open_files_button.clicked.connect(self.open_files_dialog)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        self.demo_button = QPushButton("Demo data")
        self.demo_button.setToolTip("Synthetic WISDM-like recordings (6 subjects, 6 activities)")
        self.demo_button.clicked.connect(self.open_demo)
        open_row = QHBoxLayout()
        for b in (self.open_files_button, self.open_folder_button, self.demo_button):
            open_row.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_load)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_box.hide()
        self.message = InlineMessage(self)

        # --- summary
        self.summary = QLabel("No data loaded. Open WISDM files or a folder, or try the demo.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        summary_box = QGroupBox("Loaded data")
        QVBoxLayout(summary_box).addWidget(self.summary)

        # --- windows
        self.window_size = QSpinBox()
        self.window_size.setRange(8, 4096)
        self.window_size.setSuffix(" samples")
        self.window_step = QSpinBox()
        self.window_step.setRange(1, 4096)
        self.window_step.setSuffix(" samples")
        self.window_seconds = QLabel()
        for spin in (self.window_size, self.window_step):
            spin.valueChanged.connect(self._on_setting_changed)
        window_box = QGroupBox("Windows")
        window_box.setLayout(form([("Size", self.window_size), ("Step", self.window_step),
                                   ("", self.window_seconds)]))

        # --- split
        self.split_kind = QComboBox()
        self.split_kind.addItem("By subject (new people)", "subject")
        self.split_kind.addItem("Random by window (leaks)", "random")
        self.split_kind.currentIndexChanged.connect(self._on_split_kind_changed)
        self.subject_mode = QComboBox()
        self.subject_mode.addItem("Seeded random pick", "random")
        self.subject_mode.addItem("Choose subjects", "choose")
        self.subject_mode.currentIndexChanged.connect(self._on_subject_mode_changed)
        self.test_percent = QSpinBox()
        self.test_percent.setRange(0, 80)
        self.test_percent.setSuffix(" %")
        self.val_percent = QSpinBox()
        self.val_percent.setRange(0, 80)
        self.val_percent.setSuffix(" %")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.reseed_button = QPushButton("New seed")
        self.reseed_button.clicked.connect(self._on_reseed_clicked)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.reseed_button)
        seed_widget = QWidget()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_widget.setLayout(seed_row)
        for spin in (self.test_percent, self.val_percent, self.seed):
            spin.valueChanged.connect(self._on_setting_changed)
        self.test_subjects = CheckList()
        self.val_subjects = CheckList()
        for lst in (self.test_subjects, self.val_subjects):
            lst.setMaximumHeight(110)
            lst.checkedChanged.connect(self._on_setting_changed)
        self.pick_box = QWidget()
        pick_layout = QHBoxLayout(self.pick_box)
        pick_layout.setContentsMargins(0, 0, 0, 0)
        for title, lst in (("Test subjects", self.test_subjects),
                           ("Validation subjects", self.val_subjects)):
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
        self._split_form = form([("Split", self.split_kind), ("Subjects", self.subject_mode),
                                 ("Test", self.test_percent), ("Validation", self.val_percent),
                                 ("Seed", seed_widget)])
        split_layout.addLayout(self._split_form)
        split_layout.addWidget(self.pick_box)
        split_layout.addWidget(self.split_message)
        split_layout.addWidget(self.split_gap_note)

        # --- activities / channels
        self.activity_list = CheckList()
        self.activity_list.checkedChanged.connect(self._on_setting_changed)
        self.channel_list = CheckList()
        self.channel_list.setMaximumHeight(120)
        self.channel_list.checkedChanged.connect(self._on_setting_changed)
        preset_row = QHBoxLayout()
        self.all_activities_button = QPushButton("All")
        self.all_activities_button.clicked.connect(self._on_all_activities_clicked)
        self.no_activities_button = QPushButton("None")
        self.no_activities_button.clicked.connect(self._on_no_activities_clicked)
        self.wisdm_ae_button = QPushButton("WISDM A–E")
        self.wisdm_ae_button.setToolTip("Walking, jogging, stairs (up/down), sitting, standing")
        self.wisdm_ae_button.clicked.connect(self._on_wisdm_ae_clicked)
        for b in (self.all_activities_button, self.no_activities_button, self.wisdm_ae_button):
            preset_row.addWidget(b)
        classes_box = QGroupBox("Activities (classes) and channels")
        classes_layout = QVBoxLayout(classes_box)
        classes_layout.addLayout(preset_row)
        classes_layout.addWidget(self.activity_list)
        classes_layout.addWidget(QLabel("Channels"))
        classes_layout.addWidget(self.channel_list)
        self.settings_message = InlineMessage(self)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(open_row)
        left_layout.addWidget(self.progress_box)
        left_layout.addWidget(self.message)
        left_layout.addWidget(summary_box)
        left_layout.addWidget(window_box)
        left_layout.addWidget(split_box)
        left_layout.addWidget(classes_box)
        left_layout.addWidget(self.settings_message)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(340)

        # --- right: counts chart, signal plot, window table
        self.activity_chart = BarChart(x_label="samples")
        self.activity_chart.setMinimumHeight(140)
        self.plot_subject = QComboBox()
        self.plot_subject.currentIndexChanged.connect(self._on_plot_choice_changed)
        self.plot_activity = QComboBox()
        self.plot_activity.currentIndexChanged.connect(self._on_plot_choice_changed)
        choose_row = QHBoxLayout()
        choose_row.addWidget(QLabel("Subject"))
        choose_row.addWidget(self.plot_subject)
        choose_row.addWidget(QLabel("Activity"))
        choose_row.addWidget(self.plot_activity)
        choose_row.addStretch(1)
        self.accel_plot = pg.PlotWidget()
        self.gyro_plot = pg.PlotWidget()
        self.plot_curves: dict[str, pg.PlotDataItem] = {}
        for widget, chans, unit in ((self.accel_plot, ACCEL_CHANNELS, "m/s²"),
                                    (self.gyro_plot, GYRO_CHANNELS, "rad/s")):
            item = widget.getPlotItem()
            item.setClipToView(True)
            item.setDownsampling(auto=True, mode="peak")
            item.showGrid(x=True, y=True, alpha=0.2)
            item.addLegend(offset=(5, 5))
            item.setLabel("left", "accelerometer" if unit == "m/s²" else "gyroscope", units=unit)
            item.setLabel("bottom", "time", units="s")
            for c in chans:
                self.plot_curves[c] = widget.plot(pen=channel_pen(c), name=c, skipFiniteCheck=True)
        self.gyro_plot.setXLink(self.accel_plot)
        self.gyro_plot.hide()
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(choose_row)
        plot_layout.addWidget(self.accel_plot, 1)
        plot_layout.addWidget(self.gyro_plot, 1)

        self.counts_table = QTableWidget()
        self.counts_table.verticalHeader().setVisible(False)
        self.counts_table.verticalHeader().setDefaultSectionSize(
            self.fontMetrics().height() + 6)
        self.counts_table.setAlternatingRowColors(True)
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(QLabel("<b>Windows per split and class</b>"))
        table_layout.addWidget(self.counts_table, 1)
        table_layout.addWidget(self.counts_label)

        right = QSplitter(Qt.Orientation.Vertical)
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(QLabel("<b>Samples per activity</b>"))
        chart_layout.addWidget(self.activity_chart)
        right.addWidget(chart_box)
        right.addWidget(plot_box)
        right.addWidget(table_box)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 2)
        right.setSizes([150, 400, 280])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setAcceptDrops(False)  # the main window handles drops

    def _init_from_state(self) -> None:
        self._populating = True
        try:
            w, s = self.state.window_config, self.state.split_config
            self.window_size.setValue(w.size)
            self.window_step.setValue(w.step)
            self.split_kind.setCurrentIndex(0 if s.kind == "subject" else 1)
            self.test_percent.setValue(int(round(s.test_fraction * 100)))
            self.val_percent.setValue(int(round(s.val_fraction * 100)))
            self.seed.setValue(s.seed)
        finally:
            self._populating = False
        self._update_seconds_label()
        self._update_split_widgets()

    # ------------------------------------------------------------ loading
    def open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open recordings", self._last_dir(),
            "Recordings (*.txt *.csv);;All files (*)")
        if files:
            self._remember_dir(str(Path(files[0]).parent))
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of recordings",
                                                  self._last_dir())
        if folder:
            self._remember_dir(folder)
            self.open_paths([folder])

    def open_paths(self, paths, *, demo_on_failure: bool = False) -> None:
        """Load files and/or folders in the background (cancels a load in progress)."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = [str(p) for p in paths]
        if not paths:
            return
        try:
            from ..data import loaders
        except ImportError as exc:  # the loader module is part of the app; never expected
            self._report_load_error(f"cannot load data: {exc}", modal=True)
            return
        label = Path(paths[0]).name + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
        self._start_load(self._make_load_factory(loaders, paths), paths, f"Opening {label}…")
        self._demo_on_failure = demo_on_failure

    @staticmethod
    def _make_load_factory(loaders, paths: list[str]):
        def factory():
            return loaders.load_iter(paths)
        return factory

    def open_demo(self) -> None:
        """Load the built-in synthetic recordings."""
        from ..data.demo import demo_dataset

        self._start_load(demo_dataset, [], "Generating demo data…")

    def cancel_load(self) -> None:
        worker = self._load_worker
        if worker is None:
            return
        worker.abort()
        self._retire(worker)
        self._load_worker = None
        self.progress_box.hide()
        self.message.show_message("Loading cancelled.", "info")
        log.info("loading cancelled")

    def is_loading(self) -> bool:
        return self._load_worker is not None

    def _start_load(self, factory, paths: list[str], text: str) -> None:
        if self._load_worker is not None:
            old = self._load_worker
            old.abort()
            self._retire(old)
            log.info("previous load cancelled by a new one")
        self._demo_on_failure = False
        self._load_paths = paths
        worker = GeneratorWorker(factory, min_interval_s=0.1)
        worker.yielded.connect(self._on_load_progress)
        worker.returned.connect(self._on_load_returned)
        worker.errored.connect(self._on_load_errored)
        worker.aborted.connect(self._on_worker_aborted)
        self._load_worker = worker
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.progress_box.show()
        self.message.clear()
        worker.start()

    def _retire(self, worker: GeneratorWorker) -> None:
        """Keep a replaced worker alive until its thread ends; its results are ignored."""
        self._old_workers.add(worker)
        worker.finished.connect(self._on_old_worker_finished)
        if worker.isFinished():
            self._old_workers.discard(worker)

    def _on_old_worker_finished(self) -> None:
        worker = self.sender()
        if worker is not None:
            self._old_workers.discard(worker)

    def _on_load_progress(self, item) -> None:
        if self.sender() is not self._load_worker:
            return
        done = getattr(item, "done_bytes", 0)
        total = getattr(item, "total_bytes", 0)
        name = Path(str(getattr(item, "file", "") or "")).name
        if total > 0:
            self.progress.setValue(int(1000 * min(done, total) / total))
            self.progress.setFormat(f"Reading {name}  {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _on_load_returned(self, dataset) -> None:
        if self.sender() is not self._load_worker:
            return
        self._load_worker = None
        self.progress_box.hide()
        if not isinstance(dataset, Dataset):
            self._report_load_error(f"loading returned no data ({type(dataset).__name__})",
                                    modal=True)
            return
        paths = list(self._load_paths)
        self.state.set_dataset(dataset, paths)
        if paths:
            self._remember_paths(paths)
        r = dataset.report
        log.info("loaded %d records of %d subjects (%s)", r.records, len(r.subjects),
                 r.format or "?")
        if r.warnings:
            self.message.show_message(" ".join(r.warnings[:3]), "warning")
        self.datasetLoaded.emit(dataset)

    def _on_load_errored(self, exc, tb: str) -> None:
        if self.sender() is not self._load_worker:
            return
        self._load_worker = None
        self.progress_box.hide()
        if isinstance(exc, _USER_ERRORS):
            text = str(exc) or type(exc).__name__
            named = any(Path(p).name in text for p in self._load_paths)
            if not named and self._load_paths:
                text = f"{Path(self._load_paths[0]).name}: {text}"
            self._report_load_error(text, modal=True)
        else:
            log.error("unexpected error while loading %s\n%s", self._load_paths, tb)
            self._report_load_error(f"unexpected error while loading: {type(exc).__name__}: {exc}",
                                    modal=False)
        if self._demo_on_failure:
            self._demo_on_failure = False
            self.open_demo()

    def _report_load_error(self, text: str, *, modal: bool) -> None:
        text = " ".join(str(text).split())  # one line
        log.warning("could not load data: %s", text)
        self.message.show_message(f"Could not load data: {text}", "error")
        self.loadFailed.emit(text)
        if modal:
            show_error(self, "Could not open data", text)

    def _on_worker_aborted(self) -> None:
        pass  # results of an aborted worker are ignored; the UI was updated at cancel time

    # ---------------------------------------------------------- settings
    def _last_dir(self) -> str:
        return str(app_settings().value("data/last_dir", str(Path.home())))

    def _remember_dir(self, folder: str) -> None:
        app_settings().setValue("data/last_dir", folder)

    def _remember_paths(self, paths: list[str]) -> None:
        settings = app_settings()
        settings.setValue("data/last_paths", paths)
        entry = json.dumps(paths)
        recent = [e for e in settings_list(settings, "data/recent") if e != entry]
        settings.setValue("data/recent", [entry, *recent][:RECENT_MAX])

    @staticmethod
    def last_paths() -> list[str]:
        """The data opened last (QSettings), or [] ."""
        return settings_list(app_settings(), "data/last_paths")

    @staticmethod
    def recent_entries() -> list[list[str]]:
        """Recently opened path lists, newest first."""
        out = []
        for entry in settings_list(app_settings(), "data/recent"):
            try:
                paths = json.loads(entry)
            except ValueError:
                continue
            if isinstance(paths, list) and paths:
                out.append([str(p) for p in paths])
        return out

    # ------------------------------------------------------ dataset shown
    def _on_state_dataset_changed(self, dataset) -> None:
        self._populating = True
        try:
            self._show_dataset(dataset)
        finally:
            self._populating = False
        self._update_split_widgets()
        self._update_seconds_label()
        if dataset is not None:
            self._apply_settings()
        else:
            self._set_counts(None)

    def _show_dataset(self, dataset: Dataset | None) -> None:
        if dataset is None:
            self._arrays = {}
            self.summary.setText("No data loaded.")
            self.activity_chart.set_data([], [])
            for lst in (self.activity_list, self.channel_list, self.test_subjects,
                        self.val_subjects):
                lst.set_items([])
            self.plot_subject.clear()
            self.plot_activity.clear()
            for curve in self.plot_curves.values():
                curve.setData([], [])
            return
        frame = dataset.frame
        activity = frame["activity"]
        if hasattr(activity, "cat"):
            categories = [str(c) for c in activity.cat.categories]
            codes = activity.cat.codes.to_numpy()
        else:
            codes_, uniques = np.unique(activity.astype(str).to_numpy(), return_inverse=True)
            categories, codes = [str(u) for u in codes_], uniques
        channels = dataset.channels
        self._arrays = {
            "subject": frame["subject"].to_numpy(),
            "code": codes,
            "timestamp": frame["timestamp"].to_numpy(),
            **{c: frame[c].to_numpy() for c in channels},
        }
        self._activity_codes = {name: i for i, name in enumerate(categories)}
        counts = np.bincount(codes[codes >= 0], minlength=len(categories))
        present = [n for n, c in zip(categories, counts, strict=True) if c > 0]
        order = activity_order(present)
        by_name = dict(zip(categories, counts, strict=True))
        # the loader already listed the subjects: a unique() over 1M rows costs ~20 ms
        subjects = sorted(int(s) for s in dataset.report.subjects) or sorted(
            int(s) for s in np.unique(self._arrays["subject"]))
        self._subjects, self._activities = subjects, order

        self.summary.setText(self._summary_html(dataset))
        self.activity_chart.set_data(order, [int(by_name[n]) for n in order])
        self.activity_list.set_items(order)
        self.channel_list.set_items(
            channels, labels={c: f"{c}  ({'gyroscope' if c in GYRO_CHANNELS else 'accelerometer'}, "
                                 f"{CHANNEL_UNITS.get(c, '')})" for c in channels})
        names = [str(s) for s in subjects]
        self.test_subjects.set_items(names, checked=[])
        self.val_subjects.set_items(names, checked=[])
        self.gyro_plot.setVisible(any(c in GYRO_CHANNELS for c in channels))

        self.plot_subject.blockSignals(True)
        self.plot_activity.blockSignals(True)
        try:
            self.plot_subject.clear()
            for s in subjects:
                self.plot_subject.addItem(str(s), s)
            self.plot_activity.clear()
            for name in order:
                self.plot_activity.addItem(name, name)
        finally:
            self.plot_subject.blockSignals(False)
            self.plot_activity.blockSignals(False)
        self._update_plot()

    def _summary_rows(self, dataset: Dataset) -> list[tuple[str, str]]:
        r = dataset.report
        files = [Path(f).name for f in r.files]
        file_text = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        rows = [
            ("Files", f"{len(files)}: {file_text}" if files else "—"),
            ("Format", FORMAT_NAMES.get(r.format, r.format or "unknown")),
            ("Records", f"{r.records:,}" + (f" of {r.records_read:,} read"
                                             if r.records_read and r.records_read != r.records
                                             else "")),
            ("Subjects", f"{len(self._subjects)}: " + _ranges(self._subjects)),
            ("Activities", f"{len(self._activities)}: " + ", ".join(self._activities)),
            ("Channels", ", ".join(dataset.channels)),
            ("Sampling rate", f"{r.sampling_hz:.1f} Hz" if r.sampling_hz else "unknown"),
            ("Gaps", f"{r.gaps:,}"),
        ]
        skipped_total = sum(r.skipped.values())
        if skipped_total:
            parts = []
            for reason, count in sorted(r.skipped.items(), key=lambda kv: -kv[1]):
                places = r.skipped_lines.get(reason, [])
                where = f" (first at {', '.join(places[:3])})" if places else ""
                parts.append(f"{reason}: {count:,}{where}")
            rows.append(("Skipped", f"{skipped_total:,} — " + "; ".join(parts)))
        else:
            rows.append(("Skipped", "none"))
        for w in r.warnings:
            rows.append(("Warning", w))
        return rows

    def _summary_html(self, dataset: Dataset) -> str:
        cells = "".join(
            f"<tr><td style='padding-right:8px'><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>"
            for k, v in self._summary_rows(dataset))
        return f"<table>{cells}</table>"

    def summary_text(self) -> str:
        """The summary as plain text lines ``Key: value`` (for tests and copying)."""
        if self.state.dataset is None:
            return "No data loaded."
        return "\n".join(f"{k}: {v}" for k, v in self._summary_rows(self.state.dataset))

    # ----------------------------------------------------------- plotting
    def _on_plot_choice_changed(self, _index: int) -> None:
        self._update_plot()

    def select_plot(self, subject: int, activity: str) -> None:
        """Show `subject` doing `activity` in the signal plot."""
        i = self.plot_subject.findData(int(subject))
        j = self.plot_activity.findData(str(activity))
        if i < 0 or j < 0:
            raise ValueError(f"no subject {subject} or activity {activity!r} in the data")
        self.plot_subject.blockSignals(True)
        self.plot_subject.setCurrentIndex(i)
        self.plot_subject.blockSignals(False)
        self.plot_activity.setCurrentIndex(j)
        self._update_plot()

    def _update_plot(self) -> None:
        a = self._arrays
        subject = self.plot_subject.currentData()
        activity = self.plot_activity.currentData()
        if not a or subject is None or activity is None:
            for curve in self.plot_curves.values():
                curve.setData([], [])
            return
        code = self._activity_codes.get(activity, -1)
        index = np.flatnonzero((a["subject"] == subject) & (a["code"] == code))
        title = f"Subject {subject}, {activity}"
        if len(index) == 0:
            title += " — no samples"
            t = np.zeros(0)
        else:
            ts = a["timestamp"][index]
            t = (ts - ts[0]) / 1e9
            title += f" — {len(index):,} samples, {t[-1]:.0f} s"
        for c, curve in self.plot_curves.items():
            if c in a and len(index):
                curve.setData(t, a[c][index])
            else:
                curve.setData([], [])
        self.accel_plot.setTitle(title, size="9pt")
        self.accel_plot.enableAutoRange()
        self.gyro_plot.enableAutoRange()

    # ---------------------------------------------------- settings -> state
    def _on_setting_changed(self, *_args) -> None:
        self._update_seconds_label()
        if not self._populating:
            self._debounce.start()

    def _on_split_kind_changed(self, _index: int) -> None:
        self._update_split_widgets()
        self._on_setting_changed()

    def _on_subject_mode_changed(self, _index: int) -> None:
        self._update_split_widgets()
        self._on_setting_changed()

    def _on_reseed_clicked(self) -> None:
        self.seed.setValue(random.randrange(0, 100_000))

    def _on_all_activities_clicked(self) -> None:
        self.activity_list.set_checked(self.activity_list.names())

    def _on_no_activities_clicked(self) -> None:
        self.activity_list.set_checked([])

    def _on_wisdm_ae_clicked(self) -> None:
        self.activity_list.set_checked([n for n in self.activity_list.names()
                                        if n in WISDM_A_TO_E])

    def _on_debounce_timeout(self) -> None:
        self._apply_settings()
        if self.split_kind.currentData() == "random":
            self.split_gap_note.setText(self._subject_wise_note())

    def _update_seconds_label(self) -> None:
        rate = self._rate_hz()
        size, step = self.window_size.value(), self.window_step.value()
        overlap = max(0.0, 1 - step / size) * 100
        self.window_seconds.setText(f"{size / rate:.2f} s windows, {overlap:.0f} % overlap "
                                    f"at {rate:g} Hz")

    def _update_split_widgets(self) -> None:
        by_subject = self.split_kind.currentData() == "subject"
        choose = by_subject and self.subject_mode.currentData() == "choose"
        self.subject_mode.setEnabled(by_subject)
        self.pick_box.setVisible(choose)
        tip = "of subjects" if by_subject else "of windows"
        self.test_percent.setToolTip(f"Share {tip} held out for testing")
        self.val_percent.setToolTip(f"Share {tip} held out for validation")
        if by_subject:
            self.split_message.clear()
            self.split_gap_note.clear()
            self.split_gap_note.hide()
        else:
            self.split_message.show_message(RANDOM_SPLIT_WARNING, "warning")
            self.split_gap_note.setText(self._subject_wise_note())
            self.split_gap_note.show()

    def _subject_wise_note(self) -> str:
        """The measured random-vs-subject gap, plus the user's last subject-wise figure."""
        from ..training.crossval import data_settings, random_split_guidance

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
        return self.split_gap_note.text() if self.split_gap_note.isVisibleTo(self) else ""

    def split_warning(self) -> str:
        """The warning shown under the split settings ("" when none)."""
        return self.split_message.text()

    def _rate_hz(self) -> float:
        ds = self.state.dataset
        hz = ds.report.sampling_hz if ds is not None else 0.0
        if hz and 1.0 <= hz <= 1000.0:
            nominal = round(float(hz))   # clocks jitter: 19.9 Hz measured is a 20 Hz sensor
            return float(nominal) if abs(hz - nominal) <= 0.025 * nominal else round(hz, 1)
        return self.state.window_config.rate_hz or 20.0

    def current_settings(self) -> tuple[WindowConfig, SplitConfig, list[str] | None,
                                        list[str] | None]:
        """The settings the controls show; raises ValueError when they are inconsistent."""
        window = WindowConfig(size=self.window_size.value(), step=self.window_step.value(),
                              rate_hz=self._rate_hz(),
                              max_gap_periods=self.state.window_config.max_gap_periods)
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

    def _apply_settings(self) -> None:
        """Send the settings to the state and recount windows in the background."""
        self._debounce.stop()
        try:
            window, split, activities, channels = self.current_settings()
        except ValueError as exc:
            self.settings_message.show_message(str(exc), "error")
            self._set_counts(None)
            return
        self.settings_message.clear()
        self.state.set_data_settings(window, split, activities, channels)
        ds = self.state.dataset
        if ds is None:
            return
        if self._count_worker is not None:
            self._count_worker.abort()
            self._retire(self._count_worker)
        worker = GeneratorWorker(self._make_count_factory(ds.frame, window, split, activities,
                                                          channels))
        worker.returned.connect(self._on_counts_returned)
        worker.errored.connect(self._on_counts_errored)
        self._count_worker = worker
        self.counts_label.setText("Counting windows…")
        worker.start()

    @staticmethod
    def _make_count_factory(frame, window, split, activities, channels):
        def factory():
            return count_windows(frame, window, split, activities, channels)
        return factory

    def _on_counts_returned(self, counts) -> None:
        if self.sender() is not self._count_worker:
            return
        self._count_worker = None
        self._set_counts(counts)

    def _on_counts_errored(self, exc, tb: str) -> None:
        if self.sender() is not self._count_worker:
            return
        self._count_worker = None
        if not isinstance(exc, ValueError):
            log.error("counting windows failed\n%s", tb)
        self.settings_message.show_message(str(exc), "error")
        self._set_counts(None)

    def _set_counts(self, counts: WindowCounts | None) -> None:
        self.window_counts = counts
        if counts is None:
            fill_table(self.counts_table, ["Class", "Train", "Validation", "Test", "Total"], [])
            self.counts_label.setText("")
            self.windowCountsChanged.emit(None)
            return
        rows = []
        for i, name in enumerate(counts.labels):
            t, v, te = counts.train[i], counts.val[i], counts.test[i]
            rows.append([name, t, v, te, t + v + te])
        tr, va, te = sum(counts.train), sum(counts.val), sum(counts.test)
        rows.append(["Total", tr, va, te, tr + va + te])
        fill_table(self.counts_table, ["Class", "Train", "Validation", "Test", "Total"], rows)
        text = []
        if counts.total == 0:
            self.settings_message.show_message(
                "No windows: every recording is shorter than the window size "
                "(or no activity is selected).", "warning")
        else:
            ratio = counts.imbalance()
            if np.isfinite(ratio):
                hi = counts.labels[int(np.argmax(counts.train))]
                lo = counts.labels[int(np.argmin(counts.train))]
                detail = "balanced" if hi == lo or ratio < 1.05 else f"{hi} vs {lo}"
                text.append(f"Class imbalance (train windows, max/min): {ratio:.1f}× "
                            f"({detail}).")
            elif ratio == float("inf"):
                missing = [n for n, c in zip(counts.labels, counts.train, strict=True) if c == 0]
                text.append(f"No training windows for: {', '.join(missing)}.")
            sp = counts.split
            if sp.get("kind") == "subject":
                text.append(f"Subjects — train: {_ranges(sp['train_subjects'])}; "
                            f"validation: {_ranges(sp['val_subjects']) or 'none'}; "
                            f"test: {_ranges(sp['test_subjects']) or 'none'}.")
        self.counts_label.setText(" ".join(text))
        self.windowCountsChanged.emit(counts)

    def counts_rows(self) -> list[list[str]]:
        """The counts table as text (for tests)."""
        t = self.counts_table
        return [[t.item(r, c).text() if t.item(r, c) else "" for c in range(t.columnCount())]
                for r in range(t.rowCount())]


def _ranges(values) -> str:
    """[1, 2, 3, 5] -> '1–3, 5'."""
    values = sorted(int(v) for v in values)
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(str(values[i]) if i == j else f"{values[i]}–{values[j]}")
        i = j + 1
    return ", ".join(out)


def _esc(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
