"""The Train tab: set up a model, train it with live curves, read and keep the results.

The whole job (windowing the data, then ``training.train``) runs in a ``GeneratorWorker``;
the GUI thread only stores the progress it receives and redraws the curves from a 10 Hz timer,
so a fast stream of batch updates never holds the event loop for more than a moment. Pause
and Stop go through the engine's ``TrainControl``: Stop ends at the next batch and keeps the
best model so far, which is shown, saved in the run folder and handed to the Live tab like a
finished run.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..data.activities import activity_order
from ..data.features import FeatureConfig
from ..data.splits import RANDOM_SPLIT_WARNING
from ..training import runs as runs_mod
from ..training.crossval import (
    CVResult,
    FoldFinished,
    FoldProgress,
    cross_validate,
    find_cv,
    random_split_guidance,
    remember_cv,
)
from ..training.engine import (
    BatchProgress,
    EpochProgress,
    TrainControl,
    TrainNote,
    resolve_device,
    resolve_precision,
    train,
)
from ..training.prepare import default_model_config, prepare_data
from .state import AppState
from .train_plots import ConfusionHeatmap, PerClassBars, TrainingCurves, save_widget_png
from .train_settings import MODEL_FIELDS, TrainSettingsForm
from .widgets import InlineMessage, configure_pyqtgraph
from .workers import GeneratorWorker

log = logging.getLogger(__name__)

REDRAW_INTERVAL_MS = 100
MODEL_FILTER = "HAR Studio model (*.harmodel)"


def format_duration(seconds: float | None) -> str:
    """Seconds as '1 h 02 min', '3 min 05 s' or '12 s' ('–' when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def _engine_accepts(name: str) -> bool:
    try:
        return name in inspect.signature(train).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


@dataclass(frozen=True)
class _Resolved:
    """Where the job will train, known once the worker resolved "auto"."""

    device: str
    precision: str


@dataclass
class _Job:
    """Everything a training job needs, captured on the GUI thread when Start is pressed."""

    dataset: object
    window: object
    split: object
    activities: list[str] | None
    channels: list[str] | None
    model_overrides: dict
    train_config: object
    control: TrainControl
    init_bundle: object = None
    info: dict = field(default_factory=dict)   # filled by the worker: split, labels, run_dir
    features: FeatureConfig = field(default_factory=FeatureConfig)
    cv_folds: int = 0                          # > 1: cross-validate by subject instead
    preset: str = ""


def _training_job(job: _Job):
    """Generator run in the worker thread: window and split the data, then train."""
    yield TrainNote("Preparing windows…", "info")
    prepared = prepare_data(job.dataset, window=job.window, split=job.split,
                            activities=job.activities, channels=job.channels,
                            features=job.features)
    job.info["split"] = prepared.split.to_dict()
    job.info["labels"] = list(prepared.labels)
    split = prepared.split
    text = (f"{len(prepared.windows):,} windows of {len(prepared.labels)} classes: "
            f"{len(split.train):,} training, {len(split.val):,} validation, "
            f"{len(split.test):,} test ({split.kind} split)")
    log.info("%s", text)     # the tab shows engine notes without logging them again
    yield TrainNote(text, "info")
    if job.control.stopped:
        return None
    model_config = default_model_config(prepared, **job.model_overrides)
    device = resolve_device(job.train_config.device)
    yield _Resolved(str(device), resolve_precision(device, job.train_config.precision))
    kwargs = {}
    if job.init_bundle is not None:
        kwargs["init_bundle"] = job.init_bundle
    run_dir = runs_mod.new_run_dir("-".join(prepared.labels)[:30])
    job.info["run_dir"] = run_dir
    result = yield from train(prepared, model_config, job.train_config, control=job.control,
                              run_dir=run_dir, **kwargs)
    return result


def _cv_job(job: _Job):
    """Generator run in the worker thread: k-fold leave-subjects-out cross-validation."""
    yield TrainNote(f"Cross-validating by subject in {job.cv_folds} folds…", "info")
    device = resolve_device(job.train_config.device)
    yield _Resolved(str(device), resolve_precision(device, job.train_config.precision))
    run_dir = runs_mod.new_run_dir(f"cv{job.cv_folds}")
    job.info["run_dir"] = run_dir
    cv = yield from cross_validate(
        job.dataset, k=job.cv_folds, window=job.window, activities=job.activities,
        channels=job.channels, features=job.features, model_overrides=job.model_overrides,
        train_config=job.train_config, seed=job.train_config.seed, control=job.control,
        run_dir=run_dir)
    remember_cv(cv, label=job.preset)
    return cv


def _item(text: str, key=None, value=None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if key is not None:
        item.setData(Qt.ItemDataRole.UserRole, key)
    if value is not None:
        item.setData(Qt.ItemDataRole.UserRole, value)
    return item


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)


class TrainTab(QWidget):
    """Model and training settings, Start/Pause/Stop, live curves, results and past runs."""

    trainingStarted = Signal()
    epochFinished = Signal(object)      # EpochProgress
    trainingFinished = Signal(object)   # TrainResult, emitted after its results are shown
    trainingFailed = Signal(str)        # the one-line message shown in the tab
    foldFinished = Signal(object)       # FoldFinished, after its table row was added
    crossValidationFinished = Signal(object)   # CVResult, after the fold table was filled

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state
        self._worker: GeneratorWorker | None = None
        self._workers: set[GeneratorWorker] = set()   # alive until their thread finished
        self._export_worker: GeneratorWorker | None = None
        self._job: _Job | None = None
        self._started_at = 0.0
        self._history: list[dict] = []
        self._batch_x: list[float] = []
        self._batch_y: list[float] = []
        self._dirty = False
        self._drawn_epochs = -1
        self._result = None                 # TrainResult shown (this session's training)
        self._record = None                 # RunRecord shown (a past run)
        self._shown_bundle = None           # bundle behind the results shown, when loaded
        self._shown_model_path: Path | None = None
        self._shown_report: dict = {}
        self._export_summary = ""

        # ----- left: data summary, settings, past runs, controls -----
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

        self.runs_list = QListWidget()
        self.runs_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_list.setToolTip("Training runs saved in the user data folder; select one to "
                                  "see its curves and results")
        self.refresh_runs_button = QPushButton("Refresh")
        self.use_model_button = QPushButton("Use this model")
        self.use_model_button.setToolTip("Load the selected run's model for the Live tab")
        self.resume_button = QPushButton("Resume training from model file…")
        self.resume_button.setToolTip("Continue training a saved model on the current data "
                                      "(same window, channels and activities)")
        if not _engine_accepts("init_bundle"):
            self.resume_button.setEnabled(False)
            self.resume_button.setToolTip("This version of the trainer cannot start from a model")
        runs_page = QWidget()
        runs_layout = QVBoxLayout(runs_page)
        runs_layout.addWidget(self.runs_list, 1)
        run_buttons = QHBoxLayout()
        run_buttons.addWidget(self.refresh_runs_button)
        run_buttons.addWidget(self.use_model_button)
        runs_layout.addLayout(run_buttons)
        runs_layout.addWidget(self.resume_button)

        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(scroll, "Settings")
        self.side_tabs.addTab(runs_page, "Past runs")

        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the best model so far is "
                                    "kept, evaluated and saved")
        self.cv_check = QCheckBox("Cross-validate by subject")
        self.cv_check.setToolTip(
            "Instead of one model: train k models, each tested on a group of subjects it never "
            "saw (every subject tested once). The mean and spread over folds estimate the "
            "accuracy on new people. Validation subjects for early stopping come from each "
            "fold's training subjects.")
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

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(self.side_tabs, 1)
        left_layout.addLayout(cv_row)
        left_layout.addLayout(controls)
        left_layout.addWidget(self.start_reason)

        # ----- right: progress, curves, results, log -----
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.status_label = QLabel("Not started")
        self.eta_label = QLabel("")
        self.device_label = QLabel("")
        self.device_label.setToolTip("Where training runs and with which number format")
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress_bar, 3)
        status_row.addWidget(self.eta_label)
        status_row.addWidget(self.device_label)
        self.message = InlineMessage(self)

        self.plots = TrainingCurves()
        self.curves = self.plots.curves

        self.results_title = QLabel("<b>Results</b>")
        self.leak_warning = InlineMessage(self, closable=False)
        # Next to a random-split result: the subject-wise figure for comparable settings, or a
        # button to measure it, so a leaky number is never the only one on screen.
        self.cv_guidance = QLabel()
        self.cv_guidance.setWordWrap(True)
        self.cv_guidance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cv_offer_button = QPushButton("Cross-validate by subject")
        self.cv_offer_button.setToolTip("Measure accuracy on people the model has never seen: "
                                        "k models, each tested on subjects it did not train on")
        self.cv_guidance_box = QWidget()
        guidance_layout = QHBoxLayout(self.cv_guidance_box)
        guidance_layout.setContentsMargins(0, 0, 0, 0)
        guidance_layout.addWidget(self.cv_guidance, 1)
        guidance_layout.addWidget(self.cv_offer_button, 0, Qt.AlignmentFlag.AlignTop)
        self.cv_guidance_box.hide()
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the model to a .harmodel file (it is also kept in "
                                    "the run folder)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the report (JSON, CSV), the plots and the confusion "
                                      "matrix (PNG) and, when onnxruntime is installed, an "
                                      "ONNX model checked against torch")
        self.export_label = QLabel("")
        self.export_label.setWordWrap(True)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        result_buttons = QHBoxLayout()
        result_buttons.addWidget(self.results_title, 1)
        result_buttons.addWidget(self.save_button)
        result_buttons.addWidget(self.export_button)

        self.metrics_table = QTableWidget(0, 2)
        self.metrics_table.setHorizontalHeaderLabels(["Metric", "Value"])
        self.metrics_table.verticalHeader().setVisible(False)
        self.metrics_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.setMinimumWidth(260)
        self.metrics_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.per_class = PerClassBars()
        self.confusion = ConfusionHeatmap()
        result_split = QSplitter(Qt.Orientation.Horizontal)
        result_split.addWidget(self.metrics_table)
        result_split.addWidget(self.per_class)
        result_split.addWidget(self.confusion)
        result_split.setSizes([280, 280, 340])
        self.results_panel = QWidget()
        results_layout = QVBoxLayout(self.results_panel)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(result_buttons)
        results_layout.addWidget(self.leak_warning)
        results_layout.addWidget(self.cv_guidance_box)
        # Cross-validation: one row per fold, then mean ± std (hidden for a single model).
        self.cv_summary = QLabel()
        self.cv_summary.setWordWrap(True)
        self.cv_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cv_table = QTableWidget(0, 5)
        self.cv_table.setHorizontalHeaderLabels(["Fold", "Test subjects", "Accuracy",
                                                 "Macro F1", "Windows"])
        self.cv_table.verticalHeader().setVisible(False)
        self.cv_table.horizontalHeader().setStretchLastSection(True)
        self.cv_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cv_panel = QWidget()
        cv_layout = QVBoxLayout(self.cv_panel)
        cv_layout.setContentsMargins(0, 0, 0, 0)
        cv_layout.addWidget(self.cv_summary)
        cv_layout.addWidget(self.cv_table, 1)
        self.cv_panel.hide()
        self.cv_result: CVResult | None = None
        results_layout.addWidget(self.cv_panel, 1)
        results_layout.addWidget(result_split, 1)
        results_layout.addWidget(self.export_label)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("Training notes appear here")

        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.plots)
        right_split.addWidget(self.results_panel)
        right_split.addWidget(self.log_view)
        right_split.setSizes([300, 330, 110])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addLayout(status_row)
        right_layout.addWidget(self.status_label)
        right_layout.addWidget(self.message)
        right_layout.addWidget(right_split, 1)

        main_split = QSplitter(Qt.Orientation.Horizontal)
        main_split.addWidget(left)
        main_split.addWidget(right)
        main_split.setStretchFactor(0, 0)
        main_split.setStretchFactor(1, 1)
        main_split.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(main_split)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._on_redraw_timer)

        self.start_button.clicked.connect(self._on_start_clicked)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.cv_offer_button.clicked.connect(self._on_cv_offer_clicked)
        self.refresh_runs_button.clicked.connect(self._on_refresh_runs_clicked)
        self.use_model_button.clicked.connect(self._on_use_model_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.runs_list.currentItemChanged.connect(self._on_run_selected)
        self.settings.sizeChanged.connect(self._update_controls)
        state.datasetChanged.connect(self._on_state_data_changed)
        state.dataSettingsChanged.connect(self._on_state_data_changed)

        self._show_results_placeholder()
        self._on_state_data_changed()
        self.refresh_runs()

    # ------------------------------------------------------------------ public API
    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def result(self):
        """The TrainResult of the last training in this session (None before one ended)."""
        return self._result

    def set_settings(self, model_overrides: dict | None = None,
                     train_overrides: dict | None = None) -> None:
        """Set the form by ViTConfig / TrainConfig field names (tests, presets)."""
        self.settings.set_settings(model_overrides, train_overrides)

    def start_training(self, init_bundle=None) -> bool:
        """Start a training job with the form's settings; False (with the reason shown) when
        it cannot start. `init_bundle` continues from a loaded model's weights. With
        "Cross-validate by subject" ticked (and no `init_bundle`), runs k-fold leave-subjects-out
        cross-validation instead and shows the fold table."""
        reason = self.start_blocked_reason()
        if reason:
            self._show_error(reason)
            return False
        try:
            train_config = self.settings.train_config()
            model_overrides = self.settings.model_overrides()
        except ValueError as exc:
            self._show_error(str(exc))
            return False
        if init_bundle is not None:
            problem = self._resume_problem(init_bundle)
            if problem:
                self._show_error(problem)
                return False
            cfg = init_bundle.model_config
            model_overrides = {k: getattr(cfg, k) for k in MODEL_FIELDS}
        state = self.state
        job = _Job(dataset=state.dataset, window=state.window_config, split=state.split_config,
                   activities=list(state.activities) if state.activities else None,
                   channels=list(state.channels) if state.channels else None,
                   model_overrides=model_overrides, train_config=train_config,
                   control=TrainControl(), init_bundle=init_bundle,
                   features=(init_bundle.features if init_bundle is not None
                             else self.settings.features()),
                   preset=self.settings.preset_name(),
                   cv_folds=(self.cv_folds.value() if self.cv_check.isChecked()
                             and init_bundle is None else 0))
        self._job = job
        self._cv_fold = 0
        self.cv_table.setRowCount(0)
        self.cv_summary.setText("")
        self.cv_panel.setVisible(job.cv_folds > 1)
        self._reset_live_view(train_config.epochs)
        self._show_results_placeholder("Training…")
        self.message.clear()
        self.runs_list.clearSelection()
        self._started_at = time.monotonic()
        self._append_log(f"Start: {_describe_model(model_overrides)}; "
                         f"{train_config.epochs} epochs, batch {train_config.batch_size}, "
                         f"lr {train_config.lr:g}, seed {train_config.seed}"
                         + (" (resumed from a model file)" if init_bundle is not None else ""))
        self.device_label.setText(f"{train_config.device} · {train_config.precision}")
        self.status_label.setText("Preparing windows…")
        if job.cv_folds > 1:
            self._append_log(f"Cross-validation by subject, {job.cv_folds} folds "
                             f"(preset {job.preset}: {job.features.describe()})")
        worker = GeneratorWorker(lambda: (_cv_job(job) if job.cv_folds > 1
                                          else _training_job(job)))
        worker.yielded.connect(self._on_worker_yielded)
        worker.returned.connect(self._on_worker_returned)
        worker.errored.connect(self._on_worker_errored)
        worker.aborted.connect(self._on_worker_aborted)
        worker.finished.connect(self._on_worker_thread_finished)
        self._worker = worker
        self._workers.add(worker)
        self._redraw_timer.start()
        self._update_controls()
        worker.start()
        self.trainingStarted.emit()
        return True

    def stop_training(self, wait_ms: int = 0) -> None:
        """Ask a running job to stop (keeping its best model); optionally wait for it."""
        if self._job is not None:
            self._job.control.stop()
            self._job.control.resume()
        if wait_ms:
            for worker in list(self._workers):
                worker.wait(wait_ms)

    def start_blocked_reason(self) -> str | None:
        """Why Start is disabled right now (None when it is not)."""
        if self.running:
            return "Training is running: stop it before starting another."
        if self.state.dataset is None:
            return "Load a dataset on the Data tab first (or open the demo data)."
        if self.settings.config_error:
            return f"The model settings are invalid: {self.settings.config_error}"
        return None

    def refresh_runs(self, select: Path | str | None = None) -> None:
        """Reload the past-runs list (newest first); select `select` when given."""
        try:
            infos = runs_mod.list_runs()
        except OSError as exc:
            self._append_log(f"Cannot list past runs: {exc}", "warning")
            infos = []
        self.runs_list.blockSignals(True)
        try:
            self.runs_list.clear()
            for info in infos:
                item = QListWidgetItem(_run_text(info))
                item.setData(Qt.ItemDataRole.UserRole, str(info.folder))
                item.setToolTip(str(info.folder))
                self.runs_list.addItem(item)
                if select is not None and Path(select) == Path(info.folder):
                    self.runs_list.setCurrentItem(item)
        finally:
            self.runs_list.blockSignals(False)
        self._update_controls()

    def _on_refresh_runs_clicked(self) -> None:
        item = self.runs_list.currentItem()
        self.refresh_runs(select=item.data(Qt.ItemDataRole.UserRole) if item else None)

    def run_folders(self) -> list[str]:
        return [self.runs_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.runs_list.count())]

    def metric_value(self, key: str):
        """The raw value behind the metrics table row `key` (e.g. "accuracy"), or None."""
        for row in range(self.metrics_table.rowCount()):
            name = self.metrics_table.item(row, 0)
            if name is not None and name.data(Qt.ItemDataRole.UserRole) == key:
                return self.metrics_table.item(row, 1).data(Qt.ItemDataRole.UserRole)
        return None

    # ------------------------------------------------------------------ state
    def _on_state_data_changed(self, *_args) -> None:
        state = self.state
        ds = state.dataset
        window = state.window_config
        if ds is None:
            self.data_label.setText("<b>No dataset loaded.</b>")
            self.settings.set_data_shape(window.size, 3, 6)
        else:
            channels = list(state.channels or ds.channels)
            classes = activity_order(state.activities or ds.activities)
            split = state.split_config
            if split.kind == "subject":
                chosen = (f"test subjects {', '.join(map(str, split.test_subjects))}"
                          if split.test_subjects else
                          f"{split.test_fraction:.0%} of subjects for test")
                split_text = f"by subject ({chosen})"
            else:
                split_text = f"random by window ({split.test_fraction:.0%} test) ⚠"
            self.data_label.setText(
                f"Window <b>{window.size}</b> samples ({window.size / window.rate_hz:.1f} s), "
                f"step {window.step}<br>"
                f"Channels <b>{', '.join(channels)}</b><br>"
                f"<b>{len(classes)}</b> classes: {', '.join(classes)}<br>"
                f"Split {split_text}<br>"
                f"{len(ds.subjects)} subjects, {len(ds.frame):,} samples")
            self.settings.set_data_shape(window.size, len(channels), len(classes), channels)
        self._update_controls()

    def _update_controls(self) -> None:
        running = self.running
        reason = self.start_blocked_reason()
        self.start_button.setEnabled(reason is None)
        self.start_reason.setText("" if running or reason is None else reason)
        self.start_reason.setVisible(bool(self.start_reason.text()))
        self.start_button.setToolTip(reason or "Train a model with these settings")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running and not self._job.control.stopped)
        self.settings.set_editable(not running)
        self.cv_check.setEnabled(not running)
        self.cv_folds.setEnabled(not running)
        self.runs_list.setEnabled(not running)
        has_run = self.runs_list.currentItem() is not None
        self.use_model_button.setEnabled(not running and has_run)
        if _engine_accepts("init_bundle"):
            self.resume_button.setEnabled(reason is None)
        has_model = self._shown_bundle is not None or self._shown_model_path is not None
        self.save_button.setEnabled(has_model and not running)
        self.export_button.setEnabled(bool(self._shown_report) and not running
                                      and self._export_worker is None)

    # ------------------------------------------------------------------ controls
    def _on_start_clicked(self) -> None:
        self.start_training()

    def _on_pause_toggled(self, paused: bool) -> None:
        job = self._job
        if job is None:
            self._set_pause_text(False)
            return
        if paused:
            job.control.pause()
            self.status_label.setText("Paused: press Resume to continue")
        else:
            job.control.resume()
            self.status_label.setText("Resuming…")
        self._set_pause_text(paused)

    def _set_pause_text(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def _on_stop_clicked(self) -> None:
        if self._job is None:
            return
        self.stop_training()
        self._set_pause_text(False)
        self.status_label.setText("Stopping after this batch; the best model so far is kept…")
        self._append_log("Stop requested")
        self._update_controls()

    # ------------------------------------------------------------------ worker
    def _on_worker_yielded(self, item) -> None:
        if self.sender() is not self._worker:
            return
        if isinstance(item, FoldProgress):
            self._on_fold_progress(item)
            return
        if isinstance(item, FoldFinished):
            self._on_fold_finished(item)
            return
        self._show_progress_item(item)

    def _on_fold_progress(self, p: FoldProgress) -> None:
        """A fold's engine progress: the curves show the current fold (reset at each new
        fold), the bar the whole cross-validation."""
        if p.fold != self._cv_fold:
            self._cv_fold = p.fold
            self._history = []
            self._drawn_epochs = -1
            self._batch_x, self._batch_y = [], []
            self.plots.clear()
            self.plots.set_planned_epochs(self._job.train_config.epochs if self._job else 1)
        item = p.item
        self._show_progress_item(item, cv=p)

    def _on_fold_finished(self, f: FoldFinished) -> None:
        row = self.cv_table.rowCount()
        self.cv_table.insertRow(row)
        cells = [_item(str(f.fold), value=f.fold),
                 _item(", ".join(map(str, f.test_subjects))),
                 _item(f"{f.accuracy:.3f}", value=f.accuracy),
                 _item(f"{f.f1_macro:.3f}", value=f.f1_macro),
                 _item(f"{f.windows:,}", value=f.windows)]
        for col, cell in enumerate(cells):
            self.cv_table.setItem(row, col, cell)
        self._set_progress(f.fraction, None)
        self._append_log(f"Fold {f.fold}/{f.folds} (subjects "
                         f"{', '.join(map(str, f.test_subjects))}): accuracy {f.accuracy:.3f}, "
                         f"macro F1 {f.f1_macro:.3f}")
        self.cv_summary.setText(f"<b>Cross-validation by subject</b> · {f.fold} of {f.folds} "
                                f"folds done")
        self.foldFinished.emit(f)

    def _show_progress_item(self, item, cv: FoldProgress | None = None) -> None:
        fold = f"Fold {cv.fold}/{cv.folds} · " if cv is not None else ""
        if isinstance(item, BatchProgress):
            self._batch_x.append(item.epoch - 1 + item.batch / max(item.batches, 1))
            self._batch_y.append(item.smoothed_loss)
            self._dirty = True
            self._set_progress(*self._fold_fraction(item, cv))
            if not self.pause_button.isChecked() and not self._job.control.stopped:
                self.status_label.setText(
                    f"{fold}Epoch {item.epoch}/{item.epochs} · batch {item.batch}/{item.batches}"
                    f" · loss {item.smoothed_loss:.4f}")
        elif isinstance(item, EpochProgress):
            row = asdict(item)
            self._history.append(row)
            self._dirty = True
            self._set_progress(*self._fold_fraction(item, cv))
            self._append_log(
                f"{fold}Epoch {item.epoch}/{item.epochs}: loss {item.train_loss:.4f}, "
                f"accuracy {item.train_acc:.3f} · validation {_fmt(item.val_loss)} / "
                f"{_fmt(item.val_acc, 3)} · lr {item.lr:.2e} · {item.windows_per_s:,.0f} "
                f"windows/s{' · best' if item.is_best else ''}")
            self.epochFinished.emit(item)
        elif isinstance(item, _Resolved):
            self.device_label.setText(f"{item.device} · {item.precision}")
        elif isinstance(item, TrainNote):
            self._append_log(item.text, item.level, to_logger=False)  # the engine logged it
            if item.level == "error":
                self.message.show_message(item.text, "error")
        else:
            log.debug("ignoring progress item %r", item)

    @staticmethod
    def _fold_fraction(item, cv: FoldProgress | None) -> tuple[float, float | None]:
        """Progress bar fraction and ETA: of the run, or of the whole cross-validation."""
        if cv is None:
            return item.fraction, item.eta_s
        return cv.fraction, None

    def _on_worker_returned(self, result) -> None:
        if self.sender() is not self._worker:
            return
        job = self._job
        self._finish_job()
        if isinstance(result, CVResult):
            self._show_cv_result(result)
            return
        if result is None:
            self.status_label.setText("Stopped before training began")
            self._append_log("Stopped before training began")
            self._show_results_placeholder()
            return
        self._result = result
        minutes = (time.monotonic() - self._started_at) / 60.0
        self._set_progress(1.0, 0.0)
        self.status_label.setText(
            f"Finished ({result.stopped_reason}) after {len(result.history)} epoch(s), "
            f"{format_duration(minutes * 60)}")
        self.device_label.setText(f"{result.device} · {result.precision}")
        rows = [asdict(h) if not isinstance(h, dict) else h for h in result.history]
        if rows:
            self._history = rows
            self._drawn_epochs = -1
            self._dirty = True
        self._flush_plots()
        split = (job.info.get("split") if job else None) or {}
        self._shown_bundle = result.bundle
        self._shown_model_path = Path(result.model_path) if result.model_path else None
        self._shown_report = self._report_dict(
            metrics=result.metrics, history=self._history, split=split,
            stopped_reason=result.stopped_reason, device=result.device,
            precision=result.precision, minutes=minutes,
            run_dir=result.run_dir, model_path=result.model_path)
        self._record = None
        self._show_report(self._shown_report)
        try:
            self.state.set_model(result.bundle,
                                 str(result.model_path) if result.model_path else None)
        except Exception:  # a listener's failure must not lose the results
            log.exception("handing the model to the other tabs failed")
        self.refresh_runs(select=result.run_dir)
        self._update_controls()
        self.trainingFinished.emit(result)

    def _report_settings(self, report: dict) -> dict | None:
        """Window, activities, channels, features and model of the shown run (from its
        config, else the model's recipe), for finding a comparable cross-validation."""
        config = report.get("config") or {}
        if not config and self._shown_bundle is not None:
            config = getattr(self._shown_bundle, "recipe", {}) or {}
        if not config.get("window"):
            return None
        model = config.get("model") or {}
        overrides = {k: v for k, v in model.items() if k not in ("series", "modal", "classes")}
        return {"window": config.get("window"), "activities": config.get("labels"),
                "channels": config.get("channels"), "features": config.get("features"),
                "model_overrides": overrides}

    def _show_cv_guidance(self, report: dict) -> None:
        """Under a random-split result: the last subject-wise figure for comparable settings
        (same data settings, features and model), else the measured gap and an offer."""
        settings = self._report_settings(report)
        entry = find_cv(settings) if settings is not None else None
        if entry and isinstance(entry.get("accuracy_mean"), (int, float)):
            std = entry.get("accuracy_std") or 0.0
            text = (f"On people the model has never seen, comparable settings scored "
                    f"<b>{entry['accuracy_mean']:.1%} ± {std:.1%}</b> (cross-validation by "
                    f"subject, {entry.get('folds_completed', '?')} folds, "
                    f"{str(entry.get('created', ''))[:16].replace('T', ' ')}). Report that "
                    f"figure for new people, not the one above.")
            self.cv_offer_button.hide()
        else:
            text = (random_split_guidance(None)
                    .replace(" For your data: Train tab, 'Cross-validate by subject'.", "")
                    + " Measure it for these settings:")
            self.cv_offer_button.show()
        self.cv_guidance.setText(text)
        self.cv_guidance_box.show()

    def guidance_text(self) -> str:
        """The subject-wise figure or offer shown under a random-split result ("" if none)."""
        return self.cv_guidance.text() if self.cv_guidance_box.isVisibleTo(self) else ""

    def _on_cv_offer_clicked(self) -> None:
        self.cv_check.setChecked(True)
        if not self.running:
            self.start_training()

    def _show_cv_result(self, cv: CVResult) -> None:
        """Fill the fold table's summary, log the figures, signal the end."""
        self.cv_result = cv
        minutes = (time.monotonic() - self._started_at) / 60.0
        self._set_progress(1.0 if not cv.stopped else cv.completed / cv.k, 0.0)
        self._flush_plots()
        if cv.completed:
            text = (f"<b>Cross-validation by subject</b> ({cv.completed} of {cv.k} folds): "
                    f"accuracy <b>{cv.accuracy_mean:.1%} ± {cv.accuracy_std:.1%}</b> "
                    f"(min {cv.accuracy_min:.1%}, max {cv.accuracy_max:.1%}) · macro F1 "
                    f"{cv.f1_mean:.3f} ± {cv.f1_std:.3f} · pooled accuracy "
                    f"{cv.pooled_accuracy:.1%}")
            worst = sorted((v["accuracy"], s) for s, v in cv.per_subject.items()
                           if v.get("accuracy") is not None)
            if worst:
                text += ("<br>Per subject: " + ", ".join(f"{s}: {a:.0%}" for a, s in worst))
            self._append_log(cv.summary())
            # The pooled confusion matrix and per-class accuracy of all folds' test windows.
            if cv.confusion:
                self.confusion.set_matrix(cv.confusion, list(cv.labels))
            self.per_class.set_values([(name, cv.per_class.get(name) if
                                        cv.per_class.get(name) is not None else float("nan"))
                                       for name in cv.labels])
            self.status_label.setText(f"Cross-validation finished in "
                                      f"{format_duration(minutes * 60)}")
        else:
            text = "<b>Cross-validation by subject</b>: stopped before a fold finished"
            self.status_label.setText("Cross-validation stopped")
        self.cv_summary.setText(text)
        self.results_title.setText("<b>Results</b> · cross-validation (no single model)")
        self._update_controls()
        self.crossValidationFinished.emit(cv)

    def _on_worker_errored(self, exc, tb: str) -> None:
        if self.sender() is not self._worker:
            return
        self._finish_job()
        if isinstance(exc, (ValueError, OSError)):
            text = str(exc) or type(exc).__name__
        else:
            text = f"Training failed: {type(exc).__name__}: {exc}"
            log.error("training failed\n%s", tb)
        self._show_error(text)
        self.status_label.setText("Training did not finish")
        self._show_results_placeholder()
        self.trainingFailed.emit(text)

    def _on_worker_aborted(self) -> None:
        if self.sender() is not self._worker:
            return
        self._finish_job()
        self.status_label.setText("Training cancelled")
        self._append_log("Training cancelled", "warning")
        self._show_results_placeholder()

    def _on_worker_thread_finished(self) -> None:
        worker = self.sender()
        self._workers.discard(worker)
        if worker is self._export_worker:
            self._export_worker = None
            self._update_controls()

    def _finish_job(self) -> None:
        self._job = None
        self._worker = None
        self._redraw_timer.stop()
        self._flush_plots()
        self._set_pause_text(False)
        self.eta_label.setText("")
        self._update_controls()

    # ------------------------------------------------------------------ live view
    def _reset_live_view(self, planned_epochs: int = 1) -> None:
        self._history = []
        self._drawn_epochs = -1
        self._batch_x = []
        self._batch_y = []
        self._dirty = False
        self.plots.clear()
        self.plots.set_planned_epochs(planned_epochs)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.eta_label.setText("")
        self.log_view.clear()

    def _set_progress(self, fraction: float, eta_s: float | None) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0) if math.isfinite(fraction) else 0.0
        self.progress_bar.setValue(int(round(fraction * 1000)))
        self.progress_bar.setFormat(f"{fraction * 100:.0f} %")
        if self._job is not None:
            self.eta_label.setText(f"ETA {format_duration(eta_s)}")

    def _on_redraw_timer(self) -> None:
        self._flush_plots()

    def _flush_plots(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if len(self._history) != self._drawn_epochs:   # epoch curves change only per epoch
            self._drawn_epochs = len(self._history)
            self.plots.set_epochs(self._history)
        self.plots.set_batches(np.asarray(self._batch_x, float), np.asarray(self._batch_y, float))

    def _append_log(self, text: str, level: str = "info", *, to_logger: bool = True) -> None:
        prefix = {"warning": "⚠ ", "error": "✖ "}.get(level, "")
        self.log_view.appendPlainText(f"{time.strftime('%H:%M:%S')}  {prefix}{text}")
        if to_logger:
            log.log({"warning": logging.WARNING, "error": logging.ERROR}.get(level, logging.INFO),
                    "%s", text)

    def _show_error(self, text: str) -> None:
        self.message.show_message(text, "error")
        self._append_log(text, "error")

    # ------------------------------------------------------------------ results
    @staticmethod
    def _report_dict(*, metrics: dict, history: list[dict], split: dict, stopped_reason,
                     device, precision, minutes, run_dir=None, model_path=None,
                     config: dict | None = None) -> dict:
        return {"metrics": dict(metrics or {}), "history": list(history), "split": dict(split),
                "stopped_reason": stopped_reason, "device": device, "precision": precision,
                "epochs": len(history), "minutes": minutes,
                "run_dir": str(run_dir) if run_dir else None,
                "model_path": str(model_path) if model_path else None,
                "config": config or {}}

    def _show_results_placeholder(self, text: str = "No results yet") -> None:
        self.results_title.setText(f"<b>Results</b> · {text}")
        self.metrics_table.setRowCount(0)
        self.per_class.clear()
        self.confusion.clear()
        self.leak_warning.clear()
        self.cv_guidance_box.hide()
        self.export_label.setText("")
        self._shown_bundle = None
        self._shown_model_path = None
        self._shown_report = {}
        self._update_controls()

    def _show_report(self, report: dict) -> None:
        metrics = report.get("metrics") or {}
        split = report.get("split") or {}
        kind = split.get("kind")
        test_subjects = split.get("test_subjects") or []
        minutes = report.get("minutes")
        rows = [
            ("accuracy", "Accuracy", metrics.get("accuracy")),
            ("precision_macro", "Precision (macro)", metrics.get("precision_macro")),
            ("recall_macro", "Recall (macro)", metrics.get("recall_macro")),
            ("f1_macro", "F1 (macro)", metrics.get("f1_macro")),
            ("precision_weighted", "Precision (weighted)", metrics.get("precision_weighted")),
            ("recall_weighted", "Recall (weighted)", metrics.get("recall_weighted")),
            ("f1_weighted", "F1 (weighted)", metrics.get("f1_weighted")),
            ("parameters", "Parameters", metrics.get("parameters")),
            ("macs", "Multiply-adds / window", metrics.get("macs")),
            ("inference_ms", "Inference ms / window", metrics.get("inference_ms")),
            ("windows", "Windows tested", metrics.get("windows")),
            ("split", "Split", kind),
            ("test_subjects", "Test subjects",
             ", ".join(map(str, test_subjects)) if kind == "subject" else
             "all (windows drawn at random)" if kind == "random" else None),
            ("stopped_reason", "Stopped because", report.get("stopped_reason")),
            ("epochs", "Epochs", report.get("epochs")),
            ("minutes", "Minutes", minutes),
            ("device", "Device", report.get("device")),
            ("precision", "Number format", report.get("precision")),
        ]
        table = self.metrics_table
        table.setUpdatesEnabled(False)
        try:
            table.setRowCount(len(rows))
            for r, (key, label, value) in enumerate(rows):
                digits = 2 if key in ("minutes", "inference_ms") else 4
                table.setItem(r, 0, _item(label, key=key))
                shown = _item(_fmt(value, digits), value=value)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    shown.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                           | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, 1, shown)
        finally:
            table.setUpdatesEnabled(True)
        labels = list(metrics.get("labels") or [])
        per_class = metrics.get("per_class") or {}
        self.per_class.set_values([(name, per_class.get(name, float("nan"))) for name in labels])
        confusion = metrics.get("confusion")
        if labels and confusion is not None:
            self.confusion.set_matrix(confusion, labels)
        else:
            self.confusion.clear()
        if kind == "random":
            self.leak_warning.show_message(RANDOM_SPLIT_WARNING, "warning")
            self._show_cv_guidance(report)
        else:
            self.leak_warning.clear()
            self.cv_guidance_box.hide()
        where = report.get("run_dir")
        self.results_title.setText(
            "<b>Results</b>" + (f" · <span style='color:#666'>{Path(where).name}</span>"
                                if where else "")
            + ("" if metrics else " · no test metrics in this run"))
        self._update_controls()

    # ------------------------------------------------------------------ past runs
    def _on_run_selected(self, current: QListWidgetItem | None, _previous=None) -> None:
        if current is None or self.running:
            self._update_controls()
            return
        folder = current.data(Qt.ItemDataRole.UserRole)
        try:
            record = runs_mod.load_run(folder)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.message.clear()
        self._record = record
        history = list(record.history)
        self._history = history
        self._batch_x, self._batch_y = [], []
        self._drawn_epochs = -1
        self._dirty = True
        self.plots.clear()
        self.plots.set_planned_epochs(max([int(_num_or(h.get("epoch"), 0)) for h in history]
                                          or [1]))
        self._flush_plots()
        report = record.report or {}
        split = report.get("split") or record.config.get("split") or {}
        total = report.get("seconds_total")
        if isinstance(total, (int, float)):
            minutes = total / 60.0
        else:
            seconds = [h.get("seconds") for h in history
                       if isinstance(h.get("seconds"), (int, float))]
            minutes = sum(seconds) / 60.0 if seconds else None
        self._shown_bundle = None
        self._shown_model_path = record.model_path
        self._shown_report = self._report_dict(
            metrics=record.metrics, history=history, split=split,
            stopped_reason=report.get("stopped_reason"), device=report.get("device"),
            precision=report.get("precision"), minutes=minutes, run_dir=record.folder,
            model_path=record.model_path, config=record.config)
        self._show_report(self._shown_report)
        self.status_label.setText(f"Showing past run {Path(folder).name}")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")

    def _selected_run_model(self) -> Path | None:
        item = self.runs_list.currentItem()
        if item is None:
            return None
        model = Path(item.data(Qt.ItemDataRole.UserRole)) / runs_mod.MODEL_FILE
        return model if model.is_file() else None

    def _load_bundle(self, path: Path):
        from ..model.io import ModelFileError, load_model

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return load_model(path)
        except ModelFileError as exc:
            self._show_error(str(exc))
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()

    def _on_use_model_clicked(self) -> None:
        path = self._selected_run_model()
        if path is None:
            self._show_error("This run has no saved model (it may have failed before its "
                             "first epoch).")
            return
        bundle = self._load_bundle(path)
        if bundle is None:
            return
        self._shown_bundle = bundle
        self.state.set_model(bundle, str(path))
        self.message.show_message(f"Using the model of {path.parent.name}: "
                                  f"{', '.join(bundle.labels)}", "info")
        self._update_controls()

    def _on_resume_clicked(self) -> None:
        start = self._selected_run_model()
        folder = str(start.parent) if start else str(runs_mod.runs_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Resume training from model", folder,
                                              MODEL_FILTER)
        if not path:
            return
        bundle = self._load_bundle(Path(path))
        if bundle is None:
            return
        cfg = bundle.model_config
        self.settings.set_settings({k: getattr(cfg, k) for k in MODEL_FIELDS}, None)
        self.side_tabs.setCurrentIndex(0)
        self.start_training(init_bundle=bundle)

    def _resume_problem(self, bundle) -> str | None:
        """Why `bundle` cannot continue training on the current data settings, or None."""
        state = self.state
        ds = state.dataset
        if ds is None:
            return "Load a dataset on the Data tab first."
        channels = list(state.channels or ds.channels)
        if bundle.window.size != state.window_config.size:
            return (f"The model reads windows of {bundle.window.size} samples; the Data tab is "
                    f"set to {state.window_config.size}. Change the window there to resume.")
        if list(bundle.channels) != channels:
            return (f"The model reads channels {', '.join(bundle.channels)}; the Data tab "
                    f"selects {', '.join(channels)}.")
        classes = list(state.activities or ds.activities)
        if sorted(bundle.labels) != sorted(classes):
            return (f"The model knows {', '.join(bundle.labels)}; the Data tab selects "
                    f"{', '.join(classes)}. Select the same activities to resume.")
        return None

    # ------------------------------------------------------------------ save / export
    def _bundle_for_results(self):
        if self._shown_bundle is None and self._shown_model_path is not None:
            self._shown_bundle = self._load_bundle(self._shown_model_path)
        return self._shown_bundle

    def _on_save_clicked(self) -> None:
        bundle = self._bundle_for_results()
        if bundle is None:
            return
        default = Path.home() / f"har-{'-'.join(bundle.labels)[:40]}.harmodel"
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(default), MODEL_FILTER)
        if not path:
            return
        path = Path(path)
        if path.suffix.lower() != ".harmodel":
            path = path.with_name(path.name + ".harmodel")
        from ..model.io import save_model

        try:
            save_model(path, bundle)
        except (OSError, ValueError) as exc:
            self._show_error(f"Could not save {path}: {exc}")
            return
        if self.state.model is bundle:
            self.state.model_path = str(path)
        self.message.show_message(f"Model saved to {path}", "info")
        self._append_log(f"Model saved to {path}")

    def _on_export_clicked(self) -> None:
        if not self._shown_report:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export results to folder",
                                                  str(Path.home()))
        if folder:
            self.export_results(Path(folder))

    def export_results(self, folder: Path) -> list[Path]:
        """Write report.json/.csv, curves, per-class and confusion PNGs into `folder` now, and
        start the ONNX export (with its check) in the background when onnxruntime exists."""
        folder = Path(folder)
        written: list[Path] = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            runs_mod.write_report(folder, self._shown_report)
            written += [folder / runs_mod.REPORT_FILE]
            if (folder / runs_mod.REPORT_CSV_FILE).exists():
                written.append(folder / runs_mod.REPORT_CSV_FILE)
            for name, widget in (("curves.png", self.plots), ("per_class.png", self.per_class),
                                 ("confusion.png", self.confusion)):
                save_widget_png(widget, folder / name)
                written.append(folder / name)
        except (OSError, ValueError) as exc:
            self._show_error(f"Export to {folder} failed: {exc}")
            return written
        summary = f"Exported {', '.join(p.name for p in written)} to {folder}."
        if not _onnxruntime_available():
            self.export_label.setText(summary + " ONNX skipped: onnxruntime is not installed.")
            return written
        bundle = self._bundle_for_results()
        if bundle is None:
            self.export_label.setText(summary + " ONNX skipped: no model file.")
            return written
        self.export_label.setText(summary + " Exporting ONNX…")
        target = folder / "model.onnx"
        worker = GeneratorWorker(lambda: _export_onnx(bundle, target))
        worker.returned.connect(self._on_onnx_returned)
        worker.errored.connect(self._on_onnx_errored)
        worker.finished.connect(self._on_worker_thread_finished)
        self._export_worker = worker
        self._export_summary = summary
        self._workers.add(worker)
        self._update_controls()
        worker.start()
        return written

    def _on_onnx_returned(self, info) -> None:
        self.export_label.setText(f"{self._export_summary} {_onnx_text(info)}")
        self._append_log(_onnx_text(info))

    def _on_onnx_errored(self, exc, tb: str) -> None:
        log.debug("ONNX export failed\n%s", tb)
        self.export_label.setText(f"{self._export_summary} ONNX export failed: {exc}")
        self._append_log(f"ONNX export failed: {exc}", "error")


