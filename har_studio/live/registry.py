"""The one place that turns a kind of network source and an address into a source.

``SOURCE_KINDS`` maps each kind to its class: ``"udp"``, ``"tcp"`` and ``"http"`` listen for
the phone (``udp``, ``server``); ``"sensorserver"`` and ``"phyphox"`` connect to an app that is
a server on the phone (``apps``, the kinds in ``PHONE_SERVES``). A replay is made from a
recording, not an address: see ``replay.ReplaySource``.
"""

from __future__ import annotations

from .addresses import PHONE_DEFAULT_PORT, parse_address, phone_address
from .apps import PhyphoxSource, SensorServerSource
from .network import NetworkSource
from .server import HttpSource, TcpSource
from .udp import UdpSource

SOURCE_KINDS: dict[str, type[NetworkSource]] = {
    "udp": UdpSource, "tcp": TcpSource, "http": HttpSource,
    "sensorserver": SensorServerSource, "phyphox": PhyphoxSource,
}
PHONE_SERVES = ("sensorserver", "phyphox")   # the phone is the server: the source connects


def source_address(kind: str, text: str) -> tuple[str, int]:
    """What the user typed for a source of `kind` -> (host, port): a phone's address or URL
    (port 8080 unless given) for the kinds the phone serves, else ``HOST:PORT`` to listen on;
    ValueError when malformed."""
    return phone_address(text) if kind.lower() in PHONE_SERVES else parse_address(text)


def make_network_source(kind: str, host: str = "127.0.0.1", port: int = 0, **kw) -> NetworkSource:
    """``UdpSource``, ``TcpSource`` or ``HttpSource`` by name (``"udp"``, ``"tcp"``, ``"http"``);
    ``"sensorserver"`` and ``"phyphox"`` connect to the phone at host:port instead."""
    try:
        cls = SOURCE_KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r} "
                         f"(use udp, tcp, http, sensorserver or phyphox)") from None
    if kind.lower() in PHONE_SERVES:
        return cls(host, port or PHONE_DEFAULT_PORT, **kw)
    return cls(host, port, **kw)
