"""Recognising phone apps' recordings from their content, and reading them.

A zip is a Sensor Logger export (its CSVs at any folder depth) or a phyphox export (``Raw
Data.csv``); a folder is a Sensor Logger export; a text file is recognised by each app
module's ``matches`` (phyphox, HyperIMU, Physics Toolbox, SensorLog: one module per app, so
a new app is one new module and one more entry in ``TEXT_APPS``). One of Sensor Logger's
CSVs stands for its export folder (``unit_of``): the files of one recording are read together.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..dataset import DataError
from ..sidecar import Identity
from . import hyperimu, phyphox, physics_toolbox, sensor_logger, sensorlog
from .common import SNIFF_BYTES, ParsedFile
from .exports import Export, ZipExport, open_export
from .phone import finish
from .text import binary_reason, decode_text, read_sniffed

TEXT_APPS = (phyphox, hyperimu, physics_toolbox, sensorlog, sensor_logger)
# the load report's format -> the app's name, for what a user reads ("sensor-logger" -> ...)
APP_NAMES = {app.FORMAT: app.APP for app in TEXT_APPS}
ZIP_MAGIC = b"PK\x03\x04"
NOT_AN_EXPORT = ("a zip archive, but not a Sensor Logger or phyphox export (no Metadata.csv, "
                 "TotalAcceleration.csv, Accelerometer.csv or Raw Data.csv inside): extract it "
                 "and open its files")


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except OSError:
        return b""


def _text_head(path: Path, head: bytes) -> bytes:
    if binary_reason(head):
        return b""
    try:
        return decode_text(path, head)[0]
    except DataError:
        return b""


def unit_of(path: Path) -> Path:
    """The recording `path` belongs to: the export folder of one of Sensor Logger's files (the
    others are read with it; an empty one, a sensor that was off, too), else `path` itself."""
    if path.is_file() and path.name.lower() in sensor_logger.KNOWN_FILES:
        folder = path.parent
        try:
            siblings = [f for f in folder.iterdir()
                        if f.name.lower() in sensor_logger.KNOWN_FILES and f.is_file()]
        except OSError:
            return path
        for f in sorted(siblings, key=lambda f: f != path):
            head = _head(f)[:64]
            if sensor_logger.is_sensor_csv(head) or head.startswith(b"version,"):
                return folder
    return path


def _zip_app(export: Export) -> tuple[object, str] | None:
    """(app module, folder or member) of a zip export, None when it is neither app's."""
    folder = sensor_logger.export_folder(export)
    if folder is not None:
        return sensor_logger, folder
    raw = [m for m in export.members if os.path.basename(m).lower() == phyphox.RAW_DATA]
    if len(raw) > 1:
        raise DataError(f"{export.path}: holds {len(raw)} phyphox exports: extract it and open "
                        "each Raw Data.csv")
    return (phyphox, raw[0]) if raw else None


def recognise(path: Path) -> str | None:
    """The app whose recording `path` is (a file, zip or folder), None when it is no phone
    app's (a WISDM file, a headed CSV) or cannot be read. Cheap: a zip's list of files, a
    folder's, or a text file's first 64 KiB."""
    path = unit_of(Path(path))
    try:
        if path.is_dir():
            export = open_export(path)
            return sensor_logger.APP if sensor_logger.export_folder(export) is not None else None
        head = _head(path)
        if head.startswith(ZIP_MAGIC):
            export = ZipExport(path)
            try:
                found = _zip_app(export)
            finally:
                export.close()
            return found[0].APP if found else None
    except DataError:
        return None
    text = _text_head(path, head)
    return next((app.APP for app in TEXT_APPS if text and app.matches(text)), None)


def read_phone(path: Path, identity: Identity | DataError | None, head: bytes | None = None,
               ) -> ParsedFile | None:
    """The recording at `path` (a unit: see ``unit_of``) if it is a phone app's, else None.
    `identity` says who and what (DataError when a phone recording has none)."""
    if path.is_dir():
        return _read_export(path, open_export(path), identity, folder_only=True)
    head = _head(path) if head is None else head
    if head.startswith(ZIP_MAGIC):
        return _read_export(path, ZipExport(path), identity, folder_only=False)
    text = _text_head(path, head)
    app = next((a for a in TEXT_APPS if text and a.matches(text)), None)
    if app is None:
        return None
    data, _ = decode_text(path, read_sniffed(path))
    rec = app.read(str(path), data)
    return finish(path, rec, _need(path, app.APP, identity))


def _need(path: Path, app: str, identity: Identity | DataError | None) -> Identity:
    if isinstance(identity, DataError):     # what was given for it is unusable
        raise identity
    if identity is None:
        raise DataError(f"{path}: a {app} recording says nothing of who was recorded doing "
                        "what: give the subject and the activity (open it on the Data tab, or "
                        "--subject ID --activity NAME; 'unlabelled' labels it later)")
    return identity


def _read_export(path: Path, export: Export, identity: Identity | DataError | None,
                 folder_only: bool) -> ParsedFile:
    try:
        found = _zip_app(export)
        if found is None or (folder_only and found[0] is not sensor_logger):
            raise DataError(f"{path}: " + (NOT_AN_EXPORT if not folder_only else
                                           "a folder without a Sensor Logger recording"))
        app, where = found
        identity = _need(path, app.APP, identity)
        if app is sensor_logger:
            rec = sensor_logger.read_export(export, where)
        else:
            data, _ = decode_text(export.label(where), export.read(where))
            rec = phyphox.read(export.label(where), data)
    finally:
        export.close()
    return finish(path, rec, identity)
