"""The log panel (a dock in the main window) and the logging handler that feeds it.

``QtLogHandler`` is an ordinary ``logging.Handler``: any thread may log; each record reaches
the GUI thread through a Qt signal (queued across threads), so the panel never touches
widgets from a worker. It keeps the last few hundred lines so a panel created later still
shows what happened at start-up. ``error_signals()`` carries "something went wrong" reports
(from the exception hooks in ``app.py``) to the main window's status bar.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_LEVELS = [("Debug", logging.DEBUG), ("Info", logging.INFO), ("Warnings", logging.WARNING),
           ("Errors", logging.ERROR)]


class _Emitter(QObject):
    recordEmitted = Signal(int, str)   # level number, formatted text


class ErrorSignals(QObject):
    """Emitted by the exception hooks; the main window shows it in the status bar."""

    errorReported = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that emits each formatted record as a Qt signal (thread-safe)."""

    def __init__(self, level: int = logging.DEBUG, history: int = 500) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
        self.emitter = _Emitter()
        self._history: deque[tuple[int, str]] = deque(maxlen=history)
        self._history_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            with self._history_lock:
                self._history.append((record.levelno, text))
            self.emitter.recordEmitted.emit(record.levelno, text)
        except RuntimeError:   # the emitter was deleted at interpreter exit
            pass
        except Exception:  # logging must never raise
            self.handleError(record)

    def history(self) -> list[tuple[int, str]]:
        with self._history_lock:
            return list(self._history)


_handler: QtLogHandler | None = None
_error_signals: ErrorSignals | None = None


def qt_log_handler() -> QtLogHandler:
    """The app's single QtLogHandler, installed on the root logger on first use."""
    global _handler
    if _handler is None:
        _handler = QtLogHandler()
        logging.getLogger().addHandler(_handler)
    return _handler


def error_signals() -> ErrorSignals:
    """The app-wide error reporter (create it on the GUI thread: app.py and MainWindow do)."""
    global _error_signals
    if _error_signals is None:
        _error_signals = ErrorSignals()
    return _error_signals


class LogPanel(QWidget):
    """Read-only log view with a level filter; shows records from ``qt_log_handler()``."""

    MAX_LINES = 5000

    def __init__(self, parent: QWidget | None = None, handler: QtLogHandler | None = None) -> None:
        super().__init__(parent)
        self._records: deque[tuple[int, str]] = deque(maxlen=self.MAX_LINES)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(self.MAX_LINES)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setStyleSheet("font-family: monospace;")
        self.level_box = QComboBox(self)
        for name, level in _LEVELS:
            self.level_box.addItem(name, level)
        self.level_box.setCurrentIndex(1)
        self.level_box.currentIndexChanged.connect(self._on_level_changed)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self._on_clear_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:", self))
        top.addWidget(self.level_box)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view)
        handler = handler or qt_log_handler()
        for level, text in handler.history():
            self.append(level, text)
        handler.emitter.recordEmitted.connect(self.append)

    @property
    def min_level(self) -> int:
        return int(self.level_box.currentData())

    def append(self, level: int, text: str) -> None:
        self._records.append((level, text))
        if level >= self.min_level:
            self.view.appendPlainText(text)
            self.view.moveCursor(QTextCursor.MoveOperation.End)

    def text(self) -> str:
        return self.view.toPlainText()

    def _on_level_changed(self, _index: int) -> None:
        minimum = self.min_level
        self.view.setPlainText("\n".join(t for lv, t in self._records if lv >= minimum))
        self.view.moveCursor(QTextCursor.MoveOperation.End)

    def _on_clear_clicked(self) -> None:
        self._records.clear()
        self.view.clear()
