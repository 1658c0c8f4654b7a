"""The model that ships with the app (``resources/models/default.harmodel``). Qt-free.

Made by ``make default-model`` (``har_studio.training.default_model``) from all 16
development people with the default preset; its recipe says what it was trained on and its
cross-person figures. The Live tab uses it at first start, so a demo needs no training.
"""

from __future__ import annotations

from pathlib import Path

from ..paths import resources_dir

DEFAULT_MODEL_NAME = "default.harmodel"


def shipped_models_dir() -> Path:
    """``resources/models`` in a source checkout, or inside the frozen app (sys._MEIPASS)."""
    return resources_dir() / "models"


def default_model_path() -> Path | None:
    """The shipped default model's path, or None when this installation has none."""
    path = shipped_models_dir() / DEFAULT_MODEL_NAME
    return path if path.is_file() else None


def load_default_model():
    """The shipped default model as a ModelBundle (ModelFileError if it is missing or
    unreadable: one line naming the file)."""
    from .io import ModelFileError, load_model

    path = default_model_path()
    if path is None:
        raise ModelFileError(shipped_models_dir() / DEFAULT_MODEL_NAME,
                             "no shipped default model (run `make default-model`)")
    return load_model(path)
