"""What the Live tab tells a user about a network source: the address and port to type into
the phone app (or, for apps where the phone serves, where this computer connects) and the
wire format each app sends."""

from __future__ import annotations

from ...live.registry import PHONE_SERVES  # this computer connects to the phone

_FORMATS = {"udp": "Send lines <tt>x,y,z</tt> or <tt>timestamp,x,y,z</tt> (gyroscope x,y,z may "
                   "follow) in UDP packets.",
            "tcp": "Send lines <tt>x,y,z</tt> or <tt>timestamp,x,y,z</tt> over TCP.",
            "http": "Sensor Logger: HTTP push to http://address:port/ (JSON).",
            "sensorserver": "SensorServer: start its server on the phone and type the phone's "
                            "address above (WebSocket /sensor/connect).",
            "phyphox": "phyphox: enable remote access in the “Acceleration with g” experiment "
                       "and type the phone's address above."}


def address_hint(kind: str, host: str, port_text: str, addresses) -> str:
    """What to type into the phone for a network source (HTML); `addresses()` lists this
    computer's addresses (asked only for "Local network")."""
    if kind in PHONE_SERVES:
        return f"Connecting to the phone at <b>{host}</b>, port <b>{port_text}</b>.<br>" \
               + _FORMATS[kind]
    if host == "0.0.0.0":
        hint = (f"Type into the phone: address <b>{' or '.join(addresses())}</b>, "
                f"port <b>{port_text}</b>.<br>The phone must be on the same network and "
                "the firewall must let the port in.")
    elif host == "127.0.0.1":
        hint = (f"Listening on <b>127.0.0.1</b>, port <b>{port_text}</b> (this computer "
                "only; for a phone choose Local network).")
    else:
        hint = f"Listening on <b>{host}</b>, port <b>{port_text}</b>."
    if kind == "http":
        hosts = addresses() if host == "0.0.0.0" else [host]
        urls = " or ".join(f"http://{h}:{port_text}/" for h in hosts)
        return (f"{hint}<br>Sensor Logger: HTTP push to <b>{urls}</b> (JSON); "
                "“Tap to Test Pushing” shows “test received” here.")
    return f"{hint}<br>{_FORMATS[kind]}"
