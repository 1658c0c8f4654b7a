"""The reference Vision Transformer for sensor time series (seed-vit reference write-up).

Each sensor axis is a row of time patches; patches attend only to patches of the same axis;
every block halves the patch count by merging neighbours; a two-layer head classifies the
flattened result. The maths is the reference's; the code avoids per-call module building and
does patch merging as a reshape.

Attention implementation, chosen by measurement (``bench/bench_model.py``: reference config,
batch 128, forward + backward under bfloat16 autocast, 2 threads on this 2-core AVX512-BF16
CPU, median of 5-9 steps, three runs): plain matmuls 173 / 194 / 155 ms per step vs
``F.scaled_dot_product_attention`` 188 / 207 / 179 ms (SDPA 1.07-1.15x slower); float32
inference at batch 1: 1.80 / 1.73 / 1.67 ms vs 1.79 / 1.83 / 1.76 ms. Logits agree to 9e-7.
So CPU uses plain matmuls. The same holds for training the aligned preset's small network
(``bench/bench_train.py --variants``: 64-wide, batch 128, fp32, 1 or 2 threads): SDPA 0.92-0.95x the matmuls'
training windows per CPU second. ``attention="auto"`` picks SDPA on CUDA, where fused kernels exist
(not measured here: no GPU).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from .config import ViTConfig

log = logging.getLogger(__name__)

ATTENTION_IMPLEMENTATIONS = ("auto", "matmul", "sdpa")


class _Block(nn.Module):
    """Per-axis multi-head self-attention, output map + LayerNorm, ReLU residual, then merging
    of neighbouring patches (2*dim -> dim, LayerNorm, ReLU)."""

    def __init__(self, config: ViTConfig, attention: str) -> None:
        super().__init__()
        dim, heads, size = config.embedding_dim, config.head_num, config.att_size
        self.heads, self.size = heads, size
        self.scale = size ** -0.5
        self.attention = attention
        # q, k and v in one matmul: the same maths and parameter count as three dim -> h*a maps.
        self.qkv = nn.Linear(dim, 3 * heads * size)
        self.out = nn.Linear(heads * size, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(config.dropout)
        self.merge = nn.Linear(2 * dim, dim)
        self.merge_norm = nn.LayerNorm(dim)

    def _use_sdpa(self, x: torch.Tensor) -> bool:
        if self.attention == "auto":
            return x.device.type == "cuda"
        return self.attention == "sdpa"

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        b, m, p, d = x.shape  # [batch, axes, patches, dim]
        # [b, m, p, 3*heads, size] -> [b, m, 3*heads, p, size], then q, k, v as its three
        # parts: one transpose for all three (an exported graph has one, not one per part)
        qkv = self.qkv(x).reshape(b, m, p, 3 * self.heads, self.size).transpose(2, 3)
        q, k, v = qkv.split(self.heads, dim=2)  # each [batch, axes, heads, patches, size]
        weights = None
        if need_weights or not self._use_sdpa(x):
            scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
            weights = scores.softmax(dim=-1)
            context = torch.matmul(weights, v)
        else:
            context = F.scaled_dot_product_attention(q, k, v)
        context = context.transpose(2, 3).reshape(b, m, p, self.heads * self.size)
        x = torch.relu(x + self.drop(self.norm(self.out(context))))
        # Patch merging: pad one zero patch if odd, then [p, d] -> [p/2, 2d] concatenates each
        # even patch with the following odd one along features.
        if p % 2:
            x = F.pad(x, (0, 0, 0, 1))
        x = x.reshape(b, m, -1, 2 * d)
        x = torch.relu(self.merge_norm(self.merge(x)))
        return x, weights


class TimeSeriesViT(nn.Module):
    """The reference ViT. ``forward`` takes windows ``[B, T, C]`` (or ``[B, 1, T, C]``) of
    normalised float32 samples and returns logits ``[B, classes]``."""

    def __init__(self, config: ViTConfig, attention: str = "auto") -> None:
        super().__init__()
        if attention not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(f"attention must be one of {ATTENTION_IMPLEMENTATIONS}, got {attention!r}")
        if config.members != 1:
            raise ValueError(f"one network has one member, not {config.members}: build_network "
                             "builds an ensemble")
        self.config = config
        dim = config.embedding_dim
        k = (config.patch_size, 1)
        self.embed = nn.Conv2d(1, dim, kernel_size=k, stride=k)
        self.position = nn.Parameter(torch.zeros(1, config.modal, config.patch_num, dim))
        self.blocks = nn.ModuleList(_Block(config, attention) for _ in range(config.depth))
        self.head_fc = nn.Linear(config.flatten_size, config.head_width)
        self.head_norm = nn.LayerNorm(config.head_width)
        self.head_drop = nn.Dropout(config.dropout)
        self.head_out = nn.Linear(config.head_width, config.classes)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        c = self.config
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != c.series or x.shape[3] != c.modal:
            raise ValueError(
                f"expected windows [batch, {c.series}, {c.modal}], got {list(x.shape)}"
            )
        # The patch embedding (a convolution of kernel and stride (patch_size, 1): each axis's
        # patches of patch_size samples, projected to dim) as one matrix product: the same
        # numbers as self.embed(x), without the transposes around a convolution (0.3 ms of a
        # live window in onnxruntime on the 2-core machine of bench/bench_live.py).
        b = x.shape[0]
        patches = x.reshape(b, c.patch_num, c.patch_size, c.modal).permute(0, 3, 1, 2)
        weight = self.embed.weight.reshape(self.embed.out_channels, c.patch_size)
        return torch.matmul(patches, weight.T) + self.embed.bias + self.position  # [B, axes, patches, dim]

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.head_norm(self.head_fc(x.flatten(1))))
        return self.head_out(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._embed(x)
        for block in self.blocks:
            x, _ = block(x)
        return self._head(x)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the attention each time patch of each axis received in the first block,
        averaged over heads and query positions: ``[B, C, patch_num]`` (each row sums to 1)."""
        x = self._embed(x)
        attention = None
        for i, block in enumerate(self.blocks):
            x, weights = block(x, need_weights=i == 0)
            if i == 0:
                attention = weights.mean(dim=(2, 3))  # [B, axes, heads, q, k] -> [B, axes, k]
        return self._head(x), attention


