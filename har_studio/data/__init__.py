"""Data: load WISDM recordings into a tidy table, window them, split them. Qt-free."""

from .activities import WISDM2019_CODES, WISDM_V11_ACTIVITIES, canonical_activity
from .dataset import ACCEL_CHANNELS, GYRO_CHANNELS, DataError, Dataset, LoadReport
from .splits import Normaliser, Split, SplitConfig, split_windows, subject_folds
from .windows import WindowConfig, Windows, make_windows

__all__ = [
    "ACCEL_CHANNELS", "GYRO_CHANNELS", "WISDM2019_CODES", "WISDM_V11_ACTIVITIES", "DataError",
    "Dataset", "LoadReport", "Normaliser", "Split", "SplitConfig", "WindowConfig", "Windows",
    "canonical_activity", "make_windows", "split_windows", "subject_folds",
]
