"""The Train tab: set up a model, train it with live curves, read and keep the results.

The tab only composes its parts and connects them: ``TrainPanel`` (settings, past runs,
Start/Pause/Stop), ``RunView`` (progress, curves, notes), ``ResultsView`` (metrics, confusion,
folds) and ``TrainController`` (the job, its worker and the progress buffers). The curves are
redrawn from a 10 Hz timer, so a fast stream of batch updates never holds the event loop.
Stop ends at the next batch and keeps the best model so far, which is shown, saved in the run
folder and handed to the Live tab like a finished run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from ...training import runs as runs_mod
from ...training.jobs import describe_model, model_fields, record_report, result_report
from ...training.jobs import resume_problem as model_resume_problem
from ..state import AppState
from ..widgets import InlineMessage, configure_pyqtgraph
from ..workers import JobRunner
from . import export
from .controller import TrainController, TrainRequest, format_duration
from .panel import TrainPanel, data_summary
from .results import ResultsView
from .run_view import RunView

log = logging.getLogger(__name__)

REDRAW_INTERVAL_MS = 100
MODEL_FILTER = "HAR Studio model (*.harmodel)"


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
        self.result = None                  # TrainResult of the last training in this session
        self.controller = TrainController(self)
        self._export = JobRunner(self)
        self._export_summary = ""

        self.panel = TrainPanel()
        self.view = RunView()
        self.results = ResultsView()
        self.message = InlineMessage(self)
        # The parts' widgets, by the names tests and the self-test use.
        p, v, r = self.panel, self.view, self.results
        self.settings, self.runs_list = p.settings, p.runs.runs_list
        self.start_button, self.pause_button, self.stop_button = (
            p.start_button, p.pause_button, p.stop_button)
        self.cv_check, self.cv_folds, self.start_reason = p.cv_check, p.cv_folds, p.start_reason
        self.data_label, self.use_model_button = p.data_label, p.runs.use_model_button
        self.resume_button, self.refresh_runs_button = p.runs.resume_button, p.runs.refresh_button
        self.progress_bar, self.status_label, self.log_view = (
            v.progress_bar, v.status_label, v.log_view)
        self.curves = v.plots.curves
        self.metrics_table, self.per_class, self.confusion = (
            r.metrics_table, r.per_class, r.confusion)
        self.leak_warning, self.cv_offer_button = r.leak_warning, r.cv_offer_button
        self.save_button, self.export_button, self.export_label = (
            r.save_button, r.export_button, r.export_label)
        self.cv_panel, self.cv_table, self.cv_summary = r.cv_panel, r.cv_table, r.cv_summary

        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(v.plots)
        right_split.addWidget(r)
        right_split.addWidget(v.log_view)
        right_split.setSizes([300, 330, 110])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addLayout(v.status_row)
        right_layout.addWidget(v.status_label)
        right_layout.addWidget(self.message)
        right_layout.addWidget(right_split, 1)
        main_split = QSplitter(Qt.Orientation.Horizontal)
        main_split.addWidget(p)
        main_split.addWidget(right)
        main_split.setStretchFactor(0, 0)
        main_split.setStretchFactor(1, 1)
        main_split.setSizes([340, 900])
        QVBoxLayout(self).addWidget(main_split)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._on_redraw_timer)

        p.start_button.clicked.connect(self._on_start_clicked)
        p.pause_button.toggled.connect(self._on_pause_toggled)
        p.stop_button.clicked.connect(self._on_stop_clicked)
        p.settings.sizeChanged.connect(self._update_controls)
        p.runs.runSelected.connect(self._on_run_selected)
        p.runs.listFailed.connect(self._on_runs_list_failed)
        p.runs.use_model_button.clicked.connect(self._on_use_model_clicked)
        p.runs.resume_button.clicked.connect(self._on_resume_clicked)
        r.save_button.clicked.connect(self._on_save_clicked)
        r.export_button.clicked.connect(self._on_export_clicked)
        r.cvOfferClicked.connect(self._on_cv_offer_clicked)
        c = self.controller
        c.progressed.connect(self._on_controller_progressed)
        c.statusChanged.connect(v.status_label.setText)
        c.noted.connect(self._on_controller_noted)
        c.deviceChosen.connect(v.device_label.setText)
        c.epochFinished.connect(self.epochFinished)
        c.foldStarted.connect(self._on_controller_fold_started)
        c.foldFinished.connect(self._on_controller_fold_finished)
        c.trainingFinished.connect(self._on_controller_training_finished)
        c.crossValidationFinished.connect(self._on_controller_cv_finished)
        c.failed.connect(self._on_controller_failed)
        c.cancelled.connect(self._on_controller_cancelled)
        c.ended.connect(self._on_controller_ended)
        self._export.succeeded.connect(self._on_onnx_succeeded)
        self._export.failed.connect(self._on_onnx_failed)
        state.datasetChanged.connect(self._on_state_data_changed)
        state.dataSettingsChanged.connect(self._on_state_data_changed)

        self._show_placeholder()
        self._on_state_data_changed()
        self.refresh_runs()

    # ------------------------------------------------------------------ public API
    @property
    def running(self) -> bool:
        return self.controller.running

    @property
    def cv_result(self):
        return self.results.cv_result

    def set_settings(self, model_overrides: dict | None = None,
                     train_overrides: dict | None = None) -> None:
        """Set the form by ViTConfig / TrainConfig field names (tests, presets)."""
        self.settings.set_settings(model_overrides, train_overrides)

    def start_training(self, init_bundle=None) -> bool:
        """Start a run with the form's settings; False (with the reason shown) when it cannot
        start. `init_bundle` continues from a loaded model's weights. With "Cross-validate by
        subject" ticked (and no `init_bundle`), runs k-fold leave-subjects-out
        cross-validation instead and shows the fold table."""
        reason = self.start_blocked_reason()
        if reason:
            self._show_error(reason)
            return False
        try:
            train_config = self.settings.train_config()
            overrides = self.settings.model_overrides()
        except ValueError as exc:
            self._show_error(str(exc))
            return False
        if init_bundle is not None:
            problem = self._resume_problem(init_bundle)
            if problem:
                self._show_error(problem)
                return False
            overrides = model_fields(init_bundle.model_config)
        state = self.state
        request = TrainRequest(
            dataset=state.dataset, window=state.window_config, split=state.split_config,
            activities=list(state.activities) if state.activities else None,
            channels=list(state.channels) if state.channels else None,
            model_overrides=overrides, train_config=train_config,
            features=self.settings.features(), init_bundle=init_bundle,
            preset=self.settings.preset_name(),
            cv_folds=self.panel.cv_fold_count() if init_bundle is None else 0)
        self.results.start_folds(request.cv_folds > 1)
        self.view.reset(train_config.epochs)
        self._show_placeholder("Training…")
        self.message.clear()
        self.runs_list.clearSelection()
        self.view.append_log(f"Start: {describe_model(overrides)}; {train_config.epochs} "
                             f"epochs, batch {train_config.batch_size}, lr {train_config.lr:g}, "
                             f"seed {train_config.seed}"
                             + (" (resumed from a model file)" if init_bundle else ""))
        self.view.device_label.setText(f"{train_config.device} · {train_config.precision}")
        self.view.status_label.setText("Preparing windows…")
        if request.cv_folds > 1:
            self.view.append_log(f"Cross-validation by subject, {request.cv_folds} folds "
                                 f"(preset {request.preset}: {request.features.describe()})")
        self.controller.start(request)
        self._redraw_timer.start()
        self._update_controls()
        self.trainingStarted.emit()
        return True

    def stop_training(self, wait_ms: int = 0) -> None:
        """Ask a running job to stop (keeping its best model); optionally wait for it."""
        self.controller.stop(wait_ms)

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
        self.panel.runs.refresh(select)
        self._update_controls()

    def run_folders(self) -> list[str]:
        return self.panel.runs.folders()

    def metric_value(self, key: str):
        """The raw value behind the metrics table row `key` (e.g. "accuracy"), or None."""
        return self.results.metric_value(key)

    def guidance_text(self) -> str:
        """The subject-wise figure or offer shown under a random-split result ("" if none)."""
        return self.results.guidance_text()

    # ------------------------------------------------------------------ state and controls
    def _on_state_data_changed(self, *_args) -> None:
        state, ds = self.state, self.state.dataset
        self.data_label.setText(data_summary(state))
        if ds is None:
            self.settings.set_data_shape(state.window_config.size, 3, 6)
        else:
            channels = list(state.channels or ds.channels)
            classes = state.activities or ds.activities
            self.settings.set_data_shape(state.window_config.size, len(channels), len(classes),
                                         channels)
        self._update_controls()

    def _update_controls(self) -> None:
        running = self.running
        control = self.controller.control
        self.panel.set_running(running, self.start_blocked_reason(),
                               control is not None and not control.stopped)
        self.save_button.setEnabled(self.results.has_model and not running)
        self.export_button.setEnabled(bool(self.results.report) and not running
                                      and not self._export.running)

    def _on_start_clicked(self) -> None:
        self.start_training()

    def _on_pause_toggled(self, paused: bool) -> None:
        control = self.controller.control
        if control is None:
            self.panel.set_paused(False)
            return
        if paused:
            control.pause()
            self.status_label.setText("Paused: press Resume to continue")
        else:
            control.resume()
            self.status_label.setText("Resuming…")
        self.panel.set_paused(paused)

    def _on_stop_clicked(self) -> None:
        if not self.running:
            return
        self.stop_training()
        self.panel.set_paused(False)
        self.status_label.setText("Stopping after this batch; the best model so far is kept…")
        self.view.append_log("Stop requested")
        self._update_controls()

    def _on_cv_offer_clicked(self) -> None:
        self.cv_check.setChecked(True)
        if not self.running:
            self.start_training()

    # ------------------------------------------------------------------ the run
    def _on_redraw_timer(self) -> None:
        self.view.draw(self.controller)

    def _on_controller_progressed(self, fraction: float, eta_s) -> None:
        self.view.set_progress(fraction, eta_s, running=self.running)

    def _on_controller_noted(self, text: str, level: str) -> None:
        self.view.append_log(text, level, to_logger=False)   # the core logged it
        if level == "error":
            self.message.show_message(text, "error")

    def _on_controller_fold_started(self, _fold: int) -> None:
        request = self.controller.request
        self.view.reset(request.train_config.epochs if request else 1, clear_log=False)

    def _on_controller_fold_finished(self, f) -> None:
        self.results.add_fold(f)
        self.foldFinished.emit(f)

    def _on_controller_training_finished(self, result) -> None:
        if result is None:
            self.status_label.setText("Stopped before training began")
            self.view.append_log("Stopped before training began")
            self._show_placeholder()
            return
        self.result = result
        minutes = self.controller.minutes()
        self.view.set_progress(1.0, 0.0, running=False)
        self.status_label.setText(
            f"Finished ({result.stopped_reason}) after {len(result.history)} epoch(s), "
            f"{format_duration(minutes * 60)}")
        self.view.device_label.setText(f"{result.device} · {result.precision}")
        self.view.draw(self.controller)
        self.results.show_report(result_report(result, self.controller.history, minutes),
                                 bundle=result.bundle, model_path=result.model_path)
        try:
            self.state.set_model(result.bundle,
                                 str(result.model_path) if result.model_path else None)
        except Exception:  # a listener's failure must not lose the results
            log.exception("handing the model to the other tabs failed")
        self.refresh_runs(select=result.run_dir)
        self.trainingFinished.emit(result)

    def _on_controller_cv_finished(self, cv) -> None:
        minutes = self.controller.minutes()
        self.view.set_progress(1.0 if not cv.stopped else cv.completed / cv.k, 0.0,
                               running=False)
        self.view.draw(self.controller)
        self.results.show_cv(cv)
        if cv.completed:
            self.view.append_log(cv.summary())
            self.status_label.setText(f"Cross-validation finished in "
                                      f"{format_duration(minutes * 60)}")
        else:
            self.status_label.setText("Cross-validation stopped")
        self._update_controls()
        self.crossValidationFinished.emit(cv)

    def _on_controller_failed(self, exc, tb: str) -> None:
        if isinstance(exc, (ValueError, OSError)):
            text = str(exc) or type(exc).__name__
        else:
            text = f"Training failed: {type(exc).__name__}: {exc}"
            log.error("training failed\n%s", tb)
        self._show_error(text)
        self.status_label.setText("Training did not finish")
        self._show_placeholder()
        self.trainingFailed.emit(text)

    def _on_controller_cancelled(self) -> None:
        self.status_label.setText("Training cancelled")
        self.view.append_log("Training cancelled", "warning")
        self._show_placeholder()

    def _on_controller_ended(self) -> None:
        self._redraw_timer.stop()
        self.view.draw(self.controller)
        self.panel.set_paused(False)
        self.view.eta_label.setText("")
        self._update_controls()

    def _show_placeholder(self, text: str = "No results yet") -> None:
        self.results.show_placeholder(text)
        self._update_controls()

    def _show_error(self, text: str) -> None:
        self.message.show_message(text, "error")
        self.view.append_log(text, "error")

    # ------------------------------------------------------------------ past runs
    def _on_run_selected(self, folder: str) -> None:
        if self.running:
            self._update_controls()
            return
        try:
            record = runs_mod.load_run(folder)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.message.clear()
        history = list(record.history)
        self.view.reset(max([int(_num_or(h.get("epoch"), 0)) for h in history] or [1]),
                        clear_log=False)
        self.controller.reset_buffers(history)
        self.view.draw(self.controller)
        self.results.show_report(record_report(record), model_path=record.model_path)
        self.status_label.setText(f"Showing past run {Path(folder).name}")
        self.progress_bar.setFormat("")
        self._update_controls()

    def _on_runs_list_failed(self, text: str) -> None:
        self.view.append_log(text, "warning")

    def _load_bundle(self, path: Path):
        from ...model.io import ModelFileError, load_model

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return load_model(path)
        except ModelFileError as exc:
            self._show_error(str(exc))
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()

    def _on_use_model_clicked(self) -> None:
        path = self.panel.runs.selected_model()
        if path is None:
            self._show_error("This run has no saved model (it may have failed before its "
                             "first epoch).")
            return
        bundle = self._load_bundle(path)
        if bundle is None:
            return
        self.results.bundle = bundle
        self.state.set_model(bundle, str(path))
        self.message.show_message(f"Using the model of {path.parent.name}: "
                                  f"{', '.join(bundle.labels)}", "info")
        self._update_controls()

    def _on_resume_clicked(self) -> None:
        start = self.panel.runs.selected_model()
        folder = str(start.parent) if start else str(runs_mod.runs_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Resume training from model", folder,
                                              MODEL_FILTER)
        if not path:
            return
        bundle = self._load_bundle(Path(path))
        if bundle is None:
            return
        self.settings.set_settings(model_fields(bundle.model_config), None)
        self.panel.side_tabs.setCurrentIndex(0)
        self.start_training(init_bundle=bundle)

    def _resume_problem(self, bundle) -> str | None:
        """Why `bundle` cannot continue training on the Data tab's settings, or None."""
        state, ds = self.state, self.state.dataset
        if ds is None:
            return "Load a dataset on the Data tab first."
        problem = model_resume_problem(
            bundle, window_size=state.window_config.size,
            channels=list(state.channels or ds.channels),
            labels=list(state.activities or ds.activities))
        return f"{problem} Choose the same on the Data tab to resume." if problem else None

    # ------------------------------------------------------------------ save / export
    def _bundle_for_results(self):
        if self.results.bundle is None and self.results.model_path is not None:
            self.results.bundle = self._load_bundle(self.results.model_path)
        return self.results.bundle

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
        from ...model.io import save_model

        try:
            save_model(path, bundle)
        except (OSError, ValueError) as exc:
            self._show_error(f"Could not save {path}: {exc}")
            return
        if self.state.model is bundle:
            self.state.set_model_path(str(path))
        self.message.show_message(f"Model saved to {path}", "info")
        self.view.append_log(f"Model saved to {path}")

    def _on_export_clicked(self) -> None:
        if not self.results.report:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export results to folder",
                                                  str(Path.home()))
        if folder:
            self.export_results(Path(folder))

    def export_results(self, folder: Path) -> list[Path]:
        """Write report.json/.csv, curves, per-class and confusion PNGs into `folder` now, and
        start the ONNX export (with its check) in the background when onnxruntime exists."""
        folder = Path(folder)
        try:
            written = export.write_results(folder, self.results.report, {
                "curves.png": self.view.plots, "per_class.png": self.per_class,
                "confusion.png": self.confusion})
        except (OSError, ValueError) as exc:
            self._show_error(f"Export to {folder} failed: {exc}")
            return []
        summary = f"Exported {', '.join(p.name for p in written)} to {folder}."
        if not export.onnxruntime_available():
            self.export_label.setText(summary + " ONNX skipped: onnxruntime is not installed.")
            return written
        bundle = self._bundle_for_results()
        if bundle is None:
            self.export_label.setText(summary + " ONNX skipped: no model file.")
            return written
        self.export_label.setText(summary + " Exporting ONNX…")
        self._export_summary = summary
        target = folder / "model.onnx"
        self._export.start(lambda: export.export_onnx_job(bundle, target))
        self._update_controls()
        return written

    def _on_onnx_succeeded(self, info) -> None:
        self.export_label.setText(f"{self._export_summary} {export.onnx_text(info)}")
        self.view.append_log(export.onnx_text(info))
        self._update_controls()

    def _on_onnx_failed(self, exc, tb: str) -> None:
        log.debug("ONNX export failed\n%s", tb)
        self.export_label.setText(f"{self._export_summary} ONNX export failed: {exc}")
        self.view.append_log(f"ONNX export failed: {exc}", "error")
        self._update_controls()


def _num_or(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
