"""Training settings as one frozen, validated, JSON-friendly dataclass.

The same object drives the engine, is written to a run's ``config.json`` and is stored in the
model file's recipe, so a model always says how it was trained. Beside it, the one list of
model fields a user sets (``MODEL_FIELDS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings_dict import SettingsDict

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")

# The ViTConfig fields a user sets (form, presets, flags); series/modal/classes come from data.
MODEL_FIELDS = ("embedding_dim", "patch_size", "head_num", "att_size", "depth", "head_width",
                "dropout", "members")


@dataclass(frozen=True)
class TrainConfig(SettingsDict):
    """How to train. Defaults follow the reference recipe (AdamW 1e-3, weight decay 1e-2,
    batch 128, early stopping on validation loss with patience 5)."""

    KIND = "training"   # in from_dict's messages (not a field: no annotation)

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3                 # peak learning rate (after warm-up), cosine decay to 0
    weight_decay: float = 1e-2       # AdamW decoupled weight decay
    warmup_epochs: float = 1.0       # linear warm-up length, in epochs (may be fractional)
    patience: int = 5                # epochs without improvement before stopping; 0 = never
    keep_best: bool = True           # keep the best-validation epoch's weights; False: the last
    label_smoothing: float = 0.0
    class_weights: bool = False      # weight the loss by inverse class frequency (training set)
    augment: bool = False            # jitter, scaling, rotation about gravity (training batches)
    augment_copies: int = 0          # add N copies of the training windows, each randomly
                                     # rotated in 3-D, scaled and time-scaled (augment.py)
    augment_pocket: bool = False     # those copies also loose in the pocket: slow drift,
                                     # motion scale, bandwidth, native rate (perturb.py)
    grad_clip: float = 1.0           # max gradient norm; 0 = no clipping
    seed: int = 0                    # same seed, same data -> identical run on CPU
    device: str = "auto"             # auto (CUDA, then Apple MPS, then CPU), cpu, cuda, mps
    precision: str = "auto"          # auto (bf16 where fast), fp32, bf16
    threads: int = 0                 # CPU threads; 0 = auto (threads.py: cores, minus one with GUI)

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 1), ("patience", 0), ("seed", 0),
                          ("threads", 0), ("augment_copies", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing", "grad_clip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
            object.__setattr__(self, name, float(value))
        if self.label_smoothing >= 1:
            raise ValueError(f"label_smoothing must be below 1, got {self.label_smoothing}")
        for name in ("class_weights", "augment", "keep_best", "augment_pocket"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
