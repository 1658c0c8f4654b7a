"""The Train tab's helpers around the model form: the size estimate (parameters and
multiply-adds of a network built on the ``meta`` device), torch imported in the background,
and reading and writing the form's spin boxes, check boxes and combo boxes by value."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from ...model.config import ViTConfig


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch is a hard dependency
        return False


class TorchRelay(QObject):
    """Carries the end of the background import to the GUI thread (queued signals)."""

    imported = Signal()
    failed = Signal(str)


def import_torch(relay: TorchRelay) -> None:
    """Run in a thread: import torch and the network module (seconds on first use)."""
    try:
        import torch  # noqa: F401

        from ...model import summary, vit  # noqa: F401
    except Exception as exc:  # reported in the form, never raised
        message = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(RuntimeError):   # the form may be gone already
            relay.failed.emit(message)
        return
    with contextlib.suppress(RuntimeError):
        relay.imported.emit()


def size_estimate(config: ViTConfig) -> tuple[int, int]:
    """(parameters, multiply-adds per window) of `config`, counted without building it."""
    from ...model.summary import count_macs

    return int(config.parameter_count), int(count_macs(config))


def format_count(n: int) -> str:
    """4367366 -> '4.37 M', 60360000 -> '60.36 M'."""
    if n < 0:
        return "?"
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if n >= scale:
            return f"{n / scale:.2f}{suffix}"
    return str(n)


def changed_signal(widget: QWidget):
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.valueChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    raise TypeError(type(widget).__name__)


def set_value(widget: QWidget, value) -> None:
    if isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(float(value))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QComboBox):
        index = widget.findText(str(value))
        if index < 0:
            raise ValueError(f"{value!r} is not one of "
                             f"{', '.join(widget.itemText(i) for i in range(widget.count()))}")
        widget.setCurrentIndex(index)


def value_of(widget: QWidget):
    if isinstance(widget, QSpinBox):
        return int(widget.value())
    if isinstance(widget, QDoubleSpinBox):
        return float(widget.value())
    if isinstance(widget, QCheckBox):
        return bool(widget.isChecked())
    if isinstance(widget, QComboBox):
        return widget.currentText()
    raise TypeError(type(widget).__name__)


def spin(low: int, high: int, step: int = 1, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def dspin(low: float, high: float, step: float, decimals: int, tip: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def form_layout(box: QGroupBox) -> QFormLayout:
    """A form that puts a field under its label when the panel is too narrow for both."""
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form
