"""ONNX export: the exported graph gives torch's logits; missing extras give a clear error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from har_studio.data.splits import Normaliser
from har_studio.data.windows import WindowConfig
from har_studio.model import onnx_export
from har_studio.model.config import ViTConfig
from har_studio.model.io import ModelBundle
from har_studio.model.onnx_export import export_onnx
from har_studio.model.vit import TimeSeriesViT

# series 40: 10 patches -> 5 -> 3, so the exported graph includes the odd-count padding
CONFIG = ViTConfig(series=40, modal=3, classes=4, embedding_dim=16, patch_size=4, head_num=2,
                   att_size=8, depth=2, head_width=32)


def make_bundle() -> ModelBundle:
    torch.manual_seed(0)
    model = TimeSeriesViT(CONFIG)
    with torch.no_grad():
        model.position.normal_()
    normaliser = Normaliser(np.array([0.5, -1.0, 9.8], np.float32),
                            np.array([2.0, 3.0, 1.5], np.float32))
    return ModelBundle(model.eval(), CONFIG, WindowConfig(size=40, step=20), ["x", "y", "z"],
                       ["a", "b", "c", "d"], normaliser, {})


def test_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    bundle = make_bundle()
    path = tmp_path / "model.onnx"
    result = export_onnx(bundle, path)
    assert result["path"] == str(path) and result["opset"] == onnx_export.OPSET
    assert 0 <= result["max_abs_diff"] < 1e-4
    assert not bundle.model.training

    # Independently: raw windows -> stored normaliser -> ONNX logits -> softmax equals the
    # bundle's own probabilities, for a batch size other than the traced one.
    raw = np.random.default_rng(3).normal(0, 4, size=(7, 40, 3)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"windows": bundle.normaliser.apply(raw)})
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    assert logits.shape == (7, 4)
    assert np.allclose(probs, bundle.predict_proba(raw), atol=1e-5)


def test_failed_check_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # no difference can pass
    path = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError, match="differs from torch"):
        export_onnx(make_bundle(), path)
    assert not path.exists()


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime"])
def test_missing_optional_dependency_is_a_clear_error(tmp_path, monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` fail
    with pytest.raises(RuntimeError, match=f"needs the '{missing}' package"):
        export_onnx(make_bundle(), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_a_failed_export_writes_nothing_on_stdout():
    """torch's exporter writes the whole graph to its C++ log when an export fails (and turns
    that log on for every export); ours goes to stderr, so a command printing JSON on stdout
    stays readable when its live graph falls back to torch."""
    import subprocess
    import textwrap

    pytest.importorskip("onnx")   # the exporter's, as for every export test here
    script = textwrap.dedent("""
        import torch
        import torch.nn.functional as F
        from har_studio.model import onnx_export

        class Unexportable(torch.nn.Module):
            def forward(self, x):
                return F.layer_norm(x, (x.shape[-1],))   # a traced size where a constant must be

        try:
            onnx_export._trace(Unexportable(), (torch.zeros(2, 4),), ["windows"], "logits")
        except Exception:
            pass
        else:
            raise SystemExit("the export was expected to fail")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ""
    assert "graph" in done.stderr          # torch still says what failed, where it belongs
