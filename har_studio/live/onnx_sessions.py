"""onnxruntime sessions for the streaming classifier's ``"onnx"`` and ``"auto"`` engines:
the bundle's whole inference as one graph, and a second session fixed at batch 1 for the one
window of a live push. None when onnxruntime is unavailable: the classifier uses torch."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def onnx_sessions(bundle, threads: int | None = None):
    """onnxruntime sessions of the bundle's whole inference (``onnx_export.live_graph``: raw
    windows and the person's alignment in, probabilities out), or of its network alone when
    that graph cannot be made; None when onnxruntime is unavailable (then torch serves).
    `threads` intra-op threads (default torch's count); idle threads sleep instead of
    spinning. With it comes a second session of the same graph, its batch axis fixed at 1,
    for the one window of a live push: onnxruntime plans its shapes once, the same numbers,
    5-10% less time (model alone, 1 thread: 0.92 vs 0.99 ms called back to back, 1.25 vs 1.35
    ms 50 ms apart, on the 2-core machine of ``bench/bench_live.py``). The whole inference in
    one graph saves the thirty-odd numpy calls around the network: 0.5-0.6 ms a live window
    on that machine."""
    try:
        import onnxruntime as ort

        from ..model.onnx_export import export_onnx, live_graph

        try:
            data, inputs = live_graph(bundle)
        except Exception as exc:  # the network alone, with the numpy steps around it
            log.info("live inference graph not used: %s", exc)
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory(prefix="har-live-") as folder:
                path = Path(folder) / "model.onnx"
                export_onnx(bundle, path, check=True)
                data = path.read_bytes()
            inputs = None
        options = ort.SessionOptions()
        if threads is None:
            import torch

            threads = torch.get_num_threads()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # any failure: torch is the fallback, never an error
        log.warning("onnxruntime unavailable for live inference, using torch: %s", exc)
        return None
    try:
        options.add_free_dimension_override_by_name("batch", 1)
        one = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # the general session serves one window too
        log.debug("no batch-1 onnxruntime session: %s", exc)
        one = None
    return OnnxSessions(session, one, inputs)


class OnnxSessions:
    """An onnxruntime session (any batch) and, when it could be made, one for batch 1.
    `inputs`: the input names of the whole-inference graph (windows, and rotation and scale
    for a model that aligns); None for a graph of the network alone (normalised inputs in,
    logits out)."""

    def __init__(self, general, batch1, inputs: tuple[str, ...] | None = None) -> None:
        self.general, self.batch1, self.inputs = general, batch1, inputs

    @property
    def whole(self) -> bool:
        """True when the graph is the whole inference (raw windows in, probabilities out)."""
        return self.inputs is not None

    def run(self, outputs: list[str], feeds: dict) -> list:
        x = next(iter(feeds.values()))
        session = self.batch1 if len(x) == 1 and self.batch1 is not None else self.general
        return session.run(outputs, feeds)
