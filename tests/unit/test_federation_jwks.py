"""Issuer keys: JWKS parsing, the static mode, and the discovery cache's refetch rules.

The cache's rules (refetch on an unknown kid, at most once per interval; a fresh cache
outlives an unreachable issuer; a stale one does not) are tested here with an in-memory
issuer and a test clock; fetching from a real issuer is the acceptance tests' job.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from libdockit.errors import BackendUnavailable
from libdockit.federation import RemoteKeys, StaticKeys, fetch_url, parse_jwks

ISSUER = "https://issuer.example.test"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rsa_jwk(kid: str, **extra: Any) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": kid, **extra}


def _ec_jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**ECAlgorithm.to_jwk(key, as_dict=True), "kid": kid}


class Issuer:
    """Serves discovery and a JWKS from memory; counts fetches; can go down."""

    def __init__(self, *kids: str) -> None:
        self.keys = [_rsa_jwk(kid) for kid in kids]
        self.fetches: list[str] = []
        self.down = False

    def fetch(self, url: str) -> bytes:
        self.fetches.append(url)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return json.dumps({"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"}).encode()
        if url == f"{ISSUER}/keys":
            return json.dumps({"keys": self.keys}).encode()
        raise OSError(f"404 {url}")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _remote(issuer: Issuer, clock: Clock) -> RemoteKeys:
    return RemoteKeys(
        ISSUER,
        fetch=issuer.fetch,
        clock=clock,
        max_age=timedelta(hours=1),
        min_refetch_interval=timedelta(seconds=30),
    )


def test_parse_keeps_public_signature_keys_only() -> None:
    document = {
        "keys": [
            _rsa_jwk("sig"),
            _ec_jwk("ec"),
            _rsa_jwk("enc", use="enc"),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "kid": "broken", "n": "AQAB"},
            "not a key",
        ]
    }
    keys = parse_jwks(document)
    assert sorted(k for k in keys if k) == ["ec", "sig"]
    assert (keys["sig"].key_type, keys["ec"].key_type) == ("RSA", "EC")
    assert not hasattr(keys["sig"].public_key, "private_bytes")


def test_parse_refuses_a_document_without_keys() -> None:
    with pytest.raises(ValueError, match="keys"):
        parse_jwks({"jwks": []})


def test_a_private_jwk_is_kept_as_its_public_half() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(private, as_dict=True), "kid": "p"}
    assert not hasattr(parse_jwks({"keys": [jwk]})["p"].public_key, "private_bytes")


def test_static_keys_find_by_kid_and_a_lone_key_without_kid() -> None:
    one = StaticKeys({"keys": [_rsa_jwk("a")]})
    assert one.key("a") is not None
    assert one.key(None) is not None
    assert one.key("b") is None
    two = StaticKeys({"keys": [_rsa_jwk("a"), _rsa_jwk("b")]})
    assert two.key(None) is None


def test_remote_fetches_discovery_then_keys_once() -> None:
    issuer, clock = Issuer("k1"), Clock()
    keys = _remote(issuer, clock)
    assert keys.key("k1") is not None
    assert keys.key("k1") is not None
    assert issuer.fetches == [f"{ISSUER}/.well-known/openid-configuration", f"{ISSUER}/keys"]


def test_an_unknown_kid_refetches_and_finds_a_rotated_key() -> None:
    issuer, clock = Issuer("k1"), Clock()
    keys = _remote(issuer, clock)
    assert keys.key("k1") is not None
    issuer.keys.append(_rsa_jwk("k2"))
    clock.now += timedelta(seconds=31)
    assert keys.key("k2") is not None
    assert len(issuer.fetches) == 4


def test_unknown_kids_refetch_at_most_once_per_interval() -> None:
    issuer, clock = Issuer("k1"), Clock()
    keys = _remote(issuer, clock)
    keys.key("k1")
    for n in range(5):
        clock.now += timedelta(seconds=5)
        assert keys.key(f"made-up-{n}") is None
    assert len(issuer.fetches) == 2
    clock.now += timedelta(seconds=5)
    assert keys.key("made-up-again") is None
    assert len(issuer.fetches) == 4


def test_a_fresh_cache_outlives_an_unreachable_issuer() -> None:
    issuer, clock = Issuer("k1"), Clock()
    keys = _remote(issuer, clock)
    keys.key("k1")
    issuer.down = True
    clock.now += timedelta(minutes=59)
    assert keys.key("k1") is not None
    assert keys.key("unknown") is None  # the refetch failed; the cache still answers


def test_a_stale_cache_and_an_unreachable_issuer_is_unavailable() -> None:
    issuer, clock = Issuer("k1"), Clock()
    keys = _remote(issuer, clock)
    keys.key("k1")
    issuer.down = True
    clock.now += timedelta(hours=1)
    with pytest.raises(BackendUnavailable, match=ISSUER):
        keys.key("k1")


def test_never_fetched_and_unreachable_is_unavailable() -> None:
    issuer = Issuer("k1")
    issuer.down = True
    with pytest.raises(BackendUnavailable):
        _remote(issuer, Clock()).key("k1")


@pytest.mark.parametrize(
    "discovery",
    [
        b"not json",
        b"[]",
        json.dumps({"issuer": "https://other.example.test", "jwks_uri": "x"}).encode(),
        json.dumps({"issuer": ISSUER}).encode(),
        json.dumps({"issuer": ISSUER, "jwks_uri": "http://keys.example.test/jwks"}).encode(),
    ],
)
def test_a_bad_discovery_document_is_unavailable(discovery: bytes) -> None:
    keys = RemoteKeys(ISSUER, fetch=lambda url: discovery, clock=Clock())
    with pytest.raises(BackendUnavailable):
        keys.key("k1")


class _Handler(http.server.BaseHTTPRequestHandler):
    """/doc answers JSON; /big more than the cap; /to-doc and /to-remote redirect."""

    def do_GET(self) -> None:
        host = f"http://{self.headers['Host']}"
        routes = {
            "/to-doc": f"{host}/doc",
            "/to-remote": "http://keys.example.test/doc",
        }
        if self.path in routes:
            self.send_response(302)
            self.send_header("Location", routes[self.path])
            self.end_headers()
            return
        body = b'{"ok": true}' if self.path == "/doc" else b" " * (300 * 1024)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_fetch_reads_loopback_http_and_follows_trusted_redirects(web: str) -> None:
    assert json.loads(fetch_url(f"{web}/doc")) == {"ok": True}
    assert json.loads(fetch_url(f"{web}/to-doc")) == {"ok": True}


def test_fetch_refuses_a_redirect_to_plain_http_elsewhere(web: str) -> None:
    with pytest.raises(ValueError, match="redirect"):
        fetch_url(f"{web}/to-remote")


def test_fetch_refuses_an_oversized_document(web: str) -> None:
    with pytest.raises(ValueError, match="more than"):
        fetch_url(f"{web}/big")


@pytest.mark.parametrize("url", ["http://keys.example.test/jwks", "file:///etc/passwd", "jwks"])
def test_fetch_refuses_untrusted_urls(url: str) -> None:
    with pytest.raises(ValueError, match="refused"):
        fetch_url(url)
