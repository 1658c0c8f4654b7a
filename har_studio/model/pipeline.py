"""The whole of a model's inference as one torch module, for one onnxruntime graph.

``ModelBundle.predict_proba`` runs in steps: the person's alignment (``data.alignment``), the
derived inputs (``data.features``, numpy), the normalisation, the network, a softmax. For a
live window the steps around the network cost about as much as a third of the network itself
on an idle core: some thirty small numpy calls. ``InferencePipeline`` does the same steps in
torch so that ``onnx_export.live_graph`` can export them as one graph: raw windows (and the
person's rotation and gain) in, probabilities out, one onnxruntime call per live push.

The numpy steps stay the definition: the derived inputs come from the same formulas
(``data.features.feature_value``, here with torch operations), and ``live_graph`` refuses a
graph whose probabilities differ from ``ModelBundle.predict_proba`` by more than
``onnx_export.TOLERANCE``; the live classifier then keeps the numpy steps
(``tests/test_pipeline.py`` checks every feature group).
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.alignment import sensor_columns
from ..data.features import FeatureConfig, derived_inputs


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
        self.acc, self.gyro = sensor_columns(self.channels)
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
        """``data.features.derive``: the same formulas (``derived_inputs``) in torch."""
        if self.config.is_identity:
            return x
        return derived_inputs(self.config, x, _TorchOps(x, self.channels, self.average))


class _TorchOps:
    """``data.features.feature_value``'s operations in torch, as the graph wants them: the
    gravity filter as one matrix product, no channel gather when the channels are in order."""

    def __init__(self, x: torch.Tensor, channels: list[str], average: torch.Tensor) -> None:
        self.x, self.channels, self.average = x, channels, average

    def take(self, group):
        index = [self.channels.index(c) for c in group]
        return self.x if index == list(range(self.x.shape[-1])) else self.x[..., index]

    def lowpass(self, v):
        return torch.matmul(self.average, v)

    @staticmethod
    def norm(v):
        return torch.sqrt((v * v).sum(dim=-1, keepdim=True))

    @staticmethod
    def dot(a, b):
        return (a * b).sum(dim=-1, keepdim=True)

    @staticmethod
    def floor(v, least: float):
        return torch.clamp(v, min=least)

    abs = staticmethod(torch.abs)

    @staticmethod
    def keep(value):
        return value

    @staticmethod
    def concat(parts):
        return torch.cat(parts, dim=2)

    @staticmethod
    def per_window(out, mode: str):
        out = out - out.mean(dim=1, keepdim=True)
        if mode == "standardise":
            out = out / torch.clamp(out.std(dim=1, unbiased=False, keepdim=True), min=1e-3)
        return out
