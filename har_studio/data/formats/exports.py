"""The files of one phone export, whether a zip (at any folder depth inside) or a folder:
listed by base name and read with a cap, so that a zip bomb (a few KB that inflate to GBs)
or a huge member is refused after reading at most ``MAX_MEMBER_BYTES``, never held whole.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..dataset import DataError
from .text import read_sniffed

MAX_MEMBER_BYTES = 512 << 20    # one file of an export (a 15-hour Sensor Logger recording at 100 Hz)
MAX_EXPORT_BYTES = 1 << 30      # all the files read from one export
MAX_MEMBERS = 20_000            # entries a zip may list


class Export:
    """The files of an export: `members` maps a relative path (``/``-separated) to its size in
    bytes. ``read`` returns a member's bytes; ``label`` names it in messages
    (``export.zip:folder/Accelerometer.csv``)."""

    def __init__(self, path: Path, members: dict[str, int]) -> None:
        self.path = path
        self.members = members
        self._read_total = 0

    def folders(self, names: set[str]) -> dict[str, set[str]]:
        """Folder (relative, '' for the top) -> lower-case base names among `names` in it."""
        found: dict[str, set[str]] = {}
        for member in self.members:
            folder, base = posixpath.split(member)
            if base.lower() in names:
                found.setdefault(folder, set()).add(base.lower())
        return found

    def find(self, folder: str, name: str) -> str | None:
        """The member `name` (any case) directly in `folder`, or None."""
        for member in self.members:
            f, base = posixpath.split(member)
            if f == folder and base.lower() == name.lower():
                return member
        return None

    def label(self, member: str) -> str:
        return f"{self.path}:{member}"

    def disk_path(self, member: str) -> Path | None:
        """The member's own file on disk (a folder's; None in a zip), for readers that can
        read it directly, after ``check``."""
        return None

    def check(self, member: str) -> None:
        """DataError when the member is past the caps (see ``read``)."""
        self._check(member, self.members[member])

    def read(self, member: str) -> bytes:
        size = self.members[member]
        self._check(member, size)
        data = self._read(member)
        self._check(member, len(data))
        self._read_total += len(data)
        return data

    def _check(self, member: str, size: int) -> None:
        if size > MAX_MEMBER_BYTES:
            raise DataError(f"{self.label(member)}: inflates to more than {MAX_MEMBER_BYTES:,} "
                            f"bytes (at most {MAX_MEMBER_BYTES:,} per file of an export): "
                            "refused (a damaged or hostile archive, or a recording to split)")
        if self._read_total + size > MAX_EXPORT_BYTES:
            raise DataError(f"{self.path}: the files needed inflate to more than "
                            f"{MAX_EXPORT_BYTES:,} bytes: refused")

    def _read(self, member: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the archive (nothing for a folder)."""


class FolderExport(Export):
    """An export already unpacked into a folder (its files, not its subfolders)."""

    def __init__(self, path: Path) -> None:
        members = {}
        try:
            for entry in os.scandir(path):
                if entry.is_file():
                    members[entry.name] = entry.stat().st_size
        except OSError as exc:
            raise DataError(f"{path}: cannot read the folder ({exc.strerror or exc})") from None
        super().__init__(path, members)

    def label(self, member: str) -> str:
        return str(self.path / member)

    def disk_path(self, member: str) -> Path | None:
        return self.path / member

    def _read(self, member: str) -> bytes:
        return bytes(read_sniffed(self.path / member)) if self.members[member] else b""


class ZipExport(Export):
    """A zip archive's members, each inflated with a cap (``MAX_MEMBER_BYTES``)."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path}: not a readable zip archive ({exc})") from None
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            self._zip.close()
            raise DataError(f"{path}: a zip archive of {len(infos):,} entries (at most "
                            f"{MAX_MEMBERS:,}): not a phone app's export")
        self._infos = {}
        members = {}
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/")).as_posix()
            if info.is_dir() or name.startswith("__MACOSX/"):
                continue
            self._infos[name] = info
            members[name] = info.file_size
        super().__init__(path, members)

    def _read(self, member: str) -> bytes:
        info = self._infos[member]
        if info.flag_bits & 0x1:
            raise DataError(f"{self.label(member)}: encrypted: extract it with its password first")
        try:
            with self._zip.open(info) as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)   # the cap holds whatever the header says
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError) as exc:
            raise DataError(f"{self.label(member)}: cannot be inflated ({exc})") from None
        return data

    def close(self) -> None:
        self._zip.close()


def open_export(path: Path) -> Export:
    """The export at `path`: a zip archive or a folder."""
    return FolderExport(path) if path.is_dir() else ZipExport(path)
