"""The time-series Vision Transformer, its size and speed, and the model file. Qt-free.

Import from the submodules (``har_studio.model.vit`` etc.): importing this package does not
load torch, so the CLI starts quickly.
"""

from __future__ import annotations

__all__ = [
    "ModelBundle", "ModelFileError", "TimeSeriesViT", "ViTConfig", "count_macs",
    "count_parameters", "export_onnx", "load_model", "model_summary", "save_model",
]

_EXPORTS = {
    "ViTConfig": "config", "TimeSeriesViT": "vit", "count_parameters": "summary",
    "count_macs": "summary", "model_summary": "summary", "ModelBundle": "io",
    "ModelFileError": "io", "load_model": "io", "save_model": "io", "export_onnx": "onnx_export",
}


def __getattr__(name: str):
    """Lazy access: ``from har_studio.model import load_model`` imports torch only then."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
