"""The main window: one tab per area, menus, status bar, log dock, drag and drop.

Tabs are listed in ``TAB_SPECS`` as (title, factory); a factory builds its tab from the
window's ``state`` (the shared ``AppState``, the tabs' only link to each other) and ``data``
(the ``DataController`` that the File menu, drag and drop and start-up loading use too). A
tab whose construction fails is replaced by a page showing the error (never silently
hidden), so the rest of the app stays usable.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__, paths
from .data import DataController, DataTab
from .live import LiveTab
from .log_panel import LogPanel, error_signals
from .state import AppState
from .train import TrainTab
from .widgets import app_settings, configure_pyqtgraph

log = logging.getLogger(__name__)

TAB_SPECS: list[tuple[str, Callable[[MainWindow], QWidget]]] = [
    ("Data", lambda window: DataTab(window.state, window.data)),
    ("Train", lambda window: TrainTab(window.state)),
    ("Live", lambda window: LiveTab(window.state)),
]

GEOMETRY_KEY = "main_window/geometry"
PLACE_KEY = "main_window/place"          # QRect: the frame's position, the inner size
MAXIMIZED_KEY = "main_window/maximized"
DEFAULT_SIZE = (1280, 820)


def fit_to_screen(place: QRect, available: QRect) -> QRect:
    """`place` moved (and, only when larger than `available`, shrunk) so that all of it lies
    on `available`, a screen's free area; unchanged when it does already."""
    width = min(place.width(), available.width())
    height = min(place.height(), available.height())
    x = min(max(place.x(), available.x()), available.x() + available.width() - width)
    y = min(max(place.y(), available.y()), available.y() + available.height() - height)
    return QRect(x, y, width, height)


def available_area(point: QPoint) -> QRect | None:
    """The free area (without panels and docks) of the screen showing `point`, else of the
    primary screen; None when there is no screen."""
    screen = QGuiApplication.screenAt(point) or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


CITATIONS = (
    "J. R. Kwapisz, G. M. Weiss, S. A. Moore. Activity Recognition using Cell Phone "
    "Accelerometers. SIGKDD Explorations 12(2), 2010 (WISDM v1.1).",
    "G. M. Weiss, K. Yoneda, T. Hayajneh. Smartphone and Smartwatch-Based Biometrics Using "
    "Activities of Daily Living. IEEE Access 7, 2019 (WISDM 2019).",
)


def app_icon() -> QIcon:
    """The window icon from ``resources/`` (an empty icon when the file is missing)."""
    for name in ("har_studio.png", "har_studio.ico"):
        path = paths.resources_dir() / name
        if path.exists():
            return QIcon(str(path))
    return QIcon()


