"""Leave-subjects-out cross-validation: folds, the generator end to end on tiny data, the
remembered figures and the guidance shown next to a random split, presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import drain

from har_studio.data.demo import demo_frame
from har_studio.data.features import FeatureConfig
from har_studio.data.splits import subject_folds
from har_studio.data.windows import WindowConfig
from har_studio.training.config import TrainConfig
from har_studio.training.crossval import (
    CVResult,
    FoldFinished,
    FoldProgress,
    cross_validate,
    data_settings,
    find_cv,
    pick_val_subjects,
    random_split_guidance,
    remember_cv,
)
from har_studio.training.engine import EpochProgress, TrainControl
from har_studio.training.presets import DEFAULT_PRESET, PRESETS, get_preset

TINY = dict(embedding_dim=16, head_width=32, depth=2, head_num=2, att_size=8)
FAST = TrainConfig(epochs=2, batch_size=32, patience=0, device="cpu", precision="fp32")
ACTS = ["walking", "jogging", "sitting", "standing"]
WINDOW = WindowConfig(size=32, step=16)



@pytest.fixture(scope="module")
def frame():
    return demo_frame(subjects=5, seconds_per_activity=8.0, activities=ACTS, seed=3)


@pytest.mark.parametrize("n, k", [(16, 4), (7, 3), (5, 5), (2, 2)])
def test_folds_test_every_subject_exactly_once(n, k):
    subjects = list(range(100, 100 + n))
    folds = subject_folds(subjects + subjects[:3], k, seed=4)  # duplicates are one subject
    flat = [s for f in folds for s in f]
    assert len(folds) == k and sorted(flat) == subjects        # no subject in two folds
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert subject_folds(subjects, k, seed=4) == folds          # seeded
    with pytest.raises(ValueError):
        subject_folds(subjects, n + 1)


def test_validation_subjects_come_from_the_training_side():
    side = [3, 5, 8, 13, 21]
    val = pick_val_subjects(side, 2, seed=7)
    assert len(val) == 2 and set(val) <= set(side) and val == pick_val_subjects(side, 2, 7)
    assert pick_val_subjects([4], 3, seed=0) == []             # never takes the last one
    assert pick_val_subjects(side, 0, seed=0) == []


def test_cross_validation_end_to_end_with_features(frame):
    features = FeatureConfig(outputs=("gravity_abs", "vertical", "horizontal"))
    gen = cross_validate(frame, k=3, window=WINDOW, activities=ACTS, features=features,
                         model_overrides=TINY, train_config=FAST, seed=1, val_subjects=1)
    items, cv = drain(gen)
    assert isinstance(cv, CVResult) and cv.completed == 3 and not cv.stopped
    progress = [i for i in items if isinstance(i, FoldProgress)]
    finished = [i for i in items if isinstance(i, FoldFinished)]
    assert [f.fold for f in finished] == [1, 2, 3]
    epochs = [p for p in progress if isinstance(p.item, EpochProgress)]
    assert {p.fold for p in epochs} == {1, 2, 3} and all(p.folds == 3 for p in epochs)
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1
    # every subject tested exactly once, by a model that did not train or validate on them
    tested = [s for row in cv.folds for s in row["test_subjects"]]
    assert sorted(tested) == sorted(set(frame["subject"])) == sorted(cv.per_subject)
    for row in cv.folds:
        assert not set(row["test_subjects"]) & set(row["train_subjects"] + row["val_subjects"])
        assert len(row["val_subjects"]) == 1
    accs = [row["accuracy"] for row in cv.folds]
    assert cv.accuracy_mean == pytest.approx(np.mean(accs))
    assert cv.accuracy_std == pytest.approx(np.std(accs))
    assert cv.accuracy_min == min(accs) and cv.accuracy_max == max(accs)
    total = sum(row["windows"] for row in cv.folds)
    cm = np.array(cv.confusion)
    assert cm.shape == (4, 4) and cm.sum() == total
    assert cv.pooled_accuracy == pytest.approx(np.trace(cm) / total)
    assert sum(v["windows"] for v in cv.per_subject.values()) == total
    d = json.loads(json.dumps(cv.to_dict()))
    assert d["settings"]["features"]["outputs"] == list(features.outputs)
    assert d["accuracy"]["mean"] == pytest.approx(cv.accuracy_mean)
    assert cv.minutes > 0 and "3-fold" in cv.summary()


def test_stop_ends_after_the_current_fold_and_close_abandons(frame):
    control = TrainControl()
    gen = cross_validate(frame, k=2, window=WINDOW, activities=ACTS, model_overrides=TINY,
                         train_config=FAST, control=control, keep_models=True)
    for item in gen:
        if isinstance(item, FoldFinished):
            control.stop()
            break
    items, cv = drain(gen)
    assert cv.stopped and cv.completed == 1 and len(cv.models) == 1
    assert "stopped after 1 of 2" in cv.summary()
    # no validation subjects: every subject not tested trains (none is held back)
    _, cv = drain(cross_validate(frame, k=5, window=WINDOW, activities=ACTS,
                                 model_overrides=TINY, val_subjects=0,
                                 train_config=TrainConfig(**{**FAST.to_dict(), "epochs": 1})))
    for row in cv.folds:
        assert row["val_subjects"] == [] and len(row["train_subjects"]) == 4
    gen = cross_validate(frame, k=2, window=WINDOW, activities=ACTS, model_overrides=TINY,
                         train_config=FAST)
    next(gen)
    gen.close()                                    # no exception, nothing left running


def test_too_few_subjects_is_a_one_line_error(frame):
    two = frame[frame["subject"].isin([1, 2])]
    with pytest.raises(ValueError, match="needs at least 3 subjects"):
        next(cross_validate(two, k=3, window=WINDOW, model_overrides=TINY, train_config=FAST))


def _fake_cv(acc: float, window: WindowConfig, features=FeatureConfig()) -> CVResult:
    settings = {"window": window.to_dict(), "activities": ACTS, "channels": None,
                "features": features.to_dict(), "model_overrides": {"head_width": 256}}
    return CVResult(folds=[{"accuracy": acc}], k=4, labels=ACTS, accuracy_mean=acc,
                    accuracy_std=0.03, accuracy_min=acc, accuracy_max=acc, f1_mean=acc,
                    f1_std=0.0, f1_min=acc, f1_max=acc, pooled_accuracy=acc, pooled_f1=acc,
                    confusion=[], per_subject={}, per_class={}, minutes=1.0, cpu_minutes=1.0,
                    settings=settings)


def test_remembered_figures_are_found_for_comparable_settings_only():
    remember_cv(_fake_cv(0.81, WINDOW), label="robust")
    remember_cv(_fake_cv(0.66, WindowConfig(size=64, step=32)))
    same = {"window": WINDOW.to_dict(), "activities": list(reversed(ACTS)), "channels": None,
            "features": FeatureConfig().to_dict(), "model_overrides": {"head_width": 256}}
    assert find_cv(same)["accuracy_mean"] == pytest.approx(0.81)
    assert find_cv({**same, "model_overrides": {}}) is None
    assert find_cv({**same, "model_overrides": {}}, ("window", "activities", "channels"))
    assert find_cv({**same, "channels": ["x"]}) is None
    text = random_split_guidance(data_settings(WINDOW, ACTS, None))
    assert "81.0% ± 3.0%" in text and "robust" in text and "never seen" in text
    plain = random_split_guidance(data_settings(WindowConfig(size=96, step=48), ACTS, None))
    assert "Cross-validate by subject" in plain and "%" in plain


def test_presets_keep_the_reference_exact():
    from har_studio.model.config import ViTConfig

    ref = get_preset("reference")
    assert ref.model == {} and ref.features.is_identity
    assert ref.train_config() == TrainConfig()
    assert ViTConfig(**ref.model_overrides()) == ViTConfig()
    assert DEFAULT_PRESET in PRESETS
    for preset in PRESETS.values():
        preset.train_config()                    # valid TrainConfig fields
        ViTConfig(**preset.model_overrides())    # valid ViTConfig fields
        assert json.loads(json.dumps(preset.to_dict()))["name"] == preset.name
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("magic")


# ------------------------------------------------------------------------------ the app

def test_data_tab_states_the_subject_wise_figure_next_to_a_random_split(qtbot):
    from har_studio.data.demo import demo_dataset
    from har_studio.ui.data import DataTab
    from har_studio.ui.state import AppState
    from har_studio.ui.workers import stop_all_workers

    state = AppState()
    tab = DataTab(state)
    qtbot.addWidget(tab)
    try:
        dataset = demo_dataset(subjects=3, seconds_per_activity=10.0, activities=ACTS)
        state.set_dataset(dataset)
        assert tab.split_guidance() == ""
        tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("random"))
        text = tab.split_guidance()
        assert "never seen" in text and "Cross-validate by subject" in text
        window, _split, _acts, _chans = tab.current_settings()
        cv = _fake_cv(0.77, window)
        cv.settings["activities"] = list(dataset.activities)
        cv.settings["channels"] = list(dataset.channels)
        remember_cv(cv)
        tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("subject"))
        assert tab.split_guidance() == ""
        tab.panel.split_kind.setCurrentIndex(tab.panel.split_kind.findData("random"))
        assert "77.0% ± 3.0%" in tab.split_guidance()
    finally:
        stop_all_workers()


def test_train_tab_puts_the_subject_wise_figure_under_a_random_split_result(qtbot):
    from PySide6.QtCore import Qt

    from har_studio.data.demo import demo_dataset
    from har_studio.data.splits import SplitConfig
    from har_studio.ui.state import AppState
    from har_studio.ui.train import TrainTab
    from har_studio.ui.workers import stop_all_workers

    state = AppState()
    state.set_dataset(demo_dataset(subjects=3, seconds_per_activity=10.0, activities=ACTS),
                      ["<demo>"])
    state.set_data_settings(WINDOW, SplitConfig(kind="random"), None, None)
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    try:
        tab.panel.settings.set_preset("robust")
        tab.set_settings(TINY, {"epochs": 1, "batch_size": 32, "patience": 0,
                                "device": "cpu", "precision": "fp32"})
        with qtbot.waitSignal(tab.trainingFinished, timeout=60000) as blocker:
            qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
        result = blocker.args[0]
        assert result.bundle.features == PRESETS["robust"].features
        assert "never seen" in tab.guidance_text() and tab.results.cv_offer_button.isVisibleTo(tab)
        recipe = result.bundle.recipe
        cv = _fake_cv(0.73, WINDOW, result.bundle.features)
        cv.settings.update(activities=recipe["labels"], channels=recipe["channels"],
                           model_overrides={k: v for k, v in recipe["model"].items()
                                            if k not in ("series", "modal", "classes")})
        remember_cv(cv)
        tab.results.show_report(tab.results.report, bundle=tab.result.bundle)
        assert "73.0% ± 3.0%" in tab.guidance_text()
        assert not tab.results.cv_offer_button.isVisibleTo(tab)
    finally:
        stop_all_workers()


def test_keep_best_false_keeps_the_last_epoch(frame):
    from har_studio.data.splits import SplitConfig
    from har_studio.training.engine import TrainNote, train
    from har_studio.training.prepare import default_model_config, prepare_data

    prepared = prepare_data(frame, WINDOW, SplitConfig(seed=2), activities=ACTS,
                            features=PRESETS["robust"].features)
    config = default_model_config(prepared, **TINY)
    assert config.modal == len(prepared.input_channels) == 6
    items, result = drain(train(prepared, config,
                                TrainConfig(**{**FAST.to_dict(), "epochs": 3,
                                               "keep_best": False})))
    assert result.best_epoch == 3 == len(result.history)
    assert any(isinstance(i, TrainNote) and "final weights (epoch 3)" in i.text for i in items)
    assert result.bundle.features == PRESETS["robust"].features
    assert result.bundle.channels == prepared.channels
    # the engine's test metrics are the bundle's own predictions on the raw test windows
    pred = result.bundle.predict(prepared.test.X)
    assert result.metrics["accuracy"] == pytest.approx(float(np.mean(pred == prepared.test.y)))
