"""The Train tab's results: metrics table, per-class bars, confusion matrix, the leak warning
and subject-wise guidance under a random split, and the fold table of a cross-validation.

A view: it shows a report dict (``training.jobs.run_report``) or a CVResult and keeps which
report and model are shown; saving and exporting are the tab's.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...data.splits import RANDOM_SPLIT_WARNING
from ...training.crossval import CVResult, FoldFinished, find_cv
from ...training.jobs import MODEL_FIELDS
from ...training.presets import MEASURED_GAP
from ..widgets import InlineMessage
from .controller import fmt
from .plots import ConfusionHeatmap, PerClassBars

# (key, label) of the metrics table rows, in order.
METRIC_ROWS = (
    ("accuracy", "Accuracy"), ("precision_macro", "Precision (macro)"),
    ("recall_macro", "Recall (macro)"), ("f1_macro", "F1 (macro)"),
    ("precision_weighted", "Precision (weighted)"), ("recall_weighted", "Recall (weighted)"),
    ("f1_weighted", "F1 (weighted)"), ("parameters", "Parameters"),
    ("macs", "Multiply-adds / window"), ("inference_ms", "Inference ms / window"),
    ("windows", "Windows tested"),
)


def cell(text: str, value=None) -> QTableWidgetItem:
    """A read-only table cell; `value` (kept as UserRole data) is what tests and code read."""
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if value is not None:
        item.setData(Qt.ItemDataRole.UserRole, value)
    return item


def _report_rows(report: dict) -> list[tuple[str, str, object]]:
    metrics = report.get("metrics") or {}
    split = report.get("split") or {}
    kind = split.get("kind")
    subjects = split.get("test_subjects") or []
    return [*((key, label, metrics.get(key)) for key, label in METRIC_ROWS),
            ("split", "Split", kind),
            ("test_subjects", "Test subjects",
             ", ".join(map(str, subjects)) if kind == "subject" else
             "all (windows drawn at random)" if kind == "random" else None),
            ("stopped_reason", "Stopped because", report.get("stopped_reason")),
            ("epochs", "Epochs", report.get("epochs")),
            ("minutes", "Minutes", report.get("minutes")),
            ("device", "Device", report.get("device")),
            ("precision", "Number format", report.get("precision"))]


def comparable_settings(report: dict, bundle=None) -> dict | None:
    """Window, activities, channels, features and model of a shown run (its config, else the
    model's recipe), for finding a comparable cross-validation."""
    config = report.get("config") or {}
    if not config and bundle is not None:
        config = bundle.recipe or {}
    if not config.get("window"):
        return None
    model = config.get("model") or {}
    overrides = {k: model[k] for k in MODEL_FIELDS if k in model}
    return {"window": config.get("window"), "activities": config.get("labels"),
            "channels": config.get("channels"), "features": config.get("features"),
            "model_overrides": overrides}


class ResultsView(QWidget):
    """Results of the shown run; ``cvOfferClicked`` asks for a subject-wise cross-validation."""

    cvOfferClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict = {}
        self.bundle = None                  # the model behind the report, once loaded
        self.model_path: Path | None = None
        self.cv_result: CVResult | None = None

        self.title = QLabel("<b>Results</b>")
        self.leak_warning = InlineMessage(self, closable=False)
        # Next to a random-split result: the subject-wise figure for comparable settings, or a
        # button to measure it, so a leaky number is never the only one on screen.
        self.cv_guidance = QLabel()
        self.cv_guidance.setWordWrap(True)
        self.cv_guidance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cv_offer_button = QPushButton("Cross-validate by subject")
        self.cv_offer_button.setToolTip("Measure accuracy on people the model has never seen: "
                                        "k models, each tested on subjects it did not train on")
        self.cv_guidance_box = QWidget()
        guidance = QHBoxLayout(self.cv_guidance_box)
        guidance.setContentsMargins(0, 0, 0, 0)
        guidance.addWidget(self.cv_guidance, 1)
        guidance.addWidget(self.cv_offer_button, 0, Qt.AlignmentFlag.AlignTop)
        self.cv_guidance_box.hide()
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the model to a .harmodel file (it is also kept in "
                                    "the run folder)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the report (JSON, CSV), the plots and the confusion "
                                      "matrix (PNG) and, when onnxruntime is installed, an "
                                      "ONNX model checked against torch")
        self.export_label = QLabel("")
        self.export_label.setWordWrap(True)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.title, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.export_button)

        self.metrics_table = QTableWidget(0, 2)
        self.metrics_table.setHorizontalHeaderLabels(["Metric", "Value"])
        self.metrics_table.verticalHeader().setVisible(False)
        self.metrics_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.setMinimumWidth(230)
        self.metrics_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.per_class = PerClassBars()
        self.confusion = ConfusionHeatmap()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.metrics_table)
        split.addWidget(self.per_class)
        split.addWidget(self.confusion)
        split.setSizes([270, 230, 400])
        split.setChildrenCollapsible(False)

        # Cross-validation: one row per fold, then mean ± std (hidden for a single model).
        self.cv_summary = QLabel()
        self.cv_summary.setWordWrap(True)
        self.cv_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cv_table = QTableWidget(0, 5)
        self.cv_table.setHorizontalHeaderLabels(["Fold", "Test subjects", "Accuracy",
                                                 "Macro F1", "Windows"])
        self.cv_table.verticalHeader().setVisible(False)
        self.cv_table.horizontalHeader().setStretchLastSection(True)
        self.cv_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cv_panel = QWidget()
        cv_layout = QVBoxLayout(self.cv_panel)
        cv_layout.setContentsMargins(0, 0, 0, 0)
        cv_layout.addWidget(self.cv_summary)
        cv_layout.addWidget(self.cv_table, 1)
        self.cv_panel.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.leak_warning)
        layout.addWidget(self.cv_guidance_box)
        layout.addWidget(self.cv_panel, 1)
        layout.addWidget(split, 1)
        layout.addWidget(self.export_label)
        self.cv_offer_button.clicked.connect(self.cvOfferClicked)

    @property
    def has_model(self) -> bool:
        return self.bundle is not None or self.model_path is not None

    def show_placeholder(self, text: str = "No results yet") -> None:
        self.title.setText(f"<b>Results</b> · {text}")
        self.metrics_table.setRowCount(0)
        self.per_class.clear()
        self.confusion.clear()
        self.leak_warning.clear()
        self.cv_guidance_box.hide()
        self.export_label.setText("")
        self.bundle = None
        self.model_path = None
        self.report = {}

    def show_report(self, report: dict, *, bundle=None, model_path=None) -> None:
        """Show `report`; `bundle` and `model_path` are the model behind it (for Save)."""
        self.report, self.bundle = report, bundle
        self.model_path = Path(model_path) if model_path else None
        rows = _report_rows(report)
        table = self.metrics_table
        table.setUpdatesEnabled(False)
        try:
            table.setRowCount(len(rows))
            for r, (key, label, value) in enumerate(rows):
                digits = 2 if key in ("minutes", "inference_ms") else 4
                table.setItem(r, 0, cell(label, key))
                shown = cell(fmt(value, digits), value)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    shown.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                           | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, 1, shown)
        finally:
            table.setUpdatesEnabled(True)
        metrics = report.get("metrics") or {}
        labels = list(metrics.get("labels") or [])
        per_class = metrics.get("per_class") or {}
        self.per_class.set_values([(name, per_class.get(name, float("nan"))) for name in labels])
        confusion = metrics.get("confusion")
        if labels and confusion is not None:
            self.confusion.set_matrix(confusion, labels)
        else:
            self.confusion.clear()
        if (report.get("split") or {}).get("kind") == "random":
            self.leak_warning.show_message(RANDOM_SPLIT_WARNING, "warning")
            self._show_cv_guidance()
        else:
            self.leak_warning.clear()
            self.cv_guidance_box.hide()
        where = report.get("run_dir")
        self.title.setText(
            "<b>Results</b>" + (f" · <span style='color:#666'>{Path(where).name}</span>"
                                if where else "")
            + ("" if metrics else " · no test metrics in this run"))

    def metric_value(self, key: str):
        """The raw value behind the metrics table row `key` (e.g. "accuracy"), or None."""
        for row in range(self.metrics_table.rowCount()):
            name = self.metrics_table.item(row, 0)
            if name is not None and name.data(Qt.ItemDataRole.UserRole) == key:
                return self.metrics_table.item(row, 1).data(Qt.ItemDataRole.UserRole)
        return None

    def _show_cv_guidance(self) -> None:
        """Under a random-split result: the last subject-wise figure for comparable settings
        (same data settings, features and model), else the measured gap and an offer."""
        settings = comparable_settings(self.report, self.bundle)
        entry = find_cv(settings) if settings is not None else None
        if entry and isinstance(entry.get("accuracy_mean"), (int, float)):
            std = entry.get("accuracy_std") or 0.0
            text = (f"On people the model has never seen, comparable settings scored "
                    f"<b>{entry['accuracy_mean']:.1%} ± {std:.1%}</b> (cross-validation by "
                    f"subject, {entry.get('folds_completed', '?')} folds, "
                    f"{str(entry.get('created', ''))[:16].replace('T', ' ')}). Report that "
                    f"figure for new people, not the one above.")
            self.cv_offer_button.hide()
        else:
            text = MEASURED_GAP + " Measure it for these settings:"
            self.cv_offer_button.show()
        self.cv_guidance.setText(text)
        self.cv_guidance_box.show()

    def guidance_text(self) -> str:
        """The subject-wise figure or offer shown under a random-split result ("" if none)."""
        return self.cv_guidance.text() if self.cv_guidance_box.isVisibleTo(self) else ""

    # ------------------------------------------------------------------ cross-validation
    def start_folds(self, visible: bool) -> None:
        self.cv_table.setRowCount(0)
        self.cv_summary.setText("")
        self.cv_panel.setVisible(visible)

    def add_fold(self, f: FoldFinished) -> None:
        row = self.cv_table.rowCount()
        self.cv_table.insertRow(row)
        cells = [cell(str(f.fold), f.fold), cell(", ".join(map(str, f.test_subjects))),
                 cell(f"{f.accuracy:.3f}", f.accuracy), cell(f"{f.f1_macro:.3f}", f.f1_macro),
                 cell(f"{f.windows:,}", f.windows)]
        for col, item in enumerate(cells):
            self.cv_table.setItem(row, col, item)
        self.cv_summary.setText(f"<b>Cross-validation by subject</b> · {f.fold} of {f.folds} "
                                f"folds done")

    def show_cv_run(self, cv: CVResult, folder: str | Path | None = None) -> None:
        """A finished (or reopened) cross-validation whole: the fold table, the summary, the
        pooled confusion and per-class bars, and its figures in the metrics table."""
        self.start_folds(True)
        for f in cv.folds:
            self.add_fold(FoldFinished(int(f.get("fold", 0)), cv.k,
                                       tuple(f.get("test_subjects") or ()),
                                       float(f.get("accuracy") or math.nan),
                                       float(f.get("f1_macro") or math.nan),
                                       int(f.get("windows") or 0), float(f.get("seconds") or 0)))
        self.show_cv(cv)
        rows = [("cv_accuracy", "Accuracy (mean over folds)", cv.accuracy_mean),
                ("cv_accuracy_std", "Accuracy (std over folds)", cv.accuracy_std),
                ("cv_f1", "Macro F1 (mean over folds)", cv.f1_mean),
                ("cv_pooled", "Pooled accuracy", cv.pooled_accuracy),
                ("cv_folds", "Folds completed", f"{cv.completed} of {cv.k}"),
                ("minutes", "Minutes", cv.minutes)] if cv.completed else []
        self.metrics_table.setRowCount(len(rows))
        for r, (key, label, value) in enumerate(rows):
            self.metrics_table.setItem(r, 0, cell(label, key))
            self.metrics_table.setItem(r, 1, cell(fmt(value, 4) if not isinstance(value, str)
                                                  else value, value))
        if folder is not None:
            self.title.setText("<b>Results</b> · cross-validation (no single model) · "
                               f"<span style='color:#666'>{Path(folder).name}</span>")

    def show_cv(self, cv: CVResult) -> None:
        """The summary above the fold table, and the pooled confusion and per-class bars."""
        self.cv_result = cv
        if cv.completed:
            text = (f"<b>Cross-validation by subject</b> ({cv.completed} of {cv.k} folds): "
                    f"accuracy <b>{cv.accuracy_mean:.1%} ± {cv.accuracy_std:.1%}</b> "
                    f"(min {cv.accuracy_min:.1%}, max {cv.accuracy_max:.1%}) · macro F1 "
                    f"{cv.f1_mean:.3f} ± {cv.f1_std:.3f} · pooled accuracy "
                    f"{cv.pooled_accuracy:.1%}")
            worst = sorted((v["accuracy"], s) for s, v in cv.per_subject.items()
                           if v.get("accuracy") is not None)
            if worst:
                text += ("<br>Per subject: " + ", ".join(f"{s}: {a:.0%}" for a, s in worst))
            if cv.confusion:
                self.confusion.set_matrix(cv.confusion, list(cv.labels))
            self.per_class.set_values([(name, cv.per_class.get(name) if
                                        cv.per_class.get(name) is not None else float("nan"))
                                       for name in cv.labels])
        else:
            text = "<b>Cross-validation by subject</b>: stopped before a fold finished"
        self.cv_summary.setText(text)
        self.title.setText("<b>Results</b> · cross-validation (no single model)")