class TabErrorPage(QWidget):
    """Shown in place of a tab that failed to load, so the failure is visible."""

    def __init__(self, title: str, error_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_text = error_text
        layout = QVBoxLayout(self)
        label = QLabel(f"<b>The {title} tab could not be opened.</b> The error is below and "
                       "in the log.")
        label.setWordWrap(True)
        text = QPlainTextEdit(error_text)
        text.setReadOnly(True)
        layout.addWidget(label)
        layout.addWidget(text, 1)


class MainWindow(QMainWindow):
    """HAR Studio's window. ``tab(name)`` gives a tab widget; ``state`` is the shared state."""

    def __init__(self, state: AppState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state if state is not None else AppState(self)
        self.data = DataController(self.state, self)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.tab_errors: dict[str, str] = {}
        self._tabs: dict[str, QWidget] = {}

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self._build_tabs()

        self.log_panel = LogPanel(self)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("LogDock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

        self._dataset_label = QLabel("No data")
        self.statusBar().addPermanentWidget(self._dataset_label)
        self._build_menus()

        self.state.datasetChanged.connect(self._on_state_dataset_changed)
        error_signals().errorReported.connect(self._on_error_reported)
        self.data.loadFailed.connect(self._on_data_load_failed)
        self._restore_geometry()
        self.statusBar().showMessage("Ready", 3000)

    # -------------------------------------------------------------- tabs
    def _build_tabs(self) -> None:
        for title, factory in TAB_SPECS:
            try:
                widget = factory(self)
            except Exception as exc:
                text = "".join(traceback.format_exception(exc))
                log.error("the %s tab failed to load: %s\n%s", title, exc, text)
                self.tab_errors[title] = text
                widget = TabErrorPage(title, text)
            self._tabs[title] = widget
            self.tabs.addTab(widget, title)

    def tab(self, name: str) -> QWidget:
        """The tab widget titled `name` (KeyError if there is none)."""
        return self._tabs[name]

    def tab_names(self) -> list[str]:
        return list(self._tabs)

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentWidget(self._tabs[name])

    # ------------------------------------------------------------- menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open data…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self._on_open_triggered)
        self.open_folder_action = QAction("Open data &folder…", self)
        self.open_folder_action.triggered.connect(self._on_open_folder_triggered)
        self.demo_action = QAction("Open &demo data", self)
        self.demo_action.triggered.connect(self._on_demo_triggered)
        for action in (self.open_action, self.open_folder_action, self.demo_action):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        log_action = self.log_dock.toggleViewAction()
        log_action.setText("&Log panel")
        log_action.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(log_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction(f"&About {APP_NAME}", self)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _on_open_triggered(self) -> None:
        self.show_tab("Data")
        self.data.open_files_dialog(self)

    def _on_open_folder_triggered(self) -> None:
        self.show_tab("Data")
        self.data.open_folder_dialog(self)

    def _on_demo_triggered(self) -> None:
        self.show_tab("Data")
        self.data.open_demo()

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        entries = self.data.recent_entries()
        if not entries:
            none = self.recent_menu.addAction("(none)")
            none.setEnabled(False)
            return
        for entry in entries:
            text = entry[0] + (f" (+{len(entry) - 1})" if len(entry) > 1 else "")
            action = self.recent_menu.addAction(text)
            action.setData(entry)
            action.setEnabled(all(Path(p).exists() for p in entry))
            action.triggered.connect(self._on_recent_triggered)

    def _on_recent_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QAction) and action.data():
            self.open_paths(list(action.data()))

    def about_text(self) -> str:
        cites = "".join(f"<li>{c}</li>" for c in CITATIONS)
        return (f"<h3>{APP_NAME} {__version__}</h3>"
                "<p>Human activity recognition from phone motion sensors: load WISDM "
                "recordings, train a time-series Vision Transformer, classify replays and "
                "live phone streams.</p>"
                f"<p>Datasets:</p><ul>{cites}</ul>"
                f"<p>Settings and logs: {paths.user_data_dir()}</p>")

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", self.about_text())

    # ------------------------------------------------------------ data
    def open_paths(self, paths_: list[str]) -> None:
        """Open files/folders (drag and drop, the command line) and show the Data tab."""
        self.show_tab("Data")
        self.data.open_paths(paths_)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt name
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt name
        local = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if local:
            event.acceptProposedAction()
            self.open_paths(local)

    def _on_state_dataset_changed(self, dataset) -> None:
        if dataset is None:
            self._dataset_label.setText("No data")
            self.setWindowTitle(APP_NAME)
            return
        r = dataset.report
        name = "demo data" if r.format == "demo" else (
            Path(r.files[0]).name if len(r.files) == 1 else f"{len(r.files)} files")
        self._dataset_label.setText(f"{name}: {r.records:,} records, "
                                    f"{len(dataset.subjects)} subjects")
        self.setWindowTitle(f"{APP_NAME} — {name}")
        self.statusBar().showMessage(f"Loaded {name}", 5000)

    def _on_data_load_failed(self, text: str, _modal: bool) -> None:
        self.statusBar().showMessage(f"Could not load data: {text}", 10000)

    def _on_error_reported(self, text: str) -> None:
        self.statusBar().showMessage(f"Unexpected error: {text} (details in the log panel)",
                                     15000)
        self.log_dock.show()
        self.log_dock.raise_()

    # ------------------------------------------------------- geometry
    def _restore_geometry(self) -> None:
        """The last size and place (moved, or shrunk, onto a screen only where it no longer
        fits one: ``restoreGeometry`` alone shrinks a window as big as the screen a little
        at every start), maximised if it was; the docks; the tab shown last."""
        settings = app_settings()
        place = settings.value(PLACE_KEY)
        if isinstance(place, QRect) and place.isValid():
            self._place_on_screen(place)
            if str(settings.value(MAXIMIZED_KEY, "false")).lower() == "true":
                self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
        else:
            geometry = settings.value(GEOMETRY_KEY)
            if isinstance(geometry, QByteArray) and not geometry.isEmpty():
                self.restoreGeometry(geometry)    # settings of an older version
            else:
                self._place_on_screen(QRect(QPoint(-1, -1), QSize(*DEFAULT_SIZE)))
        window_state = settings.value("main_window/state")
        if isinstance(window_state, QByteArray) and not window_state.isEmpty():
            self.restoreState(window_state)
        tab = settings.value("main_window/tab")
        if isinstance(tab, str) and tab in self._tabs:
            self.show_tab(tab)

    def _place_on_screen(self, place: QRect) -> None:
        """Size and place the window as `place` (frame position, inner size; a negative
        position centres it), fitted to the free area of the screen it is on."""
        area = available_area(place.center())
        if place.x() < 0 and place.y() < 0 and area is not None:
            place.moveCenter(area.center())
        fitted = fit_to_screen(place, area) if area is not None else place
        self.resize(fitted.size())
        self.move(fitted.topLeft())

    def save_geometry(self) -> None:
        settings = app_settings()
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        maximized = self.isMaximized() or self.isFullScreen()
        normal = self.normalGeometry() if maximized else QRect(self.pos(), self.size())
        if maximized:   # the frame's place of the normal window is not known: keep the last
            last = settings.value(PLACE_KEY)
            normal = last if isinstance(last, QRect) and last.isValid() else normal
        settings.setValue(PLACE_KEY, normal)
        settings.setValue(MAXIMIZED_KEY, maximized)
        settings.setValue("main_window/state", self.saveState())
        current = self.tabs.currentWidget()
        for name, widget in self._tabs.items():
            if widget is current:
                settings.setValue("main_window/tab", name)
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.save_geometry()
        for widget in self._tabs.values():
            shutdown = getattr(widget, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:
                    log.exception("a tab failed to shut down cleanly")
        super().closeEvent(event)
