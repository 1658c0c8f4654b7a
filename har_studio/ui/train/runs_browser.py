"""The Train tab's "Past runs" page: the run folders in the user data folder, newest first,
with "Use this model" and "Resume training from model file…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...training import runs as runs_mod


def run_text(info) -> str:
    """Three lines describing a run in the list: when, result, classes."""
    created = (info.created or info.name).replace("T", " ")[:16]
    acc = f"accuracy {info.accuracy:.3f}" if info.accuracy is not None else "no result"
    if getattr(info, "crossval_path", None) is not None:
        return (f"{created}  ·  {acc} (mean)\n{info.stopped_reason} · "
                f"{len(info.activities)} classes\n" + ", ".join(info.activities[:3])
                + ("…" if len(info.activities) > 3 else ""))
    if info.status in (runs_mod.INTERRUPTED, "aborted"):
        reason = "interrupted" + (" · resumable" if info.resumable else "")
        classes = ", ".join(info.activities[:3]) + ("…" if len(info.activities) > 3 else "")
        return (f"{created}  ·  {acc}\n{info.epochs} epoch{'s' if info.epochs != 1 else ''} · "
                f"{reason} · {len(info.activities)} classes\n{classes}")
    reason = (info.stopped_reason or "unfinished").replace("_", " ")
    classes = ", ".join(info.activities[:3]) + ("…" if len(info.activities) > 3 else "")
    return (f"{created}  ·  {acc}\n{info.epochs} epoch{'s' if info.epochs != 1 else ''} · "
            f"{reason} · {len(info.activities)} classes\n{classes}")


class RunsBrowser(QWidget):
    """``runSelected(folder)`` when the user picks a run; the buttons' signals are public."""

    runSelected = Signal(str)
    listFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_list = QListWidget()
        self.runs_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_list.setToolTip("Training runs saved in the user data folder; select one to "
                                  "see its curves and results")
        self.refresh_button = QPushButton("Refresh")
        self.use_model_button = QPushButton("Use this model")
        self.use_model_button.setToolTip("Load the selected run's model for the Live tab")
        self.resume_run_button = QPushButton("Resume this run")
        self.resume_run_button.setToolTip("Continue the selected interrupted run from its last "
                                          "finished epoch, in its own folder, on its own data")
        self.resume_button = QPushButton("Resume training from model file…")
        self.resume_button.setToolTip("Continue training a saved model on the current data "
                                      "(same window, channels and activities)")
        layout = QVBoxLayout(self)
        layout.addWidget(self.runs_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.use_model_button)
        buttons.addWidget(self.resume_run_button)
        layout.addLayout(buttons)
        layout.addWidget(self.resume_button)
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        self.runs_list.currentItemChanged.connect(self._on_current_item_changed)

    def refresh(self, select: Path | str | None = None) -> None:
        """Reload the list (newest first); select `select` when given (without signalling)."""
        try:
            infos = runs_mod.list_runs()
        except OSError as exc:
            self.listFailed.emit(f"Cannot list past runs: {exc}")
            infos = []
        self.runs_list.blockSignals(True)
        try:
            self.runs_list.clear()
            self._resumable = {str(i.folder) for i in infos if i.resumable}
            for info in infos:
                item = QListWidgetItem(run_text(info))
                item.setData(Qt.ItemDataRole.UserRole, str(info.folder))
                item.setToolTip(str(info.folder))
                self.runs_list.addItem(item)
                if select is not None and Path(select) == Path(info.folder):
                    self.runs_list.setCurrentItem(item)
        finally:
            self.runs_list.blockSignals(False)

    def folders(self) -> list[str]:
        return [self.runs_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.runs_list.count())]

    def selected_folder(self) -> str | None:
        item = self.runs_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected_model(self) -> Path | None:
        """The selected run's model file, when it has one."""
        folder = self.selected_folder()
        if folder is None:
            return None
        model = Path(folder) / runs_mod.MODEL_FILE
        return model if model.is_file() else None

    def set_running(self, running: bool, can_start: bool) -> None:
        self.runs_list.setEnabled(not running)
        self.use_model_button.setEnabled(not running and self.selected_folder() is not None)
        self.resume_button.setEnabled(can_start)
        self.resume_run_button.setEnabled(not running and self.selected_folder()
                                          in getattr(self, "_resumable", ()))

    def _on_refresh_clicked(self) -> None:
        self.refresh(select=self.selected_folder())

    def _on_current_item_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.runSelected.emit(current.data(Qt.ItemDataRole.UserRole))
