"""Start the desktop app: QApplication, settings, logging, exception hooks, main window.

``run_gui(argv)`` is what ``har-studio`` (no subcommand) runs. Options:
``PATH ...`` data to open; ``--demo`` open the built-in demo data; ``--smoke-test`` show the
window, wait for the data, print one JSON line of start-up figures and exit. ``--self-test``
and ``--screenshots DIR`` run in a throw-away user data folder (``temporary_home``): they
never add a run, a setting or a log line to the user's own.
With no paths it reopens the data used last (if it still exists), else the demo data, so a
fresh install shows something straight away.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import logging.handlers
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from . import APP_NAME, ORG_NAME, __version__, paths

log = logging.getLogger(__name__)

_IMPORT_TIME = time.time()


def process_start_time() -> float:
    """When this process started (epoch seconds).

    On Linux it is the process age from ``/proc/self/stat`` (start time in clock ticks after
    boot) and ``/proc/uptime``, so it includes the interpreter's own start-up (10 ms
    resolution). Elsewhere (or if /proc is unreadable) it is the time ``har_studio.app`` was
    imported, which misses the interpreter start and the first imports (a few hundred ms).
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        start_ticks = int(fields[19])     # field 22 of stat; fields[0] is field 3
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        now = time.time()
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        if not 0 <= age < 86400 * 365:
            return _IMPORT_TIME
        return min(now - age, _IMPORT_TIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORT_TIME


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="har-studio",
        description=f"{APP_NAME} {__version__}: opens the desktop app. "
                    "Run 'har-studio --help' for the command-line subcommands.")
    parser.add_argument("paths", nargs="*", help="data files or folders to open")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo data")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the window, print start-up figures as JSON and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="open the window, load the demo data, train one short epoch, "
                             "replay a few windows in the Live tab, print a JSON line and exit")
    parser.add_argument("--screenshot", metavar="FILE",
                        help="with --self-test: save what is on screen to FILE at the end")
    parser.add_argument("--screenshots", metavar="DIR",
                        help="run the same tour on demo data and save a picture of each tab "
                             "into DIR (the README's pictures), then exit")
    parser.add_argument("--size", metavar="WxH", type=window_size,
                        help="open the window at this size, e.g. 1280x800 (for --screenshots)")
    return parser


def window_size(text: str) -> tuple[int, int]:
    """'1280x800' -> (1280, 800); argparse turns the ValueError into a one-line message."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1280x800") from None
    if not (200 <= width <= 10000 and 200 <= height <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be 200 to 10000")
    return width, height


def setup_logging(level: int = logging.INFO) -> logging.Handler:
    """Rotating log file in ``paths.log_dir()`` + the Qt handler feeding the log panel."""
    from .ui.log_panel import LOG_FORMAT, qt_log_handler

    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    log_file = paths.log_dir() / "har_studio.log"
    if not any(isinstance(h, logging.handlers.RotatingFileHandler)
               and getattr(h, "baseFilename", "") == str(log_file) for h in root.handlers):
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(file_handler)
    handler = qt_log_handler()
    handler.setLevel(logging.DEBUG)
    return handler


def excepthook(exc_type, exc, tb) -> None:
    """Log an uncaught exception and tell the user; the app keeps running."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("uncaught exception:\n%s", text)
    try:
        from .ui.log_panel import error_signals

        error_signals().errorReported.emit(f"{exc_type.__name__}: {exc}")
    except Exception:  # never let the hook itself fail
        sys.__stderr__.write(text)


def threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """Uncaught exceptions in plain Python threads go the same way."""
    if args.exc_type is SystemExit:
        return
    excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def install_excepthooks() -> None:
    from .ui.log_panel import error_signals

    error_signals()  # create the reporter on the GUI thread
    sys.excepthook = excepthook
    threading.excepthook = threading_excepthook


def _make_application(qt_argv: list[str]):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(qt_argv)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    # Any QSettings() made without a file name also lands in the user data folder, as INI.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(paths.user_data_dir()))
    from .ui.main_window import app_icon
    from .ui.widgets import install_wheel_guard

    install_wheel_guard(app)   # spin and combo boxes take the wheel only when focused
    app.setWindowIcon(app_icon())
    style = paths.resources_dir() / "style.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def open_startup_data(window, args: argparse.Namespace) -> str:
    """Open what the command line asks for, else the last data, else the demo. Returns which."""
    data = window.data
    if args.paths:
        window.open_paths(args.paths)
        return "paths"
    if args.demo:
        data.open_demo()
        return "demo"
    last = data.last_paths()
    if last and all(os.path.exists(p) for p in last):
        data.open_paths(last, demo_on_failure=True)
        return "last"
    data.open_demo()
    return "demo"


