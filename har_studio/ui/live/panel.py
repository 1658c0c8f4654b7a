"""The Live tab's left side: model, source, classification and recording settings, with
Start and Stop. Widgets and their layout only; the tab connects them."""

from __future__ import annotations

import logging
import math

from PySide6 import QtWidgets
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...data.activities import canonical_activity
from ...live.addresses import local_addresses
from ...live.registry import make_network_source
from ...live.replay import ReplaySource, parse_speed
from .hints import address_hint
from .panel_boxes import calibrate_box, record_box, wrapped_label

log = logging.getLogger(__name__)

SOURCE_KINDS = (
    ("replay", "Replay a loaded recording"),
    ("udp", "UDP: lines x,y,z (HyperIMU and similar)"),
    ("tcp", "TCP: lines x,y,z"),
    ("http", "HTTP: Sensor Logger JSON"),
    ("sensorserver", "SensorServer (Android; the phone serves)"),
    ("phyphox", "phyphox remote access (the phone serves)"),
)
DEFAULT_PORTS = {"udp": 5555, "tcp": 5556, "http": 8000, "sensorserver": 8080, "phyphox": 8080}
HOSTS = (
    ("127.0.0.1", "This computer only (127.0.0.1)"),
    ("0.0.0.0", "Local network (0.0.0.0)"),
)
SPEEDS = (("1×", 1.0), ("2×", 2.0), ("5×", 5.0), ("10×", 10.0), ("max", math.inf))
UNITS = (("ms2", "m/s²"), ("g", "g (×9.81)"))
PHONES = (("auto", "Tell from the stream"), ("android", "Android"), ("iphone", "iPhone"))
SMOOTHING = (("none", "none"), ("mean", "mean of probabilities"), ("majority", "majority vote"))
def select_data(combo: QComboBox, value, what: str) -> None:
    """Select the item whose data is `value`; ValueError naming the choices if none is."""
    index = combo.findData(value)
    if index < 0:
        choices = [str(combo.itemData(i)) for i in range(combo.count())]
        raise ValueError(f"{what} {value!r} is not available (choose from {', '.join(choices)})")
    combo.setCurrentIndex(index)


def _combo(items) -> QComboBox:
    combo = QComboBox()
    for value, text in items:
        combo.addItem(text, value)
    return combo


