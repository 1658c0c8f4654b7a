"""A recording the Live tab replays without loading it on the Data tab: replaying someone new
must not replace the training data. Loaded in the background; ``loaded(dataset, path)`` or
``failed(text)`` (one line naming the file)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from ..workers import JobRunner

log = logging.getLogger(__name__)


def _load(path: str):
    from ...data.loaders import load

    return load([path])


class ReplayFile(QObject):
    loaded = Signal(object, str)      # Dataset, path
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = JobRunner(self, receiver=self)
        self.dataset = None
        self.path: str | None = None
        self._pending: str | None = None

    @property
    def loading(self) -> bool:
        return self._runner.running

    def open(self, path: str | Path) -> None:
        """Load `path` in the background (a load in progress is cancelled)."""
        self._pending = str(path)
        self._runner.start(lambda p=self._pending: _load(p))

    def clear(self) -> None:
        """Back to replaying the Data tab's data."""
        self._runner.cancel()
        self.dataset = self.path = None

    def _on_runner_succeeded(self, dataset) -> None:
        self.dataset, self.path = dataset, self._pending
        self.loaded.emit(dataset, self.path)

    def _on_runner_failed(self, exc, tb: str) -> None:
        log.debug("loading a replay file failed\n%s", tb)
        self.failed.emit(f"Cannot replay {self._pending}: {exc}")


class ReplayFileMixin:
    """The Live tab's slots for a replay file of its own (``self.replay_file``)."""

    @property
    def replay_dataset(self):
        """The recording a replay reads: a file opened here, else the Data tab's data."""
        return self.replay_file.dataset or self.state.dataset

    def open_replay_file(self, path: str | Path) -> None:
        """Replay `path` (loaded in the background) without touching the Data tab."""
        self.panel.replay_file_label.setText(f"loading {Path(path).name}…")
        self.replay_file.open(path)

    def _on_replay_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Replay a recording", str(Path.home()),
                                              "Recordings (*.txt *.csv *.tsv *.dat);;All (*)")
        if path:
            self.open_replay_file(path)

    def _on_replay_file_loaded(self, dataset, path: str) -> None:
        self.panel.replay_file_label.setText(Path(path).name)
        self.panel.replay_file_label.setToolTip(path)
        self.panel.set_recordings(dataset)

    def _on_replay_data_clicked(self) -> None:
        self.replay_file.clear()
        self.panel.replay_file_label.setText("the Data tab's data")
        self.panel.set_recordings(self.state.dataset)

    def _on_state_dataset_changed(self, dataset) -> None:
        if self.replay_file.dataset is None:
            self.panel.set_recordings(dataset)

