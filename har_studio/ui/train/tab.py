"""The Train tab: set up a model, train it with live curves, read and keep the results.

The tab only composes its parts and connects them: ``panel`` (``TrainPanel``: settings, the
past-runs list, Start/Pause/Stop), ``view`` (``RunView``: progress, curves, notes),
``results`` (``ResultsView``: metrics, confusion, folds), ``controller`` (``TrainController``:
the job, its worker and the progress buffers), ``past`` (``PastRuns``: shows a run picked in
the list) and ``actions`` (``ModelActions``: save, export, load a model). Tests and the
self-test reach widgets through those parts, or use the tab's few methods. The curves are
redrawn from a 10 Hz timer, so a fast stream of batch updates never holds the event loop.
Stop ends at the next batch and keeps the last finished epoch's model (the best one with "keep
best"; the log names the epoch), which is shown, saved in the run folder and handed to the Live
tab like a finished run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ...training.jobs import (
    describe_model,
    fine_tune_schedule,
    model_fields,
    result_report,
)
from ..state import AppState
from ..widgets import configure_pyqtgraph, make_timer
from .controller import TrainController, TrainRequest, format_duration
from .model_actions import ModelActions
from .panel import TrainPanel
from .past_runs import PastRuns
from .results import ResultsView
from .run_files import write_run_view
from .run_view import RunView

log = logging.getLogger(__name__)

REDRAW_INTERVAL_MS = 100


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

        self.panel = TrainPanel()
        self.results = ResultsView()
        self.view = RunView(self.results)
        p, v, r = self.panel, self.view, self.results
        self.actions = ModelActions(state, r, {"curves.png": v.plots, "per_class.png":
                                               r.per_class, "confusion.png": r.confusion}, self)
        self.past = PastRuns(p.runs, v, r, self.controller, self.actions, self)

        main_split = QSplitter(Qt.Orientation.Horizontal)
        main_split.addWidget(p)
        main_split.addWidget(v)
        main_split.setStretchFactor(0, 0)
        main_split.setStretchFactor(1, 1)
        main_split.setSizes([340, 900])
        QVBoxLayout(self).addWidget(main_split)

        self._redraw_timer = make_timer(self, REDRAW_INTERVAL_MS, self._on_redraw_timer)
        c, a = self.controller, self.actions
        connections = [
            (p.start_button.clicked, self._on_start_clicked),
            (p.pause_button.toggled, self._on_pause_toggled),
            (p.stop_button.clicked, self._on_stop_clicked),
            (p.settings.sizeChanged, self._update_controls),
            (self.past.shown, self._update_controls), (self.past.failed, self._show_error),
            (p.runs.resume_button.clicked, self._on_resume_clicked),
            (p.runs.resume_run_button.clicked, self._on_resume_run_clicked),
            (r.save_button.clicked, a.save_dialog), (r.export_button.clicked, a.export_dialog),
            (a.failed, self._show_error), (a.done, self._on_actions_done),
            (a.noted, v.append_log), (a.exportFinished, self._update_controls),
            (r.cvOfferClicked, self._on_cv_offer_clicked),
            (c.progressed, self._on_controller_progressed), (c.statusChanged, v.status_label.setText),
            (c.noted, self._on_controller_noted), (c.deviceChosen, v.device_label.setText),
            (c.epochFinished, self.epochFinished),
            (c.foldStarted, self._on_controller_fold_started),
            (c.foldFinished, self._on_controller_fold_finished),
            (c.trainingFinished, self._on_controller_training_finished),
            (c.crossValidationFinished, self._on_controller_cv_finished),
            (c.failed, self._on_controller_failed), (c.cancelled, self._on_controller_cancelled),
            (c.ended, self._on_controller_ended),
            (state.datasetChanged, self._on_state_data_changed),
            (state.dataSettingsChanged, self._on_state_data_changed),
        ]
        for signal, slot in connections:
            signal.connect(slot)

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
        self.panel.settings.set_settings(model_overrides, train_overrides)

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
            train_config = self.panel.settings.train_config()
            overrides = self.panel.settings.model_overrides()
        except ValueError as exc:
            self._show_error(str(exc))
            return False
        if init_bundle is not None:
            problem = self.actions.resume_problem(init_bundle)
            if problem:
                self._show_error(problem)
                return False
            overrides = model_fields(init_bundle.model_config)
            train_config, why = fine_tune_schedule(init_bundle, train_config,
                                                   self.state.activities or
                                                   self.state.dataset.activities)
        state = self.state
        request = TrainRequest(
            dataset=state.dataset, window=state.window_config, split=state.split_config,
            activities=list(state.activities) if state.activities else None,
            channels=list(state.channels) if state.channels else None,
            model_overrides=overrides, train_config=train_config,
            features=self.panel.settings.features(), init_bundle=init_bundle,
            preset=self.panel.settings.preset_name(),
            cv_folds=self.panel.cv_fold_count() if init_bundle is None else 0)
        self.results.start_folds(request.cv_folds > 1)
        self.view.reset(train_config.epochs)
        self._show_placeholder("Training…")
        self.view.message.clear()
        self.panel.runs.runs_list.clearSelection()
        self.view.append_log(f"Start: {describe_model(overrides)}; {train_config.epochs} "
                             f"epochs, batch {train_config.batch_size}, lr {train_config.lr:g}, "
                             f"seed {train_config.seed}"
                             + (" (resumed from a model file)" if init_bundle else ""))
        if init_bundle is not None and why:
            self.view.append_log(why)
        self.view.device_label.setText(f"{train_config.device} · {train_config.precision}")
        self.view.status_label.setText("Preparing windows…")
        if request.cv_folds > 1:
            self.view.append_log(f"Cross-validation by subject, {request.cv_folds} folds "
                                 f"(preset {request.preset}: {request.features.describe()})")
        self._begin(request)
        return True

    def resume_run(self, folder: str) -> bool:
        """Continue the interrupted run in `folder` (its files, split and schedule)."""
        if self.running:
            return False
        s = self.state
        request = TrainRequest(s.dataset, s.window_config, s.split_config, None, None, {},
                               None, None, resume_folder=folder)
        self.results.start_folds(False)
        self.view.reset(1, clear_log=False)
        self.view.append_log(f"Resuming the interrupted run {Path(folder).name}")
        self._begin(request)
        return True

    def _begin(self, request: TrainRequest) -> None:
        self.controller.start(request)
        self._redraw_timer.start()
        self._update_controls()
        self.trainingStarted.emit()

    def stop_training(self, wait_ms: int = 0) -> None:
        """Ask a running job to stop (keeping a finished epoch's model); optionally wait."""
        self.controller.stop(wait_ms)

    def start_blocked_reason(self) -> str | None:
        """Why Start is disabled right now (None when it is not)."""
        if self.running:
            return "Training is running: stop it before starting another."
        if self.state.dataset is None:
            return "Load a dataset on the Data tab first (or open the demo data)."
        if self.panel.settings.config_error:
            return f"The model settings are invalid: {self.panel.settings.config_error}"
        return None

    def refresh_runs(self, select: Path | str | None = None) -> None:
        """Reload the past-runs list (newest first); select `select` when given."""
        self.panel.runs.refresh(select)
        self._update_controls()

    def run_folders(self) -> list[str]:
        return self.panel.runs.folders()

    def show_newest_run(self) -> bool:
        """Show the newest past run, as before a restart (False: none, or training)."""
        return self.past.show_newest()

    def metric_value(self, key: str):
        """The raw value behind the metrics table row `key` (e.g. "accuracy"), or None."""
        return self.results.metric_value(key)

    def guidance_text(self) -> str:
        """The subject-wise figure or offer shown under a random-split result ("" if none)."""
        return self.results.guidance_text()

    # ------------------------------------------------------------------ state and controls
    def _on_state_data_changed(self, *_args) -> None:
        self.panel.show_data(self.state)
        self._update_controls()

    def _update_controls(self) -> None:
        running = self.running
        control = self.controller.control
        self.panel.set_running(running, self.start_blocked_reason(),
                               control is not None and not control.stopped)
        self.results.save_button.setEnabled(self.results.has_model and not running)
        self.results.export_button.setEnabled(bool(self.results.report) and not running
                                      and not self.actions.exporting)

    def _on_start_clicked(self) -> None:
        self.start_training()

    def _on_pause_toggled(self, paused: bool) -> None:
        control = self.controller.control
        if control is None:
            self.panel.set_paused(False)
            return
        if paused:
            control.pause()
            self.view.status_label.setText("Paused: press Resume to continue")
        else:
            control.resume()
            self.view.status_label.setText("Resuming…")
        self.panel.set_paused(paused)

    def _on_stop_clicked(self) -> None:
        if not self.running:
            return
        self.stop_training()
        self.panel.set_paused(False)
        self.view.status_label.setText("Stopping after this batch…")
        self.view.append_log("Stop requested")
        self._update_controls()

    def _on_cv_offer_clicked(self) -> None:
        self.panel.cv_check.setChecked(True)
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
            self.view.message.show_message(text, "error")

    def _on_controller_fold_started(self, _fold: int) -> None:
        request = self.controller.request
        self.view.reset(request.train_config.epochs if request else 1, clear_log=False)

    def _on_controller_fold_finished(self, f) -> None:
        self.results.add_fold(f)
        self.foldFinished.emit(f)

    def _on_controller_training_finished(self, result) -> None:
        view = self.view
        if result is None:
            view.status_label.setText("Stopped before training began")
            view.append_log("Stopped before training began")
            view.show_end([], "stopped")
            self._show_placeholder()
            return
        self.result = result
        minutes = self.controller.minutes()
        view.show_end(self.controller.history, result.stopped_reason)
        view.status_label.setText(
            f"Finished ({result.stopped_reason.replace('_', ' ')}) after "
            f"{len(result.history)} epoch(s), {format_duration(minutes * 60)}")
        view.device_label.setText(f"{result.device} · {result.precision}")
        view.draw(self.controller)
        self.results.show_report(result_report(result, self.controller.history, minutes),
                                 bundle=result.bundle, model_path=result.model_path)
        if result.run_dir is not None:   # what a restart shows of it: batch curve and notes
            write_run_view(result.run_dir, self.controller.batch_x, self.controller.batch_y,
                           view.log_view.toPlainText())
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
        self.results.show_cv_run(cv)   # the summary is in the log already (the job's note)
        if cv.stopped:
            self.view.status_label.setText(f"Cross-validation stopped after {cv.completed} of "
                                      f"{cv.k} folds ({format_duration(minutes * 60)})")
        else:
            self.view.status_label.setText(f"Cross-validation finished: {cv.k} folds in "
                                      f"{format_duration(minutes * 60)}")
        self._update_controls()
        self.crossValidationFinished.emit(cv)

    def _on_controller_failed(self, exc, tb: str) -> None:
        if isinstance(exc, (ValueError, OSError)):
            text = str(exc) or type(exc).__name__
        else:
            text = f"Training failed: {type(exc).__name__}: {exc}"
            log.error("training failed\n%s", tb)
        self._show_error(text)
        self.view.status_label.setText("Training did not finish")
        self._show_placeholder()
        self.trainingFailed.emit(text)

    def _on_controller_cancelled(self) -> None:
        self.view.status_label.setText("Training cancelled")
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

    def export_results(self, folder: Path) -> list[Path]:
        """Write the report, pictures and (in the background) the ONNX model to `folder`."""
        written = self.actions.export_results(folder)
        self._update_controls()
        return written

    def _on_actions_done(self, text: str) -> None:
        self.view.message.show_message(text, "info")
        self.view.append_log(text)

    def _show_error(self, text: str) -> None:
        self.view.message.show_message(text, "error")
        self.view.append_log(text, "error")

    # ------------------------------------------------------------------ resuming
    def _on_resume_run_clicked(self) -> None:
        folder = self.panel.runs.selected_folder()
        if folder is not None:
            self.resume_run(folder)

    def _on_resume_clicked(self) -> None:
        """Continue training a model file on the Data tab's data."""
        bundle = self.actions.choose_resume_model(self.panel.runs.selected_model())
        if bundle is not None:
            self.panel.settings.set_settings(model_fields(bundle.model_config), None)
            self.panel.side_tabs.setCurrentIndex(0)
            self.start_training(init_bundle=bundle)
