"""An issuer's signing keys: a static JWKS, or one fetched through OIDC discovery and cached.

:class:`RemoteKeys` fetches ``<issuer>/.well-known/openid-configuration``, then its
``jwks_uri``, and keeps the keys for ``max_age``. A token with a ``kid`` the cache does not
hold triggers one refetch (that is how an issuer's key rotation is picked up), at most once
per ``min_refetch_interval`` so a stream of made-up ``kid`` values cannot make Dockit hammer
the issuer. When the issuer cannot be reached, keys fetched within ``max_age`` keep working;
with none, :class:`~libdockit.errors.BackendUnavailable` (503) says "cannot tell", and only
this issuer's tokens are affected.

The fetch is injectable (``fetch(url) -> bytes``); the default uses urllib with a timeout
and a size cap, and fetches (and follows redirects to) https or loopback http URLs only.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt

from ..clock import Clock, utc_now
from ..errors import BackendUnavailable

__all__ = [
    "Fetch",
    "IssuerKey",
    "KeySource",
    "RemoteKeys",
    "StaticKeys",
    "fetch_url",
    "is_trusted_url",
    "parse_jwks",
]

#: ``fetch(url) -> body``; raises OSError (or ValueError) when the URL cannot be read.
Fetch = Callable[[str], bytes]

_MAX_DOCUMENT_BYTES = 256 * 1024
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def is_trusted_url(url: str) -> bool:
    """https, or plain http to a loopback host only (tests, a sidecar): keys fetched over
    plain http from anywhere else could be swapped on the way."""
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """One public signature key of an issuer: ``kty``, the ``alg`` the JWK names (None when
    it names none) and the key itself, loaded by pyjwt."""

    kid: str | None
    key_type: str
    algorithm: str | None
    public_key: Any


class KeySource(Protocol):
    """Where a verifier looks a token's key up."""

    def key(self, kid: str | None) -> IssuerKey | None:
        """The key with ``kid`` (None: the only key, if there is exactly one), or None."""
        ...


class _TrustedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an https (or loopback http) URL."""

    def redirect_request(  # noqa: PLR0917 - urllib calls it with these positionals
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not is_trusted_url(newurl):
            raise ValueError(f"refused a redirect to {newurl!r}: neither https nor loopback")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_TrustedRedirects())


def fetch_url(url: str, *, timeout: float = 5.0) -> bytes:
    """GET ``url`` (https, or http to loopback) and return its body, at most 256 KiB;
    redirects are followed only to such URLs."""
    if not is_trusted_url(url):
        raise ValueError(f"refused to fetch {url!r}: neither https nor loopback")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with _OPENER.open(request, timeout=timeout) as response:
        body: bytes = response.read(_MAX_DOCUMENT_BYTES + 1)
    if len(body) > _MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
    return body


def parse_jwks(document: Mapping[str, Any]) -> dict[str | None, IssuerKey]:
    """``kid`` -> key for the usable signature keys of a JWKS; others are skipped.

    A key is unusable when pyjwt cannot load it, when it is symmetric (``kty: oct``), or
    when its ``use`` says it is for encryption. Keys without ``kid`` are stored under None.
    """
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ValueError('a JWKS document needs a "keys" list')
    found: dict[str | None, IssuerKey] = {}
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("kty") == "oct":
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            loaded = jwt.PyJWK(entry).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        public = loaded.public_key() if hasattr(loaded, "private_bytes") else loaded
        kid, declared = entry.get("kid"), entry.get("alg")
        found[kid if isinstance(kid, str) else None] = IssuerKey(
            kid=kid if isinstance(kid, str) else None,
            key_type=str(entry["kty"]),
            algorithm=declared if isinstance(declared, str) else None,
            public_key=public,
        )
    return found


def _lookup(keys: Mapping[str | None, IssuerKey], kid: str | None) -> IssuerKey | None:
    if kid is not None:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


class StaticKeys:
    """Keys given once (a policy's static JWKS): never fetched, never refreshed."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._keys = parse_jwks(document)

    def key(self, kid: str | None) -> IssuerKey | None:
        return _lookup(self._keys, kid)


@dataclass(frozen=True, slots=True)
class _Fetched:
    keys: dict[str | None, IssuerKey]
    at: datetime


class RemoteKeys:
    """An issuer's keys through OIDC discovery, cached; see the module docs."""

    def __init__(
        self,
        issuer: str,
        *,
        fetch: Fetch = fetch_url,
        clock: Clock = utc_now,
        max_age: timedelta = timedelta(hours=1),
        min_refetch_interval: timedelta = timedelta(seconds=30),
    ) -> None:
        self._issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age
        self._min_refetch = min_refetch_interval
        self._cached: _Fetched | None = None
        self._last_attempt: datetime | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> IssuerKey | None:
        now = self._clock()
        cached = self._cached
        if cached is not None and now - cached.at < self._max_age:
            found = _lookup(cached.keys, kid)
            if found is not None or not self._may_refetch(now):
                return found
        return _lookup(self._refresh(now), kid)

    def _may_refetch(self, now: datetime) -> bool:
        last = self._last_attempt
        return last is None or now - last >= self._min_refetch

    def _refresh(self, now: datetime) -> dict[str | None, IssuerKey]:
        with self._lock:
            cached = self._cached
            if cached is not None and cached.at >= now:  # another thread just fetched
                return cached.keys
            fresh = cached is not None and now - cached.at < self._max_age
            if fresh and not self._may_refetch(now):
                assert cached is not None
                return cached.keys
            self._last_attempt = now
            try:
                keys = self._download()
            except (OSError, ValueError) as error:
                if cached is not None and fresh:
                    return cached.keys
                raise BackendUnavailable(
                    f"the keys of issuer {self._issuer} cannot be fetched: {error}"
                ) from error
            self._cached = _Fetched(keys, now)
            return keys

    def _download(self) -> dict[str | None, IssuerKey]:
        discovery = _json_object(self._fetch(f"{self._issuer}/.well-known/openid-configuration"))
        if discovery.get("issuer") != self._issuer:
            raise ValueError("the discovery document names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document has no jwks_uri")
        if not is_trusted_url(jwks_uri):
            raise ValueError("the discovery document's jwks_uri is neither https nor loopback")
        return parse_jwks(_json_object(self._fetch(jwks_uri)))


def _json_object(body: bytes) -> dict[str, Any]:
    document = json.loads(body)  # JSONDecodeError is a ValueError
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object")
    return document
