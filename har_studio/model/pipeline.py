"""The whole of a model's inference as one torch module, for one onnxruntime graph.

``ModelBundle.predict_proba`` runs in steps: the person's alignment (``data.alignment``), the
derived inputs (``data.features``, numpy), the normalisation, the network, a softmax. For a
live window the steps around the network cost about as much as a third of the network itself
on an idle core: some thirty small numpy calls. ``InferencePipeline`` does the same steps in
torch so that ``onnx_export.live_graph`` can export them as one graph: raw windows (and the
person's rotation and gain) in, probabilities out, one onnxruntime call per live push.

The numpy steps stay the definition. This module follows ``data.features.derive`` group by
group, and ``live_graph`` refuses a graph whose probabilities differ from
``ModelBundle.predict_proba`` by more than ``onnx_export.TOLERANCE``; the live classifier
then keeps the numpy steps (``tests/test_pipeline.py`` checks every feature group).
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.alignment import _groups
from ..data.features import ACC, GYRO, FeatureConfig

_TINY = 1e-6   # the floor of a norm that divides, as in data.features


def _norm(v: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((v * v).sum(dim=-1, keepdim=True))


def _moving_average_matrix(t: int, length: int) -> torch.Tensor:
    """``[t, t]`` matrix of ``data.features.moving_average`` along time: output sample i is the
    mean of the `length` samples centred on it, the window's edge samples standing in for
    those beyond it (one matrix product in the graph instead of a pad and a pooling)."""
    length = max(1, min(length, 2 * t - 1))
    left = length // 2
    matrix = torch.zeros(t, t, dtype=torch.float64)
    for i in range(t):
        for j in range(i - left, i - left + length):
            matrix[i, min(max(j, 0), t - 1)] += 1.0 / length
    return matrix.float()


class InferencePipeline(nn.Module):
    """Raw windows ``[n, T, C]`` -> class probabilities ``[n, classes]``: ``align`` (when the
    model aligns each person: ``rotation`` ``[3, 3]`` and ``scale`` ``[1]`` inputs), derived
    inputs, normalisation, the network, softmax."""

    def __init__(self, bundle) -> None:
        super().__init__()
        self.network = bundle.model
        self.channels = list(bundle.channels)
        self.config: FeatureConfig = bundle.features
        self.aligns = self.config.aligns
        self.acc, self.gyro = _groups(self.channels)
        self.register_buffer("average", _moving_average_matrix(
            bundle.window.size, int(round(self.config.lowpass_s * bundle.window.rate_hz))))
        self.register_buffer("mean", torch.as_tensor(bundle.normaliser.mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(bundle.normaliser.std, dtype=torch.float32))

    def forward(self, windows: torch.Tensor, rotation: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> torch.Tensor:
        x = windows
        if self.aligns:
            x = self._align(x, rotation, scale)
        x = (self._derive(x) - self.mean) / self.std
        return torch.softmax(self.network(x).float(), dim=-1)

    def _align(self, x: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``data.alignment.Alignment.apply``."""
        if self.acc == [0, 1, 2] and self.gyro is None and x.shape[-1] == 3:   # x, y, z alone
            return x @ (rotation.T * scale)
        parts = [x[..., i:i + 1] for i in range(x.shape[-1])]
        if self.acc is not None:
            turned = (x[..., self.acc] @ rotation.T) * scale
            for k, i in enumerate(self.acc):
                parts[i] = turned[..., k:k + 1]
        if self.gyro is not None:
            turned = x[..., self.gyro] @ rotation.T
            for k, i in enumerate(self.gyro):
                parts[i] = turned[..., k:k + 1]
        return torch.cat(parts, dim=-1)

    def _derive(self, x: torch.Tensor) -> torch.Tensor:
        """``data.features.derive``, group by group."""
        config, channels = self.config, self.channels
        if config.is_identity:
            return x
        cache: dict[str, torch.Tensor] = {}

        def take(group: tuple[str, ...]) -> torch.Tensor:
            index = [channels.index(c) for c in group]
            return x if index == list(range(x.shape[-1])) else x[..., index]

        def get(key: str) -> torch.Tensor:
            if key in cache:
                return cache[key]
            if key == "acc":
                value = take(ACC)
            elif key == "gyro":
                value = take(GYRO)
            elif key == "gravity":
                value = torch.matmul(self.average, get("acc"))
            elif key == "body":
                value = get("acc") - get("gravity")
            elif key == "unit_gravity":
                value = get("gravity") / torch.clamp(_norm(get("gravity")), min=_TINY)
            elif key == "gravity_abs":
                value = torch.abs(get("unit_gravity"))
            elif key == "magnitude":
                value = _norm(get("acc"))
            elif key == "body_magnitude":
                value = _norm(get("body"))
            elif key == "vertical":
                value = (get("body") * get("unit_gravity")).sum(dim=-1, keepdim=True)
            elif key == "horizontal":
                value = _norm(get("body") - get("vertical") * get("unit_gravity"))
            elif key == "gyro_magnitude":
                value = _norm(get("gyro"))
            elif key == "gyro_vertical":
                value = (get("gyro") * get("unit_gravity")).sum(dim=-1, keepdim=True)
            elif key == "gyro_horizontal":
                value = _norm(get("gyro") - get("gyro_vertical") * get("unit_gravity"))
            else:
                raise ValueError(f"no graph for feature {key!r}")
            cache[key] = value
            return value

        out = torch.cat([x if name == "raw" else get(name) for name in config.outputs], dim=2)
        if config.per_window != "none" and out.shape[1] > 0:
            out = out - out.mean(dim=1, keepdim=True)
            if config.per_window == "standardise":
                out = out / torch.clamp(out.std(dim=1, unbiased=False, keepdim=True), min=1e-3)
        return out