class ViTEnsemble(nn.Module):
    """``config.members`` TimeSeriesViTs of the same shape, each initialised on its own and
    trained on its own loss; together they predict the mean of their probabilities.

    In eval mode ``forward`` returns the log of the members' mean probability ``[B, classes]``
    (so a softmax of it, as everywhere a network's output is read, is that mean). In training
    mode it returns each member's logits ``[members, B, classes]``: each member's gradient is
    its own cross-entropy's, clipped on its own (``training.steps``), so each learns as if
    alone and the average keeps their differences (a loss on the average would train them as
    one)."""

    def __init__(self, config: ViTConfig, attention: str = "auto") -> None:
        super().__init__()
        self.config = config
        single = replace(config, members=1)
        self.members = nn.ModuleList(TimeSeriesViT(single, attention)
                                     for _ in range(config.members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.stack([member(x) for member in self.members])
        return logits if self.training else mean_probability_log(logits)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean probability's log and the members' mean first-block attention."""
        outputs = [member.forward_with_attention(x) for member in self.members]
        logits = torch.stack([out[0] for out in outputs])
        attention = torch.stack([out[1] for out in outputs]).mean(dim=0)
        return mean_probability_log(logits), attention


def mean_probability_log(member_logits: torch.Tensor) -> torch.Tensor:
    """``[members, B, classes]`` logits -> log of the members' mean softmax ``[B, classes]``."""
    members = member_logits.shape[0]
    return (torch.logsumexp(torch.log_softmax(member_logits.float(), dim=-1), dim=0)
            - math.log(members))


def build_network(config: ViTConfig, attention: str = "auto") -> nn.Module:
    """The network `config` describes: one TimeSeriesViT, or a ViTEnsemble of
    ``config.members`` of them."""
    if config.members > 1:
        return ViTEnsemble(config, attention)
    return TimeSeriesViT(config, attention)


MEMBER_PREFIX = re.compile(r"^members\.\d+\.")


def member_free_name(name: str) -> str:
    """A parameter's name as in one TimeSeriesViT (``members.2.embed.weight`` ->
    ``embed.weight``), so freezing by prefix means the same layer of every member."""
    return MEMBER_PREFIX.sub("", name)
