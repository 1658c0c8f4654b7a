"""The training loop as a generator: it yields small progress records and returns the result.

``train(...)`` is Qt-free: the app runs it in a worker thread (``ui.workers.GeneratorWorker``),
the command line and the benchmarks iterate it directly, and tests drive it with ``next()``.
Everything it yields is a frozen dataclass of plain floats, ints and strings, never a tensor.

Recipe: AdamW, a per-batch schedule of linear warm-up then cosine decay to zero, cross-entropy
(optional inverse-frequency class weights and label smoothing), gradient clipping, early
stopping on validation loss with the best weights kept in memory and restored at the end.
The validation loss is the cross-entropy with the same label smoothing but without class
weights; with no validation windows, early stopping watches the training loss (a note says so).
Control: ``TrainControl.stop()`` ends the run after the current batch (keeping the best model
so far); ``pause()`` holds it between batches (``resume()`` continues). A non-finite or
exploding loss ends the run with stopped_reason "diverged", keeping the last good model.

Augmentation (``TrainConfig.augment``), applied to each training batch in raw units (m/s^2,
rad/s) *before* normalisation so the normaliser's statistics stay valid:

- rotation about the gravity axis: each window's mean acceleration is taken as the gravity
  direction in phone axes and the accelerometer (and gyroscope, by the same matrix) is rotated
  about it by a uniform random angle. Gravity is unchanged; horizontal motion turns, as if the
  phone sat in the pocket at another heading.
- scaling: every window multiplied by a factor ~ N(1, 0.1).
- jitter: Gaussian noise of 5 % of each channel's training standard deviation.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..progress import RunControl, run_to_end  # noqa: F401 - run_to_end: callers import it from here
from .config import TrainConfig
from .prepare import PreparedData

log = logging.getLogger(__name__)

BATCH_PROGRESS_INTERVAL_S = 0.2   # at most ~5 BatchProgress a second
PAUSE_HEARTBEAT_S = 0.5           # while paused, re-yield the last progress this often
DIVERGENCE_FACTOR = 1e4           # loss above this x the first epoch's loss counts as diverged


@dataclass(frozen=True)
class BatchProgress:
    """Throttled per-batch progress (a few a second). `fraction` is of the whole run."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float             # the latest batch's loss
    smoothed_loss: float    # moving average of batch losses
    fraction: float
    eta_s: float


@dataclass(frozen=True)
class EpochProgress:
    """One finished epoch. val_loss/val_acc are nan when there are no validation windows."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float               # learning rate at the epoch's last batch
    seconds: float          # wall time of the epoch (training + validation, pauses excluded)
    windows_per_s: float    # training windows per second of training time
    is_best: bool           # the monitored loss improved (the best validation epoch so far)
    fraction: float
    eta_s: float
    kept: bool = False      # these weights are the ones kept so far (the best epoch with
                            # keep_best, else the latest epoch)


@dataclass(frozen=True)
class TrainNote:
    """A message for the user: level "info", "warning" or "error"."""

    text: str
    level: str = "info"


@dataclass
class TrainResult:
    bundle: object                         # har_studio.model.io.ModelBundle (best weights)
    history: list[EpochProgress]
    metrics: dict                          # metrics.evaluate_bundle on the test split
    stopped_reason: str                    # "completed" | "early_stopping" | "stopped" | "diverged"
    device: str                            # "cpu", "cuda:0", "mps"
    precision: str                         # "fp32" or "bf16"
    run_dir: Path | None = None
    model_path: Path | None = None
    best_epoch: int = 0                    # epoch whose weights were kept (0: none finished)
    notes: list[TrainNote] = field(default_factory=list)


class TrainControl(RunControl):
    """Thread-safe stop / pause / resume for a running ``train`` generator: ``stop()`` ends the
    run after the current batch, keeping the best model so far (also ends a pause)."""


# ---------------------------------------------------------------------------------------------
# Device and precision


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


# ---------------------------------------------------------------------------------------------
# Pieces of the loop


def class_weight_vector(y: np.ndarray, classes: int) -> np.ndarray:
    """Inverse-frequency weights n / (k * count_c) over the k classes present; 0 for absent."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(classes, dtype=np.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to `peak` over `warmup_steps`, then cosine decay to 0 at `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


