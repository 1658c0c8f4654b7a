"""A recording the Live tab replays without loading it on the Data tab: replaying someone new
must not replace the training data. An object the tab owns: it loads the file in the
background and keeps the panel's "Replay" row, subject and activity boxes saying what a
replay reads. ``changed(dataset)`` when that changes; ``failed(text)`` (one line naming the
file) when a file cannot be replayed, after which the row says what is replayed instead."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from ..workers import JobRunner

log = logging.getLogger(__name__)

DATA_TAB_TEXT = "the Data tab's data"


def _load(path: str):
    from ...data.loaders import load

    return load([path])


class ReplayFile(QObject):
    changed = Signal(object)          # the Dataset a replay now reads (None: nothing)
    loaded = Signal(object, str)      # Dataset, path
    failed = Signal(str)

    def __init__(self, panel, state, owner: QWidget) -> None:
        super().__init__(owner)
        self.panel, self.state, self._owner = panel, state, owner
        self._runner = JobRunner(self, receiver=self)
        self.file_dataset = None          # a file opened here (None: the Data tab's data)
        self.path: str | None = None
        self._pending: str | None = None
        panel.replay_open_button.clicked.connect(self._on_open_clicked)
        panel.replay_data_button.clicked.connect(self.clear)
        state.datasetChanged.connect(self._on_state_dataset_changed)

    @property
    def dataset(self):
        """The recording a replay reads: a file opened here, else the Data tab's data."""
        return self.file_dataset if self.file_dataset is not None else self.state.dataset

    @property
    def loading(self) -> bool:
        return self._runner.running

    def describe(self) -> str:
        """What a replay reads, in words ("newperson.txt", "the Data tab's data")."""
        if self.file_dataset is not None and self.path:
            return Path(self.path).name
        return DATA_TAB_TEXT if self.state.dataset is not None else "nothing loaded"

    def open(self, path: str | Path) -> None:
        """Replay `path` (loaded in the background; a load in progress is cancelled)."""
        self._pending = str(path)
        self.panel.replay_file_label.setText(f"loading {Path(path).name}…")
        self._runner.start(lambda p=self._pending: _load(p))

    def clear(self) -> None:
        """Back to replaying the Data tab's data."""
        self._runner.cancel()
        self.file_dataset = self.path = None
        self._show()

    def _show(self) -> None:
        label = self.panel.replay_file_label
        label.setText(self.describe())
        label.setToolTip(self.path or "What is replayed. Open… replays another recording "
                         "without touching the Data tab's training data")
        self.panel.set_recordings(self.dataset)
        self.changed.emit(self.dataset)

    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._owner, "Replay a recording",
                                              str(Path.home()),
                                              "Recordings (*.txt *.csv *.tsv *.dat);;All (*)")
        if path:
            self.open(path)

    def _on_runner_succeeded(self, dataset) -> None:
        self.file_dataset, self.path = dataset, self._pending
        self._show()
        self.loaded.emit(dataset, self.path)

    def _on_runner_failed(self, exc, tb: str) -> None:
        log.debug("loading a replay file failed\n%s", tb)
        name = Path(self._pending or "").name
        self._show()          # the row says what Start replays now, never "loading…"
        instead = self.describe()
        self.failed.emit(f"Cannot replay {self._pending}: {exc}. "
                         + (f"Start replays {instead} instead of {name}."
                            if self.dataset is not None else "Nothing else is loaded."))

    def _on_state_dataset_changed(self, _dataset) -> None:
        if self.file_dataset is None:
            self._show()
