"""The training engine: progress, stop/pause/close, early stopping, divergence, seeds, runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import drain

from har_studio.data.demo import demo_dataset, demo_frame
from har_studio.data.splits import SplitConfig
from har_studio.data.windows import WindowConfig
from har_studio.training import (
    BatchProgress,
    EpochProgress,
    TrainConfig,
    TrainControl,
    TrainNote,
    TrainResult,
    default_model_config,
    engine,
    list_runs,
    load_run,
    new_run_dir,
    prepare_data,
    run_to_end,
    steps,
    train,
)
from har_studio.training.runs import CONFIG_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE

TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)
FAST = dict(batch_size=32, device="cpu", precision="fp32")



@pytest.fixture(scope="module")
def prepared():
    dataset = demo_dataset(subjects=4, seconds_per_activity=12.0,
                           activities=("walking", "jogging", "sitting", "standing"))
    return prepare_data(dataset, WindowConfig(size=32, step=16), SplitConfig(seed=1))


def _config(prepared):
    return default_model_config(prepared, **TINY)


def _val_loss_of(bundle, windows) -> float:
    proba = bundle.predict_proba(windows.X).astype(np.float64)
    return float(-np.mean(np.log(proba[np.arange(len(windows)), windows.y])))


def test_prepare_data_splits_and_normalises_on_training_windows(prepared):
    assert len(prepared.train) and len(prepared.val) and len(prepared.test)
    assert set(prepared.split.test_subjects).isdisjoint(prepared.split.train_subjects)
    assert prepared.labels == ["walking", "jogging", "sitting", "standing"]
    flat = prepared.train.X.reshape(-1, 3)
    np.testing.assert_allclose(prepared.normaliser.mean, flat.mean(axis=0), rtol=1e-4, atol=1e-4)
    config = _config(prepared)
    assert (config.series, config.modal, config.classes) == (32, 3, 4)
    with pytest.raises(ValueError, match="classes must be 4"):
        default_model_config(prepared, classes=5)


def test_prepare_data_rejects_what_cannot_be_trained():
    frame = demo_frame(subjects=3, seconds_per_activity=1.0, activities=("walking", "sitting"))
    with pytest.raises(ValueError, match="no windows"):
        prepare_data(frame, WindowConfig(size=32, step=16))
    frame = demo_frame(subjects=3, seconds_per_activity=5.0, activities=("walking", "sitting"))
    with pytest.raises(ValueError, match="at least two activities"):
        prepare_data(frame, WindowConfig(size=32, step=16), activities=["walking"])
    with pytest.raises(ValueError, match="has no jogging"):
        prepare_data(frame, WindowConfig(size=32, step=16), activities=["walking", "jogging"])


def test_prepare_data_warns_about_a_class_missing_from_training():
    frame = demo_frame(subjects=3, seconds_per_activity=5.0, activities=("walking", "sitting"))
    # subject 1 is the only one who sat, and it is the test subject
    frame = frame[(frame["activity"] == "walking") | (frame["subject"] == 1)].reset_index(drop=True)
    prepared = prepare_data(frame, WindowConfig(size=32, step=16),
                            SplitConfig(test_subjects=(1,), val_subjects=(2,)))
    assert any("no training windows for sitting" in w for w in prepared.warnings)


def test_train_yields_progress_and_returns_a_result(prepared, tmp_path):
    items, result = drain(train(prepared, _config(prepared), TrainConfig(epochs=2, **FAST)))
    batches = [i for i in items if isinstance(i, BatchProgress)]
    epochs = [i for i in items if isinstance(i, EpochProgress)]
    notes = [i for i in items if isinstance(i, TrainNote)]
    assert batches and len(epochs) == 2
    for p in batches:
        assert math.isfinite(p.loss) and math.isfinite(p.smoothed_loss) and 0 < p.fraction <= 1
    for e in epochs:
        for value in (e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.lr, e.seconds,
                      e.windows_per_s):
            assert math.isfinite(value)
    assert epochs[-1].fraction == pytest.approx(1.0)
    assert any("CPU" in n.text for n in notes)
    assert isinstance(result, TrainResult)
    assert result.stopped_reason == "completed" and result.device == "cpu"
    assert result.precision == "fp32" and result.run_dir is None and result.model_path is None
    assert result.history == epochs
    m = result.metrics
    assert m["windows"] == len(prepared.test) and m["evaluated_on"] == "test"
    assert 0.0 <= m["accuracy"] <= 1.0 and m["parameters"] > 0 and m["macs"] > 0
    assert np.asarray(m["confusion"]).sum() == len(prepared.test)
    assert result.bundle.labels == prepared.labels
    assert result.bundle.recipe["split"]["test_subjects"] == prepared.split.test_subjects
    assert result.bundle.recipe["training"]["epochs"] == 2


def test_batch_progress_is_throttled(prepared, monkeypatch):
    """By the interval, not by a clock read here: an interval longer than the run lets only
    the first batch through, a zero interval every batch. (How many a second a real run
    yields: bench/bench_train.py, batch_progress_per_s.)"""
    config = TrainConfig(epochs=3, batch_size=8, device="cpu", precision="fp32")
    total = 3 * math.ceil(len(prepared.train) / 8)
    monkeypatch.setattr(steps, "BATCH_PROGRESS_INTERVAL_S", 1e9)
    items, _ = drain(train(prepared, _config(prepared), config))
    batches = [i for i in items if isinstance(i, BatchProgress)]
    assert [(b.epoch, b.batch) for b in batches] == [(1, 1)]
    monkeypatch.setattr(steps, "BATCH_PROGRESS_INTERVAL_S", 0.0)
    items, _ = drain(train(prepared, _config(prepared), config))
    batches = [i for i in items if isinstance(i, BatchProgress)]
    assert len(batches) == total
    assert [b.batch for b in batches[:3]] == [1, 2, 3] and batches[-1].fraction == 1.0


# What this recipe reaches on the fixture's 56 test windows (1 window = 1.8 points), measured
# for TrainConfig seeds 0-7 at commit 55cfdfa (the command: the test's docstring):
# accuracy 0.821 (seeds 0, 2, 5: the worst), 0.857, 0.875, 0.875, 0.911, 1.0; macro F1 0.795 at
# worst. The floors sit four windows below the worst seed: a drop to 0.55 fails, a change
# of the random stream does not.
QUALITY_FLOOR = {"accuracy": 0.75, "f1_macro": 0.72}


def test_training_learns_the_demo_activities(prepared):
    """Measured with the fixture's data and this recipe, one run per seed:
    ``for seed in 0..7: run_to_end(train(prepared, _config(prepared), TrainConfig(epochs=6,
    lr=3e-3, patience=0, seed=seed, **FAST))).metrics``."""
    result = run_to_end(train(prepared, _config(prepared),
                              TrainConfig(epochs=6, lr=3e-3, patience=0, **FAST)))
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.metrics["windows"] == 56
    for name, floor in QUALITY_FLOOR.items():   # 4 classes: chance is 0.25
        assert result.metrics[name] >= floor, (name, result.metrics[name])


def test_close_mid_training_abandons_the_run(prepared, tmp_path):
    run_dir = new_run_dir("closed", root=tmp_path)
    gen = train(prepared, _config(prepared), TrainConfig(epochs=5, **FAST), run_dir=run_dir)
    while not isinstance(next(gen), BatchProgress):
        pass
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)
    report = json.loads((run_dir / REPORT_FILE).read_text())
    assert report["stopped_reason"] == "aborted"
    assert not (run_dir / MODEL_FILE).exists()


def test_stop_keeps_the_best_model_so_far(prepared, monkeypatch):
    monkeypatch.setattr(steps, "BATCH_PROGRESS_INTERVAL_S", 0.0)  # progress after every batch
    control = TrainControl()
    gen = train(prepared, _config(prepared), TrainConfig(epochs=5, patience=0, **FAST),
                control=control)
    first_epoch = None
    items = []
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        items.append(item)
        if isinstance(item, EpochProgress):
            first_epoch = item
        if first_epoch is not None and isinstance(item, BatchProgress) and item.epoch == 2:
            control.stop()
    assert result.stopped_reason == "stopped" and control.stopped
    assert len(result.history) == 1 and result.best_epoch == 1
    assert any(isinstance(i, TrainNote) and "Stopped" in i.text for i in items)
    # The kept weights are epoch 1's, not the partly trained epoch-2 ones.
    assert _val_loss_of(result.bundle, prepared.val) == pytest.approx(first_epoch.val_loss,
                                                                      rel=1e-4)


def test_pause_and_resume(prepared):
    control = TrainControl()
    gen = train(prepared, _config(prepared), TrainConfig(epochs=1, **FAST), control=control)
    item = next(gen)
    while not isinstance(item, BatchProgress):
        item = next(gen)
    control.pause()
    assert control.paused
    note = next(gen)
    assert isinstance(note, TrainNote) and note.text == "Paused"
    heartbeat = next(gen)  # while paused the last progress is repeated (so close() can act)
    assert heartbeat == item
    control.resume()
    assert not control.paused
    resumed = next(gen)
    while resumed == item:
        resumed = next(gen)
    assert isinstance(resumed, TrainNote) and resumed.text == "Resumed"
    _, result = drain(gen)
    assert result.stopped_reason == "completed" and len(result.history) == 1


def test_stop_while_paused_ends_the_run(prepared):
    control = TrainControl()
    gen = train(prepared, _config(prepared), TrainConfig(epochs=3, **FAST), control=control)
    while not isinstance(next(gen), BatchProgress):
        pass
    control.pause()
    assert next(gen).text == "Paused"
    control.stop()
    assert not control.paused
    _, result = drain(gen)
    assert result.stopped_reason == "stopped"


def test_early_stopping_when_nothing_is_learned(prepared):
    items, result = drain(train(prepared, _config(prepared),
                                 TrainConfig(epochs=10, lr=0.0, patience=2, **FAST)))
    assert result.stopped_reason == "early_stopping"
    assert len(result.history) == 3 and result.best_epoch == 1
    assert [h.is_best for h in result.history] == [True, False, False]
    assert any(isinstance(i, TrainNote) and "Early stopping" in i.text for i in items)


def test_same_seed_same_history_on_cpu(prepared):
    cfg = TrainConfig(epochs=2, augment=True, class_weights=True, label_smoothing=0.1,
                      seed=7, **FAST)

    def history(config):
        result = run_to_end(train(prepared, _config(prepared), config))
        return [(h.train_loss, h.train_acc, h.val_loss, h.val_acc, h.lr) for h in result.history]

    first = history(cfg)
    assert history(cfg) == first
    assert history(TrainConfig(**{**cfg.to_dict(), "seed": 8})) != first


def test_divergence_stops_with_an_error_note(prepared, monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}
    batches_per_epoch = math.ceil(len(prepared.train) / FAST["batch_size"])

    def exploding(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        # fine for epoch 1 (training + validation), NaN from the middle of epoch 2 on
        return loss * float("nan") if calls["n"] > batches_per_epoch + 4 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", exploding)
    items, result = drain(train(prepared, _config(prepared),
                                 TrainConfig(epochs=4, patience=0, **FAST)))
    monkeypatch.undo()
    errors = [i for i in items if isinstance(i, TrainNote) and i.level == "error"]
    assert result.stopped_reason == "diverged"
    assert len(errors) == 1 and "diverged" in errors[0].text
    assert len(result.history) == 1 and result.best_epoch == 1
    for tensor in result.bundle.model.state_dict().values():
        assert torch.isfinite(tensor).all()
    assert np.isfinite(result.bundle.predict_proba(prepared.test.X)).all()


def test_huge_learning_rate_diverges(prepared):
    items, result = drain(train(prepared, _config(prepared),
                                 TrainConfig(epochs=3, lr=1e6, warmup_epochs=0, grad_clip=0,
                                             **FAST)))
    assert result.stopped_reason == "diverged"
    assert any(isinstance(i, TrainNote) and i.level == "error" for i in items)


def test_without_validation_early_stopping_watches_training_loss():
    frame = demo_frame(subjects=2, seconds_per_activity=8.0, activities=("walking", "sitting"))
    prepared = prepare_data(frame, WindowConfig(size=32, step=16),
                            SplitConfig(kind="random", val_fraction=0.0, test_fraction=0.3))
    assert len(prepared.val) == 0
    items, result = drain(train(prepared, _config(prepared), TrainConfig(epochs=1, **FAST)))
    assert any(isinstance(i, TrainNote) and "training loss" in i.text for i in items)
    assert any(isinstance(i, TrainNote) and "Random window split" in i.text for i in items)
    assert math.isnan(result.history[0].val_loss) and result.history[0].is_best


def test_without_test_windows_metrics_use_validation():
    frame = demo_frame(subjects=2, seconds_per_activity=8.0, activities=("walking", "sitting"))
    prepared = prepare_data(frame, WindowConfig(size=32, step=16),
                            SplitConfig(kind="random", val_fraction=0.3, test_fraction=0.0))
    items, result = drain(train(prepared, _config(prepared), TrainConfig(epochs=1, **FAST)))
    assert result.metrics["evaluated_on"] == "validation"
    assert result.metrics["windows"] == len(prepared.val)
    assert any(isinstance(i, TrainNote) and "validation windows" in i.text and
               i.level == "warning" for i in items)


def test_resume_from_a_bundle_starts_from_its_weights(prepared):
    first = run_to_end(train(prepared, _config(prepared), TrainConfig(epochs=1, **FAST)))
    again = run_to_end(train(prepared, _config(prepared),
                             TrainConfig(epochs=1, lr=0.0, seed=5, **FAST),
                             init_bundle=first.bundle))
    for name, tensor in first.bundle.model.state_dict().items():
        torch.testing.assert_close(again.bundle.model.state_dict()[name], tensor)
    other = default_model_config(prepared, **{**TINY, "embedding_dim": 8})
    with pytest.raises(ValueError, match="different model configuration"):
        next(train(prepared, other, TrainConfig(epochs=1, **FAST), init_bundle=first.bundle))


def test_run_folder_contents_and_listing(prepared, tmp_path):
    older = new_run_dir("first", root=tmp_path)
    run_to_end(train(prepared, _config(prepared), TrainConfig(epochs=1, **FAST), run_dir=older))
    newer = new_run_dir("second", root=tmp_path)
    result = run_to_end(train(prepared, _config(prepared), TrainConfig(epochs=2, **FAST),
                              run_dir=newer))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / CONFIG_FILE).write_text("{not json")
    (tmp_path / "stray.txt").write_text("x")

    for name in (CONFIG_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE, "report.csv"):
        assert (newer / name).is_file(), name
    config = json.loads((newer / CONFIG_FILE).read_text())
    assert config["model"]["embedding_dim"] == 16 and config["training"]["epochs"] == 2
    assert config["window"]["size"] == 32 and config["labels"] == prepared.labels
    assert config["split"]["test_subjects"] == prepared.split.test_subjects
    assert len((newer / HISTORY_FILE).read_text().strip().splitlines()) == 1 + 2
    assert result.model_path == newer / MODEL_FILE

    from har_studio.model.io import load_model

    loaded = load_model(result.model_path)
    assert loaded.recipe["metrics"]["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert loaded.recipe["split"]["test_subjects"] == prepared.split.test_subjects
    np.testing.assert_allclose(loaded.predict_proba(prepared.test.X),
                               result.bundle.predict_proba(prepared.test.X), atol=1e-6)

    listed = list_runs(tmp_path)
    assert [r.folder for r in listed] == [newer, older]
    assert listed[0].epochs == 2 and listed[0].stopped_reason == "completed"
    assert listed[0].accuracy == pytest.approx(result.metrics["accuracy"])

    record = load_run(newer)
    assert [row["epoch"] for row in record.history] == [1, 2]
    assert record.history[1]["train_loss"] == pytest.approx(result.history[1].train_loss)
    assert record.metrics["f1_macro"] == pytest.approx(result.metrics["f1_macro"])
    assert record.model_path == newer / MODEL_FILE and record.created
    with pytest.raises(ValueError, match="not a readable training run"):
        load_run(tmp_path / "broken")


def test_runs_default_to_the_user_folder(_isolated_user_folder):
    folder = new_run_dir("x y/z")
    assert folder.parent == _isolated_user_folder / "runs" and folder.name.endswith("-x-y-z")
    assert new_run_dir("x y/z") != folder
    assert list_runs() == []


def test_augmentation_rotates_about_gravity():
    gen = torch.Generator().manual_seed(0)
    aug = steps.BatchAugmenter(["x", "y", "z", "gx", "gy", "gz"], np.ones(6, np.float32), gen,
                            torch.device("cpu"), scale=0.0, jitter=0.0)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(8, 32, 6)).astype(np.float32))
    x[:, :, 1] += 9.81  # gravity mostly along y
    out = aug(x)
    assert not torch.allclose(out, x)
    # a rotation keeps each sample's length and the window's mean (gravity) direction
    torch.testing.assert_close(out[..., :3].norm(dim=-1), x[..., :3].norm(dim=-1), rtol=1e-4,
                               atol=1e-4)
    torch.testing.assert_close(out[..., 3:].norm(dim=-1), x[..., 3:].norm(dim=-1), rtol=1e-4,
                               atol=1e-4)
    torch.testing.assert_close(out[..., :3].mean(dim=1), x[..., :3].mean(dim=1), rtol=1e-4,
                               atol=1e-4)
    noisy = steps.BatchAugmenter(["x", "y", "z"], np.ones(3, np.float32), gen, torch.device("cpu"),
                              rotate=False)(x[..., :3])
    assert not torch.allclose(noisy, x[..., :3])


def test_learning_rate_schedule_and_class_weights():
    peak = 1e-3
    assert steps.lr_at(0, 100, 10, peak) == pytest.approx(peak / 10)
    assert steps.lr_at(9, 100, 10, peak) == pytest.approx(peak)
    assert steps.lr_at(10, 100, 10, peak) == pytest.approx(peak)
    assert steps.lr_at(55, 100, 10, peak) == pytest.approx(peak / 2)
    assert steps.lr_at(99, 100, 10, peak) < peak * 0.01
    w = steps.class_weight_vector(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 6, 4 / 2, 0.0])


def test_device_and_precision_choice():
    cpu = engine.resolve_device("cpu")
    assert cpu.type == "cpu"
    assert engine.resolve_precision(cpu, "fp32") == "fp32"
    assert engine.resolve_precision(cpu, "bf16") == "bf16"
    expected = "bf16" if engine.cpu_has_fast_bf16() else "fp32"
    assert engine.resolve_precision(cpu, "auto") == expected
    if not torch.cuda.is_available():
        assert engine.resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ValueError, match="CUDA"):
            engine.resolve_device("cuda")


def test_train_config_validation():
    assert TrainConfig.from_dict(TrainConfig(epochs=3).to_dict()) == TrainConfig(epochs=3)
    for bad in ({"epochs": 0}, {"lr": -1.0}, {"lr": float("nan")}, {"device": "tpu"},
                {"precision": "fp16"}, {"label_smoothing": 1.0}, {"batch_size": 2.5}):
        with pytest.raises(ValueError):
            TrainConfig.from_dict(bad)
    with pytest.raises(ValueError, match="unknown training setting"):
        TrainConfig.from_dict({"epoch": 3})


def test_bf16_autocast_trains(prepared):
    result = run_to_end(train(prepared, _config(prepared),
                              TrainConfig(epochs=1, batch_size=32, device="cpu",
                                          precision="bf16")))
    assert result.precision == "bf16" and math.isfinite(result.history[0].train_loss)


def test_frame_without_report_has_no_data_files():
    frame = demo_frame(subjects=3, seconds_per_activity=4.0, activities=("walking", "sitting"))
    prepared = prepare_data(frame, WindowConfig(size=32, step=16))
    assert prepared.data_files == [] and isinstance(frame, pd.DataFrame)