class _Augmenter:
    """Rotation about gravity, scaling and jitter on raw-unit batches (see module docstring)."""

    def __init__(self, channels: list[str], std: np.ndarray, generator, device, *,
                 rotate: bool = True, scale: float = 0.1, jitter: float = 0.05) -> None:
        import torch

        def indices(names):
            if all(n in channels for n in names):
                return torch.tensor([channels.index(n) for n in names], device=device)
            return None

        self.acc = indices(("x", "y", "z")) if rotate else None
        self.gyro = indices(("gx", "gy", "gz"))
        self.scale = float(scale)
        self.noise = torch.as_tensor(jitter * np.asarray(std, np.float32), device=device)
        self.jitter = float(jitter)
        self.generator = generator
        self.device = device

    def _rand(self, *shape, normal: bool = False):
        import torch

        fn = torch.randn if normal else torch.rand
        return fn(*shape, generator=self.generator).to(self.device, non_blocking=True)

    def __call__(self, x):
        import torch

        b = x.shape[0]
        if self.acc is not None:
            acc = x.index_select(2, self.acc)                         # [B, T, 3]
            g = acc.mean(dim=1)                                       # gravity estimate
            k = g / g.norm(dim=1, keepdim=True).clamp_min(1e-6)       # unit axis [B, 3]
            theta = (self._rand(b) * 2.0 - 1.0) * math.pi
            zero = torch.zeros_like(k[:, 0])
            skew = torch.stack([zero, -k[:, 2], k[:, 1],
                                k[:, 2], zero, -k[:, 0],
                                -k[:, 1], k[:, 0], zero], dim=1).reshape(b, 3, 3)
            eye = torch.eye(3, device=x.device, dtype=x.dtype).expand(b, 3, 3)
            s, c = torch.sin(theta)[:, None, None], torch.cos(theta)[:, None, None]
            rot = eye + s * skew + (1.0 - c) * (skew @ skew)          # Rodrigues
            x = x.clone()
            x[:, :, self.acc] = acc @ rot.transpose(1, 2)
            if self.gyro is not None:
                x[:, :, self.gyro] = x.index_select(2, self.gyro) @ rot.transpose(1, 2)
        if self.scale > 0:
            x = x * (1.0 + self.scale * self._rand(b, 1, 1, normal=True))
        if self.jitter > 0:
            x = x + self._rand(*x.shape, normal=True) * self.noise
        return x


def _is_diverged(value: float, reference: float | None, floor: float = 0.0) -> bool:
    """Non-finite, or above DIVERGENCE_FACTOR x the reference loss. The reference is floored
    (at the loss of a uniform guess) so a model resumed with a tiny loss is not flagged for
    an ordinary bump."""
    if not math.isfinite(value):
        return True
    if reference is None:
        return False
    return value > DIVERGENCE_FACTOR * max(reference, floor)


def _check_compatible(prepared: PreparedData, model_config) -> None:
    expected = (prepared.window.size, len(prepared.input_channels), len(prepared.labels))
    got = (model_config.series, model_config.modal, model_config.classes)
    if expected != got:
        raise ValueError(
            f"model config (series {got[0]}, modal {got[1]}, classes {got[2]}) does not fit the "
            f"data (window {expected[0]}, {expected[1]} channels, {expected[2]} activities)"
        )


def run_config(prepared: PreparedData, model_config, train_config: TrainConfig,
               created: str) -> dict:
    """What ``config.json`` holds (and the data part of the model recipe)."""
    return {
        "created": created,
        "model": model_config.to_dict(),
        "training": train_config.to_dict(),
        "window": prepared.window.to_dict(),
        "split_config": prepared.split_config.to_dict(),
        "split": prepared.split.to_dict(),
        "labels": prepared.labels,
        "activities": prepared.labels,
        "channels": prepared.channels,
        "features": prepared.features.to_dict(),
        "data_files": list(prepared.data_files),
        "class_counts": {"train": prepared.train.class_counts(), "val": prepared.val.class_counts(),
                         "test": prepared.test.class_counts()},
        "warnings": list(prepared.warnings),
    }