def _num_or(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _export_onnx(bundle, path: Path) -> dict:
    from ..model.onnx_export import export_onnx

    info = export_onnx(bundle, path, check=True)
    out = dict(info) if isinstance(info, dict) else {"max_abs_diff": info}
    out["path"] = str(path)
    return out


def _onnx_text(info: dict) -> str:
    diff = None
    for key in ("max_abs_diff", "max_abs_difference", "max_diff"):
        if isinstance(info.get(key), (int, float)):
            diff = float(info[key])
            break
    name = Path(info.get("path", "model.onnx")).name
    if diff is None:
        return f"ONNX written ({name})."
    verdict = "matches" if diff < 1e-3 else "DIFFERS from"
    return f"ONNX written ({name}); onnxruntime {verdict} torch: max |difference| {diff:.2e}."


def _describe_model(overrides: dict) -> str:
    return (f"embedding {overrides.get('embedding_dim')}, patch {overrides.get('patch_size')}, "
            f"{overrides.get('head_num')}×{overrides.get('att_size')} heads, "
            f"{overrides.get('depth')} blocks, head {overrides.get('head_width')}")


def _run_text(info) -> str:
    created = (info.created or info.name).replace("T", " ")[:16]
    acc = f"accuracy {info.accuracy:.3f}" if info.accuracy is not None else "no result"
    reason = (info.stopped_reason or "unfinished").replace("_", " ")
    classes = ", ".join(info.activities[:3]) + ("…" if len(info.activities) > 3 else "")
    return (f"{created}  ·  {acc}\n{info.epochs} epoch{'s' if info.epochs != 1 else ''} · "
            f"{reason} · {len(info.activities)} classes\n{classes}")