@contextlib.contextmanager
def temporary_home() -> Iterator[Path]:
    """A throw-away user data folder (``HAR_STUDIO_HOME``) for a self-test or a screenshot
    run: its runs, settings and log go there, never into the user's; removed at the end (the
    log file closed first), and the variable set back."""
    before = os.environ.get("HAR_STUDIO_HOME")
    home = Path(tempfile.mkdtemp(prefix="har-studio-selftest-"))
    os.environ["HAR_STUDIO_HOME"] = str(home)
    try:
        yield home
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, logging.FileHandler) and \
                    Path(handler.baseFilename).is_relative_to(home):
                root.removeHandler(handler)
                handler.close()
        if before is None:
            os.environ.pop("HAR_STUDIO_HOME", None)
        else:
            os.environ["HAR_STUDIO_HOME"] = before
        shutil.rmtree(home, ignore_errors=True)


def run_gui(argv: list[str] | None = None) -> int:
    """Open the app; returns the process exit code."""
    started = process_start_time()
    parser = build_parser()
    args, qt_args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    unknown_options = [a for a in qt_args if a.startswith("--")]
    if unknown_options:
        parser.error(f"unrecognised arguments: {' '.join(unknown_options)}")
    if args.self_test or args.screenshots:
        with temporary_home():
            return _open(args, qt_args, started)
    return _open(args, qt_args, started)


def _open(args: argparse.Namespace, qt_args: list[str], started: float) -> int:
    """Make the application and the window, then run the app or the test asked for."""
    app = _make_application([sys.argv[0], *qt_args])
    setup_logging()
    install_excepthooks()
    from .ui.state import AppState
    from .ui.workers import stop_all_workers

    app.aboutToQuit.connect(stop_all_workers)
    log.info("%s %s starting", APP_NAME, __version__)
    from .atomic import remove_app_temp_files

    remove_app_temp_files()  # what a killed run or save left behind

    from .ui.main_window import MainWindow

    state = AppState()
    window = MainWindow(state)
    if args.size:
        window.resize(*args.size)
    window.show()
    if args.smoke_test:
        return _smoke_test(app, window, state, args, started)
    if args.self_test or args.screenshots:
        return _self_test(app, window, args, started)
    from .ui.restore import restore_session

    restore_session(window, state)   # the model and the results of the last session
    open_startup_data(window, args)
    return int(app.exec())


def _self_test(app, window, args, started: float) -> int:
    """Run the end-to-end tour (ui/selftest.py); one JSON line; exit 0 only if every step ran."""
    from .ui.selftest import SelfTestError, grab_screen, run_tour
    from .ui.workers import stop_all_workers

    deadline = time.monotonic() + 10
    while not window.isVisible() and time.monotonic() < deadline:
        app.processEvents()
    result: dict = {"window_shown_s": round(time.time() - started, 3), "version": __version__,
                    "tabs": window.tab_names(), "tab_errors": sorted(window.tab_errors)}
    ok = not window.tab_errors
    try:
        result.update(run_tour(window, screenshots_dir=args.screenshots))
        if args.screenshot:
            result["screenshot"] = grab_screen(window, args.screenshot)
    except SelfTestError as exc:
        result["error"] = str(exc)
        ok = False
    result["ok"] = ok
    result["total_s"] = round(time.time() - started, 3)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    window.close()
    app.processEvents()
    stop_all_workers()
    return 0 if ok else 1


def _smoke_test(app, window, state, args, started: float) -> int:
    """Show the window, wait for the data (max 60 s), print figures as one JSON line."""
    deadline = time.monotonic() + 10
    while not (window.isVisible() and window.windowHandle() is not None
               and window.windowHandle().isExposed()) and time.monotonic() < deadline:
        app.processEvents()
    app.processEvents()
    shown = time.time()
    source = open_startup_data(window, args)
    failed: list[str] = []
    def on_load_failed(text: str, _modal: bool) -> None:
        failed.append(text)

    # (a plain function: PySide6 6.12 can crash at exit when a signal is connected straight
    # to a builtin method such as list.append)
    window.data.loadFailed.connect(on_load_failed)
    deadline = time.monotonic() + 60
    while (state.dataset is None and not failed and source != "none"
           and time.monotonic() < deadline):
        app.processEvents()
        time.sleep(0.005)
    data_ready = time.time()
    result = {
        "window_shown_s": round(shown - started, 3),
        "data_ready_s": round(data_ready - started, 3) if state.dataset is not None else None,
        "data_source": source,
        "records": state.dataset.report.records if state.dataset is not None else 0,
        "tabs": window.tab_names(),
        "tab_errors": sorted(window.tab_errors),
        "version": __version__,
    }
    if failed:
        result["data_error"] = failed[0]
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    window.close()
    app.processEvents()
    from .ui.workers import stop_all_workers

    stop_all_workers()
    ok = state.dataset is not None and not failed and not window.tab_errors
    return 0 if ok else 1
