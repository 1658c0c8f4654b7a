"""The model and training settings form of the Train tab, with a live size estimate.

Fields map one to one onto ``ViTConfig`` (the network) and ``TrainConfig`` (the recipe);
their defaults are the dataclasses' defaults, i.e. the reference configuration. The data-bound
fields of the network (window length, channels, classes) are not here: they come from the
Data tab. The parameter and multiply-add counts are recomputed as the fields change (an
analytic MAC count and a parameter count of a network built on the ``meta`` device, which
allocates nothing: a few ms even for a large model).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...data.features import FeatureConfig, output_channels
from ...model.config import ViTConfig
from ...threads import usable_cores
from ...training.config import TrainConfig
from ...training.jobs import MODEL_FIELDS
from ...training.presets import DEFAULT_PRESET, PRESETS, Preset, load_preset_file
from ..widgets import make_timer
from .form_helpers import (
    TorchRelay,
    changed_signal,
    cuda_available,
    dspin,
    form_layout,
    format_count,
    import_torch,
    set_value,
    size_estimate,
    spin,
    value_of,
)

log = logging.getLogger(__name__)

def _defaults(cls) -> dict:
    return {f.name: f.default for f in fields(cls)}


REFERENCE_MODEL: dict = {k: v for k, v in _defaults(ViTConfig).items() if k in MODEL_FIELDS}
REFERENCE_TRAIN: dict = _defaults(TrainConfig)
# Kept when a preset is chosen: where and how reproducibly to train is the user's business.
THREADS_TIP = ("CPU threads for training. 0 = auto: this machine's {cores} usable core(s), less one "
               "while this window is open, less the cores other programs keep busy when the run "
               "starts (at least 1). The run's recipe records the count used.")
KEEP_ON_PRESET = ("seed", "device", "precision", "threads")   # the machine's, not the recipe's


class TrainSettingsForm(QWidget):
    """Model + training settings. ``sizeChanged`` fires after the parameter/MAC estimate
    was recomputed (for tests and the Start check)."""

    sizeChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series, self._modal, self._classes = 128, 3, 6
        self.parameters: int | None = None
        self.macs: int | None = None
        self.size_ms = 0.0          # time the last estimate took on the GUI thread
        self.config_error: str | None = None
        self._channels: list[str] | None = None
        self._features = FeatureConfig()
        self._hidden_train: dict = {}   # a preset's TrainConfig fields that have no widget
        self._loaded: dict[str, Preset] = {}   # recipes loaded from files (a sweep's best.toml)

        # Presets: input features + model + training that go together (training/presets.py).
        self.preset_combo = QComboBox()
        for preset in PRESETS.values():
            self.preset_combo.addItem(preset.title, preset.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip("A recipe of input features, model size and training "
                                     "settings; the fields below can still be changed")
        self.features_label = QLabel()
        self.features_label.setWordWrap(True)
        self.features_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.model_widgets: dict[str, QWidget] = {
            "embedding_dim": spin(4, 4096, 8, "Width of every patch embedding (reference 256)"),
            "patch_size": spin(1, 512, 1, "Samples per patch along time; must divide the "
                                           "window length (reference 4)"),
            "head_num": spin(1, 64, 1, "Attention heads per block (reference 4)"),
            "att_size": spin(1, 1024, 8, "Size of each attention head (reference 64)"),
            "depth": spin(1, 12, 1, "Transformer blocks; each halves the patch count "
                                     "(reference 3)"),
            "head_width": spin(4, 16384, 64, "Hidden width of the classification head "
                                              "(reference 1024)"),
            "dropout": dspin(0.0, 0.9, 0.05, 2, "Dropout in blocks and head (reference 0)"),
            "members": spin(1, 16, 1, "Networks trained side by side from different starting "
                                       "weights, their probabilities averaged: steadier on new "
                                       "people; each costs its own training and inference "
                                       "time (reference 1)"),
        }
        self.train_widgets: dict[str, QWidget] = {
            "epochs": spin(1, 10000, 1, "Maximum passes over the training windows"),
            "batch_size": spin(1, 8192, 16, "Windows per optimisation step"),
            "lr": dspin(1e-6, 1.0, 1e-4, 6, "Peak learning rate of AdamW after warm-up "
                                             "(cosine decay afterwards)"),
            "weight_decay": dspin(0.0, 1.0, 1e-3, 5, "AdamW decoupled weight decay"),
            "warmup_epochs": dspin(0.0, 100.0, 0.5, 1, "Linear learning-rate warm-up, in epochs"),
            "patience": spin(0, 10000, 1, "Stop after this many epochs without a better "
                                           "validation loss (0: never stop early)"),
            "label_smoothing": dspin(0.0, 0.5, 0.05, 2, "Label smoothing of the loss"),
            "class_weights": QCheckBox("Weight classes by inverse frequency"),
            "keep_best": QCheckBox("Keep the best validation epoch"),
            "augment": QCheckBox("Augment (jitter, scaling, rotation)"),
            "grad_clip": dspin(0.0, 1000.0, 0.5, 2, "Maximum gradient norm (0: no clipping)"),
            "seed": spin(0, 2**31 - 1, 1, "Same seed and data give the same run on the CPU"),
            "device": QComboBox(),
            "precision": QComboBox(),
            "threads": spin(0, 1024, 1, THREADS_TIP.format(cores=usable_cores())),
        }
        self.train_widgets["keep_best"].setToolTip(
            "Keep the weights of the epoch with the lowest validation loss; unticked, the "
            "last epoch's weights are kept")
        device = self.train_widgets["device"]
        device.addItems(["auto", "cpu", "cuda"])
        device.setToolTip("auto: the GPU when there is one, else the CPU")
        precision = self.train_widgets["precision"]
        precision.addItems(["auto", "fp32", "bf16"])
        precision.setToolTip("auto: bfloat16 where it is fast (recent CPUs and GPUs), else fp32")

        preset_box = QGroupBox("Preset")
        preset_form = form_layout(preset_box)
        preset_form.addRow("Recipe", self.preset_combo)
        self.load_recipe_button = QPushButton("Load recipe…")
        self.load_recipe_button.setToolTip("A preset file (TOML), e.g. the best recipe of a sweep "
                                           "(har-studio sweep writes best.toml)")
        preset_form.addRow("", self.load_recipe_button)
        preset_form.addRow("Inputs", self.features_label)

        model_box = QGroupBox("Model")
        model_form = form_layout(model_box)
        labels = {"embedding_dim": "Embedding", "patch_size": "Patch size", "head_num": "Heads",
                  "att_size": "Head size", "depth": "Blocks", "head_width": "Head width",
                  "dropout": "Dropout", "members": "Ensemble of"}
        for key, widget in self.model_widgets.items():
            model_form.addRow(labels[key], widget)
        self.size_label = QLabel()
        self.size_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.size_label.setWordWrap(True)
        model_form.addRow(self.size_label)

        train_box = QGroupBox("Training")
        train_form = form_layout(train_box)
        labels = {"epochs": "Epochs", "batch_size": "Batch size", "lr": "Learning rate",
                  "weight_decay": "Weight decay", "warmup_epochs": "Warm-up (epochs)",
                  "patience": "Patience", "label_smoothing": "Label smoothing",
                  "grad_clip": "Gradient clip", "seed": "Seed", "device": "Device",
                  "precision": "Precision", "threads": "Threads (0 = auto)"}
        for key, widget in self.train_widgets.items():
            if isinstance(widget, QCheckBox):
                train_form.addRow(widget)
            else:
                train_form.addRow(labels[key], widget)

        self.reference_button = QPushButton("Reference (paper)")
        self.reference_button.setToolTip(
            "The configuration of the reference write-up: embedding 256, patch 4, 4 heads of 64, "
            "3 blocks, head 1024; AdamW 1e-3, weight decay 1e-2, batch 128, patience 5")
        self.reference_button.clicked.connect(self._on_reference_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reference_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(preset_box)
        layout.addWidget(model_box)
        layout.addWidget(train_box)
        layout.addLayout(buttons)
        layout.addStretch(1)

        # coalesce a burst of edits into one estimate
        self._size_timer = make_timer(self, 30, self.update_size, single_shot=True)

        # torch takes seconds to import: when nobody has yet, import it in the background so
        # the window appears at once; the size shows when it is ready.
        self._torch_ready = "torch" in sys.modules
        self.set_settings(REFERENCE_MODEL, {k: v for k, v in REFERENCE_TRAIN.items()
                                            if k in self.train_widgets})
        self.set_preset(DEFAULT_PRESET)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_chosen)
        self.load_recipe_button.clicked.connect(self._on_load_recipe_clicked)
        for widget in self.model_widgets.values():
            changed_signal(widget).connect(self._size_timer.start)
        if self._torch_ready:
            self._on_torch_ready()
        else:
            # A daemon thread, not a QThread: quitting during the import must not abort.
            self._relay = TorchRelay(self)
            self._relay.imported.connect(self._on_torch_ready)
            self._relay.failed.connect(self._on_torch_failed)
            threading.Thread(target=import_torch, args=(self._relay,), daemon=True,
                             name="import-torch").start()

    # ----- reading and writing the form -----
    def set_settings(self, model_overrides: dict | None = None,
                     train_overrides: dict | None = None) -> None:
        """Set fields by ViTConfig / TrainConfig names; unknown names raise ValueError.
        The size estimate is recomputed at once."""
        model_overrides = dict(model_overrides or {})
        train_overrides = dict(train_overrides or {})
        unknown = [k for k in model_overrides if k not in self.model_widgets]
        unknown += [k for k in train_overrides if k not in self.train_widgets]
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        widgets = [(self.model_widgets[k], v) for k, v in model_overrides.items()]
        widgets += [(self.train_widgets[k], v) for k, v in train_overrides.items()]
        for widget, value in widgets:
            widget.blockSignals(True)
            try:
                set_value(widget, value)
            finally:
                widget.blockSignals(False)
        self.update_size()

    def set_preset(self, name: str) -> None:
        """Apply preset `name`: its features, and its model and training fields over the
        reference defaults (seed, device and precision stay as they are)."""
        preset: Preset = self._loaded.get(name) or PRESETS[name]
        index = self.preset_combo.findData(name)
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(index)
        self.preset_combo.blockSignals(False)
        self._features = preset.features
        self.features_label.setText(preset.features.describe())
        self.features_label.setToolTip(preset.description)
        keep = {k: value_of(self.train_widgets[k]) for k in KEEP_ON_PRESET}
        train = {**REFERENCE_TRAIN, **preset.training, **keep}
        self._hidden_train = {k: v for k, v in train.items() if k not in self.train_widgets}
        self.set_settings({**REFERENCE_MODEL, **preset.model},
                          {k: v for k, v in train.items() if k in self.train_widgets})

    def load_recipe(self, path) -> Preset:
        """Add the preset file at `path` to the recipe choice and apply it; ValueError (one
        line naming the file) when it is not a preset file."""
        preset = load_preset_file(path)
        if preset.name in PRESETS:   # a file may not shadow a built-in recipe
            preset = replace(preset, name=f"{preset.name} ({Path(path).name})")
        if preset.name not in self._loaded:
            self.preset_combo.addItem(f"{preset.title} ({Path(path).name})", preset.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, str(path),
                                          Qt.ItemDataRole.ToolTipRole)
        self._loaded[preset.name] = preset
        self.set_preset(preset.name)
        return preset

    def _on_load_recipe_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load recipe", "",
                                              "Preset files (*.toml);;All files (*)")
        if not path:
            return
        try:
            self.load_recipe(path)
        except ValueError as exc:
            QMessageBox.warning(self, "Load recipe", str(exc).splitlines()[0])

    def preset_name(self) -> str:
        """The chosen preset's name."""
        return str(self.preset_combo.currentData())

    def features(self) -> FeatureConfig:
        """The input features of the chosen preset (what the model will read)."""
        return self._features

    def _on_preset_chosen(self, _index: int) -> None:
        self.set_preset(self.preset_name())

    def model_overrides(self) -> dict:
        """The network fields of the form (everything but series/modal/classes)."""
        return {k: value_of(w) for k, w in self.model_widgets.items()}

    def train_values(self) -> dict:
        return {**self._hidden_train, **{k: value_of(w) for k, w in self.train_widgets.items()}}

    def train_config(self) -> TrainConfig:
        """The form as a TrainConfig (ValueError with a readable message if invalid)."""
        return TrainConfig.from_dict(self.train_values())

    def model_config(self) -> ViTConfig:
        """The form plus the data's window/channels/classes as a ViTConfig (ValueError if the
        combination is invalid, e.g. a patch size that does not divide the window)."""
        modal = self._modal
        if self._channels is not None:
            modal = len(output_channels(self._channels, self._features))
        return ViTConfig(series=self._series, modal=modal, classes=self._classes,
                         **self.model_overrides())

    def set_data_shape(self, series: int, modal: int, classes: int,
                       channels: list[str] | None = None) -> None:
        """The Data tab's window length, channel count and class count (size estimate only;
        the trainer takes them from the prepared windows). With the raw `channels` named,
        the model's channel count is that of the preset's derived inputs."""
        shape = (int(series), max(1, int(modal)), max(2, int(classes)))
        channels = list(channels) if channels else None
        if shape != (self._series, self._modal, self._classes) or channels != self._channels:
            self._series, self._modal, self._classes = shape
            self._channels = channels
            self.update_size()

    def set_editable(self, editable: bool) -> None:
        for widget in (*self.model_widgets.values(), *self.train_widgets.values()):
            widget.setEnabled(editable)
        self.reference_button.setEnabled(editable)
        self.preset_combo.setEnabled(editable)

    # ----- size estimate -----
    def update_size(self) -> None:
        """Validate the model settings and recompute the parameter and multiply-add counts."""
        self._size_timer.stop()
        start = time.perf_counter()
        try:
            config = self.model_config()
            self.config_error = None
            if not self._torch_ready:
                self.parameters = self.macs = None
                self.size_label.setText("Computing the model size…")
                self.size_label.setStyleSheet("color: #666;")
                self.sizeChanged.emit()
                return
            self.parameters, self.macs = size_estimate(config)
            self.size_label.setText(
                f"<b>{self.parameters:,}</b> parameters · <b>{format_count(self.macs)}</b> "
                f"multiply-adds per window<br><span style='color:#666'>for {config.series} "
                f"samples × {inputs_text(config.modal, self._channels)}, {config.classes} "
                f"classes</span>")
            self.size_label.setStyleSheet("")
        except ValueError as exc:
            self.parameters = self.macs = None
            self.config_error = str(exc)
            self.size_label.setText(f"Invalid model: {exc}")
            self.size_label.setStyleSheet("color: #b00020;")
        self.size_ms = (time.perf_counter() - start) * 1000.0
        if self.size_ms > 16:
            log.debug("model size estimate took %.1f ms", self.size_ms)
        self.sizeChanged.emit()

    # ----- slots -----
    def _on_torch_ready(self, *_args) -> None:
        self._torch_ready = True
        if not cuda_available():
            item = self.train_widgets["device"].model().item(2)
            item.setEnabled(False)
            item.setToolTip("no CUDA GPU found")
        self.update_size()

    def _on_torch_failed(self, message: str) -> None:
        self.size_label.setText(f"Cannot compute the model size: {message}")
        self.size_label.setStyleSheet("color: #b00020;")

    def _on_reference_clicked(self) -> None:
        self.set_preset("reference")


def inputs_text(modal: int, channels) -> str:
    """What the network reads per sample: "3 channels", or "6 derived inputs from x, y, z"
    when the preset derives inputs (gravity, vertical, ...) from the raw channels."""
    raw = list(channels or [])
    if raw and modal != len(raw):
        return f"{modal} derived inputs from {', '.join(raw)}"
    return f"{modal} channel{'s' if modal != 1 else ''}"
