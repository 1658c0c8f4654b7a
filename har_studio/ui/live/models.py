"""The Live tab's model choice: the model trained in this session (from ``AppState``), the
built-in default model shipped with the app (``model/shipped.py``; chosen at first start, so
a demo needs no training) or model files opened here, in the model combo box with a
description below it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QMessageBox, QWidget

from ... import paths
from ...model.io import ModelFileError, load_model
from ...model.shipped import default_model_path

log = logging.getLogger(__name__)

SHIPPED_KEY = "shipped"
SHIPPED_TEXT = "Built-in model (16 WISDM people)"   # short: a 1280-wide window shows it whole


def model_info(bundle, where: str) -> str:
    """A model described for the Live tab (HTML)."""
    w = bundle.window
    return (f"<b>{where}</b><br>{len(bundle.labels)} activities: {', '.join(bundle.labels)}"
            f"<br>window {w.size} samples ({w.size / w.rate_hz:.1f} s), step {w.step} · "
            f"{w.rate_hz:g} Hz · channels {', '.join(bundle.channels)}")


def recording_hint(path: str | Path) -> str | None:
    """A model file that failed to load, said in the user's words when it is a recording
    (the data formats' own sniffing recognises it); None when it is not one."""
    from ...data.formats import SNIFF_BYTES, sniff

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        if not head.strip() or b"\0" in head[:4096]:
            return None
        layout = sniff(path, head)
    except Exception:  # unreadable or not a recording: the model reader's reason stands
        return None
    what = "a WISDM recording" if layout.format.startswith("wisdm") else "a recording (CSV)"
    return (f"{path.name} looks like {what}, not a model: open it under Replay (Source: "
            "“Replay a loaded recording”, then Open…) or load it on the Data tab.")


class ModelChoice(QObject):
    """``chosen(bundle)`` when the selection changes (None: no model); ``opened(text)`` and
    ``failed(text)`` after opening a file."""

    chosen = Signal(object)
    opened = Signal(str)
    failed = Signal(str)

    def __init__(self, state, combo: QComboBox, info: QLabel, owner: QWidget) -> None:
        super().__init__(owner)
        self.state, self.combo, self.info, self._owner = state, combo, info, owner
        self._files: dict[str, object] = {}   # path -> ModelBundle opened here
        self._shipped = None                  # the built-in model, loaded on first use
        self._shipped_path = default_model_path()
        combo.currentIndexChanged.connect(self._on_combo_changed)

    def current(self):
        """The ModelBundle chosen (None when there is none)."""
        key = self.combo.currentData()
        if key == SHIPPED_KEY:
            return self._shipped_bundle()
        return self.state.model if key == "state" else self._files.get(key)

    def current_path(self) -> str | None:
        """The file the chosen model was loaded from (None: trained here and not saved)."""
        key = self.combo.currentData()
        if key == SHIPPED_KEY:
            return str(self._shipped_path) if self._shipped_path else None
        return self.state.model_path if key == "state" else key

    def _shipped_bundle(self):
        if self._shipped is None and self._shipped_path is not None:
            try:
                self._shipped = load_model(self._shipped_path)
            except Exception as exc:  # a broken installation: say so, never crash
                log.warning("the built-in model cannot be loaded: %s", exc)
                self._shipped_path = None
                self.failed.emit(f"The built-in default model cannot be used: {exc}")
        return self._shipped

    def refresh(self, select: str | None = None) -> None:
        """Rebuild the list ("state" first, then files); select `select` (default the first)."""
        combo = self.combo
        combo.blockSignals(True)
        try:
            combo.clear()
            if self.state.model is not None:
                where = (Path(self.state.model_path).name if self.state.model_path
                         else "this session")
                combo.addItem(f"Trained model ({where})", "state")
            else:
                combo.addItem("Trained model (none yet)", "state")
            if self._shipped_path is not None:
                combo.addItem(SHIPPED_TEXT, SHIPPED_KEY)
                combo.setItemData(combo.count() - 1, str(self._shipped_path),
                                  Qt.ItemDataRole.ToolTipRole)
                if select == "state" and self.state.model is None:
                    select = SHIPPED_KEY   # first start: nothing trained, use the built-in
            for path in self._files:
                combo.addItem(f"File: {Path(path).name}", path)
                combo.setItemData(combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(max(0, combo.findData(select)) if select is not None else 0)
        finally:
            combo.blockSignals(False)
        self._on_combo_changed(combo.currentIndex())

    def open_dialog(self) -> None:
        start_dir = (str(Path(self.state.model_path).parent) if self.state.model_path
                     else str(paths.runs_dir()))
        path, _ = QFileDialog.getOpenFileName(self._owner, "Open a model", start_dir,
                                              "HAR Studio models (*.harmodel);;All files (*)")
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Load a model file (never executes code from it); a bad file gets a message naming
        it. Returns True when the model is now selected."""
        path = str(path)
        try:
            bundle = load_model(path)
        except ModelFileError as exc:
            self._error(path, recording_hint(path) or str(exc))
            return False
        except Exception as exc:  # anything unexpected still names the file, never crashes
            log.debug("loading %s failed", path, exc_info=True)
            self._error(path, f"{path}: cannot be used as a model ({exc})")
            return False
        self._files[path] = bundle
        self.refresh(select=path)
        self.opened.emit(f"Opened model {path}")
        log.info("opened model %s for the live tab", path)
        return True

    def _error(self, path: str, text: str) -> None:
        if Path(path).name not in text:
            text = f"{path}: {text}"
        self.failed.emit(text)
        QMessageBox.warning(self._owner, "Cannot open the model", text)

    def _on_combo_changed(self, _index: int) -> None:
        bundle = self.current()
        key = self.combo.currentData()
        if bundle is None:
            self.info.setText("No model yet. Train one on the Train tab, or open a "
                              "<i>.harmodel</i> file.")
        else:
            if key == SHIPPED_KEY:
                where = f"{SHIPPED_TEXT}: {self._shipped_path}"
            else:
                where = ("Trained in this session" if key == "state" and not self.state.model_path
                         else str(self.state.model_path if key == "state" else key))
            self.info.setToolTip(where)    # the whole path; the label names the folder
            if key == SHIPPED_KEY:
                where = f"{SHIPPED_TEXT}: {Path(self._shipped_path).name}"
            elif "/" in where or "\\" in where:
                path = Path(where)
                where = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
                where = where if len(where) <= 36 else "…" + where[-35:]
            self.info.setText(model_info(bundle, where))
        self.chosen.emit(bundle)
