"""Live: sample sources (replay of a recording, phone over the network), a numpy ring buffer
and resampler, a streaming classifier, and a session generator that ties them together. Qt-free.

Typical use (the Live tab runs ``run_session`` in a ``GeneratorWorker``)::

    source = ReplaySource(dataset, subject=3, speed=2.0, window=bundle.window)
    clf = StreamingClassifier(bundle, hop=8, smoothing="mean")
    for update in run_session(source, clf, control):   # LiveUpdate per poll
        ...  # update.samples (new samples), update.predictions, update.stats
"""

from __future__ import annotations

from .classifier import SMOOTHING_MODES, UNCERTAIN, Prediction, StreamingClassifier
from .protocols import ParsedSamples, parse_json_batch, parse_lines
from .recorder import StreamRecorder, recording_path
from .ring import Resampler, RingBuffer
from .session import LiveControl, LiveUpdate, RunningFigures, SessionSummary, run_session
from .sources import (
    REPLAY_SPEEDS,
    HttpSource,
    NetworkSource,
    ReplaySource,
    SampleBatch,
    Source,
    SourceStats,
    TcpSource,
    UdpSource,
    local_addresses,
    make_network_source,
    parse_address,
    parse_speed,
)

__all__ = [
    "REPLAY_SPEEDS", "SMOOTHING_MODES", "UNCERTAIN", "HttpSource", "LiveControl", "LiveUpdate",
    "NetworkSource", "ParsedSamples", "Prediction", "ReplaySource", "Resampler", "RingBuffer",
    "RunningFigures",
    "SampleBatch", "SessionSummary", "Source", "SourceStats", "StreamRecorder",
    "StreamingClassifier", "TcpSource", "UdpSource", "local_addresses", "make_network_source",
    "parse_address", "parse_json_batch", "parse_lines", "parse_speed", "recording_path",
    "run_session",
]
