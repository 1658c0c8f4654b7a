"""Compare attention implementations of the reference ViT on this machine; prints JSON.

Training step (forward + backward, batch 128, bfloat16 autocast on CPU) and batch-1 float32
inference, plain matmul attention vs ``F.scaled_dot_product_attention``. Same weights for both,
so the output difference is reported too. Usage: ``python bench/bench_model.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from har_studio.model.config import ViTConfig
from har_studio.model.vit import TimeSeriesViT


def _median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    config = ViTConfig()
    models = {}
    for impl in ("matmul", "sdpa"):
        models[impl] = TimeSeriesViT(config, attention=impl).to(device)
    models["sdpa"].load_state_dict(models["matmul"].state_dict())
    amp_dtype = torch.bfloat16
    x = torch.randn(args.batch, config.series, config.modal, device=device)
    y = torch.randint(0, config.classes, (args.batch,), device=device)
    x1 = torch.randn(1, config.series, config.modal, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    result = {"device": str(device), "threads": args.threads, "batch": args.batch,
              "repeats": args.repeats}
    for impl, model in models.items():
        model.train()

        def step(model=model):
            model.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            sync()

        result[f"{impl}_train_step_ms"] = round(_median_ms(step, args.repeats), 2)
        model.eval()

        def infer(model=model):
            with torch.inference_mode():
                model(x1)
            sync()

        result[f"{impl}_infer_b1_ms"] = round(_median_ms(infer, args.repeats * 20, 10), 3)
    with torch.inference_mode():
        models["matmul"].eval()
        models["sdpa"].eval()
        diff = (models["matmul"](x) - models["sdpa"](x)).abs().max().item()
    result["max_abs_logit_diff_fp32"] = diff
    result["sdpa_over_matmul_train"] = round(
        result["sdpa_train_step_ms"] / result["matmul_train_step_ms"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
