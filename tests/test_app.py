"""The app shell: start-up smoke test, exception hooks, About, geometry, tabs, drag and drop."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from argparse import Namespace

import pytest
from PySide6.QtCore import QMimeData, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from har_studio import __version__, app
from har_studio.data.demo import write_demo_files
from har_studio.ui import main_window as main_window_module
from har_studio.ui.main_window import MainWindow, TabErrorPage
from har_studio.ui.state import AppState
from har_studio.ui.widgets import app_settings
from har_studio.ui.workers import stop_all_workers

TIMEOUT = 20_000


@pytest.fixture
def window(qtbot):
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    yield win
    stop_all_workers()


def test_smoke_test_starts_the_app_with_demo_data(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HAR_STUDIO_HOME=str(tmp_path))
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "har_studio", "--smoke-test"], env=env,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.time() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    assert 0 < result["window_shown_s"] <= elapsed + 1
    assert result["window_shown_s"] <= result["data_ready_s"]
    assert result["data_source"] == "demo"          # fresh home: the built-in demo
    assert result["records"] > 0
    assert "Data" in result["tabs"] and result["tab_errors"] == []
    assert result["version"] == __version__
    assert (tmp_path / "logs" / "har_studio.log").exists()
    assert (tmp_path / "settings.ini").exists()     # geometry saved on close


def test_excepthook_logs_and_keeps_the_app_alive(qtbot, window, caplog):
    window.show()
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        exc_type, exc, tb = sys.exc_info()
    with caplog.at_level(logging.ERROR, logger="har_studio.app"):
        app.excepthook(exc_type, exc, tb)
    assert any("boom in a slot" in r.getMessage() and "Traceback" in r.getMessage()
               for r in caplog.records)
    qtbot.waitUntil(lambda: "boom in a slot" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT)
    assert window.isVisible() and window.log_dock.isVisible()
    assert "boom in a slot" in window.log_panel.text()


def test_thread_exceptions_reach_the_window(qtbot, window, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    app.install_excepthooks()
    assert sys.excepthook is app.excepthook
    window.show()

    def fail():
        raise RuntimeError("thread went wrong")

    t = threading.Thread(target=fail)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "thread went wrong" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT)


def test_about_shows_version_and_citations(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about",
                        staticmethod(lambda parent, title, text: shown.append(text)))
    window.about_action.trigger()
    assert len(shown) == 1
    assert __version__ in shown[0]
    assert "Kwapisz" in shown[0] and "SIGKDD Explorations 12(2)" in shown[0]
    assert "Weiss, K. Yoneda, T. Hayajneh" in shown[0] and "IEEE Access 7" in shown[0]


def test_geometry_saved_on_close_and_restored(qtbot):
    first = MainWindow(AppState())
    qtbot.addWidget(first)
    first.show()
    first.resize(1401, 951)
    first.log_dock.show()
    qtbot.waitUntil(lambda: first.width() == 1401, timeout=TIMEOUT)
    place = QRect(first.pos(), first.size())
    first.close()
    settings = app_settings()
    assert settings.value(main_window_module.PLACE_KEY) == place
    assert settings.value("main_window/tab") == "Data"
    second = MainWindow(AppState())
    qtbot.addWidget(second)
    assert not second.log_dock.isHidden()   # dock layout (window state) restored too
    # (size and place: tests/test_restart_ui.py, on a screen as big as a desktop's)


def test_a_broken_or_missing_tab_shows_its_error(qtbot, tmp_path, monkeypatch):
    (tmp_path / "har_test_broken_tab.py").write_text("raise RuntimeError('kaboom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    def import_tab(module_name: str):
        return lambda window: importlib.import_module(module_name).Tab(window.state)

    monkeypatch.setattr(main_window_module, "TAB_SPECS", [
        main_window_module.TAB_SPECS[0],
        ("Ghost", import_tab("har_studio.ui.no_such_tab_module")),
        ("Broken", import_tab("har_test_broken_tab")),
    ])
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    assert win.tab_names() == ["Data", "Ghost", "Broken"]
    assert isinstance(win.tab("Broken"), TabErrorPage)
    assert "kaboom at import" in win.tab("Broken").error_text
    assert "kaboom at import" in win.tab_errors["Broken"]
    assert isinstance(win.tab("Ghost"), TabErrorPage)
    assert "no_such_tab_module" in win.tab_errors["Ghost"]
    with pytest.raises(KeyError):
        win.tab("Nothing")
    from har_studio.ui.data import DataTab

    assert isinstance(win.tab("Data"), DataTab) and win.tab("Data").state is win.state


def test_drop_files_opens_them_in_the_data_tab(window, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(window.data, "open_paths", lambda paths: opened.append(paths))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "a.txt")),
                  QUrl.fromLocalFile(str(tmp_path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert opened == [[str(tmp_path / "a.txt"), str(tmp_path)]]


def test_startup_data_last_used_else_demo(qtbot, window, tmp_path):
    data_tab = window.tab("Data")
    args = Namespace(paths=[], demo=False)
    with qtbot.waitSignal(data_tab.datasetLoaded, timeout=TIMEOUT):
        assert app.open_startup_data(window, args) == "demo"
    paths = write_demo_files(tmp_path, subjects=2, seconds_per_activity=5.0)
    with qtbot.waitSignal(data_tab.datasetLoaded, timeout=TIMEOUT):
        assert app.open_startup_data(window, Namespace(paths=[str(paths[0])], demo=False)) \
            == "paths"
    with qtbot.waitSignal(data_tab.datasetLoaded, timeout=TIMEOUT):
        assert app.open_startup_data(window, args) == "last"
    assert window.state.dataset_paths == [str(paths[0])]
    assert "demo_wisdm_v11.txt" in window.windowTitle()
    paths[0].unlink()
    with qtbot.waitSignal(data_tab.datasetLoaded, timeout=TIMEOUT):
        assert app.open_startup_data(window, args) == "demo"


def test_log_records_reach_the_panel(window):
    logging.getLogger("har_studio.test").warning("hello log panel")
    assert "hello log panel" in window.log_panel.text()


def test_process_start_time_is_in_the_past():
    started = app.process_start_time()
    assert started <= time.time()
    assert started <= app._IMPORT_TIME


def test_unknown_option_is_an_argparse_error():
    with pytest.raises(SystemExit) as info:
        app.run_gui(["--no-such-option"])
    assert info.value.code == 2


@pytest.mark.parametrize("option", ["--self-test", "--screenshots"])
def test_self_test_and_screenshots_never_write_into_the_users_folder(
        qtbot, tmp_path, monkeypatch, capsys, option):
    """Both run in a temporary HAR_STUDIO_HOME, removed at the end; the user's stays as it
    was (the tour here stands in for the real one, which trains a run into the runs folder:
    tests/test_selftest.py runs that one)."""
    from har_studio import paths
    from har_studio.training import runs as runs_mod
    from har_studio.ui import selftest

    user_home = paths.user_data_dir()            # the test's stand-in for the user's folder
    (user_home / "runs").mkdir(exist_ok=True)
    app_settings().setValue("kept", "yes")
    before = sorted((p.relative_to(user_home), p.stat().st_mtime_ns)
                    for p in user_home.rglob("*"))
    seen = {}

    def tour(window, *, screenshots_dir=None, timeout_s=300.0):
        seen["home"] = paths.user_data_dir()
        run = runs_mod.new_run_dir("selftest")     # what training writes
        (run / "config.json").write_text("{}")
        app_settings().setValue("written", "by the tour")
        logging.getLogger("har_studio.test").warning("a log line of the tour")
        seen["log"] = (seen["home"] / "logs" / "har_studio.log").read_text()
        return {"screenshots": [], "steps_s": {}}

    monkeypatch.setattr(selftest, "run_tour", tour)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)          # run_gui installs its own
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    args = [option] if option == "--self-test" else [option, str(tmp_path / "shots")]
    assert app.run_gui(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ok"] is True
    assert seen["home"] != user_home and "a log line of the tour" in seen["log"]
    assert not seen["home"].exists()                               # removed at the end
    assert os.environ["HAR_STUDIO_HOME"] == str(user_home)           # set back
    after = sorted((p.relative_to(user_home), p.stat().st_mtime_ns)
                   for p in user_home.rglob("*"))
    assert after == before
    assert app_settings().value("written") is None
    assert not any(isinstance(h, logging.FileHandler) and str(seen["home"]) in h.baseFilename
                   for h in logging.getLogger().handlers)            # its log file closed
