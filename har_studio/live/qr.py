"""QR codes of what the phone must type, so a phone connects by pointing its camera.

``phone_url(kind, address)`` is the text for a source (``http://192.168.1.5:8000/`` for
Sensor Logger, ``192.168.1.5:5555`` for UDP/TCP apps); ``qr_code(text, "svg" | "png")`` the
picture as bytes, for the Live tab (``QPixmap.loadFromData``) or a file. segno is pure
Python and imported only when a code is made.
"""

from __future__ import annotations

import io

from .addresses import local_addresses, parse_address


def phone_url(kind: str, address: str) -> str:
    """What to type into the phone app for a source of `kind` listening on `address`
    (``host:port`` as in ``stats().address``); 0.0.0.0 becomes this machine's LAN address."""
    host, port = parse_address(address)
    if host in ("0.0.0.0", "", "::"):
        host = local_addresses()[0]
    if kind.lower() == "http":
        return f"http://{host}:{port}/"
    return f"{host}:{port}"


def qr_code(text: str, kind: str = "svg", *, scale: int = 6, border: int = 2) -> bytes:
    """The QR code of `text` as SVG or PNG bytes (dark on light, quiet zone of `border`)."""
    if kind not in ("svg", "png"):
        raise ValueError(f"QR code kind must be 'svg' or 'png', got {kind!r}")
    import segno

    code = segno.make(text, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=max(1, int(scale)), border=max(0, int(border)))
    return buffer.getvalue()
