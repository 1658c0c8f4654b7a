"""Turn a loaded dataset into what the engine trains on: windows, a split and a normaliser.

The normaliser is fitted on the training windows only, so nothing about the validation or
test people leaks into the model's input scaling. With input features (``data.features``),
the windows stay in raw units (so evaluation, replay and live classification go through the
model bundle, which derives the features itself) and the normaliser is fitted on the derived
training inputs; ``PreparedData.inputs(part)`` gives the derived arrays the engine trains on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.alignment import align_windows, estimate_per_subject
from ..data.dataset import Dataset
from ..data.features import FeatureConfig, derive, output_channels
from ..data.splits import Normaliser, Split, SplitConfig, split_windows
from ..data.windows import WindowConfig, Windows, make_windows

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Windows of the selected activities/channels, their split, and the fitted normaliser."""

    windows: Windows                 # every window (all splits)
    split: Split
    normaliser: Normaliser           # fitted on `train` only
    train: Windows
    val: Windows
    test: Windows
    split_config: SplitConfig
    data_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    _inputs: dict = field(default_factory=dict, repr=False)
    _alignments: dict | None = field(default=None, repr=False)

    @property
    def labels(self) -> list[str]:
        return list(self.windows.labels)

    @property
    def channels(self) -> list[str]:
        """The raw channels of the windows (what a model file lists and a stream sends)."""
        return list(self.windows.channels)

    @property
    def input_channels(self) -> list[str]:
        """What the network reads: the channels derived by `features` (raw ones if identity)."""
        return output_channels(self.channels, self.features)

    @property
    def alignments(self) -> dict | None:
        """``{subject: Alignment}``, each person's from all of their windows, when the
        features align per person (``data.alignment``); None otherwise."""
        if not self.features.aligns:
            return None
        if self._alignments is None:
            self._alignments = estimate_per_subject(self.windows.X, self.channels,
                                                    self.windows.subjects)
        return self._alignments

    def aligned(self, windows: Windows) -> np.ndarray:
        """Raw windows of `windows` in each person's aligned frame (``windows.X`` itself when
        the features do not align)."""
        if not self.features.aligns:
            return windows.X
        return align_windows(windows.X, windows.channels, windows.subjects, self.alignments)

    def inputs(self, part: str) -> np.ndarray:
        """Derived, unnormalised inputs ``float32 [n, size, C']`` of "train", "val" or "test"
        (the raw windows themselves for the identity features; cached)."""
        if part not in self._inputs:
            windows = {"train": self.train, "val": self.val, "test": self.test}[part]
            self._inputs[part] = derive(self.aligned(windows), self.channels, self.features,
                                        rate_hz=self.window.rate_hz)[0]
        return self._inputs[part]

    @property
    def window(self) -> WindowConfig:
        return self.windows.config


def _drop_empty_classes(windows: Windows, warnings: list[str]) -> Windows:
    """Remove classes that have no window at all (their recordings are all too short)."""
    counts = windows.class_counts()
    empty = [name for name, n in counts.items() if n == 0]
    if not empty:
        return windows
    warnings.append(
        f"no windows for {', '.join(empty)} (recordings shorter than "
        f"{windows.config.size} samples); left out"
    )
    keep = [name for name in windows.labels if name not in empty]
    remap = np.full(len(windows.labels), -1, dtype=np.int64)
    for new, name in enumerate(keep):
        remap[windows.labels.index(name)] = new
    return Windows(windows.X, remap[windows.y], windows.subjects, windows.starts, keep,
                   list(windows.channels), windows.config)


def prepare_data(
    dataset_or_frame: Dataset | pd.DataFrame,
    window: WindowConfig | None = None,
    split: SplitConfig | None = None,
    activities: list[str] | None = None,
    channels: list[str] | None = None,
    features: FeatureConfig | None = None,
    labels: list[str] | None = None,
) -> PreparedData:
    """Window, split, derive `features` (default: the raw channels) and normalise.
    `activities`/`channels` None means all in the data. `labels` (a model's own classes, to
    fine-tune it) fixes the class list: the data may hold only some of them (one person's
    recording of one activity), and classes without windows stay.

    Raises ValueError with a one-line reason when there is nothing to train on (no windows,
    fewer than two classes, no training windows); softer problems (a class without training
    windows, an empty validation or test split) become `warnings`.
    """
    window = window or WindowConfig()
    if isinstance(dataset_or_frame, Dataset):
        data_files = [str(f) for f in dataset_or_frame.report.files]
    elif isinstance(dataset_or_frame, pd.DataFrame):
        data_files = []
    else:
        raise TypeError(f"expected a Dataset or a DataFrame, got {type(dataset_or_frame).__name__}")
    features = features or FeatureConfig()
    windows, warnings = window_data(dataset_or_frame, window, activities, channels, features,
                                    labels=labels)
    return prepare_windows(windows, split, features, data_files, warnings)


