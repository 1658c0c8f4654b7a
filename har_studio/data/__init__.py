"""Data: load WISDM recordings and phone apps' exports into a tidy table, window them, split
them. Qt-free."""

from __future__ import annotations

from .activities import UNLABELLED, WISDM2019_CODES, WISDM_V11_ACTIVITIES, canonical_activity
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS, DataError, Dataset, LoadReport

# windowing and splitting load when first used: ``har-studio inspect`` (loading only) never
# imports them
_LAZY = {
    "Normaliser": "splits", "Split": "splits", "SplitConfig": "splits",
    "split_windows": "splits", "subject_folds": "splits",
    "WindowConfig": "windows", "Windows": "windows", "make_windows": "windows",
}

__all__ = [
    "ACCEL_CHANNELS", "GYRO_CHANNELS", "UNLABELLED", "WISDM2019_CODES", "WISDM_V11_ACTIVITIES", "DataError",
    "Dataset", "LoadReport", "Normaliser", "Split", "SplitConfig", "WindowConfig", "Windows",
    "canonical_activity", "make_windows", "split_windows", "subject_folds",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