class LivePanel(QWidget):
    """Settings boxes in a scroll area, Start and Stop below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        settings = QWidget()
        side = QVBoxLayout(settings)
        side.setContentsMargins(4, 4, 4, 4)
        # Record before the classifier settings: its button and message stay above the fold
        # of a 1280x820 window.
        boxes = {"model": self._model_box(), "source": self._source_box(),
                 "classifier": self._classifier_box(), "record": record_box(self),
                 "calibrate": calibrate_box(self)}
        for box in (boxes["model"], boxes["source"], boxes["record"], boxes["calibrate"],
                    boxes["classifier"]):
            side.addWidget(box)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings)
        # as wide as the settings need beside a vertical scroll bar: never a sideways one
        scroll.setMinimumWidth(max(340, settings.minimumSizeHint().width()
                                   + scroll.verticalScrollBar().sizeHint().width()
                                   + 2 * scroll.frameWidth()))
        self.start_button = QPushButton("▶ Start")
        self.start_button.setToolTip("Start classifying the chosen source")
        self.stop_button = QPushButton("■ Stop")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self._address_cache: list[str] | None = None
        self.source_combo.currentIndexChanged.connect(self._on_source_combo_changed)

    def _model_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Model")
        layout = QVBoxLayout(box)
        self.model_combo = QComboBox()    # its own row: long model names are not truncated
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(20)
        self.open_model_button = QPushButton("Open model…")
        layout.addWidget(self.model_combo)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.open_model_button)
        layout.addLayout(row)
        self.model_info = wrapped_label()
        layout.addWidget(self.model_info)
        return box

    def _source_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Source")
        layout = QVBoxLayout(box)
        self.source_combo = _combo((kind, text) for kind, text in SOURCE_KINDS)
        layout.addWidget(self.source_combo)
        self.source_stack = QStackedWidget()
        layout.addWidget(self.source_stack)

        replay = QWidget()
        form = QtWidgets.QFormLayout(replay)
        form.setContentsMargins(0, 0, 0, 0)
        self.subject_combo = QComboBox()
        self.activity_combo = QComboBox()
        self.speed_combo = _combo((value, text) for text, value in SPEEDS)
        self.loop_check = QCheckBox("Loop at the end")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setRange(0, 0)
        self.seek_slider.setToolTip("Position in the recording; drag to jump")
        self.position_label = QLabel("")
        self.replay_file_label = QLabel("the Data tab's data")
        self.replay_file_label.setWordWrap(True)
        self.replay_file_label.setToolTip("What is replayed. Open… replays another recording "
                                          "without touching the Data tab's training data")
        self.replay_open_button = QPushButton("Open…")
        self.replay_data_button = QPushButton("Data tab's")
        self.replay_data_button.setToolTip("Replay the data loaded on the Data tab again")
        from_row = QHBoxLayout()           # the buttons under the name: a long name wraps
        from_row.addStretch(1)
        from_row.addWidget(self.replay_open_button)
        from_row.addWidget(self.replay_data_button)
        form.addRow("Replay", self.replay_file_label)
        form.addRow(from_row)
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
        nform = QtWidgets.QFormLayout(network)
        nform.setContentsMargins(0, 0, 0, 0)
        self.host_combo = _combo(HOSTS)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("any free port")
        self.port_spin.setValue(DEFAULT_PORTS["udp"])
        self.units_combo = _combo(UNITS)
        self.phone_combo = _combo(PHONES)
        self.phone_combo.setToolTip("Whose axis signs the values have: an iPhone's are negated "
                                    "to Android's. Sensor Logger's is told from what it sends.")
        self.address_label = wrapped_label()
        self.host_combo.setEditable(True)   # a phone's address, for apps where it serves
        self.host_combo.setToolTip("Where to listen; for SensorServer and phyphox type the "
                                   "phone's address")
        nform.addRow("Address", self.host_combo)
        nform.addRow("Port", self.port_spin)
        nform.addRow("Phone sends", self.units_combo)
        nform.addRow("Phone", self.phone_combo)
        nform.addRow(self.address_label)
        self.qr_label = QLabel()       # the phone points its camera here instead of typing
        self.qr_label.setToolTip("Scan with the phone's camera: the address to type")
        self.qr_label.hide()
        nform.addRow(self.qr_label)
        self.source_stack.addWidget(network)
        return box

    def _classifier_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Classification")
        form = QtWidgets.QFormLayout(box)
        self.hop_spin = QSpinBox()
        self.hop_spin.setRange(1, 4096)
        self.hop_spin.setSuffix(" samples")
        self.hop_spin.setToolTip("Classify a window every this many samples "
                                 "(the model's step by default; 1 = every sample)")
        self.smoothing_combo = _combo(SMOOTHING)
        self.smoothing_combo.setCurrentIndex(1)
        self.smooth_k_spin = QSpinBox()
        self.smooth_k_spin.setRange(1, 50)
        self.smooth_k_spin.setValue(3)
        self.smooth_k_spin.setSuffix(" windows")
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(0.5)
        self.threshold_spin.setToolTip("Below this confidence the activity shows as 'uncertain'")
        self.attention_check = QCheckBox("Show attention over the window")
        self.attention_check.setChecked(True)
        form.addRow("Hop", self.hop_spin)
        form.addRow("Smoothing", self.smoothing_combo)
        form.addRow("Smooth over", self.smooth_k_spin)
        form.addRow("Confidence threshold", self.threshold_spin)
        form.addRow(self.attention_check)
        return box

    # ------------------------------------------------------------------ source
    @property
    def source_kind(self) -> str:
        return str(self.source_combo.currentData())

    def set_source(self, kind: str, **options) -> None:
        """Choose and configure the source as a user would.

        replay: ``subject`` (int or None = all), ``activity`` (name or None = all), ``speed``
        (1, 2, 5, 10, "2x", "max"), ``loop`` (bool). udp / tcp / http: ``host``
        ("127.0.0.1", "0.0.0.0" or another address), ``port`` (0 = any free port), ``units``
        ("ms2" or "g"), ``phone`` ("auto", "android", "iphone"). Raises ValueError for an unknown kind or option.
        """
        kind = str(kind).lower()
        index = self.source_combo.findData(kind)
        if index < 0:
            raise ValueError(f"unknown source {kind!r} (use replay, udp, tcp or http)")
        self.source_combo.setCurrentIndex(index)
        for key, value in options.items():
            if kind == "replay" and key == "subject":
                select_data(self.subject_combo, None if value is None else int(value), key)
            elif kind == "replay" and key == "activity":
                select_data(self.activity_combo,
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
                select_data(self.units_combo, str(value), key)
            elif kind != "replay" and key == "phone":
                select_data(self.phone_combo, str(value).lower(), key)
            else:
                raise ValueError(f"unknown option {key!r} for a {kind} source")

    def set_recordings(self, dataset) -> None:
        """Offer the subjects and activities of `dataset` (None: nothing to replay)."""
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
            self.subject_combo.setToolTip("Load recordings on the Data tab, or Open… one "
                                          "here, to replay them")

    def host(self) -> str:
        """The chosen address: a listed choice's value, or what the user typed."""
        combo, i = self.host_combo, self.host_combo.currentIndex()
        if i >= 0 and combo.currentText() == combo.itemText(i):
            return str(combo.itemData(i))
        return combo.currentText().strip()

    def _on_source_combo_changed(self, _index: int) -> None:
        kind = self.source_kind
        self.source_stack.setCurrentIndex(0 if kind == "replay" else 1)
        if kind in DEFAULT_PORTS and self.port_spin.value() in (*DEFAULT_PORTS.values(),):
            self.port_spin.setValue(DEFAULT_PORTS[kind])

    def make_source(self, bundle, dataset):
        """The chosen source, reading the channels `bundle` needs (not started yet)."""
        kind, channels = self.source_kind, tuple(bundle.channels)
        if kind == "replay":
            if dataset is None:
                raise ValueError("no recording to replay: load one on the Data tab or Open… "
                                 "one here")
            return ReplaySource(dataset, subject=self.subject_combo.currentData(),
                                activity=self.activity_combo.currentData(), channels=channels,
                                speed=float(self.speed_combo.currentData()),
                                loop=self.loop_check.isChecked(), window=bundle.window)
        return make_network_source(kind, self.host(),
                                   self.port_spin.value(), channels=channels,
                                   units=str(self.units_combo.currentData()),
                                   phone=str(self.phone_combo.currentData()))

    def _addresses(self) -> list[str]:
        if self._address_cache is None:
            try:
                self._address_cache = local_addresses()
            except Exception:  # never let a network query break the tab
                self._address_cache = ["127.0.0.1"]
        return self._address_cache

    def update_address_hint(self, listening: str | None = None) -> None:
        """What to type into the phone; `listening`: the running source's address."""
        kind = self.source_kind
        if kind == "replay":
            return
        port = self.port_spin.value()
        if listening:
            port_text = listening.rpartition(":")[2]
        else:
            port_text = str(port) if port else "chosen at Start"
        host = self.host()
        self.address_label.setText(address_hint(kind, host, port_text, self._addresses))
        self.show_qr(kind, host, port_text)

    def show_qr(self, kind: str, host: str, port_text: str) -> None:
        """The QR code of what the phone types (Local network with a known port only)."""
        self.qr_text = None
        if host == "0.0.0.0" and port_text.isdigit() and int(port_text) > 0:
            try:
                from ...live.qr import phone_url, qr_code

                self.qr_text = phone_url(kind, f"{self._addresses()[0]}:{port_text}")
                pixmap = QPixmap()
                pixmap.loadFromData(qr_code(self.qr_text, "png", scale=3))
                self.qr_label.setPixmap(pixmap)
            except Exception:  # no segno, no address: the typed hint is still there
                log.debug("no QR code", exc_info=True)
                self.qr_text = None
        self.qr_label.setVisible(self.qr_text is not None)

    # ------------------------------------------------------------------ classification
    def set_options(self, **options) -> None:
        """Set classification settings by name: hop, smoothing ("none", "mean",
        "majority"), smooth_k, threshold, attention (None leaves one as it is)."""
        setters = {
            "hop": lambda v: self.hop_spin.setValue(int(v)),
            "smoothing": lambda v: select_data(self.smoothing_combo, v, "smoothing"),
            "smooth_k": lambda v: self.smooth_k_spin.setValue(int(v)),
            "threshold": lambda v: self.threshold_spin.setValue(float(v)),
            "attention": lambda v: self.attention_check.setChecked(bool(v)),
        }
        unknown = set(options) - set(setters)
        if unknown:
            raise ValueError(f"unknown classification setting(s): {', '.join(sorted(unknown))}")
        for name, value in options.items():
            if value is not None:
                setters[name](value)

    def classifier_options(self) -> dict:
        """The classification settings, as ``StreamingClassifier`` keyword arguments."""
        return {"hop": self.hop_spin.value(),
                "smoothing": str(self.smoothing_combo.currentData()),
                "smooth_k": self.smooth_k_spin.value(),
                "threshold": self.threshold_spin.value(),
                "attention": self.attention_check.isChecked()}

    def set_record_checked(self, on: bool) -> None:
        """Show the Record button as `on` without toggling recording."""
        self.record_button.blockSignals(True)
        self.record_button.setChecked(on)
        self.record_button.setText("■ Stop recording" if on else "● Record")
        self.record_button.blockSignals(False)

    def set_running(self, running: bool, replay: bool, has_model: bool) -> None:
        self.start_button.setEnabled(not running and has_model)
        self.stop_button.setEnabled(running)
        for widget in (self.model_combo, self.open_model_button, self.source_combo,
                       self.subject_combo, self.activity_combo, self.host_combo, self.port_spin,
                       self.units_combo, self.phone_combo, self.record_folder_edit):
            widget.setEnabled(not running)
        self.pause_button.setEnabled(running and replay)
        self.seek_slider.setEnabled(running and replay)
