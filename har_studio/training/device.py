"""Where and in what precision a run trains: the device ("auto": CUDA, then Apple MPS, then the
CPU) and float32 or bfloat16 autocast. Qt-free; torch is imported when asked."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when this CPU runs bfloat16 matmuls natively (AVX512-BF16 or AMX): measured 2.7x
    the float32 training speed on such a CPU. Elsewhere bf16 is emulated and slower."""
    import torch

    try:
        capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:  # older torch
        capability = ""
    if "AVX512" not in capability:
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_device(name: str = "auto"):
    """``torch.device`` for "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda" or "mps".
    Raises ValueError when the requested accelerator is not available."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if has_mps else torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA GPU is available to torch")
        return torch.device("cuda", torch.cuda.current_device())
    if name == "mps":
        if not has_mps:
            raise ValueError("Apple MPS was requested but is not available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {name!r} (use auto, cpu, cuda or mps)")


def resolve_precision(device, requested: str = "auto") -> str:
    """"fp32" or "bf16": auto picks bf16 autocast on a CUDA GPU that supports it and on a CPU
    with native bf16, fp32 otherwise (including Apple MPS)."""
    import torch

    if requested in ("fp32", "bf16"):
        return requested
    if requested != "auto":
        raise ValueError(f"unknown precision {requested!r} (use auto, fp32 or bf16)")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"


def describe_device(device) -> str:
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"
