"""The registry: one map from a kind of network source and an address to a source."""

from __future__ import annotations

import pytest

import har_studio.live
from har_studio.live.registry import PHONE_SERVES, SOURCE_KINDS, make_network_source, source_address


@pytest.mark.parametrize("kind", sorted(SOURCE_KINDS))
def test_every_kind_makes_its_source_without_opening_anything(kind):
    source = make_network_source(kind.upper(), "127.0.0.1", 0)
    assert type(source) is SOURCE_KINDS[kind]
    assert source.kind == kind
    assert source.stats().samples == 0
    assert source.port == (8080 if kind in PHONE_SERVES else 0)   # a phone app's own port


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown source kind 'bluetooth'.*sensorserver"):
        make_network_source("bluetooth")


@pytest.mark.parametrize("kind, text, expected", [
    ("udp", ":5555", ("127.0.0.1", 5555)),
    ("http", "0.0.0.0:8000", ("0.0.0.0", 8000)),
    ("sensorserver", "192.168.1.20", ("192.168.1.20", 8080)),
    ("phyphox", "http://10.0.0.2:8081/", ("10.0.0.2", 8081)),
])
def test_an_address_is_read_as_its_kind_reads_it(kind, text, expected):
    assert source_address(kind, text) == expected


@pytest.mark.parametrize("kind, text", [("tcp", "192.168.1.20"), ("phyphox", "0.0.0.0:8080"),
                                        ("udp", "host:99999")])
def test_a_wrong_address_for_its_kind_is_a_value_error(kind, text):
    with pytest.raises(ValueError):
        source_address(kind, text)


def test_the_package_re_exports_nothing():
    """Each name lives in one module: the package itself offers none of them."""
    for name in ("ReplaySource", "SampleBatch", "make_network_source", "StreamingClassifier"):
        assert not hasattr(har_studio.live, name)
