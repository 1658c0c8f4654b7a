"""Named recipes: input features + model size + training settings that go together.

``reference`` is the published model exactly (raw x, y, z; the reference ViT; the reference
training recipe): it reproduces the write-up. ``robust`` is the recipe chosen by
leave-subjects-out cross-validation on WISDM 2019 phone data for recognising people the
model has never seen (see ``bench/bench_quality.py`` for the measurement and the figures).

A preset never fixes what depends on the data (window length, channel count, classes), and
any field can still be overridden by the user (command-line flags, Train tab settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.features import FeatureConfig
from .config import TrainConfig


@dataclass(frozen=True)
class Preset:
    """Model overrides (ViTConfig fields), training settings (TrainConfig fields) and input
    features under one name."""

    name: str
    title: str
    description: str
    model: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def train_config(self, **overrides) -> TrainConfig:
        """The preset's TrainConfig, with `overrides` (TrainConfig fields) on top."""
        return TrainConfig.from_dict({**self.training, **overrides})

    def model_overrides(self, **overrides) -> dict:
        """ViTConfig fields for ``default_model_config`` (the preset's, then `overrides`)."""
        return {**self.model, **overrides}

    def to_dict(self) -> dict:
        return {"name": self.name, "model": dict(self.model), "training": dict(self.training),
                "features": self.features.to_dict()}


REFERENCE = Preset(
    name="reference",
    title="Reference (published ViT)",
    description="The write-up's model on raw accelerometer axes: 4.4 M parameters, AdamW 1e-3. "
                "High on a random window split, poor on new people.",
)

# Chosen by 4-fold leave-subjects-out cross-validation on 16 WISDM 2019 subjects
# (bench/bench_quality.py, the same folds for both presets): reference 68.1 % ± 8.4 %, robust
# 86.7 % ± 4.1 % mean fold accuracy (random window split: 98.6 % and 99.4 %), in 1.5x the
# reference's CPU time. What helped, measured with the small model: orientation-robust inputs
# instead of raw x, y, z (73.4 % -> 86.0 %) and training a fixed number of epochs keeping the
# last weights instead of early stopping on two validation people (81.0 % -> 86.0 %); 20 epochs
# rather than 10 gave 86.7 % vs 85.5 % across subjects and 99.4 % vs 97.1 % on a random split.
# A 128 / 256 model scored 85.2 %, the reference size 83.9 %; time-warping the training windows
# did not help (83.3 %).
ROBUST = Preset(
    name="robust",
    title="Robust to new people",
    description="Orientation-robust inputs (phone tilt, body acceleration along and across "
                "gravity, |acceleration|), a small ViT (64-wide embedding, 128-wide head, "
                "0.34 M parameters) trained 20 epochs keeping the last weights: far higher "
                "accuracy on people the model has never seen, at a quarter of the compute.",
    model={"embedding_dim": 64, "att_size": 32, "head_width": 128},
    training={"epochs": 20, "patience": 0, "keep_best": False},
    features=FeatureConfig(outputs=("gravity_abs", "vertical", "horizontal", "magnitude")),
)

# Measured with bench/bench_quality.py; shown next to random splits in the app.
MEASURED_GAP = (
    "Measured on WISDM 2019 phone data (16 people; walking, jogging, stairs, sitting, "
    "standing; 4-fold cross-validation by subject): the reference model scores 98.6 % on a "
    "random window split but 68.1 % ± 8.4 % (58-77 % per fold) on people it has never seen; "
    "the robust preset 99.4 % and 86.7 % ± 4.1 % (83-94 % per fold)."
)

PRESETS: dict[str, Preset] = {p.name: p for p in (REFERENCE, ROBUST)}
DEFAULT_PRESET = "robust"


def get_preset(name: str) -> Preset:
    """The preset called `name`; ValueError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
