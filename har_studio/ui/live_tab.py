"""The Live tab: classify a replayed recording or a phone's live stream, window by window.

The session itself is the core's ``run_session`` generator (source -> streaming classifier),
run in a ``GeneratorWorker`` so inference never blocks the GUI. Each ``LiveUpdate`` that
arrives on the GUI thread is only appended into numpy ring buffers and counters (cheap); a
``QTimer`` at about 30 Hz redraws the latest state: the scrolling signal, the attention strip,
the current activity, the class probabilities, the prediction timeline and the statistics.
Samples are never drawn one by one.

The incoming stream can be recorded to a WISDM-format file (written atomically when the
recording stops) that the Data tab loads back for fine-tuning.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import paths
from ..data.activities import WISDM2019_CODES, WISDM_V11_ACTIVITIES, canonical_activity
from ..data.dataset import CHANNEL_UNITS, GYRO_CHANNELS
from ..live import (
    UNCERTAIN,
    LiveControl,
    LiveUpdate,
    ReplaySource,
    SessionSummary,
    StreamingClassifier,
    StreamRecorder,
    local_addresses,
    make_network_source,
    parse_speed,
)
from .live_plots import (
    AttentionStrip,
    ProbabilityBars,
    SampleRing,
    SignalPlot,
    TimelineRibbon,
    class_colours,
)
from .state import AppState
from .widgets import InlineMessage, configure_pyqtgraph
from .workers import GeneratorWorker

log = logging.getLogger(__name__)

SOURCE_KINDS = (
    ("replay", "Replay a loaded recording"),
    ("udp", "UDP: lines x,y,z (HyperIMU and similar)"),
    ("tcp", "TCP: lines x,y,z"),
    ("http", "HTTP: Sensor Logger JSON"),
)
DEFAULT_PORTS = {"udp": 5555, "tcp": 5556, "http": 8000}
HOSTS = (
    ("127.0.0.1", "This computer only (127.0.0.1)"),
    ("0.0.0.0", "Local network (0.0.0.0)"),
)
SPEEDS = (("1×", 1.0), ("2×", 2.0), ("5×", 5.0), ("10×", 10.0), ("max", math.inf))
UNITS = (("ms2", "m/s²"), ("g", "g (×9.81)"))
SMOOTHING = (("none", "none"), ("mean", "mean of probabilities"), ("majority", "majority vote"))

REDRAW_INTERVAL_MS = 33          # ~30 Hz
SIGNAL_SPAN_S = 10.0             # seconds of signal shown
LATENCY_WINDOW = 2000            # predictions the running latency percentiles are taken over
TIMELINE_MAX = 200_000           # predicted labels kept in `timeline` (oldest dropped beyond)


class _LiveClassifier(StreamingClassifier):
    """A StreamingClassifier whose settings the GUI may change while a session runs: changes
    are queued under a lock and applied by the session thread just before its next push."""

    def __init__(self, *args, **kwargs) -> None:
        self._requested: dict = {}
        self._requested_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def request_options(self, **options) -> None:
        with self._requested_lock:
            self._requested.update({k: v for k, v in options.items() if v is not None})

    def push(self, batch):
        with self._requested_lock:
            requested, self._requested = self._requested, {}
        if requested:
            try:
                self.set_options(**requested)
            except ValueError as exc:  # the spin boxes keep values in range; be safe anyway
                log.warning("live setting ignored: %s", exc)
        return super().push(batch)


def _model_info(bundle, where: str) -> str:
    w = bundle.window
    labels = ", ".join(bundle.labels)
    channels = ", ".join(bundle.channels)
    return (f"<b>{where}</b><br>{len(bundle.labels)} activities: {labels}<br>"
            f"window {w.size} samples ({w.size / w.rate_hz:.1f} s), step {w.step} · "
            f"{w.rate_hz:g} Hz · channels {channels}")


class LiveTab(QWidget):
    """Live classification of a replay or a phone stream (see the module docstring)."""

    predictionMade = Signal(object)    # the latest Prediction (at most once per redraw tick)
    sessionStarted = Signal()
    sessionFinished = Signal(object)   # SessionSummary

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.state = state
        self._file_models: dict[str, object] = {}   # path -> ModelBundle opened here
        self._bundle = None                          # the bundle of the running session
        self._worker: GeneratorWorker | None = None
        self._control: LiveControl | None = None
        self._source = None
        self._classifier: _LiveClassifier | None = None
        self._recorder: StreamRecorder | None = None
        self._inflight: _InFlight | None = None
        self._running = False
        self._kind = "replay"
        self._address_cache: list[str] | None = None

        # GUI-side session state, appended to as updates arrive and drawn by the timer.
        self.timeline: list[str] = []             # predicted label of every window, in order
        self.truth_timeline: list[str | None] = []
        self.redraw_count = 0
        self.running_accuracy: float | None = None
        self.last_summary: SessionSummary | None = None
        self.last_prediction = None
        self.last_stats = None
        self.bad_packets = 0
        self.listening_address: str | None = None
        self.recorded_paths: list[Path] = []
        self._ring = SampleRing(3)
        self._plot_cols: dict[tuple, list[int]] = {}
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._label_index: dict[str, int] = {}
        self._correct = 0
        self._labelled = 0
        self._dirty = False
        self._new_prediction = False
        self._drawn_prediction = None
        self._colours = class_colours(0)

        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

        state.modelChanged.connect(self._on_state_model_changed)
        state.modelPathChanged.connect(self._on_state_model_changed)
        state.datasetChanged.connect(self._on_state_dataset_changed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._refresh_model_combo(select="state")
        self._on_state_dataset_changed(state.dataset)
        self._on_source_combo_changed(0)
        self._update_buttons()

    # ------------------------------------------------------------------------------ building
    def _build(self) -> None:
        settings = QWidget()
        side = QVBoxLayout(settings)
        side.setContentsMargins(4, 4, 4, 4)
        side.addWidget(self._build_model_box())
        side.addWidget(self._build_source_box())
        side.addWidget(self._build_classifier_box())
        side.addWidget(self._build_record_box())
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings)
        scroll.setMinimumWidth(340)

        self.start_button = QPushButton("▶ Start")
        self.start_button.setToolTip("Start classifying the chosen source")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button = QPushButton("■ Stop")
        self.stop_button.clicked.connect(self._on_stop_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)

        right = QWidget()
        view = QVBoxLayout(right)
        view.setContentsMargins(4, 4, 4, 4)
        self.message = InlineMessage(self)
        view.addWidget(self.message)

        head = QHBoxLayout()
        self.current_label = QLabel("—")
        big = QFont()
        big.setPointSize(26)
        big.setBold(True)
        self.current_label.setFont(big)
        self.current_label.setMinimumWidth(260)
        self.confidence_label = QLabel("")
        conf_font = QFont()
        conf_font.setPointSize(13)
        self.confidence_label.setFont(conf_font)
        head.addWidget(self.current_label)
        head.addWidget(self.confidence_label)
        head.addStretch(1)
        self.status_label = QLabel("Idle")
        head.addWidget(self.status_label)
        view.addLayout(head)

        self.signal_plot = SignalPlot(SIGNAL_SPAN_S)
        self.attention_strip = AttentionStrip()
        self.attention_strip.setMaximumHeight(110)
        self.attention_strip.setToolTip(
            "Where in the current window the model looked: attention received by each time "
            "patch of each axis (first transformer block, averaged over heads); bright = more.")
        self.probability_bars = ProbabilityBars()
        self.timeline_ribbon = TimelineRibbon()
        self.timeline_ribbon.setMaximumHeight(80)
        self.timeline_ribbon.setToolTip("Latest predictions, newest on the right (top) and "
                                        "the true activity of a labelled replay (bottom); "
                                        "grey = uncertain.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.signal_plot, 3)
        upper_layout.addWidget(self.attention_strip, 1)
        splitter.addWidget(upper)
        splitter.addWidget(self.probability_bars)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        view.addWidget(splitter, 1)
        view.addWidget(self.timeline_ribbon)
        self.accuracy_label = QLabel("")
        self.stats_label = QLabel("")
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.accuracy_label, self.stats_label):
            # text changes every redraw: never let its width re-run the layout
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        view.addWidget(self.accuracy_label)
        view.addWidget(self.stats_label)
        view.addWidget(self.summary_label)

        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(left)
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)

    def _build_model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_changed)
        self.open_model_button = QPushButton("Open model…")
        self.open_model_button.clicked.connect(self._on_open_model_clicked)
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.open_model_button)
        layout.addLayout(row)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.model_info)
        return box

    def _build_source_box(self) -> QGroupBox:
        box = QGroupBox("Source")
        layout = QVBoxLayout(box)
        self.source_combo = QComboBox()
        for kind, text in SOURCE_KINDS:
            self.source_combo.addItem(text, kind)
        self.source_combo.currentIndexChanged.connect(self._on_source_combo_changed)
        layout.addWidget(self.source_combo)
        self.source_stack = QStackedWidget()
        layout.addWidget(self.source_stack)

        replay = QWidget()
        form = QFormLayout(replay)
        form.setContentsMargins(0, 0, 0, 0)
        self.subject_combo = QComboBox()
        self.activity_combo = QComboBox()
        self.speed_combo = QComboBox()
        for text, value in SPEEDS:
            self.speed_combo.addItem(text, value)
        self.speed_combo.currentIndexChanged.connect(self._on_speed_changed)
        self.loop_check = QCheckBox("Loop at the end")
        self.loop_check.toggled.connect(self._on_loop_toggled)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setRange(0, 0)
        self.seek_slider.setToolTip("Position in the recording; drag to jump")
        self.seek_slider.sliderReleased.connect(self._on_seek_released)
        self.position_label = QLabel("")
        form.addRow("Subject", self.subject_combo)
        form.addRow("Activity", self.activity_combo)
        form.addRow("Speed", self.speed_combo)
        form.addRow("", self.loop_check)
        transport = QHBoxLayout()
        transport.addWidget(self.pause_button)
        transport.addWidget(self.seek_slider, 1)
        form.addRow(transport)
        form.addRow("Position", self.position_label)
        self.source_stack.addWidget(replay)

        network = QWidget()
        nform = QFormLayout(network)
        nform.setContentsMargins(0, 0, 0, 0)
        self.host_combo = QComboBox()
        for host, text in HOSTS:
            self.host_combo.addItem(text, host)
        self.host_combo.currentIndexChanged.connect(self._update_address_hint)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("any free port")
        self.port_spin.setValue(DEFAULT_PORTS["udp"])
        self.port_spin.valueChanged.connect(self._update_address_hint)
        self.units_combo = QComboBox()
        for value, text in UNITS:
            self.units_combo.addItem(text, value)
        self.address_label = QLabel("")
        self.address_label.setWordWrap(True)
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        nform.addRow("Listen on", self.host_combo)
        nform.addRow("Port", self.port_spin)
        nform.addRow("Phone sends", self.units_combo)
        nform.addRow(self.address_label)
        self.source_stack.addWidget(network)
        return box

    def _build_classifier_box(self) -> QGroupBox:
        box = QGroupBox("Classification")
        form = QFormLayout(box)
        self.hop_spin = QSpinBox()
        self.hop_spin.setRange(1, 4096)
        self.hop_spin.setSuffix(" samples")
        self.hop_spin.setToolTip("Classify a window every this many samples "
                                 "(the model's step by default; 1 = every sample)")
        self.hop_spin.valueChanged.connect(self._on_classifier_setting_changed)
        self.smoothing_combo = QComboBox()
        for value, text in SMOOTHING:
            self.smoothing_combo.addItem(text, value)
        self.smoothing_combo.setCurrentIndex(1)
        self.smoothing_combo.currentIndexChanged.connect(self._on_classifier_setting_changed)
        self.smooth_k_spin = QSpinBox()
        self.smooth_k_spin.setRange(1, 50)
        self.smooth_k_spin.setValue(3)
        self.smooth_k_spin.setSuffix(" windows")
        self.smooth_k_spin.valueChanged.connect(self._on_classifier_setting_changed)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(0.5)
        self.threshold_spin.setToolTip("Below this confidence the activity shows as 'uncertain'")
        self.threshold_spin.valueChanged.connect(self._on_classifier_setting_changed)
        self.attention_check = QCheckBox("Show attention over the window")
        self.attention_check.setChecked(True)
        self.attention_check.toggled.connect(self._on_classifier_setting_changed)
        form.addRow("Hop", self.hop_spin)
        form.addRow("Smoothing", self.smoothing_combo)
        form.addRow("Smooth over", self.smooth_k_spin)
        form.addRow("Confidence threshold", self.threshold_spin)
        form.addRow(self.attention_check)
        return box

    def _build_record_box(self) -> QGroupBox:
        box = QGroupBox("Record the incoming stream")
        form = QFormLayout(box)
        self.record_activity_combo = QComboBox()
        self.record_activity_combo.setEditable(True)
        self.record_activity_combo.setToolTip("The activity the person is doing while recording")
        self.record_subject_spin = QSpinBox()
        self.record_subject_spin.setRange(0, 999_999)
        self.record_subject_spin.setValue(99)
        folder_row = QHBoxLayout()
        self.record_folder_edit = QLineEdit(str(paths.user_data_dir() / "recordings"))
        browse = QPushButton("…")
        browse.setToolTip("Choose the folder recordings are saved in")
        browse.clicked.connect(self._on_browse_record_folder)
        folder_row.addWidget(self.record_folder_edit, 1)
        folder_row.addWidget(browse)
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Save the incoming samples to a WISDM-format file "
                                      "(written when recording stops)")
        self.record_button.toggled.connect(self._on_record_toggled)
        self.record_status = QLabel("")
        self.record_status.setWordWrap(True)
        self.record_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Activity", self.record_activity_combo)
        form.addRow("Subject id", self.record_subject_spin)
        form.addRow("Folder", folder_row)
        form.addRow(self.record_button)
        form.addRow(self.record_status)
        return box

    # ------------------------------------------------------------------------ public helpers
    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def recording_samples(self) -> int:
        """Samples written by the recording in progress (0 when not recording)."""
        recorder = self._recorder
        return int(recorder.samples) if recorder is not None else 0

    @property
    def source_kind(self) -> str:
        return str(self.source_combo.currentData())

    def current_model(self):
        """The ModelBundle chosen in the model box (None when there is none)."""
        key = self.model_combo.currentData()
        if key == "state":
            return self.state.model
        return self._file_models.get(key)

    def set_source(self, kind: str, **options) -> None:
        """Choose and configure the source as a user would.

        replay: ``subject`` (int or None = all), ``activity`` (name or None = all), ``speed``
        (1, 2, 5, 10, "2x", "max"), ``loop`` (bool). udp / tcp / http: ``host``
        ("127.0.0.1", "0.0.0.0" or another address), ``port`` (0 = any free port), ``units``
        ("ms2" or "g"). Raises ValueError for an unknown kind or option.
        """
        kind = str(kind).lower()
        index = self.source_combo.findData(kind)
        if index < 0:
            raise ValueError(f"unknown source {kind!r} (use replay, udp, tcp or http)")
        self.source_combo.setCurrentIndex(index)
        for key, value in options.items():
            if kind == "replay" and key == "subject":
                self._select_data(self.subject_combo, None if value is None else int(value), key)
            elif kind == "replay" and key == "activity":
                self._select_data(self.activity_combo,
                                  None if value is None else canonical_activity(value), key)
            elif kind == "replay" and key == "speed":
                speed = parse_speed(value)
                matches = [i for i, (_, v) in enumerate(SPEEDS) if v == speed]
                if not matches:
                    raise ValueError(f"speed must be one of 1, 2, 5, 10 or max, got {value!r}")
                self.speed_combo.setCurrentIndex(matches[0])
            elif kind == "replay" and key == "loop":
                self.loop_check.setChecked(bool(value))
            elif kind != "replay" and key == "host":
                host = str(value)
                if self.host_combo.findData(host) < 0:
                    self.host_combo.addItem(host, host)
                self.host_combo.setCurrentIndex(self.host_combo.findData(host))
            elif kind != "replay" and key == "port":
                self.port_spin.setValue(int(value))
            elif kind != "replay" and key == "units":
                self._select_data(self.units_combo, str(value), key)
            else:
                raise ValueError(f"unknown option {key!r} for a {kind} source")

    def set_options(self, *, hop: int | None = None, smoothing: str | None = None,
                    smooth_k: int | None = None, threshold: float | None = None,
                    attention: bool | None = None) -> None:
        """Set the classification settings (also while a session runs)."""
        if hop is not None:
            self.hop_spin.setValue(int(hop))
        if smoothing is not None:
            self._select_data(self.smoothing_combo, smoothing, "smoothing")
        if smooth_k is not None:
            self.smooth_k_spin.setValue(int(smooth_k))
        if threshold is not None:
            self.threshold_spin.setValue(float(threshold))
        if attention is not None:
            self.attention_check.setChecked(bool(attention))

    def set_recording(self, enabled: bool, *, activity: str | None = None,
                      subject: int | None = None, folder: str | Path | None = None) -> None:
        """Arm (or start, while running) / stop recording, as the Record button does."""
        if activity is not None:
            self.record_activity_combo.setCurrentText(str(activity))
        if subject is not None:
            self.record_subject_spin.setValue(int(subject))
        if folder is not None:
            self.record_folder_edit.setText(str(folder))
        self.record_button.setChecked(bool(enabled))

    def start(self) -> bool:
        """Start a session with the current settings; False (and a message) if it cannot."""
        if self._running:
            return False
        self.message.clear()
        bundle = self.current_model()
        if bundle is None:
            self._error("No model to run: train one on the Train tab or open a model file.")
            return False
        kind = self.source_kind
        try:
            source = self._make_source(kind, bundle)
            classifier = _LiveClassifier(
                bundle, hop=self.hop_spin.value(),
                smoothing=str(self.smoothing_combo.currentData()),
                smooth_k=self.smooth_k_spin.value(), threshold=self.threshold_spin.value(),
                attention=self.attention_check.isChecked())
            problem = classifier.check_channels(source.channels)
            if problem:
                raise ValueError(problem)
        except (ValueError, TypeError, KeyError) as exc:
            self._error(f"Cannot start: {exc}")
            return False
        try:
            source.start()   # binds the port now, so "address in use" shows at once
        except OSError as exc:
            self._error(f"Cannot start: {exc}")
            return False

        self._bundle = bundle
        self._source = source
        self._classifier = classifier
        self._control = LiveControl()
        self._kind = kind
        self._reset_session_view(bundle)
        self.listening_address = getattr(source, "address", None) if kind != "replay" else None
        if kind == "replay":
            duration = float(getattr(source, "duration_s", 0.0) or 0.0)
            self.seek_slider.setRange(0, int(duration * 10))
            self.seek_slider.setValue(0)
        self._running = True
        if self.record_button.isChecked():
            self._start_recording()
        inflight = self._inflight = _InFlight()
        control = self._control
        worker = GeneratorWorker(partial(_session, source, classifier, control, inflight))
        inflight.watch(lambda: control.stopped or worker.is_aborting)
        worker.yielded.connect(self._on_worker_yielded)
        worker.returned.connect(self._on_worker_returned)
        worker.errored.connect(self._on_worker_errored)
        worker.aborted.connect(self._on_worker_aborted)
        self._worker = worker
        worker.start()
        self._timer.start()
        self._set_status("Running" if kind == "replay" else f"Listening on {self.listening_address}")
        self._update_address_hint()
        self._update_buttons()
        log.info("live session started: %s", kind)
        self.sessionStarted.emit()
        return True

    def stop(self) -> None:
        """Ask the running session to stop; ``sessionFinished`` follows with its summary."""
        if self._running and self._control is not None:
            self._control.stop()
            self.stop_button.setEnabled(False)
            self._set_status("Stopping…")

    def shutdown(self) -> None:
        """Stop a session and save a recording in progress (tab closed, app quitting)."""
        if not self._running:
            return
        if self._control is not None:
            self._control.stop()
        if self._inflight is not None:
            self._inflight.cancel()
        worker = self._worker
        if worker is not None and not worker.wait(5000):
            log.warning("the live session did not stop within 5 s")
        self._end_session(None)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    # -------------------------------------------------------------------------- model choice
    def _refresh_model_combo(self, select: str | None = None) -> None:
        self.model_combo.blockSignals(True)
        try:
            self.model_combo.clear()
            if self.state.model is not None:
                where = Path(self.state.model_path).name if self.state.model_path else "this session"
                self.model_combo.addItem(f"Trained model ({where})", "state")
            else:
                self.model_combo.addItem("Trained model (none yet: train one on the Train tab)",
                                         "state")
            for path in self._file_models:
                self.model_combo.addItem(f"File: {Path(path).name}", path)
                self.model_combo.setItemData(self.model_combo.count() - 1, path,
                                             Qt.ItemDataRole.ToolTipRole)
            index = 0
            if select is not None:
                index = max(0, self.model_combo.findData(select))
            self.model_combo.setCurrentIndex(index)
        finally:
            self.model_combo.blockSignals(False)
        self._on_model_combo_changed(self.model_combo.currentIndex())

    def _on_state_model_changed(self, _bundle) -> None:
        if self._running:
            # keep the running session's model; offer the new one for the next start
            keep = self.model_combo.currentData()
            self._refresh_model_combo(select=keep)
            return
        self._refresh_model_combo(select="state" if self.state.model is not None else
                                  self.model_combo.currentData())

    def _on_open_model_clicked(self) -> None:
        start_dir = str(Path(self.state.model_path).parent) if self.state.model_path else str(
            paths.runs_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", start_dir,
                                              "HAR Studio models (*.harmodel);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Load a model file (never executes code from it); a bad file gets a message naming
        it. Returns True when the model is now selected."""
        path = str(path)
        try:
            from ..model.io import ModelFileError, load_model
        except Exception as exc:  # pragma: no cover - the model package is part of the app
            self._model_error(path, f"{path}: the model code cannot be loaded ({exc})")
            return False
        try:
            bundle = load_model(path)
        except ModelFileError as exc:
            self._model_error(path, str(exc))
            return False
        except Exception as exc:  # anything unexpected still names the file, never crashes
            log.debug("loading %s failed", path, exc_info=True)
            self._model_error(path, f"{path}: cannot be used as a model ({exc})")
            return False
        self._file_models[path] = bundle
        self._refresh_model_combo(select=path)
        self.message.show_message(f"Opened model {path}", "info")
        log.info("opened model %s for the live tab", path)
        return True

    def _model_error(self, path: str, text: str) -> None:
        if Path(path).name not in text:
            text = f"{path}: {text}"
        self._error(text)
        QMessageBox.warning(self, "Cannot open the model", text)

    def _on_model_combo_changed(self, _index: int) -> None:
        bundle = self.current_model()
        key = self.model_combo.currentData()
        if bundle is None:
            self.model_info.setText("No model yet. Train one on the Train tab, or open a "
                                    "<i>.harmodel</i> file.")
        else:
            where = ("Trained in this session" if key == "state" and not self.state.model_path
                     else str(self.state.model_path if key == "state" else key))
            self.model_info.setText(_model_info(bundle, where))
            if not self._running:   # a running session keeps its model and settings
                self.hop_spin.setRange(1, int(bundle.window.size))
                self.hop_spin.setValue(int(bundle.window.step))
                self._fill_record_activities(bundle.labels)
        if not self._running:
            self._prepare_views(bundle)
        self._update_buttons()

    # -------------------------------------------------------------------------- source choice
    def _on_state_dataset_changed(self, dataset) -> None:
        prev_subject = self.subject_combo.currentData()
        prev_activity = self.activity_combo.currentData()
        self.subject_combo.clear()
        self.activity_combo.clear()
        self.subject_combo.addItem("All subjects", None)
        self.activity_combo.addItem("All activities", None)
        if dataset is not None:
            for s in dataset.subjects:
                self.subject_combo.addItem(f"Subject {s}", int(s))
            for a in dataset.activities:
                self.activity_combo.addItem(a, a)
        self.subject_combo.setCurrentIndex(max(0, self.subject_combo.findData(prev_subject)))
        self.activity_combo.setCurrentIndex(max(0, self.activity_combo.findData(prev_activity)))
        if dataset is None:
            self.subject_combo.setToolTip("Load recordings on the Data tab to replay them")

    def _on_source_combo_changed(self, _index: int) -> None:
        kind = self.source_kind
        self.source_stack.setCurrentIndex(0 if kind == "replay" else 1)
        if kind in DEFAULT_PORTS and self.port_spin.value() in (*DEFAULT_PORTS.values(),):
            self.port_spin.setValue(DEFAULT_PORTS[kind])
        self._update_address_hint()

    def _make_source(self, kind: str, bundle):
        channels = tuple(bundle.channels)
        if kind == "replay":
            dataset = self.state.dataset
            if dataset is None:
                raise ValueError("no recording to replay: load one on the Data tab first")
            return ReplaySource(dataset, subject=self.subject_combo.currentData(),
                                activity=self.activity_combo.currentData(), channels=channels,
                                speed=float(self.speed_combo.currentData()),
                                loop=self.loop_check.isChecked(), window=bundle.window)
        return make_network_source(kind, str(self.host_combo.currentData()),
                                   self.port_spin.value(), channels=channels,
                                   units=str(self.units_combo.currentData()))

    def _addresses(self) -> list[str]:
        if self._address_cache is None:
            try:
                self._address_cache = local_addresses()
            except Exception:  # never let a network query break the tab
                self._address_cache = ["127.0.0.1"]
        return self._address_cache

    def _update_address_hint(self, *_args) -> None:
        kind = self.source_kind
        if kind == "replay":
            return
        host = str(self.host_combo.currentData())
        port = self.port_spin.value()
        if self._running and self.listening_address and self._kind == kind:
            port_text = self.listening_address.rpartition(":")[2]
        else:
            port_text = str(port) if port else "chosen at Start"
        if host == "0.0.0.0":
            ips = self._addresses()
            hint = (f"Type into the phone: address <b>{' or '.join(ips)}</b>, "
                    f"port <b>{port_text}</b>.<br>The phone must be on the same network and "
                    "the firewall must let the port in.")
        elif host == "127.0.0.1":
            hint = (f"Listening on <b>127.0.0.1</b>, port <b>{port_text}</b> (this computer "
                    "only; for a phone choose Local network).")
        else:
            hint = f"Listening on <b>{host}</b>, port <b>{port_text}</b>."
        fmt = {"udp": "Send lines <tt>x,y,z</tt> or <tt>timestamp,x,y,z</tt> (gyroscope "
                      "x,y,z may follow) in UDP packets.",
               "tcp": "Send lines <tt>x,y,z</tt> or <tt>timestamp,x,y,z</tt> over TCP.",
               "http": "Sensor Logger: HTTP push to http://address:port/ (JSON)."}[kind]
        self.address_label.setText(f"{hint}<br>{fmt}")

    # ---------------------------------------------------------------- replay / classifier controls
    def _on_speed_changed(self, _index: int) -> None:
        if self._running and self._kind == "replay":
            self._source.set_speed(float(self.speed_combo.currentData()))

    def _on_loop_toggled(self, on: bool) -> None:
        if self._running and self._kind == "replay":
            self._source.loop = bool(on)

    def _on_pause_toggled(self, on: bool) -> None:
        self.pause_button.setText("Resume" if on else "Pause")
        if self._running and self._control is not None:
            if on:
                self._control.pause()
                self._set_status("Paused")
            else:
                self._control.resume()
                self._set_status("Running")

    def _on_seek_released(self) -> None:
        if self._running and self._kind == "replay":
            self._source.seek(self.seek_slider.value() / 10.0)

    def _on_classifier_setting_changed(self, *_args) -> None:
        self.smooth_k_spin.setEnabled(self.smoothing_combo.currentData() != "none")
        self.probability_bars.set_threshold(self.threshold_spin.value())
        if self._running and self._classifier is not None:
            self._classifier.request_options(
                hop=self.hop_spin.value(), smoothing=str(self.smoothing_combo.currentData()),
                smooth_k=self.smooth_k_spin.value(), threshold=self.threshold_spin.value(),
                attention=self.attention_check.isChecked())
        self.attention_strip.setVisible(self.attention_check.isChecked())

    # -------------------------------------------------------------------------- recording
    def _fill_record_activities(self, labels) -> None:
        current = self.record_activity_combo.currentText()
        names = list(dict.fromkeys([*labels, *WISDM_V11_ACTIVITIES]))
        self.record_activity_combo.blockSignals(True)
        self.record_activity_combo.clear()
        self.record_activity_combo.addItems(names)
        self.record_activity_combo.setCurrentText(current or (names[0] if names else ""))
        self.record_activity_combo.blockSignals(False)

    def _on_browse_record_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save recordings in",
                                                  self.record_folder_edit.text())
        if folder:
            self.record_folder_edit.setText(folder)

    def _on_record_toggled(self, on: bool) -> None:
        self.record_button.setText("■ Stop recording" if on else "● Record")
        if not self._running:
            self.record_status.setText("Recording starts with the session." if on else "")
            return
        if on:
            self._start_recording()
        else:
            self._stop_recording()

    def _recording_path(self, activity: str, subject: int, channels: tuple[str, ...]) -> Path:
        folder = Path(self.record_folder_edit.text().strip() or
                      paths.user_data_dir() / "recordings").expanduser()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        gyro = all(c in channels for c in GYRO_CHANNELS)
        if gyro and activity in WISDM2019_CODES.values():
            # WISDM 2019 layout keeps the gyroscope: an accel + gyro file pair in a folder
            return folder / f"recording_{stamp}" / f"data_{subject}_accel_phone.txt"
        safe = "".join(ch if ch.isalnum() else "-" for ch in activity)
        return folder / f"recording_s{subject}_{safe}_{stamp}.txt"

    def _start_recording(self) -> None:
        if self._control is None or self._source is None:
            return
        activity = canonical_activity(self.record_activity_combo.currentText())
        subject = self.record_subject_spin.value()
        channels = tuple(self._source.channels)
        try:
            path = self._recording_path(activity, subject, channels)
            recorder = StreamRecorder(path, subject, activity, channels=channels)
        except (ValueError, OSError) as exc:
            self._error(f"Cannot record: {exc}")
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.setText("● Record")
            self.record_button.blockSignals(False)
            return
        old = self._control.set_recorder(recorder)
        if old is not None:
            old.close()
        self._recorder = recorder
        self.record_status.setText(f"Recording “{activity}” (subject {subject}) to {path} …")
        log.info("recording to %s", path)

    def _stop_recording(self) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        if self._control is not None:
            self._control.set_recorder(None)
        self._recorder = None
        if recorder.samples == 0:
            recorder.discard()
            self.record_status.setText("Nothing was recorded: no samples arrived.")
            return
        try:
            written = recorder.close()
        except OSError as exc:
            self._error(f"Saving the recording failed: {exc}")
            return
        self.recorded_paths = list(written)
        shown = " and ".join(str(p) for p in written)
        self.record_status.setText(
            f"Saved {recorder.samples} samples of “{recorder.activity}” to {shown}. "
            "Load it on the Data tab to fine-tune a model.")

    # ---------------------------------------------------------------------- session plumbing
    def _prepare_views(self, bundle) -> None:
        """Set up plots for a model's labels and channels (no data)."""
        labels = list(bundle.labels) if bundle is not None else []
        channels = list(bundle.channels) if bundle is not None else ["x", "y", "z"]
        self._label_index = {name: i for i, name in enumerate(labels)}
        self._colours = class_colours(len(labels))
        self.probability_bars.set_labels(labels)
        self.probability_bars.set_threshold(self.threshold_spin.value())
        self.timeline_ribbon.set_classes(len(labels))
        units = sorted({CHANNEL_UNITS.get(c, "") for c in channels} - {""})
        self.signal_plot.set_channels(channels, " · ".join(units))
        # The attention has one row per input of the network (derived features, if any).
        self.attention_strip.set_channels(list(getattr(bundle, "input_channels", channels))
                                          if bundle is not None else channels)
        self._ring = SampleRing(len(channels), capacity=8192)
        self._plot_cols = {}

    def _reset_session_view(self, bundle) -> None:
        self._prepare_views(bundle)
        self.timeline = []
        self.truth_timeline = []
        self.running_accuracy = None
        self.last_summary = None
        self.last_prediction = None
        self.last_stats = None
        self.bad_packets = 0
        self._latencies.clear()
        self._correct = 0
        self._labelled = 0
        self._dirty = True
        self._new_prediction = False
        self._drawn_prediction = None
        self.timeline_ribbon.redraw()
        self.current_label.setText("…")
        self.current_label.setStyleSheet("")
        self.confidence_label.setText("")
        self.accuracy_label.setText("")
        self.stats_label.setText("")
        self.summary_label.setText("")
        self.pause_button.setChecked(False)

    def _on_worker_yielded(self, update: LiveUpdate) -> None:
        """Append what arrived (cheap, GUI thread); the timer draws it."""
        if self._inflight is not None:
            self._inflight.release()
        if not self._running or not isinstance(update, LiveUpdate):
            return
        batch = update.samples
        changed = update.stats != self.last_stats
        if len(batch):
            self._ring.append(batch.t, self._plot_values(batch))
            changed = True
        if update.predictions:
            self._ingest_predictions(update.predictions)
            changed = True
        if changed:   # an idle poll (nothing arrived, same stats) needs no redraw
            self.last_stats = update.stats
            self.bad_packets = int(update.stats.bad_packets)
            self._dirty = True

    def _plot_values(self, batch) -> np.ndarray:
        names = tuple(self.signal_plot.channel_names)
        key = tuple(batch.channels) if batch.channels else None
        if key is None or key == names:
            return batch.values[:, :len(names)]
        cols = self._plot_cols.get(key)
        if cols is None:
            cols = self._plot_cols[key] = [key.index(c) for c in names]
        return batch.values[:, cols]

    def _ingest_predictions(self, predictions) -> None:
        index = self._label_index
        preds, truths = [], []
        for p in predictions:
            self.timeline.append(p.label)
            self.truth_timeline.append(p.truth)
            preds.append(p.class_index if p.label != UNCERTAIN else -1)
            if p.truth is None:
                truths.append(-2)
            else:
                t = index.get(p.truth, -1)
                truths.append(t)
                if t >= 0:
                    self._labelled += 1
                    self._correct += int(p.class_index == t)
            self._latencies.append(p.latency_ms)
        if len(self.timeline) > TIMELINE_MAX * 1.1:
            cut = len(self.timeline) - TIMELINE_MAX
            del self.timeline[:cut]
            del self.truth_timeline[:cut]
        self.timeline_ribbon.extend(preds, truths)
        if self._labelled:
            self.running_accuracy = self._correct / self._labelled
        self.last_prediction = predictions[-1]
        self._new_prediction = True

    def _on_timer_timeout(self) -> None:
        if self._new_prediction:
            self._new_prediction = False
            self.predictionMade.emit(self.last_prediction)
        if self._dirty and self.isVisible():
            self._redraw()

    def _redraw(self) -> None:
        """Draw the latest state (called by the ~30 Hz timer, never per sample)."""
        self._dirty = False
        self.redraw_count += 1
        self.signal_plot.update_from(self._ring)
        p = self.last_prediction
        if p is not None and p is not self._drawn_prediction:
            self._drawn_prediction = p
            if p.label == UNCERTAIN:
                text, style = "uncertain", "color: #9a9a9a;"
            else:
                r, g, b = (int(v) for v in self._colours[p.class_index]) if (
                    0 <= p.class_index < len(self._colours)) else (0, 0, 0)
                text, style = p.label, f"color: rgb({r * 3 // 4}, {g * 3 // 4}, {b * 3 // 4});"
            self.current_label.setText(text)
            if style != self.current_label.styleSheet():   # restyling is not free
                self.current_label.setStyleSheet(style)
            self.confidence_label.setText(f"{p.confidence:.0%} confident")
            self.probability_bars.set_probabilities(p.probabilities)
            if p.attention is not None and self.attention_check.isChecked():
                self.attention_strip.set_attention(p.attention)
            self.timeline_ribbon.redraw()
        if self.running_accuracy is not None:
            self.accuracy_label.setText(
                f"Running accuracy {self.running_accuracy:.1%} over {self._labelled} windows "
                "with a known activity")
        self.stats_label.setText(self._stats_text())
        stats = self.last_stats
        if stats is not None and self._kind == "replay" and not self.seek_slider.isSliderDown():
            self.seek_slider.setValue(int(stats.position_s * 10))
            duration = stats.duration_s or 0.0
            self.position_label.setText(f"{stats.position_s:.1f} s of {duration:.1f} s")

    def _stats_text(self) -> str:
        parts = [f"windows {len(self.timeline)}"]
        if self._latencies:
            lat = np.fromiter(self._latencies, np.float64, len(self._latencies))
            p50, p99 = np.percentile(lat, [50, 99])
            parts.append(f"latency p50 {p50:.1f} ms · p99 {p99:.1f} ms")
        stats = self.last_stats
        if stats is not None:
            parts.append(f"input {stats.rate_hz:.1f} Hz")
            parts.append(f"samples {stats.samples}")
            parts.append(f"bad packets {stats.bad_packets}")
            parts.append(f"dropped {stats.dropped}")
            if self._kind != "replay":
                parts.append("connected" if stats.connected else "waiting for data")
                if stats.last_error and stats.bad_packets:
                    parts.append(f"last error: {stats.last_error}")
        return "  |  ".join(parts)

    def _on_worker_returned(self, summary) -> None:
        if not self._running:
            return
        self._end_session(summary if isinstance(summary, SessionSummary) else None)

    def _on_worker_errored(self, exc, _traceback: str) -> None:
        if not self._running:
            return
        self._error(f"The live session stopped: {exc}")
        log.warning("live session failed: %s", exc)
        self._end_session(None)

    def _on_worker_aborted(self) -> None:
        if self._running:
            self._end_session(None)

    def _end_session(self, summary: SessionSummary | None) -> None:
        """Flush the view, save a recording, show the summary, re-enable the controls."""
        self._timer.stop()
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        worker = self._worker
        if worker is not None:
            for signal, slot in ((worker.yielded, self._on_worker_yielded),
                                 (worker.returned, self._on_worker_returned),
                                 (worker.errored, self._on_worker_errored),
                                 (worker.aborted, self._on_worker_aborted)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        if self._source is not None:
            try:
                self._source.stop()   # idempotent: run_session already stopped it
            except Exception:
                log.debug("stopping the source failed", exc_info=True)
        self._stop_recording()
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.setText("● Record")
        self.record_button.blockSignals(False)
        self._running = False
        self._worker = None
        self._control = None
        self._classifier = None
        if self._new_prediction:
            self._new_prediction = False
            self.predictionMade.emit(self.last_prediction)
        if self.isVisible():
            self._redraw()
        self.last_summary = summary
        if summary is not None:
            self.summary_label.setText(self._summary_text(summary))
            self._set_status("Finished" if summary.stopped_reason == "finished" else "Stopped")
        else:
            self._set_status("Stopped")
        self._update_buttons()
        self._update_address_hint()
        log.info("live session ended: %s", summary.to_dict() if summary else "no summary")
        if summary is not None:
            self.sessionFinished.emit(summary)

    @staticmethod
    def _summary_text(s: SessionSummary) -> str:
        how = {"finished": "Replay finished", "stopped": "Stopped",
               "duration": "Time limit reached"}.get(s.stopped_reason, s.stopped_reason)
        parts = [f"<b>{how}</b>: {s.windows} windows from {s.samples} samples in "
                 f"{s.duration_s:.1f} s"]
        if s.accuracy is not None:
            parts.append(f"accuracy <b>{s.accuracy:.1%}</b> over {s.labelled_windows} "
                         "labelled windows")
        if s.latency_ms_p50 is not None:
            parts.append(f"latency p50 {s.latency_ms_p50:.1f} ms · p99 {s.latency_ms_p99:.1f} ms")
        if s.bad_packets or s.dropped:
            parts.append(f"{s.bad_packets} bad packets, {s.dropped} samples dropped")
        return "; ".join(parts) + "."

    # ------------------------------------------------------------------------------ helpers
    def _on_start_clicked(self) -> None:
        self.start()

    def _on_stop_clicked(self) -> None:
        self.stop()

    def _update_buttons(self) -> None:
        running = self._running
        self.start_button.setEnabled(not running and self.current_model() is not None)
        self.stop_button.setEnabled(running)
        for widget in (self.model_combo, self.open_model_button, self.source_combo,
                       self.subject_combo, self.activity_combo, self.host_combo, self.port_spin,
                       self.units_combo, self.record_folder_edit):
            widget.setEnabled(not running)
        replay_live = running and self._kind == "replay"
        self.pause_button.setEnabled(replay_live)
        self.seek_slider.setEnabled(replay_live)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _error(self, text: str) -> None:
        self.message.show_message(text, "error")
        log.warning("%s", text)

    @staticmethod
    def _select_data(combo: QComboBox, value, what: str) -> None:
        index = combo.findData(value)
        if index < 0:
            choices = [str(combo.itemData(i)) for i in range(combo.count())]
            raise ValueError(f"{what} {value!r} is not available (choose from {', '.join(choices)})")
        combo.setCurrentIndex(index)


class _InFlight:
    """Back-pressure between the session thread and the GUI: at most `limit` updates may wait
    in the GUI's event queue. A replay at maximum speed produces updates faster than any GUI
    draws them; without this the queue (and memory) would grow without bound and Stop would
    wait for the backlog."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = int(limit)
        self._count = 0
        self._cond = threading.Condition()
        self._cancelled = False
        self._should_stop = lambda: False

    def watch(self, should_stop) -> None:
        """`should_stop()` True ends any wait (the session is stopping or aborted)."""
        self._should_stop = should_stop

    def acquire(self) -> None:
        """Called by the session thread before yielding an update."""
        with self._cond:
            while (self._count >= self.limit and not self._cancelled
                   and not self._should_stop()):
                self._cond.wait(0.05)
            self._count += 1

    def release(self) -> None:
        """Called by the GUI thread when it has taken an update."""
        with self._cond:
            self._count = max(0, self._count - 1)
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()


def _session(source, classifier, control, inflight: _InFlight):
    """The worker's generator: ``run_session`` with back-pressure (module level, so the
    worker holds no reference to the widget). Returns the session's summary."""
    from ..live import run_session

    gen = run_session(source, classifier, control)
    try:
        while True:
            try:
                update = next(gen)
            except StopIteration as stop:
                return stop.value
            inflight.acquire()
            yield update
    finally:
        gen.close()
