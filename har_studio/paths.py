"""Where HAR Studio keeps the user's files (runs, logs, settings). Qt-free.

`HAR_STUDIO_HOME` overrides the location (tests and portable installs use it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_dir() -> Path:
    """The per-user data folder, created on first use."""
    override = os.environ.get("HAR_STUDIO_HOME")
    if override:
        base = Path(override)
    elif sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "HAR Studio"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "HAR Studio"
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "har-studio"
    base.mkdir(parents=True, exist_ok=True)
    return base


def runs_dir() -> Path:
    """Folder holding one sub-folder per training run."""
    path = user_data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = user_data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """`resources/` in a source checkout, or inside a PyInstaller bundle."""
    frozen_base = getattr(sys, "_MEIPASS", None)
    if frozen_base:
        return Path(frozen_base) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
