"""The training loop as a generator: it yields small progress records and returns the result.

``train`` composes the loop's named steps (``steps.TrainingRun``: set up, one epoch, the
end-of-epoch decisions, the finish); the records it yields are in ``records.py``, the device
and precision rules in ``device.py``.

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

from collections.abc import Generator
from pathlib import Path

from ..progress import run_to_end  # noqa: F401 - callers import it from here
from .config import TrainConfig
from .device import (  # noqa: F401 - the engine's public surface
    cpu_has_fast_bf16,
    describe_device,
    resolve_device,
    resolve_precision,
)
from .prepare import PreparedData
from .records import (  # noqa: F401 - the engine's public surface
    BATCH_PROGRESS_INTERVAL_S,
    BatchProgress,
    EpochProgress,
    TrainControl,
    TrainNote,
    TrainResult,
)
from .steps import RunOptions, TrainingRun


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
    run = TrainingRun(prepared, model_config, train_config, control, run_dir,
                      RunOptions(init_bundle=init_bundle, resume=resume, ddp=ddp,
                                 frozen=tuple(frozen)))
    yield from run.setup()
    try:
        for epoch in run.epochs():
            outcome = yield from run.run_epoch(epoch)
            if not (yield from run.end_epoch(outcome)):
                break
    except GeneratorExit:
        run.abandon()
        raise
    return (yield from run.finish())
