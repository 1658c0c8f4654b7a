"""What a restart brings back: the current model and the last results.

The data tab reopens the last data and its activity choice itself; this module remembers the
model the user last trained, saved or chose (its file, in the app settings) and, at start,
hands it to every tab again (so the Live tab does not say "none yet"), and shows the newest
past run on the Train tab. When no model was remembered, the newest run with a model is used.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..model.io import ModelFileError, load_model
from ..training import runs as runs_mod
from .widgets import app_settings

log = logging.getLogger(__name__)

MODEL_KEY = "session/model_path"


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
    """At start: the remembered model becomes the current one and the Train tab shows the
    newest run. Returns the model file restored (None when none)."""
    remember_model(state)
    try:
        window.tab("Train").show_newest_run()   # its curves and results, as before
    except (KeyError, AttributeError):
        log.debug("no Train tab to restore", exc_info=True)
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
