"""The client address behind trusted proxies, and only behind them."""

from __future__ import annotations

import falcon
import falcon.testing
import pytest

from dockit_server import client_address as client_address_module
from dockit_server.client_address import ClientAddress, client_address, parse_networks
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


def _seen_by(middleware: ClientAddress, peer: str, forwarded: str | None) -> str | None:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    req = falcon.testing.create_req(remote_addr=peer, headers=headers)
    middleware.process_request(req, falcon.Response())
    found: str | None = req.context.client_address
    return found


def test_the_middleware_remembers_answers_by_peer_and_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each (peer, header) pair has its own answer, also once remembered and after the
    memory was emptied: the same header from an untrusted peer names that peer."""
    monkeypatch.setattr(client_address_module, "MAX_REMEMBERED", 3)
    middleware = ClientAddress(PROXIES)
    for _ in range(3):
        assert _seen_by(middleware, "10.1.2.3", "198.51.100.1") == "198.51.100.1"
        assert _seen_by(middleware, "203.0.113.5", "198.51.100.1") == "203.0.113.5"
        assert _seen_by(middleware, "10.1.2.3", "198.51.100.2") == "198.51.100.2"
        assert _seen_by(middleware, "10.1.2.3", None) == "10.1.2.3"
        assert _seen_by(middleware, "203.0.113.9", None) == "203.0.113.9"
    assert len(middleware._known) <= 3


def test_long_headers_are_read_but_not_remembered() -> None:
    middleware = ClientAddress(PROXIES)
    long_header = "x" * 600 + ", 198.51.100.3"
    assert _seen_by(middleware, "10.1.2.3", long_header) == "198.51.100.3"
    assert _seen_by(middleware, "10.1.2.3", "y" * 600 + ", 198.51.100.4") == "198.51.100.4"
    assert middleware._known == {}
