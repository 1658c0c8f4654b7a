"""Classification metrics against hand-computed small examples, and bundle evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig, Windows
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle
from har_studio.model.vit import TimeSeriesViT
from har_studio.training.metrics import (
    classification_metrics,
    confusion_matrix,
    evaluate_bundle,
    report_rows,
)


def test_confusion_matrix_counts_rows_true_columns_predicted():
    cm = confusion_matrix(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert confusion_matrix(np.array([], int), np.array([], int), 2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 3]), np.array([0, 0]), 3)
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_metrics_match_a_hand_computed_example():
    # truth a a b b b c ; predicted a b b b a c
    m = classification_metrics(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 2]),
                               ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # precision: a 1/2, b 2/3, c 1 ; recall: a 1/2, b 2/3, c 1 (the same here)
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["f1_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    # weighted by support 2, 3, 1
    assert m["recall_weighted"] == pytest.approx((1 / 2 * 2 + 2 / 3 * 3 + 1 * 1) / 6)
    assert m["per_class"] == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1.0})
    assert m["confusion"] == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    np.testing.assert_allclose(m["confusion_normalised"],
                               [[0.5, 0.5, 0], [1 / 3, 2 / 3, 0], [0, 0, 1]])
    assert m["labels"] == ["a", "b", "c"] and m["windows"] == 6
    assert m["support"] == {"a": 2, "b": 3, "c": 1}


def test_precision_and_recall_differ_and_absent_classes():
    # truth a a a b ; predicted a a b b ; class c never occurs
    m = classification_metrics(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), ["a", "b", "c"])
    p_a, r_a = 2 / 2, 2 / 3
    p_b, r_b = 1 / 2, 1 / 1
    f_a, f_b = 2 * p_a * r_a / (p_a + r_a), 2 * p_b * r_b / (p_b + r_b)
    assert m["precision_macro"] == pytest.approx((p_a + p_b) / 2)  # c is left out of averages
    assert m["recall_macro"] == pytest.approx((r_a + r_b) / 2)
    assert m["f1_macro"] == pytest.approx((f_a + f_b) / 2)
    assert m["precision_weighted"] == pytest.approx((p_a * 3 + p_b * 1) / 4)
    assert m["f1_weighted"] == pytest.approx((f_a * 3 + f_b * 1) / 4)
    assert m["per_class"]["c"] is None  # undefined, not 0
    assert m["confusion_normalised"][2] == [0.0, 0.0, 0.0]


def test_a_class_that_is_never_predicted_has_zero_precision():
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 0, 0]), ["a", "b"])
    assert m["per_class_precision"] == pytest.approx({"a": 1 / 3, "b": 0.0})
    assert m["per_class_f1"]["b"] == 0.0
    assert m["accuracy"] == pytest.approx(1 / 3)


def test_report_rows_are_a_flat_table():
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b"])
    rows = report_rows(m)
    assert rows[0] == ["class", "precision", "recall", "f1", "support"]
    assert [r[0] for r in rows[1:]] == ["a", "b", "accuracy", "macro avg", "weighted avg"]
    assert rows[2][2] == pytest.approx(0.5) and rows[3][3] == pytest.approx(2 / 3)


def _bundle(labels):
    torch.manual_seed(0)
    config = ViTConfig(series=16, modal=3, classes=len(labels), embedding_dim=8, head_width=16,
                       depth=1, head_num=1, att_size=4)
    return ModelBundle(model=TimeSeriesViT(config).eval(), model_config=config,
                       window=WindowConfig(size=16, step=8), channels=["x", "y", "z"],
                       labels=list(labels), normaliser=Normaliser.identity(3))


def _windows(labels, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return Windows(rng.normal(size=(n, 16, 3)).astype(np.float32),
                   rng.integers(0, len(labels), n).astype(np.int64), np.ones(n, np.int64),
                   np.arange(n, dtype=np.int64), list(labels), ["x", "y", "z"],
                   WindowConfig(size=16, step=8))


def test_evaluate_bundle_uses_the_model_predictions():
    bundle = _bundle(["a", "b", "c"])
    windows = _windows(["a", "b", "c"])
    m = evaluate_bundle(bundle, windows)
    expected = classification_metrics(windows.y, bundle.predict(windows.X), ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(expected["accuracy"])
    assert m["confusion"] == expected["confusion"]
    assert m["parameters"] == sum(p.numel() for p in bundle.model.parameters())
    assert m["macs"] > 0 and m["inference_ms"] > 0
    assert evaluate_bundle(bundle, windows, latency=False)["inference_ms"] is None


def test_evaluate_bundle_maps_labels_by_name_and_checks_channels():
    bundle = _bundle(["a", "b", "c"])
    windows = _windows(["c", "a"])  # another class order, a subset of the model's labels
    m = evaluate_bundle(bundle, windows, latency=False)
    truth = np.array([2, 0])[windows.y]
    assert np.asarray(m["confusion"]).sum(axis=1).tolist() == np.bincount(truth, minlength=3).tolist()
    with pytest.raises(ValueError, match="does not know d"):
        evaluate_bundle(bundle, _windows(["a", "d"]), latency=False)
    wrong = _windows(["a", "b", "c"])
    wrong.channels = ["x", "y", "gz"]
    with pytest.raises(ValueError, match="channels"):
        evaluate_bundle(bundle, wrong, latency=False)
