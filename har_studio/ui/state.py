"""Shared state of the open session: the loaded dataset, data settings and current model.

Tabs never talk to each other directly; they read and set this object and listen to its
signals, so each tab can be built and tested on its own.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..data import Dataset, SplitConfig, WindowConfig


class AppState(QObject):
    datasetChanged = Signal(object)       # Dataset | None
    dataSettingsChanged = Signal()        # window / split / activity selection changed
    modelChanged = Signal(object)         # har_studio.model.io.ModelBundle | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.dataset_paths: list[str] = []
        self.window_config = WindowConfig()
        self.split_config = SplitConfig()
        self.activities: list[str] | None = None   # None = all activities in the dataset
        self.channels: list[str] | None = None     # None = all channels in the dataset
        self.model = None                           # ModelBundle | None
        self.model_path: str | None = None

    def set_dataset(self, dataset: Dataset | None, paths: list[str] | None = None) -> None:
        self.dataset = dataset
        self.dataset_paths = list(paths or [])
        self.activities = None
        self.channels = None
        self.datasetChanged.emit(dataset)

    def set_data_settings(self, window_config: WindowConfig, split_config: SplitConfig,
                          activities: list[str] | None, channels: list[str] | None = None) -> None:
        self.window_config = window_config
        self.split_config = split_config
        self.activities = activities
        self.channels = channels
        self.dataSettingsChanged.emit()

    def set_model(self, bundle, path: str | None = None) -> None:
        self.model = bundle
        self.model_path = path
        self.modelChanged.emit(bundle)
