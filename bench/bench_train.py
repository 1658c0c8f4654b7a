"""Training speed and memory of the engine, printed as one JSON object on stdout.

Default mode (synthetic windows, reference model 128 x 3, 6 classes, batch 128):

- ``engine_vs_bare``: windows/s of ``training.engine.train`` against a bare torch loop doing
  the same work (same model, data, batch size, precision, process). Target ratio >= 0.95.
- ``model_vs_naive``: windows/s of training our ``TimeSeriesViT`` against a straightforward
  transcription of the reference written below (modules built in ``forward``, slicing + cat
  patch merging, separate q/k/v maps), both in the bare loop. Target ratio >= 1.0.
- ``epoch_12000``: seconds for one engine epoch over 12,000 training windows, run in a child
  process whose peak resident memory (ru_maxrss) is ``peak_rss_mib_training_process``
  (target < 1 GiB); ``peak_rss_mib_this_bench`` also counts the naive model's runs. Its
  ``batch_progress_per_s`` is how often the engine yielded BatchProgress (the throttle's
  limit beside it).

Throughput pairs run in alternating order over several rounds and are given per wall second
and per CPU second of this process; on a busy shared machine the CPU-second ratio (with
``--threads 1``) is the robust figure.

``--quality DATA`` instead trains on real WISDM 2019 phone accelerometer data (activities
A-E, windows 128 / 64) with a random window split and with a subject split holding out 4
subjects, and reports test accuracy, epochs and minutes. That takes minutes of CPU.

``--variants``: the default preset's training windows/s (its network and input channels, the
bare loop) today against fused attention (SDPA), batches 2x and 4x and (``--compile``)
``torch.compile``, in one process, rotating order; ratios against the baseline of the same
round. Measured on the shared 2-core CPU (fp32, as ``precision="auto"`` resolves here),
ratios of windows per CPU second (per wall second alike):

  threads 1, load 2.5, 1024 windows x 3:  baseline 451-470 w/CPU-s (150-157 w/s wall);
                                          SDPA 0.92x, batch 256 0.97x, batch 512 0.61x
  threads 2, load 3.8, 1024 windows x 3:  baseline 74-78 w/CPU-s (37-40 w/s wall);
                                          SDPA 0.92x, batch 256 1.73x, batch 512 2.03x
  threads 2, load 8-13, 512 windows x 3:  SDPA 0.95x, batch 256 1.62x, batch 512 1.72x

Larger batches only win back part of what a second thread loses while the other core is busy
(one thread: 4x the windows per wall second of two, in the same minutes); alone they are no
faster (0.97x) or slower. SDPA is slower on this CPU at this size. None adopted.
``torch.compile`` was dropped: its first step took 339 s here and later steps 78-81 s for a
batch of 128 (not investigated further), against 8-16 s eager at that load (the baseline: 8-15
windows per wall second).

``--model-variants patch_size=8,head_num=2,...``: the same rounds with the network changed
(``ViTConfig`` fields, ``+`` between fields of one variant); each case reports its parameter
count. Issue 21, item 5 (idle machine, threads 1, 1024 windows x 3, the preset's patches of 4
as baseline, 440-509 w/CPU-s): att_size=16 1.55x, head_num=2 1.74x, patch_size=8 1.99x (SDPA
0.91x, batch 256 0.81x in the same run). Patches of 8 were as accurate on the three
yardsticks of ``bench_quality.py`` and are now the default preset's.

``--busy-share``: training windows/s (robust preset's network size, synthetic windows) idle
and beside one CPU-bound process this bench starts, with the app's thread policy
(``har_studio/threads.py``) and with torch's defaults; goal: busy >= 0.45x idle.

Usage: ``python bench/bench_train.py [--windows 12000] [--compare-windows 3072]``
       ``nice -n 5 python bench/bench_train.py --busy-share [--compare-windows 1536]``
       ``python bench/bench_train.py --quality /work/shared/data/wisdm2019/phone/accel``
       ``nice -n 5 python bench/bench_train.py --variants --compare-windows 512 --rounds 3 --threads 2``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from har_studio.data.splits import Normaliser, Split, SplitConfig  # noqa: E402
from har_studio.data.windows import WindowConfig, Windows  # noqa: E402
from har_studio.model.config import ViTConfig  # noqa: E402
from har_studio.model.vit import TimeSeriesViT  # noqa: E402
from har_studio.training.config import TrainConfig  # noqa: E402
from har_studio.training.engine import (  # noqa: E402
    BATCH_PROGRESS_INTERVAL_S,
    BatchProgress,
    EpochProgress,
    TrainNote,
    resolve_device,
    resolve_precision,
    train,
)
from har_studio.training.prepare import PreparedData  # noqa: E402

# ---------------------------------------------------------------------------------------------
# A naive port of the reference, the way a first transcription would look.


class NaiveBlock(nn.Module):
    def __init__(self, dim: int, heads: int, att: int) -> None:
        super().__init__()
        self.heads, self.att = heads, att
        self.query = nn.Linear(dim, heads * att)
        self.key = nn.Linear(dim, heads * att)
        self.value = nn.Linear(dim, heads * att)
        self.output = nn.Linear(heads * att, dim)
        self.norm = nn.LayerNorm(dim)
        self.merge = nn.Linear(2 * dim, dim)
        self.merge_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, m, p, d = x.shape
        q = self.query(x).view(b, m, p, self.heads, self.att).permute(0, 1, 3, 2, 4)
        k = self.key(x).view(b, m, p, self.heads, self.att).permute(0, 1, 3, 2, 4)
        v = self.value(x).view(b, m, p, self.heads, self.att).permute(0, 1, 3, 2, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.att)
        weights = nn.Softmax(dim=-1)(scores)
        context = torch.matmul(weights, v).permute(0, 1, 3, 2, 4).reshape(b, m, p, -1)
        x = nn.ReLU()(x + self.norm(self.output(context)))
        if x.shape[2] % 2:
            x = nn.ZeroPad2d((0, 0, 0, 1))(x)
        even = x[:, :, 0::2, :]
        odd = x[:, :, 1::2, :]
        x = torch.cat([even, odd], dim=-1)
        return nn.ReLU()(self.merge_norm(self.merge(x)))


class NaiveViT(nn.Module):
    def __init__(self, c: ViTConfig) -> None:
        super().__init__()
        self.c = c
        self.embed = nn.Conv2d(1, c.embedding_dim, (c.patch_size, 1), (c.patch_size, 1))
        self.position = nn.Parameter(torch.zeros(1, c.modal, c.patch_num, c.embedding_dim))
        self.blocks = nn.ModuleList(NaiveBlock(c.embedding_dim, c.head_num, c.att_size)
                                    for _ in range(c.depth))
        self.fc1 = nn.Linear(c.flatten_size, c.head_width)
        self.norm = nn.LayerNorm(c.head_width)
        self.fc2 = nn.Linear(c.head_width, c.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1)                               # [B, 1, T, C]
        x = self.embed(x).permute(0, 3, 2, 1) + self.position
        for block in self.blocks:
            x = block(x)
        x = nn.Flatten()(x)
        return self.fc2(nn.ReLU()(self.norm(self.fc1(x))))


# ---------------------------------------------------------------------------------------------


def synthetic(n: int, config: ViTConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, config.classes, n).astype(np.int64)
    t = np.arange(config.series, dtype=np.float32) / 20.0
    X = rng.normal(size=(n, config.series, config.modal)).astype(np.float32)
    X += np.sin(2 * np.pi * (1 + y[:, None, None]) * t[None, :, None]).astype(np.float32)
    return X, y


def prepared_from(X: np.ndarray, y: np.ndarray, classes: int, test: int = 256,
                  channels: list[str] | None = None) -> PreparedData:
    n = len(X)
    labels = [f"class{i}" for i in range(classes)]
    windows = Windows(X, y, np.ones(n, np.int64), np.arange(n, dtype=np.int64), labels,
                      channels or ["x", "y", "z"],
                      WindowConfig(size=X.shape[1], step=X.shape[1] // 2))
    idx = np.arange(n)
    split = Split("random", idx[test:], idx[:0], idx[:test], [1], [1], [1])
    train_w = windows.subset(split.train)
    return PreparedData(windows, split, Normaliser.fit(train_w.X), train_w,
                        windows.subset(split.val), windows.subset(split.test),
                        SplitConfig(kind="random"))


def bare_loop(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int,
              bf16: bool, grad_clip: float, seed: int = 0) -> tuple[float, float]:
    """One plain epoch (shuffle, gather, forward, loss, backward, step): windows per wall
    second and per CPU second of this process."""
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    n = len(X)
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(n)
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = X.index_select(0, idx), y.index_select(0, idx)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def engine_epoch(prepared: PreparedData, config: ViTConfig,
                 cfg: TrainConfig) -> tuple[EpochProgress, float, int]:
    """One engine epoch; also windows per CPU second, from the first batch's start (the
    "Training on" note, just before the model is built) to the epoch's end (no validation
    split here, so that is training only), and how many BatchProgress it yielded."""
    epoch, c0, c1, batches = None, None, None, 0
    for item in train(prepared, config, cfg):
        if c0 is None and isinstance(item, TrainNote) and item.text.startswith("Training on"):
            c0 = time.process_time()
        batches += isinstance(item, BatchProgress)
        if isinstance(item, EpochProgress):
            c1 = time.process_time()
            epoch = item
    return epoch, len(prepared.train) / (c1 - c0), batches


def epoch_only(args) -> dict:
    """One engine epoch over `args.windows` synthetic windows; run in a child process so its
    peak memory is the training's alone."""
    config = ViTConfig()
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size, precision=args.precision,
                      device="cpu", patience=0)
    X, y = synthetic(args.windows + 256, config, seed=3)
    big = prepared_from(X, y, config.classes)
    del X, y
    epoch, _, batches = engine_epoch(big, config, cfg)
    # the throttle (tests/test_training.py checks it by the interval, without a clock):
    # at most 1 / BATCH_PROGRESS_INTERVAL_S a second (and the run's first batch)
    return {"windows": len(big.train), "seconds": round(epoch.seconds, 2),
            "windows_per_s": round(epoch.windows_per_s, 1),
            "batch_progress_per_s": round(batches / epoch.seconds, 2),
            "batch_progress_limit_per_s": round(1 / BATCH_PROGRESS_INTERVAL_S, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _median(values: list[float]) -> float:
    return float(np.median(values))


def speed(args) -> dict:
    config = ViTConfig()  # the reference: 128 x 3, 6 classes
    device = resolve_device("cpu")
    precision = resolve_precision(device, args.precision)
    bf16 = precision == "bf16"
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size, precision=precision, device="cpu",
                      patience=0)
    out: dict = {"threads": torch.get_num_threads(), "precision": precision,
                 "batch_size": args.batch_size, "torch": torch.__version__,
                 "load_average_1min": round(os.getloadavg()[0], 2)}

    # warm-up (oneDNN primitives, allocator)
    Xw, yw = synthetic(args.batch_size * 3, config, seed=1)
    bare_loop(TimeSeriesViT(config), torch.from_numpy(Xw), torch.from_numpy(yw),
              args.batch_size, bf16, cfg.grad_clip)

    # Paired rounds in alternating order, so a busy neighbour on a shared CPU hits both sides.
    n = args.compare_windows
    X, y = synthetic(n + 256, config, seed=2)
    prepared = prepared_from(X, y, config.classes)
    Xn = torch.from_numpy(prepared.normaliser.apply(prepared.train.X))
    yt = torch.from_numpy(prepared.train.y)

    def bare_ours() -> tuple[float, float]:
        torch.manual_seed(0)
        return bare_loop(TimeSeriesViT(config), Xn, yt, args.batch_size, bf16, cfg.grad_clip)

    def engine_run() -> tuple[float, float]:
        epoch, per_cpu_s, _ = engine_epoch(prepared, config, cfg)
        return epoch.windows_per_s, per_cpu_s

    def naive_run() -> tuple[float, float]:
        torch.manual_seed(0)
        return bare_loop(NaiveViT(config), Xn, yt, args.batch_size, bf16, cfg.grad_clip)

    pairs = {"engine_vs_bare": (engine_run, bare_ours), "model_vs_naive": (bare_ours, naive_run)}
    for name, (first, second) in pairs.items():
        a_runs, b_runs = [], []
        for r in range(args.rounds):
            if r % 2:
                b_runs.append(second())
                a_runs.append(first())
            else:
                a_runs.append(first())
                b_runs.append(second())
        a_key, b_key = (("engine", "bare") if name == "engine_vs_bare" else ("ours", "naive"))
        entry: dict = {"windows": n, "rounds": args.rounds}
        for unit, k in (("wall", 0), ("cpu", 1)):
            a = [v[k] for v in a_runs]
            b = [v[k] for v in b_runs]
            entry[f"{a_key}_windows_per_{unit}_s"] = [round(v, 1) for v in a]
            entry[f"{b_key}_windows_per_{unit}_s"] = [round(v, 1) for v in b]
            entry[f"ratio_{unit}_median_of_rounds"] = round(
                _median([x / y for x, y in zip(a, b, strict=True)]), 3)
        out[name] = entry
    out["model_vs_naive"]["parameters"] = {
        "ours": sum(p.numel() for p in TimeSeriesViT(config).parameters()),
        "naive": sum(p.numel() for p in NaiveViT(config).parameters())}

    child = subprocess.run(
        [sys.executable, __file__, "--epoch-only", "--windows", str(args.windows),
         "--batch-size", str(args.batch_size), "--precision", precision,
         "--threads", str(torch.get_num_threads())],
        capture_output=True, text=True, check=True)
    epoch = json.loads(child.stdout.strip().splitlines()[-1])
    out[f"epoch_{args.windows}"] = {k: v for k, v in epoch.items() if k != "peak_rss_mib"}
    out["peak_rss_mib_training_process"] = epoch["peak_rss_mib"]
    out["peak_rss_mib_this_bench"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def train_rate(args) -> dict:
    """Engine windows/s of the robust preset's network size (6 input channels) on synthetic
    windows, with the thread policy (``TrainConfig.threads``, 0 = auto): the median of the
    epochs after the first. Run in a child process by ``busy_share``."""
    from har_studio.training.presets import ROBUST

    channels = ["x", "y", "z", "gx", "gy", "gz"]
    config = ViTConfig(series=128, modal=len(channels), classes=6, **ROBUST.model)
    X, y = synthetic(args.compare_windows + 256, config, seed=5)
    prepared = prepared_from(X, y, config.classes, channels=channels)
    cfg = TrainConfig(epochs=args.rate_epochs, batch_size=args.batch_size, device="cpu",
                      precision=args.precision, patience=0, threads=args.threads or 0)
    rates, recipe = [], None
    gen = train(prepared, config, cfg)
    try:
        while True:
            item = next(gen)
            if isinstance(item, EpochProgress):
                rates.append(item.windows_per_s)
    except StopIteration as end:
        recipe = end.value.bundle.recipe
    steady = rates[1:] or rates
    return {"windows_per_s": round(float(np.median(steady)), 1),
            "epochs_windows_per_s": [round(r, 1) for r in rates],
            "threads": recipe.get("threads"), "precision": recipe.get("precision")}


def busy_share(args) -> dict:
    """Training windows/s idle and beside one CPU-bound process (``while True: pass``, started
    here), each in a child process: with the app's thread policy and, for comparison, with
    torch's defaults (every core, OpenMP's default wait policy). Goal: busy >= 0.45x idle."""
    import contextlib

    @contextlib.contextmanager
    def hog(on: bool):
        proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
        try:
            if proc is not None:
                time.sleep(0.3)
            yield
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()

    def child(env_policy: str, threads: int) -> dict:
        # "" leaves OpenMP at its default wait policy (har_studio only sets an unset variable)
        env = {**os.environ, "OMP_WAIT_POLICY": env_policy}
        cmd = [sys.executable, __file__, "--train-rate", "--compare-windows",
               str(args.compare_windows), "--rate-epochs", str(args.rate_epochs),
               "--batch-size", str(args.batch_size), "--precision", args.precision]
        if threads:
            cmd += ["--threads", str(threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])

    cases = {"policy": ("PASSIVE", 0), "torch_default": ("", torch.get_num_threads())}
    if args.threads:
        cases = {"policy": ("PASSIVE", args.threads)}
    out: dict = {"load_average_1min": round(os.getloadavg()[0], 2),
                 "windows_per_epoch": args.compare_windows, "goal_busy_vs_idle": 0.45}
    for name, (policy, threads) in cases.items():
        entry = {}
        for state in ("idle", "busy"):
            with hog(state == "busy"):
                entry[state] = child(policy, threads)
        entry["busy_vs_idle"] = round(entry["busy"]["windows_per_s"]
                                      / entry["idle"]["windows_per_s"], 3)
        out[name] = entry
    return out


def quality(args) -> dict:
    from har_studio.data.loaders import load
    from har_studio.training.engine import run_to_end
    from har_studio.training.prepare import default_model_config, prepare_data

    dataset = load(args.quality)
    activities = [a for a in ("walking", "jogging", "stairs", "sitting", "standing")
                  if a in dataset.activities]
    window = WindowConfig(size=128, step=64)
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, device="cpu", precision=args.precision)
    out: dict = {"data": str(args.quality), "activities": activities, "threads":
                 torch.get_num_threads()}
    for name, split in (("random", SplitConfig(kind="random", seed=args.seed)),
                        ("subject", SplitConfig(kind="subject", test_fraction=4 / 16,
                                                seed=args.seed))):
        prepared = prepare_data(dataset, window, split, activities=activities)
        t0 = time.perf_counter()
        result = run_to_end(train(prepared, default_model_config(prepared), cfg))
        out[name] = {
            "windows": prepared.split.to_dict(),
            "accuracy": round(result.metrics["accuracy"], 4),
            "f1_macro": round(result.metrics["f1_macro"], 4),
            "per_class": {k: (round(v, 3) if v is not None else None)
                          for k, v in result.metrics["per_class"].items()},
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "stopped_reason": result.stopped_reason,
            "minutes": round((time.perf_counter() - t0) / 60, 2),
            "seconds_per_epoch": round(float(np.mean([h.seconds for h in result.history])), 2),
        }
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def model_changes(config, spec: str) -> dict:
    """``att_size=16+dropout=0.1+attention=sdpa`` -> ViTConfig changes, each value read as
    JSON (numbers, booleans) or else as text; SystemExit naming a field ViTConfig lacks or a
    value it refuses."""
    changes = {}
    for item in spec.split("+"):
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--model-variants: {item!r} is not field=value")
        try:
            changes[key] = json.loads(text)
        except ValueError:
            changes[key] = text
    try:
        replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--model-variants {spec!r}: {exc}") from None
    return changes


def variants(args) -> dict:
    """Training windows/s of the default preset's network (its input channels, 5 classes,
    windows of 128) in the bare loop (the engine's work: ``engine_vs_bare`` ~1.0), today's
    way against: fused attention (``scaled_dot_product_attention``), larger batches,
    ``torch.compile`` and the best together. Variants run in rotating order over
    ``--rounds`` rounds in this one process; ratios are medians over rounds of each variant's
    windows/s over the baseline's in the same round (wall and CPU seconds of this process)."""
    from har_studio.data.features import output_channels
    from har_studio.training.presets import DEFAULT_PRESET, get_preset

    preset = get_preset(DEFAULT_PRESET)
    channels = output_channels(["x", "y", "z"], preset.features)
    config = ViTConfig(series=128, modal=len(channels), classes=5,
                       **preset.model_overrides())
    precision = resolve_precision(resolve_device("cpu"), args.precision)
    bf16 = precision == "bf16"
    base_batch = int(preset.train_config().batch_size)
    X, y = synthetic(args.compare_windows, config, seed=2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    # name: (attention, batch size, compiled, the network's config changes)
    cases = {"baseline": ("matmul", base_batch, False, {}),
             "sdpa": ("sdpa", base_batch, False, {}),
             "batch_2x": ("matmul", 2 * base_batch, False, {}),
             "batch_4x": ("matmul", 4 * base_batch, False, {})}
    for spec in filter(None, (args.model_variants or "").split(",")):
        cases[spec] = ("matmul", base_batch, False, model_changes(config, spec))
    if args.compile:
        cases["compile"] = ("matmul", base_batch, True, {})
        cases["compile_sdpa_batch_2x"] = ("sdpa", 2 * base_batch, True, {})
    out: dict = {"preset": preset.name, "channels": channels, "precision": precision,
                 "threads": torch.get_num_threads(), "torch": torch.__version__,
                 "windows_per_round": len(X), "rounds": args.rounds,
                 "load_average_1min": round(os.getloadavg()[0], 2),
                 "cases": {k: {"attention": a, "batch_size": b, "compile": c, "model": m}
                           for k, (a, b, c, m) in cases.items()}}
    models = {}
    for name, (attention, batch, compiled, changes) in cases.items():
        torch.manual_seed(0)
        model = TimeSeriesViT(replace(config, **changes), attention=attention)
        out["cases"][name]["parameters"] = sum(p.numel() for p in model.parameters())
        if compiled:
            model = torch.compile(model)
        t0 = time.perf_counter()   # warm-up: oneDNN primitives, and the compile itself
        bare_loop(model, Xt[:3 * batch], yt[:3 * batch], batch, bf16, 1.0)
        out["cases"][name]["warmup_s"] = round(time.perf_counter() - t0, 1)
        models[name] = (model, batch)
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            model, batch = models[name]
            rates[name].append(bare_loop(model, Xt, yt, batch, bf16, 1.0, seed=r))
    for name in names:
        entry = out["cases"][name]
        for unit, k in (("wall", 0), ("cpu", 1)):
            entry[f"windows_per_{unit}_s"] = [round(v[k], 1) for v in rates[name]]
            entry[f"ratio_{unit}"] = round(_median(
                [v[k] / b[k] for v, b in zip(rates[name], rates["baseline"], strict=True)]), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=12000)
    parser.add_argument("--compare-windows", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--epoch-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--train-rate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--busy-share", action="store_true",
                        help="training windows/s idle and beside a CPU-bound process")
    parser.add_argument("--rate-epochs", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--quality", metavar="DATA", help="real-data accuracy mode")
    parser.add_argument("--model-variants", metavar="SPECS",
                        help="--variants with the network changed too: comma-separated "
                             "ViTConfig changes, e.g. att_size=16,head_num=2+att_size=32")
    parser.add_argument("--variants", action="store_true",
                        help="default preset's training windows/s: SDPA, batch, compile")
    parser.add_argument("--compile", action="store_true",
                        help="--variants with torch.compile cases too (minutes to compile)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("HAR_STUDIO_HOME", str(Path("/tmp") / "har-studio-bench"))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.epoch_only:
        result = epoch_only(args)
    elif args.train_rate:
        result = train_rate(args)
    elif args.busy_share:
        result = busy_share(args)
    elif args.variants:
        result = variants(args)
    else:
        result = quality(args) if args.quality else speed(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
