"""The ViT's hyper-parameters as one frozen, validated, JSON-friendly dataclass.

The same object builds the network, is printed by ``har-studio model`` and is stored inside
every model file, so a file always says exactly which network its weights belong to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings_dict import SettingsDict

# field -> (smallest, largest allowed value, what it means) for the integer fields. The upper
# bounds are far above any useful model (the app's settings stop at the same or lower values)
# and keep a hostile model file from asking for gigabytes before anything is checked.
_INT_FIELDS: dict[str, tuple[int, int, str]] = {
    "series": (1, 8192, "window length (samples)"),
    "modal": (1, 64, "channel count"),
    "classes": (1, 1000, "class count"),
    "embedding_dim": (1, 4096, "embedding size"),
    "patch_size": (1, 8192, "patch size"),
    "head_num": (1, 64, "attention head count"),
    "att_size": (1, 1024, "attention head size"),
    "depth": (1, 16, "block count"),
    "head_width": (1, 16384, "head width"),
    "members": (1, 16, "ensemble members"),
}
MAX_PATCHES = 1024               # patches per axis (attention costs their square)
MAX_PARAMETERS = 100_000_000      # 400 MB of float32 weights (the reference has 4.4 million)


@dataclass(frozen=True)
class ViTConfig(SettingsDict):
    """Shape of the reference time-series ViT (defaults: the reference, 4,367,366 parameters).

    ``series`` samples of ``modal`` axes are cut into ``series // patch_size`` patches per
    axis; ``depth`` blocks each halve the patch count (padding one zero patch when odd).
    """

    KIND = "model"   # in from_dict's messages (not a field: no annotation)

    series: int = 128          # window length in samples
    modal: int = 3             # sensor axes (channels)
    classes: int = 6
    embedding_dim: int = 256
    patch_size: int = 4
    head_num: int = 4
    att_size: int = 64         # per head; head_num * att_size need not equal embedding_dim
    depth: int = 3             # transformer blocks (each followed by patch merging)
    head_width: int = 1024     # hidden width of the classification head
    dropout: float = 0.0       # on each attention output (before the residual) and in the head
    members: int = 1           # independently initialised networks, probabilities averaged

    def __post_init__(self) -> None:
        for name, (low, high, meaning) in _INT_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} ({meaning}) must be an integer, got {value!r}")
            if value < low:
                raise ValueError(f"{name} ({meaning}) must be at least {low}, got {value}")
            if value > high:
                raise ValueError(f"{name} ({meaning}) must be at most {high}, got {value}")
        if self.classes < 2:
            raise ValueError(f"classes must be at least 2, got {self.classes}")
        if self.series % self.patch_size:
            raise ValueError(
                f"window length {self.series} is not divisible by patch size {self.patch_size}"
            )
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise ValueError(f"dropout must be a number, got {dropout!r}")
        if not (0.0 <= float(dropout) < 1.0) or math.isnan(dropout):
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        object.__setattr__(self, "dropout", float(dropout))
        if self.patch_num > MAX_PATCHES:
            raise ValueError(f"{self.patch_num} patches per axis (window {self.series} / patch "
                             f"{self.patch_size}); at most {MAX_PATCHES}")
        if self.parameter_count > MAX_PARAMETERS:
            raise ValueError(f"{self.parameter_count:,} parameters; at most {MAX_PARAMETERS:,}")

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every weight of the network this config builds (the state dict of
        ``TimeSeriesViT``, or of ``ViTEnsemble``: each under ``members.N.``), derived without
        building it or importing torch."""
        d, hw, qkv = self.embedding_dim, self.head_width, 3 * self.head_num * self.att_size
        shapes: dict[str, tuple[int, ...]] = {
            "embed.weight": (d, 1, self.patch_size, 1), "embed.bias": (d,),
            "position": (1, self.modal, self.patch_num, d)}
        for i in range(self.depth):
            b = f"blocks.{i}."
            shapes.update({
                b + "qkv.weight": (qkv, d), b + "qkv.bias": (qkv,),
                b + "out.weight": (d, self.head_num * self.att_size), b + "out.bias": (d,),
                b + "norm.weight": (d,), b + "norm.bias": (d,),
                b + "merge.weight": (d, 2 * d), b + "merge.bias": (d,),
                b + "merge_norm.weight": (d,), b + "merge_norm.bias": (d,)})
        shapes.update({
            "head_fc.weight": (hw, self.flatten_size), "head_fc.bias": (hw,),
            "head_norm.weight": (hw,), "head_norm.bias": (hw,),
            "head_out.weight": (self.classes, hw), "head_out.bias": (self.classes,)})
        if self.members > 1:
            return {f"members.{m}.{name}": shape for m in range(self.members)
                    for name, shape in shapes.items()}
        return shapes

    @property
    def parameter_count(self) -> int:
        """Trainable parameters of the network this config builds, counted without building
        it (``TimeSeriesViT``: embedding, position, blocks, head; times ``members``)."""
        d, hw = self.embedding_dim, self.head_width
        qkv = 3 * self.head_num * self.att_size
        block = (d * qkv + qkv) + (self.head_num * self.att_size * d + d) + 2 * d \
            + (2 * d * d + d) + 2 * d
        one = (d * self.patch_size + d + self.modal * self.patch_num * d + self.depth * block
               + self.flatten_size * hw + hw + 2 * hw + hw * self.classes + self.classes)
        return one * self.members

    @property
    def patch_num(self) -> int:
        """Patches per axis after the embedding."""
        return self.series // self.patch_size

    def patches_after(self, blocks: int) -> int:
        """Patches per axis after `blocks` merges (each pads to even, then halves)."""
        p = self.patch_num
        for _ in range(blocks):
            p = (p + 1) // 2
        return p

    @property
    def final_patches(self) -> int:
        return self.patches_after(self.depth)

    @property
    def flatten_size(self) -> int:
        """Input width of the head: modal * final patches * embedding."""
        return self.modal * self.final_patches * self.embedding_dim
