"""Bytes -> UTF-8 text bytes: decoding (UTF-8 with or without BOM, UTF-16, Latin-1) and the
refusal of binary files (images, archives, random bytes), from the first bytes on.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..dataset import DataError
from .common import MAX_FILE_BYTES, SNIFF_BYTES

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (extract it first)"),
    (b"\x1f\x8b", "gzip-compressed (decompress it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
)


_PRINTABLE = bytes([9, 10, 12, 13, *range(32, 256)])


def _has_text(raw: bytes) -> bool:
    """True when `raw` holds anything but whitespace (cheap for the usual, non-blank file)."""
    return bool(raw[:4096].strip()) or bool(raw.strip())


def read_text_bytes(path: Path) -> tuple[bytes, list[str]]:
    """The file's content as UTF-8 bytes with one-byte newlines, plus notes on the decoding.

    Handles UTF-8 (with or without BOM), UTF-16 (BOM or not) and Latin-1; refuses binary files
    (images, archives, random bytes) with a DataError naming the file.
    """
    return decode_text(path, read_sniffed(path))


def decode_text(path: Path | str, raw: bytes | bytearray) -> tuple[bytes, list[str]]:
    """`raw` (the bytes of `path`, a file or a zip member's label) as UTF-8 bytes with one-byte
    newlines, plus notes on the decoding (see ``read_text_bytes``)."""
    notes: list[str] = []
    if not _has_text(raw):
        raise DataError(f"{path}: the file is empty")
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataError(f"{path}: this is {what}, not a text file of sensor records")
    text: str | None = None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _decode_utf16(path, raw, "utf-16")
        notes.append("decoded as UTF-16")
    else:
        head = raw[:SNIFF_BYTES]
        if b"\x00" in head:
            even, odd = head[0::2], head[1::2]
            if odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
                text = _decode_utf16(path, raw, "utf-16-le")
            elif even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
                text = _decode_utf16(path, raw, "utf-16-be")
            else:
                raise DataError(f"{path}: binary data, not a text file of sensor records")
            notes.append("decoded as UTF-16")
    if text is not None:
        raw = text.encode("utf-8")
    head = raw[:SNIFF_BYTES]
    control = len(head.translate(None, _PRINTABLE))
    if control > max(2, len(head) // 100):
        raise DataError(f"{path}: binary data, not a text file of sensor records")
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("latin-1").encode("utf-8")
            notes.append("decoded as Latin-1")
    if b"\n" not in raw and b"\r" in raw:
        raw = raw.replace(b"\r", b"\n")  # old Mac line ends; same length
    if not _has_text(raw):
        raise DataError(f"{path}: the file is empty")
    return raw, notes


def binary_reason(head: bytes) -> str | None:
    """Why the first bytes of a file show it is not text (None when they may be text)."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"this is {what}, not a text file of sensor records"
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if (odd.count(0) > 0.4 * len(odd) and even.count(0) == 0) or (
                even.count(0) > 0.4 * len(even) and odd.count(0) == 0):
            return None  # UTF-16 without a BOM
        return "binary data, not a text file of sensor records"
    control = len(head.translate(None, _PRINTABLE))
    if control > max(2, len(head) // 100):
        return "binary data, not a text file of sensor records"
    return None


def read_sniffed(path: Path) -> bytearray:
    """The file's bytes, read only after its first SNIFF_BYTES showed it may be text: a large
    binary file (an image, a disk image of zeros) is refused after reading 64 KiB. Only
    regular files are read (a FIFO or device would block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise DataError(f"{path}: not a regular file")
            if hasattr(os, "O_NONBLOCK"):  # (opened without blocking: reads may block again)
                os.set_blocking(fd, True)
            head = os.read(fd, SNIFF_BYTES)
            reason = binary_reason(head)
            if reason:
                raise DataError(f"{path}: {reason}")
            if info.st_size > MAX_FILE_BYTES:
                raise DataError(f"{path}: too large ({info.st_size:,} bytes; at most "
                                f"{MAX_FILE_BYTES:,} per file): split it")
            # One buffer of the file's size, filled in place (no list of chunks to join).
            buffer = bytearray(max(info.st_size, len(head)))
            buffer[:len(head)] = head
            got = len(head)
            with open(fd, "rb", buffering=0, closefd=False) as fh:
                view = memoryview(buffer)
                while got < len(buffer):
                    n = fh.readinto(view[got:])
                    if not n:
                        break
                    got += n
                del view
                if got == len(buffer):  # the file grew since fstat
                    buffer += fh.read()
                else:
                    del buffer[got:]
        except OSError as exc:
            raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return buffer


def _decode_utf16(path: Path | str, raw: bytes, codec: str) -> str:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise DataError(f"{path}: looks like UTF-16 text but does not decode as UTF-16") from None
    return text.lstrip("\ufeff")

