"""Opening data and counting windows, for the Data tab, the menus, drag and drop and start-up.

``DataController`` owns the loading job (``loaders.load_iter`` or the demo generator in a
worker; a new load cancels the old one) and the window-count job, remembers what was opened
(``QSettings``), and puts a loaded dataset into ``AppState``. A phone app's recording that does
not say who and what (``loaders.identity_needed``) is asked about first (``import_dialog``); the
loader remembers the answer beside it. The main window creates it and hands it to the Data tab;
nothing here is a widget.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from ...data.dataset import DataError, Dataset
from ...training.jobs import count_windows
from ..state import AppState
from ..widgets import app_settings, settings_list
from ..workers import JobRunner
from . import import_dialog

log = logging.getLogger(__name__)

RECENT_MAX = 8
_USER_ERRORS = (DataError, OSError, ValueError, UnicodeError)


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _load_paths_job(paths: list[str], identity: tuple[str, str] | None = None):
    from ...data.loaders import load_iter

    subject, activity = identity or (None, None)
    return load_iter(paths, subject=subject, activity=activity)


def _demo_job():
    from ...data.demo import demo_dataset

    return demo_dataset()


class DataController(QObject):
    """Loads data into ``state`` and counts the windows of the chosen settings."""

    loadStarted = Signal(str)            # what is being opened
    loadProgressed = Signal(float, str)  # fraction, text
    datasetLoaded = Signal(object)       # Dataset, after state.set_dataset
    loadFailed = Signal(str, bool)       # one-line message; True: the user must act (modal)
    loadCancelled = Signal()
    countsReady = Signal(object)         # WindowCounts
    countsFailed = Signal(str)

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._loader = JobRunner(self, min_interval_s=0.1)
        self._loader.progressed.connect(self._on_loader_progressed)
        self._loader.succeeded.connect(self._on_loader_succeeded)
        self._loader.failed.connect(self._on_loader_failed)
        self._counter = JobRunner(self)
        self._counter.succeeded.connect(self.countsReady)
        self._counter.failed.connect(self._on_counter_failed)
        self._paths: list[str] = []
        self._demo_on_failure = False

    # ------------------------------------------------------------------ loading
    def is_loading(self) -> bool:
        return self._loader.running

    @property
    def counting(self) -> bool:
        return self._counter.running

    def open_paths(self, paths, *, demo_on_failure: bool = False) -> None:
        """Load files and/or folders in the background (cancels a load in progress)."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = [str(p) for p in paths]
        if not paths:
            return
        label = Path(paths[0]).name + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
        identity = self._ask_identity(paths)
        if identity is False:
            log.info("opening %s cancelled: no person and activity given", label)
            self.loadCancelled.emit()
            return
        self._start(lambda: _load_paths_job(paths, identity), paths, f"Opening {label}…")
        self._demo_on_failure = demo_on_failure

    def _ask_identity(self, paths: list[str]) -> tuple[str, str] | None | bool:
        """(person, activity) for the phone apps' recordings among `paths` that do not say
        them and whose sidecar does not remember them (one dialog for all); None when none
        needs it; False when the user cancelled."""
        from ...data.loaders import identity_needed

        asking = [(p, need) for p in paths if any((need := identity_needed(p))[:2])]
        if not asking:
            return None
        known = self.state.dataset.activities if self.state.dataset is not None else []
        answer = import_dialog.ask_identity(QApplication.activeWindow(),
                                            [Path(p).name for p, _ in asking],
                                            asking[0][1].description, known)
        return False if answer is None else answer

    def open_demo(self) -> None:
        """Load the built-in synthetic recordings."""
        self._start(_demo_job, [], "Generating demo data…")

    def cancel_load(self) -> None:
        if self._loader.cancel():
            log.info("loading cancelled")
            self.loadCancelled.emit()

    def _start(self, factory, paths: list[str], text: str) -> None:
        if self._loader.running:
            log.info("previous load cancelled by a new one")
        self._demo_on_failure = False
        self._paths = paths
        self.loadStarted.emit(text)
        self._loader.start(factory)

    def _on_loader_progressed(self, item) -> None:
        total = item.total_bytes
        if total > 0:
            done = min(item.done_bytes, total)
            name = Path(str(item.file or "")).name
            self.loadProgressed.emit(done / total, f"Reading {name}  {done / 1e6:.1f} of "
                                                   f"{total / 1e6:.1f} MB")

    def _on_loader_succeeded(self, dataset) -> None:
        if not isinstance(dataset, Dataset):
            self._fail(f"loading returned no data ({type(dataset).__name__})", modal=True)
            return
        paths = list(self._paths)
        self.state.set_dataset(dataset, paths)
        if paths:
            self._remember_paths(paths)
        r = dataset.report
        log.info("loaded %d records of %d subjects (%s)", r.records, len(r.subjects),
                 r.format or "?")
        self.datasetLoaded.emit(dataset)

    def _on_loader_failed(self, exc, tb: str) -> None:
        if isinstance(exc, _USER_ERRORS):
            text = str(exc) or type(exc).__name__
            if self._paths and not any(Path(p).name in text for p in self._paths):
                text = f"{Path(self._paths[0]).name}: {text}"
            self._fail(text, modal=True)
        else:
            log.error("unexpected error while loading %s\n%s", self._paths, tb)
            self._fail(f"unexpected error while loading: {type(exc).__name__}: {exc}",
                       modal=False)
        if self._demo_on_failure:
            self._demo_on_failure = False
            self.open_demo()

    def _fail(self, text: str, *, modal: bool) -> None:
        text = _one_line(text)
        log.warning("could not load data: %s", text)
        self.loadFailed.emit(text, modal)

    # ------------------------------------------------------------------ dialogs, history
    def open_files_dialog(self, parent: QWidget | None = None) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            parent, "Open recordings", self._last_dir(),
            "Recordings (*.txt *.csv *.zip);;All files (*)")
        if files:
            self._remember_dir(str(Path(files[0]).parent))
            self.open_paths(files)

    def open_folder_dialog(self, parent: QWidget | None = None) -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Open a folder of recordings",
                                                  self._last_dir())
        if folder:
            self._remember_dir(folder)
            self.open_paths([folder])

    @staticmethod
    def _last_dir() -> str:
        return str(app_settings().value("data/last_dir", str(Path.home())))

    @staticmethod
    def _remember_dir(folder: str) -> None:
        app_settings().setValue("data/last_dir", folder)

    @staticmethod
    def _remember_paths(paths: list[str]) -> None:
        settings = app_settings()
        settings.setValue("data/last_paths", paths)
        entry = json.dumps(paths)
        recent = [e for e in settings_list(settings, "data/recent") if e != entry]
        settings.setValue("data/recent", [entry, *recent][:RECENT_MAX])

    @staticmethod
    def last_paths() -> list[str]:
        """The data opened last (QSettings), or []."""
        return settings_list(app_settings(), "data/last_paths")

    @staticmethod
    def recent_entries() -> list[list[str]]:
        """Recently opened path lists, newest first."""
        out = []
        for entry in settings_list(app_settings(), "data/recent"):
            try:
                paths = json.loads(entry)
            except ValueError:
                continue
            if isinstance(paths, list) and paths:
                out.append([str(p) for p in paths])
        return out

    # ------------------------------------------------------------------ window counts
    def recount(self, window, split, activities, channels) -> None:
        """Count the loaded dataset's windows for these settings in the background (the
        count in progress is cancelled)."""
        frame = self.state.dataset.frame
        self._counter.start(lambda: count_windows(frame, window, split, activities, channels))

    def _on_counter_failed(self, exc, tb: str) -> None:
        if not isinstance(exc, ValueError):
            log.error("counting windows failed\n%s", tb)
        self.countsFailed.emit(str(exc))
