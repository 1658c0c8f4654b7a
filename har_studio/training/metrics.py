"""Classification metrics (numpy only) and the evaluation of a model bundle on windows.

Conventions follow scikit-learn's ``classification_report``: precision of a class that is
never predicted is 0, macro averages run over the classes that occur in the truth or the
predictions, weighted averages weight each class by its number of true windows. The
per-class accuracy of a class with no true windows is None (undefined, not 0).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """Counts [classes, classes]: rows are true classes, columns predicted classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0
                        or max(y_true.max(), y_pred.max()) >= classes):
        raise ValueError(f"class index outside 0..{classes - 1}")
    flat = np.bincount(y_true * classes + y_pred, minlength=classes * classes)
    return flat.reshape(classes, classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro/weighted precision, recall and F1, per-class accuracy, confusion.

    Also per-class precision, recall (= per-class accuracy), F1 and support under
    ``per_class_precision``, ``per_class_recall``, ``per_class_f1``, ``support``.
    """
    k = len(labels)
    cm = confusion_matrix(y_true, y_pred, k)
    n = int(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    present = (support > 0) | (predicted > 0)

    def macro(values: np.ndarray) -> float:
        return float(values[present].mean()) if present.any() else 0.0

    def weighted(values: np.ndarray) -> float:
        return float((values * support).sum() / n) if n else 0.0

    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
        "precision_weighted": weighted(precision),
        "recall_weighted": weighted(recall),
        "f1_weighted": weighted(f1),
        "per_class": {name: (float(recall[i]) if support[i] else None)
                      for i, name in enumerate(labels)},
        "per_class_precision": {name: float(precision[i]) for i, name in enumerate(labels)},
        "per_class_recall": {name: float(recall[i]) for i, name in enumerate(labels)},
        "per_class_f1": {name: float(f1[i]) for i, name in enumerate(labels)},
        "support": {name: int(support[i]) for i, name in enumerate(labels)},
        "confusion": cm.astype(int).tolist(),
        "confusion_normalised": _safe_div(cm, support[:, None]).tolist(),
        "labels": list(labels),
        "windows": n,
    }


def model_figures(bundle, *, latency: bool = True) -> dict:
    """Parameters, multiply-adds per window and inference milliseconds per window."""
    from ..model.summary import count_macs, count_parameters, measure_latency_ms

    figures = {"parameters": int(count_parameters(bundle.model)),
               "macs": int(count_macs(bundle.model_config)), "inference_ms": None}
    if latency:
        try:
            figures["inference_ms"] = float(measure_latency_ms(bundle.model, bundle.model_config))
        except Exception as exc:  # a timing failure must not lose the metrics
            log.warning("could not time inference: %s", exc)
    return figures


def predict_windows(bundle, windows, batch_size: int = 128) -> np.ndarray:
    """Class indices (in the bundle's label order) for every window, checking compatibility.
    Predicts `batch_size` windows at a time to bound memory."""
    return predict_probabilities(bundle, windows, batch_size).argmax(axis=1).astype(np.int64)


def predict_probabilities(bundle, windows, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``[n, classes]`` (the bundle's label order) for every window, each
    person aligned with all of their windows, `batch_size` windows at a time; ValueError when
    the windows do not fit the model."""
    if list(windows.channels) != list(bundle.channels):
        raise ValueError(f"the model reads channels {', '.join(bundle.channels)}; the windows "
                         f"have {', '.join(windows.channels)}")
    if windows.X.shape[1] != bundle.window.size:
        raise ValueError(f"the model reads windows of {bundle.window.size} samples; "
                         f"these have {windows.X.shape[1]}")
    if len(windows) == 0:
        return np.zeros((0, len(bundle.labels)), dtype=np.float32)
    step = max(1, int(batch_size))
    alignment = None
    if bundle.features.aligns:   # each person's own alignment, from all of their windows
        from ..data.alignment import estimate_per_subject

        alignment = estimate_per_subject(windows.X, windows.channels, windows.subjects)
    subjects = windows.subjects
    return np.concatenate([bundle.predict_proba(windows.X[i:i + step], subjects[i:i + step],
                                                alignment)
                           for i in range(0, len(windows), step)])


def true_in_bundle_order(bundle, windows) -> np.ndarray:
    """The windows' labels as indices into the bundle's labels (ValueError naming a label
    present in the windows that the model does not know; -1 for unknown, absent ones)."""
    if list(windows.labels) == list(bundle.labels):
        return np.asarray(windows.y, dtype=np.int64)
    unknown = [name for name in windows.labels if name not in bundle.labels]
    present = {windows.labels[i] for i in np.unique(windows.y)}
    if unknown and present & set(unknown):
        raise ValueError(f"the model does not know {', '.join(sorted(present & set(unknown)))}")
    mapping = np.array([bundle.labels.index(n) if n in bundle.labels else -1
                        for n in windows.labels], dtype=np.int64)
    return mapping[windows.y]


def evaluate_bundle(bundle, windows, *, latency: bool = True, batch_size: int = 128) -> dict:
    """Evaluate `bundle` (a ModelBundle) on `windows` (raw units; the bundle normalises),
    `batch_size` windows at a time.

    Returns :func:`classification_metrics` plus ``parameters``, ``macs`` and
    ``inference_ms`` (None when `latency` is False or timing failed).
    """
    y_true = true_in_bundle_order(bundle, windows)
    y_pred = predict_windows(bundle, windows, batch_size)
    result = classification_metrics(y_true, y_pred, list(bundle.labels))
    result.update(model_figures(bundle, latency=latency))
    return result


def report_rows(metrics: dict) -> list[list]:
    """A flat table like scikit-learn's classification report: one row per class, then
    accuracy and the macro and weighted averages (columns: class, precision, recall, f1,
    support)."""
    rows: list[list] = [["class", "precision", "recall", "f1", "support"]]
    support = metrics.get("support", {})
    for name in metrics.get("labels", []):
        rows.append([name, metrics["per_class_precision"][name], metrics["per_class_recall"][name],
                     metrics["per_class_f1"][name], support.get(name, 0)])
    total = metrics.get("windows", 0)
    rows.append(["accuracy", "", "", metrics.get("accuracy", 0.0), total])
    rows.append(["macro avg", metrics.get("precision_macro"), metrics.get("recall_macro"),
                 metrics.get("f1_macro"), total])
    rows.append(["weighted avg", metrics.get("precision_weighted"),
                 metrics.get("recall_weighted"), metrics.get("f1_weighted"), total])
    return rows
