"""Export of the Train tab's results: report files and plot pictures now, the ONNX model (with
its check against torch) as a background job."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtWidgets import QWidget

from ...atomic import atomic_write_bytes
from ...training import runs as runs_mod


def save_widget_png(widget: QWidget, path) -> None:
    """Render `widget` as it looks now into a PNG file, written atomically."""
    pixmap = widget.grab()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise OSError(f"could not render {path} as PNG")
    buffer.close()
    atomic_write_bytes(path, bytes(data.data()))


def write_results(folder: Path, report: dict, pictures: dict) -> list[Path]:
    """report.json/.csv and one PNG per `pictures` entry (file name -> widget) in `folder`;
    the files written. Raises OSError/ValueError."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs_mod.write_report(folder, report)
    written = [folder / runs_mod.REPORT_FILE]
    if (folder / runs_mod.REPORT_CSV_FILE).exists():
        written.append(folder / runs_mod.REPORT_CSV_FILE)
    for name, widget in pictures.items():
        save_widget_png(widget, folder / name)
        written.append(folder / name)
    return written


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def export_onnx_job(bundle, path: Path) -> dict:
    """Run in a worker: write `path` and compare onnxruntime with torch on it."""
    from ...model.onnx_export import export_onnx

    info = dict(export_onnx(bundle, path, check=True))
    info["path"] = str(path)
    return info


def onnx_text(info: dict) -> str:
    """One sentence on the ONNX file written (export raises above its tolerance)."""
    name = Path(info.get("path", "model.onnx")).name
    diff = info.get("max_abs_diff")
    if not isinstance(diff, (int, float)):
        return f"ONNX written ({name})."
    return f"ONNX written ({name}); onnxruntime matches torch: max |difference| {diff:.2e}."
