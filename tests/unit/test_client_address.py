"""The client address behind trusted proxies, and only behind them."""

from __future__ import annotations

import pytest

from dockit_server.client_address import client_address, parse_networks
from libdockit.errors import ConfigError

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8", "192.0.2.10"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No X-Forwarded-For, or an untrusted peer: the peer, whatever the header says.
        ("10.1.2.3", None, "10.1.2.3"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        ("203.0.113.5", "10.0.0.1", "203.0.113.5"),
        # A trusted peer: the right-most address that is not a trusted proxy.
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the left part is spoofable
        ("10.1.2.3", "198.51.100.1, 10.9.9.9", "198.51.100.1"),
        ("192.0.2.10", "198.51.100.1,10.9.9.9 , 10.8.8.8", "198.51.100.1"),
        ("10.1.2.3", "10.9.9.9", "10.9.9.9"),  # every hop trusted: the first one
        ("10.1.2.3", "garbage, 198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "198.51.100.1, garbage", "10.1.2.3"),  # unreadable: stop at the proxy
        ("10.1.2.3", "198.51.100.1:4711", "198.51.100.1"),
        ("10.1.2.3", "[2001:db8::1]:443", "2001:db8::1"),
        ("fd00::5", "2001:db8::7", "2001:db8::7"),
        ("::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "", "10.1.2.3"),
    ],
)
def test_client_address(peer: str, forwarded: str | None, expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.1.2.3", "198.51.100.1", ()) == "10.1.2.3"
    assert client_address(None, "198.51.100.1", PROXIES) is None


def test_bad_networks_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="not-a-network") as caught:
        parse_networks(["10.0.0.0/8", "not-a-network"])
    assert caught.value.key == "server.trusted_proxies"
    assert parse_networks(["10.0.0.1/8"])[0].prefixlen == 8  # host bits are forgiven
