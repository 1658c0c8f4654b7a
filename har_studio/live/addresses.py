"""Addresses: what the user types (``HOST:PORT`` to listen on, a phone's address or URL to
connect to), this machine's addresses on the local network, and the caution shown when a
source listens on every interface. Network servers bind 127.0.0.1 unless told
``host="0.0.0.0"`` (listen on the local network); ``local_addresses()`` lists what to type
into the phone. Port 0 picks a free port."""

from __future__ import annotations

import contextlib
import socket
import urllib.parse

PHONE_DEFAULT_PORT = 8080
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_%")


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"HOST:PORT"``, ``":PORT"`` or ``"PORT"`` -> (host, port); ValueError when malformed."""
    s = str(text).strip()
    host, sep, port_text = s.rpartition(":")
    if not sep:
        host, port_text = "", s
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"not a HOST:PORT address: {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def local_addresses() -> list[str]:
    """This machine's IPv4 addresses on the local network (what to type into the phone);
    ``["127.0.0.1"]`` when there is none. Sends nothing."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("10.255.255.255", 1))  # picks the default route's interface, no packet
            found.add(s.getsockname()[0])
        finally:
            s.close()
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    lan = sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")
    return lan or ["127.0.0.1"]


def listen_warning(host: str) -> str | None:
    """A one-line caution when `host` exposes the source to every network interface."""
    if host in ("0.0.0.0", "", "::"):
        return ("listening on every network interface: anyone on this network can send "
                "samples; use 127.0.0.1 unless a phone must connect, and only on a trusted network")
    return None


def phone_address(text: str) -> tuple[str, int]:
    """A phone's ``HOST``, ``HOST:PORT`` or URL (``http://HOST:PORT/...``, ``ws://...``) as an
    app shows it -> (host, port), port 8080 unless given; ValueError when it is not one."""
    s = str(text).strip()
    if "://" in s:
        try:
            parts = urllib.parse.urlsplit(s)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            raise ValueError(f"not a phone address: {text!r}") from None
    else:
        host, sep, port_text = s.rpartition(":") if s.count(":") == 1 else (s, "", "")
        host = (host if sep else s).strip("[]")
        port = None
        if sep:
            if not port_text.isdigit():
                raise ValueError(f"not a PHONE:PORT address: {text!r}")
            port = int(port_text)
    if not host or host in ("0.0.0.0", "::") or not set(host) <= _HOST_CHARS or host.isdigit():
        raise ValueError(f"not a phone address: {text!r} (give the address the app shows, "
                         f"e.g. 192.168.1.20:8080)")
    port = PHONE_DEFAULT_PORT if port is None else port
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port
