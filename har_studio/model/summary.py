"""How big and how fast a model is: parameters, multiply-adds per window, latency.

Shown in the Model tab and printed by ``har-studio model`` so a user can size a model for a
phone or a laptop before training it.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from .config import ViTConfig
from .vit import build_network


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def count_macs(config: ViTConfig) -> int:
    """Multiply-adds for one window, counted analytically.

    Counted: the patch-embedding convolution, the q/k/v maps, both attention products
    (Q K^T and weights x V), the attention output map, every patch-merging linear and both head
    linears. Not counted: biases, LayerNorms, softmax, ReLUs, the position-embedding and
    residual additions, padding (all linear in the activations and small). For the reference
    configuration this is 60,364,800 (58,300,416 without the attention products). An
    ensemble's is the sum of its members'.
    """
    c = config
    dim, inner = c.embedding_dim, c.head_num * c.att_size
    macs = c.modal * c.patch_num * c.patch_size * dim  # conv: each patch is patch_size -> dim
    patches = c.patch_num
    for _ in range(c.depth):
        tokens = c.modal * patches
        macs += tokens * dim * 3 * inner                      # q, k, v
        macs += 2 * c.modal * c.head_num * patches * patches * c.att_size  # QK^T and AV
        macs += tokens * inner * dim                          # output map
        patches = (patches + 1) // 2
        macs += c.modal * patches * 2 * dim * dim             # merging linear
    macs += c.flatten_size * c.head_width + c.head_width * c.classes
    return int(macs) * c.members   # an ensemble runs every member


def measure_latency_ms(
    model: nn.Module, config: ViTConfig, repeats: int = 50, warmup: int = 5
) -> float:
    """Median wall time (ms) of one batch-1 forward pass under ``torch.inference_mode``."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    device = next(model.parameters()).device
    x = torch.randn(1, config.series, config.modal, device=device)
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        model.train(was_training)
    return float(statistics.median(times))


def model_summary(config: ViTConfig, latency: bool = True, repeats: int = 50) -> dict:
    """``{"parameters", "macs", "latency_ms"}`` for `config` (latency None when not measured)."""
    model = build_network(config).eval()
    return {
        "parameters": count_parameters(model),
        "macs": count_macs(config),
        "latency_ms": round(measure_latency_ms(model, config, repeats), 3) if latency else None,
    }
