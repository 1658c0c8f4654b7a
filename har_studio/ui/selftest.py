"""Drive the real app end to end: the frozen bundle's ``--self-test`` and ``--screenshots``.

The tour opens the demo data on the Data tab, replays it through the built-in default model
on the Live tab (``model/shipped.py``: what a first start shows; the frozen app must have it),
trains one short epoch of a small model on the Train tab, and replays the recording through
it on the Live tab, timing each step. It uses
the same public methods a test would, and waits by processing events (never by blocking the
GUI thread), so it works offscreen and on a real display alike.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication

log = logging.getLogger(__name__)

# A small model and one epoch: the self-test checks the pipeline, not accuracy.
TOUR_MODEL = {"embedding_dim": 32, "head_num": 2, "att_size": 16, "depth": 2, "head_width": 64}
TOUR_TRAINING = {"epochs": 1, "batch_size": 64, "patience": 0}
TOUR_PREDICTIONS = 5
# Screenshots show the default model trained long enough for the curves to have a shape.
SCREENSHOT_TRAINING = {"epochs": 8}


class SelfTestError(RuntimeError):
    """A step of the tour failed; the message says which and why."""


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Process events until `condition()` holds; SelfTestError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SelfTestError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.005)


def _capture(window, tab_name: str, folder: Path) -> str:
    window.show_tab(tab_name)
    QCoreApplication.processEvents()
    path = folder / f"{tab_name.lower()}.png"
    if not window.grab().save(str(path)):
        raise SelfTestError(f"could not write the screenshot {path}")
    return str(path)


def _replay(live_tab, wanted: int, timeout_s: float, before_stop=None) -> int:
    """Replay the loaded recording at full speed on the Live tab until `wanted` predictions
    (or its end); the number of predictions made."""
    finished: list = []
    live_tab.sessionFinished.connect(finished.append)
    try:
        live_tab.set_source("replay", speed="max")
        if not live_tab.start():
            raise SelfTestError(f"the replay did not start: {live_tab.message_text()}")
        _wait(lambda: len(live_tab.timeline) >= wanted or bool(finished), timeout_s,
              "predictions on the Live tab")
        replayed = len(live_tab.timeline)
        drawn = live_tab.view.redraw_count
        _wait(lambda: live_tab.view.redraw_count > drawn or bool(finished), 30,
              "the Live tab to redraw")
        if before_stop is not None:
            before_stop()
        if not finished:
            live_tab.stop()
            _wait(lambda: bool(finished), 30, "the replay to stop")
    finally:
        live_tab.sessionFinished.disconnect(finished.append)
    if replayed == 0:
        raise SelfTestError("the replay produced no prediction")
    return replayed


def _shipped_replay(window, timeout_s: float) -> dict | None:
    """Replay the demo data through the built-in model, as a first start would; None when
    this (source) installation has no built-in model."""
    from .live.models import SHIPPED_KEY

    live_tab = window.tab("Live")
    if live_tab.panel.model_combo.findData(SHIPPED_KEY) < 0:
        if getattr(sys, "frozen", False):
            raise SelfTestError("the app has no built-in default model (resources/models)")
        return None
    if live_tab.panel.model_combo.currentData() != SHIPPED_KEY:
        raise SelfTestError("with no trained model the Live tab did not choose the built-in "
                            f"model ({live_tab.panel.model_combo.currentText()})")
    window.show_tab("Live")
    count = _replay(live_tab, TOUR_PREDICTIONS, timeout_s)
    return {"predictions": count, "last_prediction": live_tab.timeline[-1],
            "labels": list(live_tab.current_model().labels)}


def run_tour(window, *, screenshots_dir: str | Path | None = None,
             timeout_s: float = 300.0) -> dict:
    """Demo data -> one short training epoch -> replay a few windows. Returns the figures."""
    state = window.state
    steps: dict[str, float] = {}
    shots: list[str] = []
    folder = Path(screenshots_dir) if screenshots_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    data_tab = window.tab("Data")
    failures: list[str] = []

    def on_load_failed(text: str) -> None:
        failures.append(text)

    data_tab.loadFailed.connect(on_load_failed)
    state.set_dataset(None)
    data_tab.open_demo()
    _wait(lambda: state.dataset is not None or bool(failures), timeout_s, "the demo data")
    if failures:
        raise SelfTestError(f"loading the demo data failed: {failures[0]}")
    _wait(lambda: not data_tab.is_loading(), timeout_s, "the Data tab to settle")
    steps["load_demo_s"] = time.perf_counter() - t
    records = int(state.dataset.report.records)
    if folder is not None:
        shots.append(_capture(window, "Data", folder))

    t = time.perf_counter()
    shipped = _shipped_replay(window, timeout_s)
    if shipped is not None:
        steps["shipped_replay_s"] = time.perf_counter() - t

    t = time.perf_counter()
    train_tab = window.tab("Train")
    window.show_tab("Train")
    if folder is None:
        train_tab.set_settings(TOUR_MODEL, TOUR_TRAINING)
    else:
        train_tab.set_settings({}, SCREENSHOT_TRAINING)
    done: list = []
    failed: list[str] = []

    def on_finished(result) -> None:
        done.append(result)

    def on_failed(text: str) -> None:
        failed.append(text)

    train_tab.trainingFinished.connect(on_finished)
    train_tab.trainingFailed.connect(on_failed)
    if not train_tab.start_training():
        raise SelfTestError(f"training did not start: {train_tab.start_blocked_reason()}")
    _wait(lambda: bool(done) or bool(failed), timeout_s, "the training to finish")
    if failed:
        raise SelfTestError(f"training failed: {failed[0]}")
    result = done[0]
    steps["train_s"] = time.perf_counter() - t
    if state.model is None:
        raise SelfTestError("training finished but no model reached the Live tab")
    if folder is not None:
        shots.append(_capture(window, "Train", folder))

    t = time.perf_counter()
    live_tab = window.tab("Live")
    window.show_tab("Live")
    wanted = TOUR_PREDICTIONS if folder is None else 4 * TOUR_PREDICTIONS

    def capture() -> None:
        if folder is not None:
            shots.append(_capture(window, "Live", folder))

    replayed = _replay(live_tab, wanted, timeout_s, capture)
    steps["replay_s"] = time.perf_counter() - t

    return {
        "records": records,
        "train_accuracy_metric": result.metrics.get("accuracy"),
        "epochs": len(result.history),
        "device": result.device,
        "predictions": replayed,
        "last_prediction": live_tab.timeline[-1] if live_tab.timeline else None,
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "screenshots": shots,
        "shipped_model": shipped,
    }


def grab_screen(window, path: str | Path) -> str:
    """Save what is on screen (the whole X screen when there is one, else the window)."""
    QCoreApplication.processEvents()
    screen = QGuiApplication.primaryScreen()
    pixmap = screen.grabWindow(0) if screen is not None else None
    if pixmap is None or pixmap.isNull() or pixmap.width() == 0:
        pixmap = window.grab()
    if not pixmap.save(str(path)):
        raise SelfTestError(f"could not write the screenshot {path}")
    return str(path)
