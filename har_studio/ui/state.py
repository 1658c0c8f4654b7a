"""Shared state of the open session: the loaded dataset, data settings and current model.

Tabs never talk to each other directly; they read this object and change it only through
its ``set_*`` methods, each of which emits a signal, so every tab hears every change and each
tab can be built and tested on its own. The attributes are read-only properties.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..data import Dataset, SplitConfig, WindowConfig


class AppState(QObject):
    datasetChanged = Signal(object)       # Dataset | None
    dataSettingsChanged = Signal()        # window / split / activity selection changed
    modelChanged = Signal(object)         # har_studio.model.io.ModelBundle | None
    modelPathChanged = Signal(object)     # str | None: where the current model is saved

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._dataset: Dataset | None = None
        self._dataset_paths: list[str] = []
        self._window_config = WindowConfig()
        self._split_config = SplitConfig()
        self._activities: list[str] | None = None   # None = all activities in the dataset
        self._channels: list[str] | None = None     # None = all channels in the dataset
        self._model = None                           # ModelBundle | None
        self._model_path: str | None = None

    dataset = property(lambda self: self._dataset)
    dataset_paths = property(lambda self: list(self._dataset_paths))
    window_config = property(lambda self: self._window_config)
    split_config = property(lambda self: self._split_config)
    activities = property(lambda self: self._activities)
    channels = property(lambda self: self._channels)
    model = property(lambda self: self._model)
    model_path = property(lambda self: self._model_path)

    def set_dataset(self, dataset: Dataset | None, paths: list[str] | None = None) -> None:
        self._dataset = dataset
        self._dataset_paths = list(paths or [])
        self._activities = None
        self._channels = None
        self.datasetChanged.emit(dataset)

    def set_data_settings(self, window_config: WindowConfig, split_config: SplitConfig,
                          activities: list[str] | None, channels: list[str] | None = None) -> None:
        self._window_config = window_config
        self._split_config = split_config
        self._activities = activities
        self._channels = channels
        self.dataSettingsChanged.emit()

    def set_model(self, bundle, path: str | None = None) -> None:
        self._model = bundle
        self._model_path = path
        self.modelChanged.emit(bundle)

    def set_model_path(self, path: str | None) -> None:
        """The current model was saved (again) at `path`."""
        self._model_path = path
        self.modelPathChanged.emit(path)
