"""The Train tab's past-runs slots: show a run (or a cross-validation) picked in the list,
use its model, resume an interrupted run, continue training a model file. A mixin of
``TrainTab``, kept apart so the tab stays readable."""

from __future__ import annotations

from pathlib import Path

from ...training import runs as runs_mod
from ...training.jobs import model_fields, record_report
from ...training.reports import CROSSVAL_FILE, SWEEP_FILE, read_cv_report, read_sweep
from .controller import TrainRequest


class PastRunsMixin:
    # ------------------------------------------------------------------ past runs
    def _on_run_selected(self, folder: str) -> None:
        if self.running:
            self._update_controls()
            return
        if (Path(folder) / SWEEP_FILE).is_file():
            self._show_sweep(folder)
            return
        cv_file = Path(folder) / CROSSVAL_FILE
        if cv_file.is_file() and not (Path(folder) / runs_mod.CONFIG_FILE).is_file():
            self._show_cv_run(folder, cv_file)
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

    def _show_cv_run(self, folder: str, path: Path) -> None:
        try:
            cv = read_cv_report(path)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.message.clear()
        self.view.reset(1, clear_log=False)
        self.results.show_placeholder("cross-validation")
        self.results.show_cv_run(cv, folder)
        self.status_label.setText(f"Showing past cross-validation {Path(folder).name}")
        self.progress_bar.setFormat("")
        self._update_controls()

    def _show_sweep(self, folder: str) -> None:
        """A sweep's table in the log (trial, mean and worst fold, settings) and its best
        recipe, which *Load recipe…* takes."""
        try:
            sweep = read_sweep(folder)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.message.clear()
        self.view.reset(1, clear_log=False)
        self.results.show_placeholder("sweep")
        self.view.append_log(f"Sweep {Path(folder).name} ({sweep.state}): {len(sweep.trials)} "
                             f"trials, each scored by {sweep.k}-fold cross-validation by "
                             f"subject ({sweep.score} fold accuracy)")
        for line in sweep_table(sweep.trials):
            self.view.append_log(line)
        if sweep.best_preset is not None:
            self.view.append_log(f"Best recipe: {sweep.best_preset} (Load recipe… takes it)")
        self.status_label.setText(f"Showing past sweep {Path(folder).name}")
        self.progress_bar.setFormat("")
        self._update_controls()

    def _on_runs_list_failed(self, text: str) -> None:
        self.view.append_log(text, "warning")

    def _on_use_model_clicked(self) -> None:
        if self.actions.use_run_model(self.panel.runs.selected_model()):
            self._update_controls()

    def _on_resume_run_clicked(self) -> None:
        """Continue the selected interrupted run (its files, split and schedule)."""
        folder = self.panel.runs.selected_folder()
        if folder is None or self.running:
            return
        s = self.state
        request = TrainRequest(s.dataset, s.window_config, s.split_config, None, None, {},
                               None, None, resume_folder=folder)
        self.results.start_folds(False)
        self.view.reset(1, clear_log=False)
        self.view.append_log(f"Resuming the interrupted run {Path(folder).name}")
        self.controller.start(request)
        self._redraw_timer.start()
        self._update_controls()
        self.trainingStarted.emit()

    def _on_resume_clicked(self) -> None:
        bundle = self.actions.choose_resume_model(self.panel.runs.selected_model())
        if bundle is not None:
            self.settings.set_settings(model_fields(bundle.model_config), None)
            self.panel.side_tabs.setCurrentIndex(0)
            self.start_training(init_bundle=bundle)


def _num_or(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def sweep_table(trials: list[dict]) -> list[str]:
    """One text line per trial of a sweep, best mean first."""
    def key(row: dict) -> float:
        return _num_or(row.get("accuracy_mean"), -1.0)

    lines = []
    for row in sorted(trials, key=key, reverse=True):
        mean, worst = row.get("accuracy_mean"), row.get("accuracy_worst")
        figures = (f"mean {mean:.3f}, worst fold {worst:.3f}"
                   if isinstance(mean, (int, float)) and isinstance(worst, (int, float))
                   else "no finished fold")
        params = ", ".join(f"{k}={v}" for k, v in (row.get("params") or {}).items())
        lines.append(f"  trial {row.get('trial')}: {figures} ({row.get('status')}) {params}")
    return lines