def window_data(
    dataset_or_frame: Dataset | pd.DataFrame,
    window: WindowConfig | None = None,
    activities: list[str] | None = None,
    channels: list[str] | None = None,
    features: FeatureConfig | None = None,
    labels: list[str] | None = None,
) -> tuple[Windows, list[str]]:
    """The first half of ``prepare_data``: every window of the chosen activities and channels
    (classes without any window dropped) and the warnings so far. Cross-validation windows once
    and splits the same windows for every fold (``prepare_windows``)."""
    window = window or WindowConfig()
    if isinstance(dataset_or_frame, Dataset):
        frame = dataset_or_frame.frame
    elif isinstance(dataset_or_frame, pd.DataFrame):
        frame = dataset_or_frame
    else:
        raise TypeError(f"expected a Dataset or a DataFrame, got {type(dataset_or_frame).__name__}")
    warnings: list[str] = []

    if activities is not None:
        activities = list(dict.fromkeys(str(a) for a in activities))
        present = set(frame["activity"].astype(str).unique())
        missing = [a for a in activities if a not in present]
        if missing:
            raise ValueError(
                f"the data has no {', '.join(missing)} (it has {', '.join(sorted(present))})"
            )
    windows = make_windows(frame, window, channels=channels, activities=activities,
                           labels=labels)
    if len(windows) == 0:
        raise ValueError(
            f"no windows: no recording is at least {window.size} samples "
            f"({window.size / window.rate_hz:.1f} s) long without a gap"
        )
    features = features or FeatureConfig()
    output_channels(windows.channels, features)  # one-line ValueError if a channel is missing
    if labels is None:
        windows = _drop_empty_classes(windows, warnings)
    if len(windows.labels) < 2:
        raise ValueError(
            f"need at least two activities with windows to train, got "
            f"{len(windows.labels)} ({', '.join(windows.labels) or 'none'})"
        )
    return windows, warnings


def prepare_windows(
    windows: Windows,
    split: SplitConfig | None = None,
    features: FeatureConfig | None = None,
    data_files: list[str] | None = None,
    warnings: list[str] | None = None,
) -> PreparedData:
    """The second half of ``prepare_data``: split `windows` (from ``window_data``), derive the
    features of the training windows and fit the normaliser on them."""
    split = split or SplitConfig()
    features = features or FeatureConfig()
    warnings = list(warnings or [])
    window = windows.config

    parts = split_windows(windows, split)
    if parts.warning:
        warnings.append(parts.warning)
    if len(parts.train) == 0:
        raise ValueError(f"the split leaves no training windows ({len(windows)} windows in all)")
    train = windows.subset(parts.train)
    val = windows.subset(parts.val)
    test = windows.subset(parts.test)
    no_train = [name for name, n in train.class_counts().items() if n == 0]
    if no_train:
        warnings.append(
            f"no training windows for {', '.join(no_train)}: the model cannot learn "
            f"{'it' if len(no_train) == 1 else 'them'}"
        )
    if len(val) == 0:
        warnings.append("no validation windows: early stopping will watch the training loss")
    if len(test) == 0:
        warnings.append("no test windows: final metrics will use the validation windows")
    alignments = (estimate_per_subject(windows.X, windows.channels, windows.subjects)
                  if features.aligns else None)
    train_raw = (align_windows(train.X, train.channels, train.subjects, alignments)
                 if alignments is not None else train.X)
    inputs = {"train": derive(train_raw, windows.channels, features, rate_hz=window.rate_hz)[0]}
    normaliser = Normaliser.fit(inputs["train"])
    for text in warnings:
        log.info("prepare_data: %s", text)
    return PreparedData(windows, parts, normaliser, train, val, test, split,
                        list(data_files or []), warnings, features, inputs, alignments)


def default_model_config(prepared: PreparedData, **overrides):
    """A ViTConfig for this data: series, modal (derived input channels) and classes come from
    the windows; any other
    field (embedding_dim, head_width, depth, ...) from `overrides` or the reference default."""
    from ..model.config import ViTConfig

    fixed = {"series": prepared.window.size, "modal": len(prepared.input_channels),
             "classes": len(prepared.labels)}
    for key, value in fixed.items():
        if key in overrides and overrides[key] != value:
            raise ValueError(f"{key} must be {value} for this data, got {overrides[key]}")
    return ViTConfig(**{**overrides, **fixed})
