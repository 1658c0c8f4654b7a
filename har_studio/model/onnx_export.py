"""Export a trained model to ONNX, for phones and other runtimes, and check it.

The exported graph takes normalised windows ``[batch, size, channels]`` (apply the
normalisation statistics stored in the model file first) and returns logits ``[batch,
classes]``; the batch axis is dynamic. onnx and onnxruntime are an optional extra
(``pip install har-studio[export]``) imported only here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_bytes
from .io import ModelBundle

log = logging.getLogger(__name__)

OPSET = 17  # the first opset with LayerNormalization
TOLERANCE = 1e-4


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(
            f"ONNX export needs the '{module}' package: pip install 'har-studio[export]' "
            "(onnx and onnxruntime)"
        ) from None


@contextlib.contextmanager
def _on_cpu_for_export(bundle: ModelBundle):
    """The bundle's network in eval mode on the CPU while exporting; put back afterwards."""
    model = bundle.model
    was_training, device = model.training, bundle.device
    model.eval().cpu()
    try:
        yield model
    finally:
        model.to(device).train(was_training)


def _trace(module, example: tuple, inputs: list[str], output: str) -> bytes:
    """`module` traced on `example` into ONNX bytes, the batch axis of the first input and of
    the output dynamic."""
    buffer = io.BytesIO()
    # torch's exporter turns its C++ log on for every export (and leaves it on), and when an
    # export fails it writes the whole graph there: to stderr, never to stdout, where the
    # command line's JSON goes
    torch._C._jit_set_onnx_log_output_stream("stderr")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about python-side shape checks
        torch.onnx.export(
            module, example, buffer, dynamo=False, opset_version=OPSET,
            input_names=inputs, output_names=[output],
            dynamic_axes={inputs[0]: {0: "batch"}, output: {0: "batch"}},
        )
    return buffer.getvalue()


def export_onnx(bundle: ModelBundle, path: str | os.PathLike, check: bool = True) -> dict:
    """Write `bundle`'s network to `path` as ONNX (atomically) and, with `check`, compare
    onnxruntime's logits with torch's on random windows of a batch size other than the traced
    one. Returns ``{"path", "max_abs_diff" (None unchecked), "opset"}``; raises RuntimeError
    when the export dependencies are missing or the outputs disagree by more than 1e-4."""
    _require("onnx")
    ort = _require("onnxruntime") if check else None
    c = bundle.model_config
    with _on_cpu_for_export(bundle) as model:
        data = _trace(model, (torch.zeros(2, c.series, c.modal),), ["windows"], "logits")
        max_abs_diff = None
        if check:
            session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
            rng = np.random.default_rng(0)
            x = rng.standard_normal((5, c.series, c.modal)).astype(np.float32)
            with torch.inference_mode():
                expected = model(torch.from_numpy(x)).numpy()
            got = session.run(["logits"], {"windows": x})[0]
            max_abs_diff = float(np.abs(got - expected).max())
            if not max_abs_diff <= TOLERANCE:
                raise RuntimeError(
                    f"ONNX export check failed: onnxruntime differs from torch by {max_abs_diff:.3g}"
                )
    atomic_write_bytes(path, data)
    log.info("exported ONNX model %s (max abs diff %s)", path, max_abs_diff)
    return {"path": str(Path(path)), "max_abs_diff": max_abs_diff, "opset": OPSET}


def live_graph(bundle: ModelBundle) -> tuple[bytes, tuple[str, ...]]:
    """One ONNX graph of the whole inference (``pipeline.InferencePipeline``): raw windows
    ``windows [batch, size, C]`` (and, for a model that aligns each person, ``rotation
    [3, 3]`` and ``scale [1]``) in, ``probabilities [batch, classes]`` out. Returns the graph
    and its input names. Checked against ``bundle.predict_proba`` on random windows in a
    random pocket; raises RuntimeError when the export dependencies are missing or the two
    disagree by more than ``TOLERANCE``."""
    from ..data.alignment import Alignment, rotation_between
    from .pipeline import InferencePipeline

    _require("onnx")
    ort = _require("onnxruntime")
    c = bundle.model_config
    with _on_cpu_for_export(bundle):
        pipeline = InferencePipeline(bundle).eval()
        width = len(bundle.channels)
        example: tuple = (torch.zeros(2, c.series, width),)
        names: tuple[str, ...] = ("windows",)
        if pipeline.aligns:
            example += (torch.eye(3), torch.ones(1))
            names += ("rotation", "scale")
        data = _trace(pipeline, example, list(names), "probabilities")
        rng = np.random.default_rng(0)
        x = rng.normal(0.0, 3.0, (5, c.series, width)).astype(np.float32)
        acc = [i for i, name in enumerate(bundle.channels) if name in ("x", "y", "z")]
        if len(acc) == 3:
            x[..., acc[1]] += 9.8   # gravity along y, as in a trouser pocket
        rotation = rotation_between(rng.normal(size=3), rng.normal(size=3))   # another pocket
        feeds = {"windows": x}
        alignment = None
        if pipeline.aligns:
            alignment = Alignment(rotation, 1.07)
            feeds.update(rotation=rotation.astype(np.float32), scale=np.array([1.07], np.float32))
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        got = session.run(["probabilities"], feeds)[0]
        expected = bundle.predict_proba(x, alignment=alignment)
        max_abs_diff = float(np.abs(got - expected).max())
        if not max_abs_diff <= TOLERANCE:
            raise RuntimeError(f"the inference graph differs from the model's own steps by "
                               f"{max_abs_diff:.3g}")
    return data, names
