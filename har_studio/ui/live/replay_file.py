"""A recording the Live tab replays without loading it on the Data tab: replaying someone new
must not replace the training data. Loaded in the background; ``loaded(dataset, path)`` or
``failed(text)`` (one line naming the file)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

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
