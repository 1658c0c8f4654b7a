"""What the Train tab does with the model and results shown: load a saved model (with a wait
cursor), check that it can resume on the Data tab's settings, save it to a file of the user's
choice, and export the report, the pictures and an ONNX model (checked against torch, in
the background)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from ...model.io import ModelFileError, load_model, save_model
from ...training import runs as runs_mod
from ...training.jobs import resume_problem
from ..workers import JobRunner
from . import export

log = logging.getLogger(__name__)

MODEL_FILTER = "HAR Studio model (*.harmodel)"


class ModelActions(QObject):
    """``failed(text)`` for what the user should read as an error, ``done(text)`` for what
    happened, ``noted(text, level)`` for the run's notes; ``exportFinished`` when the ONNX
    export ended (or was skipped)."""

    failed = Signal(str)
    done = Signal(str)
    noted = Signal(str, str)
    exportFinished = Signal()

    def __init__(self, state, results, pictures: dict, owner: QWidget) -> None:
        super().__init__(owner)
        self.state, self.results, self._pictures, self._owner = state, results, pictures, owner
        self._onnx = JobRunner(self, receiver=self)
        self._summary = ""

    @property
    def exporting(self) -> bool:
        return self._onnx.running

    def load_bundle(self, path: Path):
        """The model in `path`, or None (the reason emitted as ``failed``)."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return load_model(path)
        except ModelFileError as exc:
            self.failed.emit(str(exc))
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()

    def use_run_model(self, path: Path | None) -> bool:
        """Hand the model in a run folder's `path` to the other tabs (True when done)."""
        if path is None:
            self.failed.emit("This run has no saved model (it may have failed before its "
                             "first epoch).")
            return False
        bundle = self.load_bundle(path)
        if bundle is None:
            return False
        self.results.bundle = bundle
        self.state.set_model(bundle, str(path))
        self.done.emit(f"Using the model of {path.parent.name}: {', '.join(bundle.labels)}")
        return True

    def choose_resume_model(self, start: Path | None):
        """Ask for a model file to continue training (starting next to `start`); its bundle,
        or None."""
        folder = str(start.parent) if start else str(runs_mod.runs_dir())
        path, _ = QFileDialog.getOpenFileName(self._owner, "Resume training from model", folder,
                                              MODEL_FILTER)
        return self.load_bundle(Path(path)) if path else None

    def resume_problem(self, bundle) -> str | None:
        """Why `bundle` cannot continue training on the Data tab's settings, or None."""
        state, ds = self.state, self.state.dataset
        if ds is None:
            return "Load a dataset on the Data tab first."
        problem = resume_problem(
            bundle, window_size=state.window_config.size,
            channels=list(state.channels or ds.channels),
            labels=list(state.activities or ds.activities))
        return f"{problem} Choose the same on the Data tab to resume." if problem else None

    def bundle_for_results(self):
        """The model behind the results shown (loaded from its file on first use)."""
        if self.results.bundle is None and self.results.model_path is not None:
            self.results.bundle = self.load_bundle(self.results.model_path)
        return self.results.bundle

    def save_dialog(self) -> None:
        bundle = self.bundle_for_results()
        if bundle is None:
            return
        default = Path.home() / f"har-{'-'.join(bundle.labels)[:40]}.harmodel"
        path, _ = QFileDialog.getSaveFileName(self._owner, "Save model", str(default),
                                              MODEL_FILTER)
        if not path:
            return
        path = Path(path)
        if path.suffix.lower() != ".harmodel":
            path = path.with_name(path.name + ".harmodel")
        try:
            save_model(path, bundle)
        except (OSError, ValueError) as exc:
            self.failed.emit(f"Could not save {path}: {exc}")
            return
        if self.state.model is bundle:
            self.state.set_model_path(str(path))
        self.done.emit(f"Model saved to {path}")

    def export_dialog(self) -> None:
        if not self.results.report:
            return
        folder = QFileDialog.getExistingDirectory(self._owner, "Export results to folder",
                                                  str(Path.home()))
        if folder:
            self.export_results(Path(folder))

    def export_results(self, folder: Path) -> list[Path]:
        """Write report.json/.csv, curves, per-class and confusion PNGs into `folder` now, and
        start the ONNX export (with its check) in the background when onnxruntime exists."""
        folder = Path(folder)
        label = self.results.export_label
        try:
            written = export.write_results(folder, self.results.report, self._pictures)
        except (OSError, ValueError) as exc:
            self.failed.emit(f"Export to {folder} failed: {exc}")
            return []
        summary = f"Exported {', '.join(p.name for p in written)} to {folder}."
        if not export.onnxruntime_available():
            label.setText(summary + " ONNX skipped: onnxruntime is not installed.")
            return written
        bundle = self.bundle_for_results()
        if bundle is None:
            label.setText(summary + " ONNX skipped: no model file.")
            return written
        label.setText(summary + " Exporting ONNX…")
        self._summary = summary
        target = folder / "model.onnx"
        self._onnx.start(lambda: export.export_onnx_job(bundle, target))
        return written

    def _on_runner_succeeded(self, info) -> None:
        self.results.export_label.setText(f"{self._summary} {export.onnx_text(info)}")
        self.noted.emit(export.onnx_text(info), "info")
        self.exportFinished.emit()

    def _on_runner_failed(self, exc, tb: str) -> None:
        log.debug("ONNX export failed\n%s", tb)
        self.results.export_label.setText(f"{self._summary} ONNX export failed: {exc}")
        self.noted.emit(f"ONNX export failed: {exc}", "error")
        self.exportFinished.emit()
