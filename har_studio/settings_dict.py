"""Strict dict round trip for the settings dataclasses stored in model files, run folders
and presets (``ViTConfig``, ``TrainConfig``): a file naming a setting that does not exist is
an error, never silently ignored. Imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import ClassVar, Self


class SettingsDict:
    """Mixin for a settings dataclass: ``to_dict()`` and a strict ``from_dict()``; `KIND`
    names the settings in messages ("model", "training")."""

    KIND: ClassVar[str] = "settings"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        """Build from a dict (missing keys take defaults); unknown keys, wrong types or
        out-of-range values raise ValueError."""
        if not isinstance(d, dict):
            raise ValueError(f"{cls.KIND} configuration must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown {cls.KIND} setting(s): {', '.join(map(str, unknown))}")
        return cls(**d)
