"""Issue 13, a newcomer's walk-through: recordings made from a phone stream are usable as they
are (the model's rate), and a model fine-tunes on one person's recording of one activity."""

from __future__ import annotations

import numpy as np
import pytest

from har_studio.data.demo import demo_dataset, demo_frame
from har_studio.data.loaders import load
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.live.recorder import StreamRecorder
from har_studio.live.source import SampleBatch
from har_studio.training import TrainConfig, default_model_config, prepare_data, run_to_end, train
from har_studio.training.jobs import resume_problem, train_model

TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)
FAST = dict(batch_size=32, device="cpu", precision="fp32")
ACTS = ("walking", "jogging", "sitting", "standing")


@pytest.fixture(scope="module")
def bundle():
    data = demo_dataset(subjects=4, seconds_per_activity=12.0, activities=ACTS)
    prepared = prepare_data(data, WindowConfig(size=32, step=16), SplitConfig(seed=1))
    return run_to_end(train(prepared, default_model_config(prepared, **TINY),
                            TrainConfig(epochs=1, **FAST))).bundle


def _record_50hz(path, seconds: float, activity: str = "walking", rate_hz=20.0) -> StreamRecorder:
    """What the Live tab writes while a phone streams walking at 50 Hz in batches of 25."""
    frame = demo_frame(subjects=1, seconds_per_activity=seconds, activities=(activity,),
                       rate_hz=50.0)
    values = frame[["x", "y", "z"]].to_numpy(np.float32)
    t = np.arange(len(values)) / 50.0 + 1000.0
    with StreamRecorder(path, 42, activity, rate_hz=rate_hz) as rec:
        for lo in range(0, len(values), 25):
            rec.write(SampleBatch(t[lo:lo + 25], values[lo:lo + 25], channels=("x", "y", "z")))
    return rec


def test_a_50hz_stream_is_recorded_at_the_models_rate(tmp_path):
    rec = _record_50hz(tmp_path / "walk.txt", 20.0)
    assert rec.resampled and abs(rec.source_rate_hz - 50.0) < 1.0
    assert "20 Hz (resampled from the 50 Hz stream)" == rec.describe_rate()
    data = load([tmp_path / "walk.txt"])
    assert abs(data.report.sampling_hz - 20.0) < 0.2
    assert abs(rec.samples - 20.0 * 20) <= 2
    assert not any("mixed sampling rates" in w for w in data.report.warnings)


def test_loading_files_of_different_rates_together_warns(tmp_path):
    _record_50hz(tmp_path / "fast.txt", 20.0, rate_hz=None)    # as the stream arrived
    _record_50hz(tmp_path / "slow.txt", 60.0, activity="jogging")
    _record_50hz(tmp_path / "slow2.txt", 60.0, activity="sitting")
    warnings = load(sorted(tmp_path.iterdir())).report.warnings
    (text,) = [w for w in warnings if "mixed sampling rates" in w]
    assert "walking (50 Hz)" in text and "most recordings are at 20 Hz" in text


def test_a_single_activity_recording_fine_tunes_a_model_that_knows_it(tmp_path, bundle):
    _record_50hz(tmp_path / "walk.txt", 30.0)
    data = load([tmp_path / "walk.txt"])
    window = WindowConfig(size=bundle.window.size, step=8)
    assert resume_problem(bundle, window_size=window.size, channels=["x", "y", "z"],
                          labels=data.report.activities and list(data.report.activities)) is None
    assert "does not know" in resume_problem(bundle, window_size=window.size,
                                              channels=["x", "y", "z"], labels=["cycling"])
    gen = train_model(data, window=window, split=SplitConfig(), train_config=TrainConfig(
        epochs=1, **FAST), init_bundle=bundle, run_dir=tmp_path / "run")
    items = []
    try:
        while True:
            items.append(next(gen))
    except StopIteration as stop:
        result = stop.value
    notes = " ".join(getattr(i, "text", "") for i in items)
    assert "split by window" in notes
    assert list(result.bundle.labels) == list(bundle.labels)   # still knows all four
    assert result.bundle.window.rate_hz == 20.0


def test_stop_without_keep_best_says_once_which_epoch_is_kept(monkeypatch):
    from har_studio.training import BatchProgress, EpochProgress, TrainControl, TrainNote, steps

    monkeypatch.setattr(steps, "BATCH_PROGRESS_INTERVAL_S", 0.0)
    data = demo_dataset(subjects=4, seconds_per_activity=12.0, activities=ACTS)
    prepared = prepare_data(data, WindowConfig(size=32, step=16), SplitConfig(seed=1))
    control = TrainControl()
    gen = train(prepared, default_model_config(prepared, **TINY),
                TrainConfig(epochs=6, patience=0, keep_best=False, lr=5e-2, **FAST),
                control=control)
    items = []

    def on_item(item) -> None:
        items.append(item)
        if isinstance(item, BatchProgress) and item.epoch == 4:
            control.stop()

    result = run_to_end(gen, on_item)
    epochs = [i for i in items if isinstance(i, EpochProgress)]
    assert len(epochs) == 3 and result.best_epoch == 3
    kept_notes = [i.text for i in items if isinstance(i, TrainNote) and "keep" in i.text.lower()]
    assert kept_notes == ["Stopped during epoch 4; keeping the model from epoch 3 "
                          "(the last finished)"]
    # the star of the curves sits on the kept epoch, whatever epoch had the best val loss
    assert [e.kept for e in epochs] == [True, True, True]
    final = [e.epoch for e in epochs if e.kept][-1]
    assert final == result.best_epoch
    # and the weights are epoch 3's whole, not epoch 4's partly trained ones
    val_loss = epochs[-1].val_loss
    proba = result.bundle.predict_proba(prepared.val.X).astype(np.float64)
    loss = float(-np.mean(np.log(proba[np.arange(len(proba)), prepared.val.y] + 1e-12)))
    assert loss == pytest.approx(val_loss, rel=1e-3)
