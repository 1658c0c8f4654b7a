"""The Train tab's past runs: show a run picked in the list (its curves with the batch curve,
its results, its notes and where it stopped), a cross-validation or a sweep, and hand a run's
model to the other tabs. An object the tab owns; it shows what it reads in the tab's views
and says ``shown`` (the tab updates its buttons) or ``failed`` (a one-line message)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ...training import runs as runs_mod
from ...training.jobs import record_report
from ...training.reports import CROSSVAL_FILE, SWEEP_FILE, read_cv_report, read_sweep
from .controller import epoch_note
from .run_files import read_batch_curve, read_notes


class PastRuns(QObject):
    """``shown()`` after a past run is on screen; ``failed(text)`` when it cannot be."""

    shown = Signal()
    failed = Signal(str)

    def __init__(self, browser, view, results, controller, actions,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.browser, self.view, self.results = browser, view, results
        self.controller, self.actions = controller, actions
        browser.runSelected.connect(self.show_run)
        browser.listFailed.connect(self._on_browser_list_failed)
        browser.use_model_button.clicked.connect(self._on_use_model_clicked)

    def show_newest(self) -> bool:
        """Show the newest run (as before a restart); False when there is none or a run is
        training."""
        if self.controller.running or not self.browser.runs_list.count():
            return False
        self.browser.runs_list.setCurrentRow(0)
        return True

    def show_run(self, folder: str) -> None:
        """Show the run (or cross-validation, or sweep) in `folder`."""
        if self.controller.running:
            self.shown.emit()
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
            self.failed.emit(str(exc))
            return
        history = list(record.history)
        view = self.view
        view.message.clear()
        view.reset(max([int(_num_or(h.get("epochs", h.get("epoch")), 0)) for h in history]
                       or [1]), clear_log=False)
        batch_x, batch_y, problem = read_batch_curve(folder)
        self.controller.reset_buffers(history, batch_x, batch_y)
        view.draw(self.controller)
        self.results.show_report(record_report(record), model_path=record.model_path)
        self._log_header(folder, "run")
        notes = read_notes(folder)
        if notes:
            view.log_view.appendPlainText(notes.rstrip("\n"))
        else:   # a run of the command line: its epochs, from its history
            for row in history:
                view.append_log(epoch_note(row), to_logger=False)
        if problem:
            view.append_log(problem, "warning", to_logger=False)
        view.show_end(history, (record.report or {}).get("stopped_reason"))
        view.status_label.setText(f"Showing past run {Path(folder).name}")
        self.shown.emit()

    def _log_header(self, folder: str, what: str) -> None:
        self.view.append_log(f"── Past {what} {Path(folder).name} ──", to_logger=False)

    def _show_cv_run(self, folder: str, path: Path) -> None:
        try:
            cv = read_cv_report(path)
        except ValueError as exc:
            self.failed.emit(str(exc))
            return
        self.view.message.clear()
        self.view.reset(1, clear_log=False)
        self.results.show_placeholder("cross-validation")
        self.results.show_cv_run(cv, folder)
        self._log_header(folder, "cross-validation")
        self.view.status_label.setText(f"Showing past cross-validation {Path(folder).name}")
        self.shown.emit()

    def _show_sweep(self, folder: str) -> None:
        """A sweep's table in the log (trial, mean and worst fold, settings) and its best
        recipe, which *Load recipe…* takes."""
        try:
            sweep = read_sweep(folder)
        except ValueError as exc:
            self.failed.emit(str(exc))
            return
        view = self.view
        view.message.clear()
        view.reset(1, clear_log=False)
        self.results.show_placeholder("sweep")
        view.append_log(f"Sweep {Path(folder).name} ({sweep.state}): {len(sweep.trials)} "
                        f"trials, each scored by {sweep.k}-fold cross-validation by "
                        f"subject ({sweep.score} fold accuracy)")
        for line in sweep_table(sweep.trials):
            view.append_log(line)
        if sweep.best_preset is not None:
            view.append_log(f"Best recipe: {sweep.best_preset} (Load recipe… takes it)")
        view.status_label.setText(f"Showing past sweep {Path(folder).name}")
        self.shown.emit()

    def _on_browser_list_failed(self, text: str) -> None:
        self.view.append_log(text, "warning")

    def _on_use_model_clicked(self) -> None:
        if self.actions.use_run_model(self.browser.selected_model()):
            self.shown.emit()


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
