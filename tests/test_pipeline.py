"""The whole inference as one graph (model/pipeline.py, onnx_export.live_graph) computes what
the model's own numpy steps compute, and the live classifier uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from har_studio.data.alignment import Alignment
from har_studio.data.features import FEATURE_GROUPS, FeatureConfig
from har_studio.live.classifier import StreamingClassifier
from har_studio.live.source import SampleBatch
from har_studio.model.io import ModelBundle
from har_studio.model.pipeline import InferencePipeline
from tests.test_features import feature_bundle, raw_windows, rotation

CHANNELS = ("x", "y", "z", "gx", "gy", "gz")


def bundle_with(features: FeatureConfig, channels=CHANNELS) -> ModelBundle:
    return feature_bundle(features=features, channels=channels)


def pipeline_probabilities(bundle: ModelBundle, X: np.ndarray, alignment: Alignment) -> np.ndarray:
    with torch.inference_mode():
        return InferencePipeline(bundle)(
            torch.from_numpy(X), torch.from_numpy(alignment.rotation.astype(np.float32)),
            torch.tensor([alignment.scale], dtype=torch.float32)).numpy()


@pytest.mark.parametrize("align", ["none", "person"])
@pytest.mark.parametrize("per_window", ["none", "center", "standardise"])
def test_every_feature_group_gives_the_numpy_probabilities(per_window, align):
    X = raw_windows(n=6, t=32, seed=1)
    alignment = Alignment(rotation(2), 1.08)
    for name in FEATURE_GROUPS:
        features = FeatureConfig(outputs=(name, "magnitude") if name != "magnitude" else (name,),
                                 lowpass_s=0.9, per_window=per_window, align=align)
        bundle = bundle_with(features)
        expected = bundle.predict_proba(X, alignment=alignment if align == "person" else None)
        # without alignment the graph does not read the rotation: any will do
        got = pipeline_probabilities(bundle, X, alignment)
        np.testing.assert_allclose(got, expected, atol=2e-5, err_msg=name)


def test_a_long_lowpass_and_accelerometer_only_channels():
    features = FeatureConfig(outputs=("gravity", "body", "vertical", "horizontal"),
                             lowpass_s=5.0, align="person")      # 100 samples > 2 * 32 - 1
    bundle = bundle_with(features, channels=["x", "y", "z"])
    X = raw_windows(n=4, t=32, seed=3)[..., :3]
    alignment = Alignment(rotation(5), 0.93)
    np.testing.assert_allclose(pipeline_probabilities(bundle, X, alignment),
                               bundle.predict_proba(X, alignment=alignment), atol=2e-5)


def test_live_graph_is_checked_and_serves_live_windows():
    pytest.importorskip("onnxruntime")
    from har_studio.model.onnx_export import live_graph

    features = FeatureConfig(outputs=("gravity_abs", "vertical", "horizontal", "magnitude"),
                             align="person")
    bundle = bundle_with(features, channels=["x", "y", "z"])
    _, inputs = live_graph(bundle)
    assert inputs == ("windows", "rotation", "scale")
    vals = raw_windows(n=1, t=120, seed=4)[0, :, :3]
    t = np.arange(120) / 20.0
    got = {}
    for engine in ("torch", "auto"):
        clf = StreamingClassifier(bundle, hop=4, smoothing="none", engine=engine)
        got[engine] = [p for i in range(120) for p in
                       clf.push(SampleBatch(t[i:i + 1], vals[i:i + 1], nominal_rate_hz=20.0))]
        if engine == "auto":
            assert clf._onnx.whole
            assert clf.alignment.moving > 0       # the person's pocket was read on the way
    assert len(got["auto"]) == len(got["torch"]) == (120 - 32) // 4 + 1
    np.testing.assert_allclose([p.probabilities for p in got["auto"]],
                               [p.probabilities for p in got["torch"]], atol=1e-4)


def test_a_graph_that_fails_its_check_leaves_the_numpy_steps(monkeypatch):
    pytest.importorskip("onnxruntime")
    from har_studio.model import onnx_export

    def refused(bundle):
        raise RuntimeError("the inference graph differs from the model's own steps by 0.1")

    monkeypatch.setattr(onnx_export, "live_graph", refused)
    bundle = bundle_with(FeatureConfig(outputs=("gravity_abs", "magnitude")))
    vals = raw_windows(n=1, t=40, seed=6)[0]
    clf = StreamingClassifier(bundle, hop=4, smoothing="none", engine="auto")
    assert clf.engine == "auto" and not clf._onnx.whole
    torch_clf = StreamingClassifier(bundle, hop=4, smoothing="none", engine="torch")
    batch = SampleBatch(np.arange(40) / 20.0, vals, nominal_rate_hz=20.0)
    np.testing.assert_allclose([p.probabilities for p in clf.push(batch)],
                               [p.probabilities for p in torch_clf.push(batch)], atol=1e-4)
