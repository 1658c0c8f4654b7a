"""UDP: lines of comma-separated values in datagrams (HyperIMU and similar apps), read by a
selector in the source's thread."""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import sys

from .network import NetworkSource
from .protocols import parse_lines

log = logging.getLogger(__name__)


# Linux reports datagrams the kernel dropped (receive buffer full) with every received one.
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40 if sys.platform.startswith("linux") else None)


class _SelectorSource(NetworkSource):
    """A socket server driven by a selector, woken for stop through a socket pair."""

    def _open(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            for key in list(self._selector.get_map().values()):
                with contextlib.suppress(Exception):
                    key.fileobj.close()
            self._selector.close()
        with contextlib.suppress(OSError):
            self._wake_w.close()


class UdpSource(_SelectorSource):
    """Lines of comma-separated values in UDP datagrams (HyperIMU and similar apps).

    Where the OS says so (Linux ``SO_RXQ_OVFL``), datagrams the kernel dropped because they came
    faster than they were read are counted in ``stats().kernel_dropped``.
    """

    kind = "udp"
    RCVBUF = 1 << 20

    def _open(self) -> None:
        super()._open()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            self._close()
            raise self._bind_error(exc) from None
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
        self._ovfl = False
        if SO_RXQ_OVFL is not None and hasattr(sock, "recvmsg"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                self._ovfl = True
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._selector.register(sock, selectors.EVENT_READ, "data")

    def _receive(self) -> bytes:
        if not self._ovfl:
            return self._sock.recv(65536)
        data, ancillary, _, _ = self._sock.recvmsg(65536, socket.CMSG_SPACE(4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                dropped = int.from_bytes(payload[:4], sys.byteorder)  # since the socket opened
                with self._lock:
                    self._kernel_dropped = max(self._kernel_dropped, dropped)
        return data

    def _serve(self) -> None:
        width = len(self.channels)
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    return
                while True:
                    try:
                        data = self._receive()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # e.g. ICMP port unreachable echoes; keep serving
                        log.debug("udp recv: %s", exc)
                        break
                    arrival = self._clock()
                    parsed, _ = parse_lines(data, width, ts_unit=self.ts_unit, final=True)
                    self._ingest(parsed, arrival)
