"""The training loop's named steps (training/steps.py), each driven alone, and the generator
that composes them giving the same weights bit for bit for the same seed."""

from __future__ import annotations

import hashlib
import math

import pytest
from tiny_models import drain

from har_studio.data.demo import demo_dataset
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.progress import run_to_end
from har_studio.training import TrainConfig, TrainControl, default_model_config, prepare_data, train
from har_studio.training.records import BatchProgress, EpochProgress, TrainNote
from har_studio.training.steps import EpochOutcome, RunOptions, TrainingRun

TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)


@pytest.fixture(scope="module")
def prepared():
    dataset = demo_dataset(subjects=4, seconds_per_activity=10.0,
                           activities=("walking", "jogging", "sitting"))
    return prepare_data(dataset, WindowConfig(size=32, step=16), SplitConfig(seed=2))


def _config(epochs=2, **kw):
    return TrainConfig(epochs=epochs, batch_size=32, device="cpu", precision="fp32", **kw)


def _weights_digest(bundle) -> str:
    h = hashlib.sha256()
    for name, value in sorted(bundle.model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_same_seed_gives_the_same_weights_bit_for_bit(prepared):
    """Two short runs with the same seed (augmentation and augmented copies on: every random
    draw of the loop) end with identical weights; another seed does not."""
    model_config = default_model_config(prepared, **TINY)
    cfg = _config(epochs=2, seed=7, augment=True, augment_copies=1)
    first = run_to_end(train(prepared, model_config, cfg))
    second = run_to_end(train(prepared, model_config, cfg))
    other = run_to_end(train(prepared, model_config, _config(epochs=2, seed=8, augment=True,
                                                             augment_copies=1)))
    assert _weights_digest(first.bundle) == _weights_digest(second.bundle)
    assert [h.train_loss for h in first.history] == [h.train_loss for h in second.history]
    assert _weights_digest(first.bundle) != _weights_digest(other.bundle)


def test_the_steps_driven_one_by_one(prepared):
    """setup, run_epoch, end_epoch and finish, each alone: what each yields and returns."""
    run = TrainingRun(prepared, default_model_config(prepared, **TINY), _config(epochs=2))
    notes, _ = drain(run.setup())
    assert all(isinstance(n, TrainNote) for n in notes)
    assert any("Training on CPU" in n.text for n in notes)
    assert list(run.epochs()) == [1, 2]
    items, outcome = drain(run.run_epoch(1))
    assert isinstance(outcome, EpochOutcome) and outcome.ended == ""
    assert math.isfinite(outcome.train_loss) and 0.0 <= outcome.train_acc <= 1.0
    assert run.step == run.batches
    assert all(isinstance(i, BatchProgress) for i in items) and items
    items, go_on = drain(run.end_epoch(outcome))
    assert go_on is True
    assert [type(i) for i in items] == [EpochProgress]
    assert run.best_epoch == 1 and run.best_state is not None and len(run.history) == 1
    _, result = drain(run.finish())
    assert result.best_epoch == 1 and result.history == run.history
    assert result.stopped_reason == "completed"


def test_end_epoch_decides_early_stopping_and_stop(prepared):
    """The end-of-epoch step alone: a monitor that does not improve stops the run after
    `patience` epochs; a stop asked for during the epoch ends it with a note."""
    control = TrainControl()
    run = TrainingRun(prepared, default_model_config(prepared, **TINY),
                      _config(epochs=5, patience=1), control)
    drain(run.setup())
    _, outcome = drain(run.run_epoch(1))
    _, go_on = drain(run.end_epoch(outcome))
    assert go_on
    run.best_monitor = -math.inf           # nothing can improve on it any more
    _, outcome = drain(run.run_epoch(2))
    items, go_on = drain(run.end_epoch(outcome))
    assert not go_on and run.stopped_reason == "early_stopping"
    assert any(isinstance(i, TrainNote) and "Early stopping" in i.text for i in items)

    stopped = TrainingRun(prepared, default_model_config(prepared, **TINY), _config(epochs=3),
                          control=TrainControl())
    drain(stopped.setup())
    stopped.control.stop()
    _, outcome = drain(stopped.run_epoch(1))
    assert outcome.ended == "not started"
    _, go_on = drain(stopped.end_epoch(outcome))
    assert not go_on and stopped.stopped_reason == "stopped"


def test_frozen_layers_are_a_setting(prepared):
    """RunOptions.frozen: the named parameters keep the starting model's values."""
    model_config = default_model_config(prepared, **TINY)
    base = run_to_end(train(prepared, model_config, _config(epochs=1)))
    run = TrainingRun(prepared, model_config, _config(epochs=1, seed=3),
                      options=RunOptions(init_bundle=base.bundle, frozen=("embed.",)))
    result = run_to_end(iter_steps(run))
    before, after = base.bundle.model.state_dict(), result.bundle.model.state_dict()
    frozen = [k for k in before if k.startswith("embed.")]
    trained = [k for k in before if k.startswith("head")]
    assert frozen and trained
    assert all((before[k] == after[k]).all() for k in frozen)
    assert any((before[k] != after[k]).any() for k in trained)


def iter_steps(run):
    """The composition engine.train uses, written out (what a reader of engine.py sees)."""
    yield from run.setup()
    for epoch in run.epochs():
        outcome = yield from run.run_epoch(epoch)
        if not (yield from run.end_epoch(outcome)):
            break
    return (yield from run.finish())
