"""The training loop's named steps: set up, one epoch, the end-of-epoch decisions, the finish.

``engine.train`` composes them; each is a small generator of progress records (see
``records.py``) that a test can drive alone. What kind of run it is (a fresh run, fine-tuning
or calibrating from a model, resuming a run folder, one process of a DDP group, some layers
frozen) is a setting (``RunOptions``), not a branch through the loop:

- ``TrainingRun.setup``: device and precision, the run folder (locked, config written), the
  model (fresh, or the starting model's weights; frozen layers), the training tensors and
  augmentation, the optimiser and the state a resumed run continues from;
- ``TrainingRun.run_epoch``: the batches of one epoch with throttled ``BatchProgress``,
  pause and stop between batches, a diverging loss caught; returns an ``EpochOutcome``;
- ``TrainingRun.end_epoch``: stop or divergence, validation, the kept weights, the history and
  checkpoint, early stopping; returns whether to go on;
- ``TrainingRun.finish``: the kept weights, the model bundle, its evaluation, the run's files;
  ``abandon`` records a closed (aborted) run instead.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .device import describe_device, resolve_device, resolve_precision
from .prepare import PreparedData
from .records import (
    BATCH_PROGRESS_INTERVAL_S,
    DIVERGENCE_FACTOR,
    PAUSE_HEARTBEAT_S,
    BatchProgress,
    EpochProgress,
    TrainControl,
    TrainNote,
    TrainResult,
    history_from_rows,
)
from .replay import sample_replay

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Pieces of a step


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


class BatchAugmenter:
    """Rotation about gravity, scaling and jitter on raw-unit batches (see ``engine``)."""

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


def is_diverged(value: float, reference: float | None, floor: float = 0.0) -> bool:
    """Non-finite, or above DIVERGENCE_FACTOR x the reference loss. The reference is floored
    (at the loss of a uniform guess) so a model resumed with a tiny loss is not flagged for
    an ordinary bump."""
    if not math.isfinite(value):
        return True
    if reference is None:
        return False
    return value > DIVERGENCE_FACTOR * max(reference, floor)


def check_compatible(prepared: PreparedData, model_config, init_bundle=None) -> None:
    """ValueError (one line) when the model config, or the starting model, does not fit."""
    expected = (prepared.window.size, len(prepared.input_channels), len(prepared.labels))
    got = (model_config.series, model_config.modal, model_config.classes)
    if expected != got:
        raise ValueError(
            f"model config (series {got[0]}, modal {got[1]}, classes {got[2]}) does not fit the "
            f"data (window {expected[0]}, {expected[1]} channels, {expected[2]} activities)"
        )
    if init_bundle is None:
        return
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
# The run and its steps


@dataclass(frozen=True)
class RunOptions:
    """What kind of run this is. `init_bundle`: start from this model's weights (fine-tuning,
    calibration; same model config, labels, channels and features). `resume`: a
    ``runs.ResumeInfo`` whose checkpoint is `init_bundle`: continue its folder after its
    epoch. `ddp`: a ``ddp.DDPContext`` (one process of a group). `frozen`: parameter-name
    prefixes whose weights are not trained."""

    init_bundle: object | None = None
    resume: object | None = None
    ddp: object | None = None
    frozen: tuple[str, ...] = ()


@dataclass
class EpochOutcome:
    """What ``run_epoch`` measured. `ended`: "" (a whole epoch), "stopped" (mid-epoch),
    "not started" (stopped before its first batch) or "diverged"."""

    epoch: int
    started: float                # perf_counter at the epoch's start
    paused_before: float          # the run's paused seconds at the epoch's start
    train_loss: float = math.nan
    train_acc: float = math.nan
    lr: float = 0.0
    ended: str = ""
    diverged_at: str = ""


class TrainingRun:
    """One run's state, advanced by its steps (see the module docstring)."""

    def __init__(self, prepared: PreparedData, model_config, config: TrainConfig | None = None,
                 control: TrainControl | None = None, run_dir: Path | str | None = None,
                 options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()
        self.cfg = config or TrainConfig()
        self.control = control or TrainControl()
        check_compatible(prepared, model_config, self.options.init_bundle)
        self.prepared = self.source = prepared   # source: before any augmented copies
        self.model_config = model_config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.notes: list[TrainNote] = []
        self.lock = None
        self.history: list[EpochProgress] = []
        self.stopped_reason = "completed"
        self.best_state: dict | None = None
        self.initial_state: dict | None = None
        self.best_epoch = 0
        self.best_monitor = math.inf
        self.bad_epochs = 0
        self.reference_loss: float | None = None   # first batch's loss, then the first epoch's
        self.step = 0
        self.first_epoch = 1
        self.paused_total = 0.0
        self.run_t0 = time.perf_counter()
        self.last_progress: BatchProgress | None = None
        self.smoothed: float | None = None
        self.lr = self.cfg.lr

    # -- helpers ---------------------------------------------------------------------------------

    def note(self, text: str, level: str = "info") -> TrainNote:
        item = TrainNote(text, level)
        self.notes.append(item)
        # The caller shows notes to the user; the log keeps a copy without printing it twice.
        log.info("%s: %s", level, text)
        return item

    def snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def active_elapsed(self) -> float:
        return time.perf_counter() - self.run_t0 - self.paused_total

    def eta(self, fraction: float) -> float:
        return self.active_elapsed() / fraction * (1.0 - fraction) if fraction > 0 else 0.0

    def stop_agreed(self) -> bool:
        """control.stopped; under DDP, true on every process when true on any."""
        ddp = self.options.ddp
        if ddp is None:
            return self.control.stopped
        agreed = ddp.any(self.control.stopped, self.device)
        if agreed:
            self.control.stop()
        return agreed

    def autocast(self):
        import torch

        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                              enabled=self.precision == "bf16")

    def criterion(self, logits, target, weighted: bool = True):
        """Cross-entropy. Validation is unweighted (a class absent from training must not zero
        the mean); label smoothing applies to both so the two curves stay comparable. An
        ensemble in training mode gives each member's logits ``[members, B, classes]``: the
        loss is the mean of the members' own cross-entropies (each learns as if alone)."""
        import torch.nn.functional as F

        if logits.dim() == 3:   # every member's windows as one batch, each with its target
            logits, target = logits.flatten(0, 1), target.repeat(logits.shape[0])
        return F.cross_entropy(logits.float(), target,
                               weight=self.weight if weighted else None,
                               label_smoothing=self.cfg.label_smoothing)

    # -- step 1: set up ----------------------------------------------------------------------------

    def setup(self) -> Generator[TrainNote, None, None]:
        """Device, precision, run folder, model, tensors, optimiser, resumed state."""
        from .. import threads as thread_policy
        from . import runs

        cfg, opts = self.cfg, self.options
        self.device = opts.ddp.device if opts.ddp is not None else resolve_device(cfg.device)
        self.precision = resolve_precision(self.device, cfg.precision)
        if self.device.type == "cpu":   # thread policy (threads.py), recorded in the recipe
            thread_policy.use_threads(thread_policy.training_threads(cfg.threads))
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S")
        if opts.resume is not None:
            self.created = str(opts.resume.config.get("created") or self.created)
        self.config_record = run_config(self.prepared, self.model_config, cfg, self.created)
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.lock = runs.RunLock(self.run_dir)  # released by the OS however this ends
            if opts.resume is None:
                runs.write_config(self.run_dir, self.config_record)
        for text in self.prepared.warnings:
            yield self.note(text, "warning")
        yield self.note(f"Training on {describe_device(self.device)}, "
                        f"{'bfloat16 autocast' if self.precision == 'bf16' else 'float32'}")
        yield from self._build_model()
        yield from self._load_data()
        self._build_optimiser()
        self.initial_state = self.snapshot()
        if opts.resume is not None:
            yield from self._continue_from(opts.resume)
        self.run_t0 = time.perf_counter()

    def _build_model(self) -> Generator[TrainNote, None, None]:
        import torch

        from ..model.vit import build_network, member_free_name

        opts = self.options
        torch.manual_seed(self.cfg.seed)
        self.cpu_gen = torch.Generator().manual_seed(self.cfg.seed)
        model = build_network(self.model_config)
        if opts.init_bundle is not None:
            model.load_state_dict(opts.init_bundle.model.state_dict())
            yield self.note("Starting from the weights of the given model")
        for name, param in model.named_parameters():
            layer = member_free_name(name)   # the same layer of every member of an ensemble
            param.requires_grad_(not any(layer.startswith(prefix) for prefix in opts.frozen))
        model.to(self.device)
        model.train()
        self.model = self.forward = model
        # what one gradient clip covers: the network, or each member of an ensemble
        self.member_parameters = [list(m.parameters())
                                  for m in getattr(model, "members", [model])]
        if opts.ddp is not None:  # DDP: gradients averaged over the processes at every step
            self.forward = opts.ddp.wrap(model)
            yield self.note(opts.ddp.describe())

    def _load_data(self) -> Generator[TrainNote, None, None]:
        import torch

        cfg, device = self.cfg, self.device
        if cfg.augment_copies:
            from .augment import expand_training

            self.prepared = expand_training(self.prepared, cfg.augment_copies, cfg.seed,
                                            pocket=cfg.augment_pocket)
        prepared = self.prepared
        self.norm = norm = prepared.normaliser
        self.mean_t = torch.as_tensor(norm.mean, device=device)
        self.std_t = torch.as_tensor(norm.std, device=device)
        self.augmenter = (BatchAugmenter(prepared.input_channels, norm.std, self.cpu_gen, device)
                          if cfg.augment else None)
        # Unnormalised inputs (no normalised copy of the whole set); each batch is normalised
        # on the fly, after augmentation, which must see raw units.
        self.x_train = torch.from_numpy(np.ascontiguousarray(prepared.inputs("train"))).to(device)
        self.y_train = torch.from_numpy(prepared.train.y).to(device)
        self.has_val = len(prepared.val) > 0
        if self.has_val:
            self.x_val = torch.from_numpy(norm.apply(prepared.inputs("val"))).to(device)
            self.y_val = torch.from_numpy(prepared.val.y).to(device)
        else:
            yield self.note("No validation windows: early stopping watches the training loss",
                            "warning")

    def _build_optimiser(self) -> None:
        import torch

        cfg, ddp = self.cfg, self.options.ddp
        classes = len(self.prepared.labels)
        self.chance_loss = math.log(classes)  # cross-entropy of a uniform guess
        self.weight = (torch.as_tensor(class_weight_vector(self.prepared.train.y, classes),
                                       device=self.device) if cfg.class_weights else None)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr,
            weight_decay=cfg.weight_decay)
        self.n_train = n_train = len(self.prepared.train)
        self.batch_size = min(cfg.batch_size, n_train)
        self.step_batch = self.batch_size if ddp is None else ddp.local_batch(self.batch_size)
        shard = n_train if ddp is None else math.ceil(n_train / ddp.world_size)
        self.batches = math.ceil(shard / self.step_batch)
        self.total_steps = cfg.epochs * self.batches
        self.warmup_steps = int(round(cfg.warmup_epochs * self.batches))

    def _continue_from(self, resume) -> Generator[TrainNote, None, None]:
        """A resumed run: after the checkpoint's epoch, its weights the best so far."""
        self.history = history_from_rows(resume.history)
        self.first_epoch, self.step = resume.epoch + 1, resume.epoch * self.batches
        last = self.history[-1]
        self.best_monitor = last.val_loss if self.has_val else last.train_loss
        self.best_epoch, self.best_state, self.initial_state = resume.epoch, self.snapshot(), None
        self.reference_loss = self.history[0].train_loss
        yield self.note(f"Resuming after epoch {resume.epoch} from its checkpoint")

    def epochs(self) -> range:
        return range(self.first_epoch, self.cfg.epochs + 1)

    # -- step 2: one epoch -----------------------------------------------------------------------

    def run_epoch(self, epoch: int) -> Generator[BatchProgress | TrainNote, None, EpochOutcome]:
        """The batches of `epoch`: returns how it went (a whole epoch, stopped or diverged)."""
        import torch

        cfg, ddp, device = self.cfg, self.options.ddp, self.device
        out = EpochOutcome(epoch, time.perf_counter(), self.paused_total, lr=cfg.lr)
        if self.stop_agreed():
            out.ended = "not started"
            return out
        n_train, batches = self.n_train, self.batches
        perm = (torch.randperm(n_train, generator=self.cpu_gen) if ddp is None
                else ddp.shard(n_train, cfg.seed, epoch)).to(device)
        seen = 0
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        interval_sum = torch.zeros((), device=device)
        interval_n = 0
        last_emit = time.perf_counter()
        for b in range(batches):
            idx = perm[b * self.step_batch:(b + 1) * self.step_batch]
            logits, yb, detached = self._train_batch(idx)
            loss_sum += detached * len(yb)
            seen += len(yb)
            interval_sum += detached
            interval_n += 1
            with torch.no_grad():
                correct += (logits.argmax(dim=1) == yb).sum()
            now = time.perf_counter()
            first = self.reference_loss is None
            if first or now - last_emit >= BATCH_PROGRESS_INTERVAL_S or b == batches - 1:
                mean_loss = float(interval_sum) / interval_n
                if first:
                    self.reference_loss = mean_loss if math.isfinite(mean_loss) else None
                # (under DDP only the epoch's reduced loss is checked, on every process)
                if ddp is None and is_diverged(mean_loss, self.reference_loss, self.chance_loss):
                    out.ended, out.diverged_at = "diverged", f"epoch {epoch}, batch {b + 1}"
                    break
                interval_sum.zero_()
                interval_n = 0
                self.smoothed = (mean_loss if self.smoothed is None
                                 else 0.7 * self.smoothed + 0.3 * mean_loss)
                if now - last_emit >= BATCH_PROGRESS_INTERVAL_S or first:
                    fraction = ((epoch - 1) + (b + 1) / batches) / cfg.epochs
                    self.last_progress = BatchProgress(
                        epoch, cfg.epochs, b + 1, batches, float(detached), self.smoothed,
                        fraction, self.eta(fraction))
                    last_emit = now
                    yield self.last_progress
            if self.control.paused:
                yield from self._hold_paused()
            if self.stop_agreed():
                out.ended = "stopped"
                break
        out.lr = self.lr
        out.train_acc = float(correct) / n_train
        if out.ended:
            return out
        out.train_loss = float(loss_sum) / n_train
        if ddp is not None:  # the whole epoch's figures, over every process
            total_loss, total_correct, total_seen = ddp.sum(
                [float(loss_sum), float(correct), seen], device)
            out.train_loss = total_loss / total_seen
            out.train_acc = total_correct / total_seen
        if is_diverged(out.train_loss, self.reference_loss, self.chance_loss):
            out.ended, out.diverged_at = "diverged", f"epoch {epoch}"
        return out

    def _train_batch(self, idx):
        """One optimiser step on the training windows `idx`: (logits, targets, loss)."""
        import torch

        cfg = self.cfg
        xb = self.x_train.index_select(0, idx)
        yb = self.y_train.index_select(0, idx)
        if self.augmenter is not None:
            xb = self.augmenter(xb)
        xb = (xb - self.mean_t) / self.std_t
        self.lr = lr_at(self.step, self.total_steps, self.warmup_steps, cfg.lr)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        with self.autocast():
            logits = self.forward(xb)
        loss = self.criterion(logits, yb)
        # An ensemble's members ([members, B, classes] logits) step exactly as each would alone:
        # the sum of their losses (each member's gradient its own loss's) and each clipped to
        # grad_clip by itself; the loss shown is their mean, the accuracy their average's.
        members = logits.shape[0] if logits.dim() == 3 else 1
        self.optimizer.zero_grad(set_to_none=True)
        (loss * members).backward()
        if cfg.grad_clip > 0:
            for part in self.member_parameters:
                torch.nn.utils.clip_grad_norm_(part, cfg.grad_clip)
        self.optimizer.step()
        if members > 1:
            from ..model.vit import mean_probability_log

            logits = mean_probability_log(logits.detach())
        self.step += 1
        return logits, yb, loss.detach()

    def _hold_paused(self) -> Generator[BatchProgress | TrainNote, None, None]:
        """While paused: re-yield the last progress every PAUSE_HEARTBEAT_S (so a worker can
        still close the run); the paused time is left out of every rate and ETA."""
        pause_t0 = time.perf_counter()
        yield self.note("Paused")
        while self.control.paused:
            if not self.control.wait_resumed(PAUSE_HEARTBEAT_S) and self.last_progress:
                yield self.last_progress
        self.paused_total += time.perf_counter() - pause_t0
        if not self.control.stopped:
            yield self.note("Resumed")

    # -- step 3: the end-of-epoch decisions ------------------------------------------------------

    def end_epoch(self, out: EpochOutcome) -> Generator[EpochProgress | TrainNote, None, bool]:
        """Stop or divergence, validation, kept weights, history and checkpoint, early
        stopping. Returns True to go on to the next epoch."""
        cfg, epoch = self.cfg, out.epoch
        if out.ended == "diverged":
            yield from self._diverged(f"Training diverged (the loss became non-finite or "
                                      f"exploded) at {out.diverged_at}; kept the model from "
                                      f"{self._kept_text()}. Try a lower learning rate.")
            return False
        if out.ended in ("stopped", "not started"):
            self.stopped_reason = "stopped"
            if out.ended == "stopped":
                what = (f"the model from epoch {self.best_epoch}" + self._keep_rule()
                        if self.best_state is not None else "the current weights")
                yield self.note(f"Stopped during epoch {epoch}; keeping {what}")
            return False
        train_seconds = time.perf_counter() - out.started - (self.paused_total - out.paused_before)
        if epoch == 1:
            self.reference_loss = out.train_loss
        val_loss, val_acc = self.validate() if self.has_val else (math.nan, math.nan)
        if self.has_val and is_diverged(val_loss, None):
            yield from self._diverged(f"Training diverged: the validation loss is {val_loss} at "
                                      f"epoch {epoch}; kept the model from epoch "
                                      f"{self.best_epoch}.")
            return False
        monitor = val_loss if self.has_val else out.train_loss
        is_best = monitor < self.best_monitor
        if is_best:
            self.best_monitor, self.bad_epochs = monitor, 0
        else:
            self.bad_epochs += 1
        # best_epoch/best_state: the weights kept so far, the best epoch's with keep_best,
        # else the latest finished epoch's (a Stop mid-epoch then keeps a whole epoch).
        kept = is_best or not cfg.keep_best
        if kept:
            self.best_epoch = epoch
            self.initial_state = self.best_state = None  # free before copying
            self.best_state = self.snapshot()
        seconds = time.perf_counter() - out.started - (self.paused_total - out.paused_before)
        fraction = epoch / cfg.epochs
        progress = EpochProgress(
            epoch, cfg.epochs, out.train_loss, out.train_acc, val_loss, val_acc, out.lr, seconds,
            self.n_train / train_seconds if train_seconds > 0 else 0.0, is_best, fraction,
            self.eta(fraction), kept)
        self.history.append(progress)
        self._write_checkpoint(epoch, is_best)
        yield progress
        if cfg.patience > 0 and self.bad_epochs >= cfg.patience and epoch < cfg.epochs:
            self.stopped_reason = "early_stopping"
            watched = "validation" if self.has_val else "training"
            yield self.note(f"Early stopping: the {watched} loss has not improved for "
                            f"{self.bad_epochs} epochs; keeping the model from epoch "
                            f"{self.best_epoch}" + ("" if cfg.keep_best else " (the last)"))
            return False
        if self.stop_agreed():
            self.stopped_reason = "stopped"
            yield self.note(f"Stopped after epoch {epoch}; keeping the model from epoch "
                            f"{self.best_epoch}" + self._keep_rule())
            return False
        return True

    def validate(self) -> tuple[float, float]:
        """Loss and accuracy on the validation windows (unweighted loss, eval mode)."""
        import torch

        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        step = max(256, self.batch_size)
        with torch.no_grad(), self.autocast():
            for i in range(0, len(self.x_val), step):
                logits = self.model(self.x_val[i:i + step])
                target = self.y_val[i:i + step]
                loss_sum += self.criterion(logits, target, weighted=False) * len(target)
                correct += (logits.argmax(dim=1) == target).sum()
        self.model.train()
        n = len(self.x_val)
        return float(loss_sum) / n, float(correct) / n

    def _diverged(self, text: str) -> Generator[TrainNote, None, None]:
        self.stopped_reason = "diverged"
        yield self.note(text, "error")

    def _kept_text(self) -> str:
        return f"epoch {self.best_epoch}" if self.best_state is not None else "the initial weights"

    def _keep_rule(self) -> str:
        return " (the best validation loss)" if self.cfg.keep_best else " (the last finished)"

    def bundle(self, recipe: dict):
        """The model as it is now, as a ModelBundle with `recipe`."""
        from ..model.io import ModelBundle

        p = self.prepared
        return ModelBundle(model=self.model, model_config=self.model_config, window=p.window,
                           channels=p.channels, labels=p.labels, normaliser=self.norm,
                           features=p.features, recipe=recipe)

    def _write_checkpoint(self, epoch: int, is_best: bool) -> None:
        """history.csv and checkpoint.harmodel (atomically) after every finished epoch."""
        if self.run_dir is None:
            return
        from ..model.io import save_model
        from . import runs

        history = [asdict(h) for h in self.history]
        runs.write_history(self.run_dir, history)
        save_model(self.run_dir / runs.CHECKPOINT_FILE, self.bundle(runs.clean_json({
            **self.config_record, "checkpoint": {"epoch": epoch, "is_best": is_best},
            "history": history})))

    # -- step 4: the finish ----------------------------------------------------------------------

    def abandon(self) -> None:
        """The generator was closed: record "aborted" in report.json and release the folder."""
        if self.run_dir is None:
            return
        from . import runs

        try:
            runs.write_report(self.run_dir, {
                "stopped_reason": "aborted", "device": str(self.device),
                "precision": self.precision, "created": self.created,
                "epochs_run": len(self.history)})
        except OSError:
            log.warning("could not write the report of the aborted run in %s", self.run_dir)
        if self.lock is not None:
            self.lock.release()

    def finish(self) -> Generator[TrainNote, None, TrainResult]:
        """Restore the kept weights, evaluate the model, write the run's files."""
        import torch

        from .. import __version__
        from .. import threads as thread_policy
        from . import runs
        from .metrics import evaluate_bundle

        cfg = self.cfg
        # Without keep_best the latest finished epoch's weights are kept (cross-validation by
        # subject found the best-validation epoch of a few validation people a poor guide to
        # accuracy on others). A stop or early stop already said which; a completed run says
        # it here.
        if not cfg.keep_best and self.stopped_reason == "completed" and self.history:
            yield self.note(f"Keeping the final weights (epoch {self.best_epoch})")
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        elif self.stopped_reason == "diverged" and self.initial_state is not None:
            self.model.load_state_dict(self.initial_state)
        self.initial_state = self.best_state = None
        self.model = self.model.to("cpu").float().eval()
        recipe = {
            **self.config_record,
            "app_version": __version__,
            "torch_version": torch.__version__,
            "stopped_reason": self.stopped_reason,
            "device": str(self.device),
            "precision": self.precision,
            "threads": thread_policy.describe(torch.get_num_threads()),
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
            "history": [asdict(h) for h in self.history],
        }
        bundle = self.bundle(recipe)
        bundle.replay = sample_replay(self.source, seed=cfg.seed)   # what calibration replays
        evaluated_on, eval_windows = yield from self._evaluation_windows()
        yield self.note(f"Evaluating on {len(eval_windows)} {evaluated_on} windows")
        metrics = evaluate_bundle(bundle, eval_windows, batch_size=min(self.batch_size, 256))
        metrics["evaluated_on"] = evaluated_on
        recipe["metrics"] = metrics
        bundle.recipe = runs.clean_json(recipe)
        model_path = self._write_files(bundle, metrics)
        yield self.note(f"Finished ({self.stopped_reason.replace('_', ' ')}): {evaluated_on} "
                        f"accuracy {metrics['accuracy']:.3f}, macro F1 {metrics['f1_macro']:.3f}")
        return TrainResult(bundle=bundle, history=self.history, metrics=metrics,
                           stopped_reason=self.stopped_reason, device=str(self.device),
                           precision=self.precision, run_dir=self.run_dir, model_path=model_path,
                           best_epoch=self.best_epoch, notes=self.notes)

    def _evaluation_windows(self):
        """("test" | "validation" | "training", the windows the metrics are computed on)."""
        p = self.prepared
        if len(p.test):
            return "test", p.test
        if self.has_val:
            yield self.note("No test windows: the metrics are on the validation windows",
                            "warning")
            return "validation", p.val
        yield self.note("No test or validation windows: the metrics are on the training "
                        "windows and overstate accuracy", "warning")
        return "training", p.train

    def _write_files(self, bundle, metrics: dict) -> Path | None:
        """model.harmodel and report.json/csv in the run folder (none without one)."""
        if self.run_dir is None:
            return None
        from ..model.io import save_model
        from . import runs

        model_path = self.run_dir / runs.MODEL_FILE
        save_model(model_path, bundle)
        history = self.history
        runs.write_report(self.run_dir, {
            "created": self.created,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "stopped_reason": self.stopped_reason,
            "device": str(self.device),
            "device_name": describe_device(self.device),
            "precision": self.precision,
            "best_epoch": self.best_epoch,
            "epochs_run": len(history),
            "seconds_total": time.perf_counter() - self.run_t0,
            "seconds_paused": self.paused_total,
            "seconds_per_epoch": (sum(h.seconds for h in history) / len(history)
                                  if history else None),
            "windows_per_s": (sum(h.windows_per_s for h in history) / len(history)
                              if history else None),
            "model_path": str(model_path),
            "metrics": metrics,
            "notes": [asdict(n) for n in self.notes],
        })
        (self.run_dir / runs.CHECKPOINT_FILE).unlink(missing_ok=True)  # model.harmodel has it
        self.lock.release()
        return model_path
