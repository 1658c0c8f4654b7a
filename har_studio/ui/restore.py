"""What a restart brings back: the current model, the Live tab's model choice and the last
results.

The data tab reopens the last data and its activity choice itself; this module remembers the
model the user last trained, saved or chose (its file, in the app settings) and, at start,
hands it to every tab again (so the Live tab does not say "none yet"), and shows the newest
past run on the Train tab. When no model was remembered, the newest run with a model is used.
What the Live tab's model box shows is remembered apart (the trained model, the built-in
one or a model file opened there): the choice in the box, made after *Use this model* or a
training, is what comes back.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..model.io import ModelFileError, load_model
from ..training import runs as runs_mod
from .live.models import SHIPPED_KEY
from .widgets import app_settings

log = logging.getLogger(__name__)

MODEL_KEY = "session/model_path"
LIVE_KEY = "session/live_model"     # the Live box's choice: "state", "shipped" or a file


def remember_model(state) -> None:
    """Keep the current model's file in the settings whenever it changes."""

    def save(*_args) -> None:
        if state.model_path:
            app_settings().setValue(MODEL_KEY, str(state.model_path))

    state.modelChanged.connect(save)
    state.modelPathChanged.connect(save)


def remembered_model_path() -> Path | None:
    """The model file used last (remembered, else the newest run's), when it still exists."""
    saved = app_settings().value(MODEL_KEY)
    if saved and Path(str(saved)).is_file():
        return Path(str(saved))
    try:
        infos = runs_mod.list_runs()
    except OSError:
        return None
    for info in infos:
        if info.model_path is not None and info.status != runs_mod.RUNNING:
            return Path(info.model_path)
    return None


def restore_session(window, state) -> str | None:
    """At start: the remembered model becomes the current one, the Live tab's box shows the
    model chosen there last, and the Train tab shows the newest run. Returns the model file
    restored (None when none)."""
    live_choice = app_settings().value(LIVE_KEY)
    remember_model(state)
    try:
        window.tab("Train").show_newest_run()   # its curves and results, as before
    except (KeyError, AttributeError):
        log.debug("no Train tab to restore", exc_info=True)
    restored = _restore_model(state)
    choice = _live_model_choice(window)
    if choice is not None:
        _select_live_model(choice, str(live_choice) if live_choice else None)
        choice.chosen.connect(lambda _bundle: _remember_live_choice(choice))
    return restored


def _restore_model(state) -> str | None:
    path = remembered_model_path()
    if path is None or state.model is not None:
        return None
    try:
        bundle = load_model(path)
    except ModelFileError as exc:
        log.warning("the model used last cannot be loaded: %s", exc)
        return None
    state.set_model(bundle, str(path))
    log.info("restored the model %s", path)
    return str(path)


def _live_model_choice(window):
    """The Live tab's model box (its ``ModelChoice``: ``combo`` and ``chosen``), or None."""
    try:
        choice = window.tab("Live").models
        choice.combo.currentData()
        return choice if hasattr(choice, "chosen") else None
    except (KeyError, AttributeError):
        log.debug("no Live tab model box to restore", exc_info=True)
        return None


def _select_live_model(choice, key: str | None) -> None:
    """Show `key` (remembered) in the Live tab's box again when it is still there or, for
    a model file opened there, still on disk."""
    if not key:
        return
    combo = choice.combo
    index = combo.findData(key)
    if index < 0 and key not in ("state", SHIPPED_KEY) and Path(key).is_file():
        if key == str(getattr(choice.state, "model_path", None)):
            index = combo.findData("state")
        elif choice.open(key):
            return
    if index >= 0 and index != combo.currentIndex():
        combo.setCurrentIndex(index)


def _remember_live_choice(choice) -> None:
    key = choice.combo.currentData()
    if key is not None:
        app_settings().setValue(LIVE_KEY, str(key))