# ---------------------------------------------------------------------------------------------
# The generator


def train(
    prepared: PreparedData,
    model_config,
    train_config: TrainConfig | None = None,
    control: TrainControl | None = None,
    run_dir: Path | str | None = None,
    *,
    init_bundle=None,
    resume=None,
    ddp=None,
    frozen: tuple[str, ...] = (),
) -> Generator[BatchProgress | EpochProgress | TrainNote, None, TrainResult]:
    """Train a TimeSeriesViT on `prepared` and return a TrainResult.

    Yields TrainNote (device, warnings, stop reasons), BatchProgress (at most ~5 a second, at
    least after every batch that ends 0.2 s after the last one) and one EpochProgress per
    epoch. With `run_dir`, writes config.json, history.csv (every epoch), model.harmodel,
    report.json and report.csv (see ``runs.py``). `init_bundle` (a ModelBundle with the same
    model config, labels and channels) starts from its weights instead of a fresh model, to
    continue or fine-tune a saved model; the normaliser is still fitted on `prepared`'s
    training windows. Closing the generator (``gen.close()``) abandons the run and records
    "aborted" in report.json. While paused it re-yields the last BatchProgress every 0.5 s
    so a worker can still close it. `ddp` (a ``ddp.DDPContext``, under torchrun) trains one
    model on every process of the group: see ``ddp.py``; pass `run_dir` on rank 0 only.

    With `run_dir`, the latest finished epoch's model is also saved (atomically) as
    ``checkpoint.harmodel`` after every epoch, and the folder is locked while the run goes
    (``runs.RunLock``), so a killed run is shown as interrupted and loses at most one epoch.
    `resume` (a ``runs.ResumeInfo``, with `init_bundle` its checkpoint) continues such a run in
    its folder from the epoch after the checkpoint's, on the same learning-rate schedule.

    `frozen`: parameter-name prefixes (e.g. ``"embed."``, ``"blocks.0."``) whose weights
    are not trained (calibration freezes early layers).
    """
    import torch
    import torch.nn.functional as F

    from .. import __version__
    from .. import threads as thread_policy
    from ..model.io import ModelBundle, save_model
    from ..model.vit import TimeSeriesViT
    from . import runs
    from .metrics import evaluate_bundle

    cfg = train_config or TrainConfig()
    control = control or TrainControl()
    _check_compatible(prepared, model_config)
    if init_bundle is not None:
        if init_bundle.model_config != model_config:
            raise ValueError("the starting model has a different model configuration")
        if list(init_bundle.labels) != prepared.labels:
            raise ValueError(f"the starting model knows {', '.join(init_bundle.labels)}; the data "
                             f"has {', '.join(prepared.labels)}")
        if list(init_bundle.channels) != prepared.channels:
            raise ValueError(f"the starting model reads {', '.join(init_bundle.channels)}; the "
                             f"data has {', '.join(prepared.channels)}")
        if init_bundle.features != prepared.features:
            raise ValueError(f"the starting model reads {init_bundle.features.describe()}; the "
                             f"run derives {prepared.features.describe()}")
    device = ddp.device if ddp is not None else resolve_device(cfg.device)
    precision = resolve_precision(device, cfg.precision)
    if device.type == "cpu":   # thread policy (threads.py), recorded in the recipe
        thread_policy.use_threads(thread_policy.training_threads(cfg.threads))
    created = time.strftime("%Y-%m-%dT%H:%M:%S")
    run_dir = Path(run_dir) if run_dir is not None else None
    notes: list[TrainNote] = []

    def note(text: str, level: str = "info") -> TrainNote:
        item = TrainNote(text, level)
        notes.append(item)
        # The caller shows notes to the user; the log keeps a copy without printing it twice.
        log.info("%s: %s", level, text)
        return item

    if resume is not None:
        created = str(resume.config.get("created") or created)
    config_record = run_config(prepared, model_config, cfg, created)
    lock = None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = runs.RunLock(run_dir)  # released by the OS however this process ends
        if resume is None:
            runs.write_config(run_dir, config_record)

    for text in prepared.warnings:
        yield note(text, "warning")
    yield note(f"Training on {describe_device(device)}, "
               f"{'bfloat16 autocast' if precision == 'bf16' else 'float32'}")

    # --- model, data, optimiser ---------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    cpu_gen = torch.Generator().manual_seed(cfg.seed)
    model = TimeSeriesViT(model_config)
    if init_bundle is not None:
        model.load_state_dict(init_bundle.model.state_dict())
        yield note("Starting from the weights of the given model")
    for name, param in model.named_parameters():
        param.requires_grad_(not any(name.startswith(prefix) for prefix in frozen))
    model.to(device)
    model.train()
    forward = model
    if ddp is not None:  # DDP: gradients averaged over the processes at every step
        forward = ddp.wrap(model)
        yield note(ddp.describe())

    if cfg.augment_copies:
        from .augment import expand_training

        prepared = expand_training(prepared, cfg.augment_copies, cfg.seed)
    norm = prepared.normaliser
    mean_t = torch.as_tensor(norm.mean, device=device)
    std_t = torch.as_tensor(norm.std, device=device)
    augmenter = (_Augmenter(prepared.input_channels, norm.std, cpu_gen, device)
                 if cfg.augment else None)
    # Unnormalised inputs (no normalised copy of the whole set); each batch is normalised on
    # the fly, after augmentation, which must see raw units.
    x_train = torch.from_numpy(np.ascontiguousarray(prepared.inputs("train"))).to(device)
    y_train = torch.from_numpy(prepared.train.y).to(device)
    has_val = len(prepared.val) > 0
    if has_val:
        x_val = torch.from_numpy(norm.apply(prepared.inputs("val"))).to(device)
        y_val = torch.from_numpy(prepared.val.y).to(device)
    else:
        yield note("No validation windows: early stopping watches the training loss", "warning")

    classes = len(prepared.labels)
    chance_loss = math.log(classes)  # cross-entropy of a uniform guess
    weight = (torch.as_tensor(class_weight_vector(prepared.train.y, classes), device=device)
              if cfg.class_weights else None)

    def criterion(logits, target, weighted: bool = True):
        # Validation is unweighted (a class absent from training must not zero the mean);
        # label smoothing applies to both so the two curves stay comparable.
        return F.cross_entropy(logits.float(), target, weight=weight if weighted else None,
                               label_smoothing=cfg.label_smoothing)

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    n_train = len(prepared.train)
    batch_size = min(cfg.batch_size, n_train)
    step_batch = batch_size if ddp is None else ddp.local_batch(batch_size)
    shard = n_train if ddp is None else math.ceil(n_train / ddp.world_size)
    batches = math.ceil(shard / step_batch)
    total_steps = cfg.epochs * batches
    warmup_steps = int(round(cfg.warmup_epochs * batches))
    use_bf16 = precision == "bf16"

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def validate() -> tuple[float, float]:
        model.eval()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        step = max(256, batch_size)
        with torch.no_grad(), autocast():
            for i in range(0, len(x_val), step):
                logits = model(x_val[i:i + step])
                target = y_val[i:i + step]
                loss_sum += criterion(logits, target, weighted=False) * len(target)
                correct += (logits.argmax(dim=1) == target).sum()
        model.train()
        n = len(x_val)
        return float(loss_sum) / n, float(correct) / n

    def stop_agreed() -> bool:
        """control.stopped; under DDP, true on every process when true on any."""
        if ddp is None:
            return control.stopped
        agreed = ddp.any(control.stopped, device)
        if agreed:
            control.stop()
        return agreed

    def snapshot() -> dict:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    # --- state ----------------------------------------------------------------------------------
    initial_state = snapshot()
    best_state: dict | None = None
    best_epoch = 0
    best_monitor = math.inf
    bad_epochs = 0
    reference_loss: float | None = None    # first batch's loss, then the first epoch's
    history: list[EpochProgress] = []
    stopped_reason = "completed"
    step = 0
    first_epoch = 1
    if resume is not None:  # continue after the checkpoint's epoch, its weights the best so far
        history = _history_from_rows(resume.history)
        first_epoch, step = resume.epoch + 1, resume.epoch * batches
        last = history[-1]
        best_monitor = last.val_loss if has_val else last.train_loss
        best_epoch, best_state, initial_state = resume.epoch, snapshot(), None
        reference_loss = history[0].train_loss
        yield note(f"Resuming after epoch {resume.epoch} from its checkpoint")
    paused_total = 0.0
    run_t0 = time.perf_counter()
    last_progress: BatchProgress | None = None
    smoothed: float | None = None

    def active_elapsed() -> float:
        return time.perf_counter() - run_t0 - paused_total

    def eta(fraction: float) -> float:
        return active_elapsed() / fraction * (1.0 - fraction) if fraction > 0 else 0.0

    try:
        for epoch in range(first_epoch, cfg.epochs + 1):
            if stop_agreed():
                stopped_reason = "stopped"
                break
            epoch_t0 = time.perf_counter()
            epoch_paused0 = paused_total
            perm = (torch.randperm(n_train, generator=cpu_gen) if ddp is None
                    else ddp.shard(n_train, cfg.seed, epoch)).to(device)
            seen = 0
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            interval_sum = torch.zeros((), device=device)
            interval_n = 0
            last_emit = time.perf_counter()
            diverged_at: str | None = None
            lr = cfg.lr
            for b in range(batches):
                idx = perm[b * step_batch:(b + 1) * step_batch]
                xb = x_train.index_select(0, idx)
                yb = y_train.index_select(0, idx)
                if augmenter is not None:
                    xb = augmenter(xb)
                xb = (xb - mean_t) / std_t
                lr = lr_at(step, total_steps, warmup_steps, cfg.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with autocast():
                    logits = forward(xb)
                loss = criterion(logits, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                step += 1
                detached = loss.detach()
                loss_sum += detached * len(yb)
                seen += len(yb)
                interval_sum += detached
                interval_n += 1
                with torch.no_grad():
                    correct += (logits.argmax(dim=1) == yb).sum()

                now = time.perf_counter()
                first = reference_loss is None
                if first or now - last_emit >= BATCH_PROGRESS_INTERVAL_S or b == batches - 1:
                    mean_loss = float(interval_sum) / interval_n
                    if first:
                        reference_loss = mean_loss if math.isfinite(mean_loss) else None
                    # (under DDP only the epoch's reduced loss is checked, on every process)
                    if ddp is None and _is_diverged(mean_loss, reference_loss, chance_loss):
                        diverged_at = f"epoch {epoch}, batch {b + 1}"
                        break
                    interval_sum.zero_()
                    interval_n = 0
                    smoothed = mean_loss if smoothed is None else 0.7 * smoothed + 0.3 * mean_loss
                    if now - last_emit >= BATCH_PROGRESS_INTERVAL_S or first:
                        fraction = ((epoch - 1) + (b + 1) / batches) / cfg.epochs
                        last_progress = BatchProgress(epoch, cfg.epochs, b + 1, batches,
                                                      float(detached), smoothed, fraction,
                                                      eta(fraction))
                        last_emit = now
                        yield last_progress
                if control.paused:
                    pause_t0 = time.perf_counter()
                    yield note("Paused")
                    while control.paused:
                        if not control.wait_resumed(PAUSE_HEARTBEAT_S) and last_progress:
                            yield last_progress
                    paused_total += time.perf_counter() - pause_t0
                    if not control.stopped:
                        yield note("Resumed")
                if stop_agreed():
                    stopped_reason = "stopped"
                    break

            epoch_correct = float(correct) / n_train
            if diverged_at is None and stopped_reason != "stopped":
                train_loss = float(loss_sum) / n_train
                if ddp is not None:  # the whole epoch's figures, over every process
                    total_loss, total_correct, total_seen = ddp.sum(
                        [float(loss_sum), float(correct), seen], device)
                    train_loss = total_loss / total_seen
                    epoch_correct = total_correct / total_seen
                if _is_diverged(train_loss, reference_loss, chance_loss):
                    diverged_at = f"epoch {epoch}"
            if diverged_at is not None:
                stopped_reason = "diverged"
                kept = f"epoch {best_epoch}" if best_state is not None else "the initial weights"
                yield note(f"Training diverged (the loss became non-finite or exploded) at "
                           f"{diverged_at}; kept the model from {kept}. Try a lower learning "
                           f"rate.", "error")
                break
            if stopped_reason == "stopped":
                what = (f"the model from epoch {best_epoch}"
                        + (" (the best validation loss)" if cfg.keep_best
                           else " (the last finished)")
                        if best_state is not None else "the current weights")
                yield note(f"Stopped during epoch {epoch}; keeping {what}")
                break

            train_seconds = time.perf_counter() - epoch_t0 - (paused_total - epoch_paused0)
            train_acc = epoch_correct
            if epoch == 1:
                reference_loss = train_loss
            val_loss, val_acc = validate() if has_val else (math.nan, math.nan)
            if has_val and _is_diverged(val_loss, None):
                stopped_reason = "diverged"
                yield note(f"Training diverged: the validation loss is {val_loss} at epoch "
                           f"{epoch}; kept the model from epoch {best_epoch}.", "error")
                break
            monitor = val_loss if has_val else train_loss
            is_best = monitor < best_monitor
            if is_best:
                best_monitor, bad_epochs = monitor, 0
            else:
                bad_epochs += 1
            # best_epoch/best_state: the weights kept so far, the best epoch's with keep_best,
            # else the latest finished epoch's (a Stop mid-epoch then keeps a whole epoch).
            kept = is_best or not cfg.keep_best
            if kept:
                best_epoch = epoch
                initial_state = best_state = None  # free before copying
                best_state = snapshot()
            seconds = time.perf_counter() - epoch_t0 - (paused_total - epoch_paused0)
            fraction = epoch / cfg.epochs
            progress = EpochProgress(
                epoch, cfg.epochs, train_loss, train_acc, val_loss, val_acc, lr, seconds,
                n_train / train_seconds if train_seconds > 0 else 0.0, is_best, fraction,
                eta(fraction), kept)
            history.append(progress)
            if run_dir is not None:
                runs.write_history(run_dir, [asdict(h) for h in history])
                save_model(run_dir / runs.CHECKPOINT_FILE, ModelBundle(
                    model=model, model_config=model_config, window=prepared.window,
                    channels=prepared.channels, labels=prepared.labels, normaliser=norm,
                    features=prepared.features, recipe=runs.clean_json({
                        **config_record, "checkpoint": {"epoch": epoch, "is_best": is_best},
                        "history": [asdict(h) for h in history]})))
            yield progress
            if cfg.patience > 0 and bad_epochs >= cfg.patience and epoch < cfg.epochs:
                stopped_reason = "early_stopping"
                watched = "validation" if has_val else "training"
                yield note(f"Early stopping: the {watched} loss has not improved for "
                           f"{bad_epochs} epochs; keeping the model from epoch {best_epoch}"
                           + ("" if cfg.keep_best else " (the last)"))
                break
            if stop_agreed():
                stopped_reason = "stopped"
                yield note(f"Stopped after epoch {epoch}; keeping the model from epoch "
                           f"{best_epoch}" + (" (the best validation loss)" if cfg.keep_best
                                              else " (the last finished)"))
                break
    except GeneratorExit:
        if run_dir is not None:
            try:
                runs.write_report(run_dir, {"stopped_reason": "aborted", "device": str(device),
                                            "precision": precision, "created": created,
                                            "epochs_run": len(history)})
            except OSError:
                log.warning("could not write the report of the aborted run in %s", run_dir)
            lock.release()
        raise

    # --- the kept model, its metrics, the files -----------------------------------------------
    # Without keep_best the latest finished epoch's weights are kept (cross-validation by
    # subject found the best-validation epoch of a few validation people a poor guide to
    # accuracy on others). A stop or early stop already said which; a completed run says it here.
    if not cfg.keep_best and stopped_reason == "completed" and history:
        yield note(f"Keeping the final weights (epoch {best_epoch})")
    if best_state is not None:
        model.load_state_dict(best_state)
    elif stopped_reason == "diverged" and initial_state is not None:
        model.load_state_dict(initial_state)
    initial_state = best_state = None
    model = model.to("cpu").float().eval()
    recipe = {
        **config_record,
        "app_version": __version__,
        "torch_version": torch.__version__,
        "stopped_reason": stopped_reason,
        "device": str(device),
        "precision": precision,
        "threads": thread_policy.describe(torch.get_num_threads()),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "history": [asdict(h) for h in history],
    }
    bundle = ModelBundle(model=model, model_config=model_config, window=prepared.window,
                         channels=prepared.channels, labels=prepared.labels,
                         normaliser=norm, recipe=recipe, features=prepared.features)
    if len(prepared.test):
        evaluated_on, eval_windows = "test", prepared.test
    elif has_val:
        evaluated_on, eval_windows = "validation", prepared.val
        yield note("No test windows: the metrics are on the validation windows", "warning")
    else:
        evaluated_on, eval_windows = "training", prepared.train
        yield note("No test or validation windows: the metrics are on the training windows "
                   "and overstate accuracy", "warning")
    yield note(f"Evaluating on {len(eval_windows)} {evaluated_on} windows")
    metrics = evaluate_bundle(bundle, eval_windows, batch_size=min(batch_size, 256))
    metrics["evaluated_on"] = evaluated_on
    recipe["metrics"] = metrics
    recipe = runs.clean_json(recipe)
    bundle.recipe = recipe

    model_path = None
    if run_dir is not None:
        model_path = run_dir / runs.MODEL_FILE
        save_model(model_path, bundle)
        total = time.perf_counter() - run_t0
        runs.write_report(run_dir, {
            "created": created,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "stopped_reason": stopped_reason,
            "device": str(device),
            "device_name": describe_device(device),
            "precision": precision,
            "best_epoch": best_epoch,
            "epochs_run": len(history),
            "seconds_total": total,
            "seconds_paused": paused_total,
            "seconds_per_epoch": (sum(h.seconds for h in history) / len(history)
                                  if history else None),
            "windows_per_s": (sum(h.windows_per_s for h in history) / len(history)
                              if history else None),
            "model_path": str(model_path),
            "metrics": metrics,
            "notes": [asdict(n) for n in notes],
        })
        (run_dir / runs.CHECKPOINT_FILE).unlink(missing_ok=True)  # model.harmodel has it all
        lock.release()
    summary = (f"Finished ({stopped_reason.replace('_', ' ')}): {evaluated_on} accuracy "
               f"{metrics['accuracy']:.3f}, macro F1 {metrics['f1_macro']:.3f}")
    yield note(summary)
    return TrainResult(bundle=bundle, history=history, metrics=metrics,
                       stopped_reason=stopped_reason, device=str(device), precision=precision,
                       run_dir=run_dir, model_path=model_path, best_epoch=best_epoch,
                       notes=notes)


def _history_from_rows(rows: list[dict]) -> list[EpochProgress]:
    """EpochProgress records back from history.csv rows (``runs.read_history``)."""
    names = [f.name for f in EpochProgress.__dataclass_fields__.values()]
    out = []
    for row in rows:
        values = {k: row[k] for k in names if k in row}
        values["is_best"] = str(values["is_best"]) == "True"
        values["kept"] = str(values.get("kept", values["is_best"])) == "True"
        values.update({k: float(v) if v != "" else math.nan for k, v in values.items()
                       if k not in ("epoch", "epochs", "is_best", "kept")})
        out.append(EpochProgress(**values))
    return out
