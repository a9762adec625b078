"""Registry tokens: claims, JOSE header and signature.

The header of a token is ``{"alg", "kid", "typ": "JWT", "x5c"}``: ``x5c`` carries the
key's chain (leaf first) so registries 2.8 and 3.x given the ``rootcertbundle`` find a
trusted root, and ``kid`` is the libtrust key ID for registries that look keys up by it.
Tokens for a *JWKS audience* (a registry 3.x trusting Dockit through ``auth.token.jwks``
alone) carry no ``x5c``: 3.x checks an ``x5c`` chain first and refuses the token when the
chain leads to no certificate it was given, without trying the JWKS; without one it looks
the ``kid`` up in its JWKS, where ``/v2/certs/jwks`` publishes every key under that same
libtrust ID. (Registry 2.8 accepts these tokens too, by ``kid``, when the key's certificate
is in its bundle.) The header segment depends only on the key and the audience's kind, so
it is serialised and base64url-encoded once and reused (:mod:`libdockit.jws`); a token
costs its claims' JSON and one signature, and the same claims again within one second cost
neither (:class:`TokenSigner`).

Claims: ``iss``, ``sub`` ("" for anonymous), ``aud`` (a JSON *string*: registry 2.8
rejects a list), ``exp``, ``nbf``, ``iat``, ``jti`` and ``access``. A token never outlives
its certificate: ``exp`` is capped at the leaf's ``notAfter``.

Time and token IDs come from injected callables; nothing here reads the system clock
except :func:`utc_now`, the default clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from .clock import Clock, utc_now
from .errors import ConfigError, InvalidRequest, KeyMaterialError
from .jws import JwsSigner, b64url
from .keys.material import SigningKey
from .random_batches import RandomBatches

__all__ = [
    "MAX_REUSED_PER_SECOND",
    "MIN_LIFETIME",
    "Clock",
    "IssuedToken",
    "JtiSource",
    "TokenSigner",
    "random_jti",
    "utc_now",
]

JtiSource = Callable[[], str]

MIN_LIFETIME = 60  # clients raise a shorter expires_in to 60 s anyway
_MAX_CACHED_KEYS = 32
#: Tokens kept for reuse within one second, at most; beyond that they are signed unkept.
MAX_REUSED_PER_SECOND = 1024


def _jti_text(drawn: bytes) -> str:
    return b64url(drawn).decode("ascii")


#: The default token ID: 128 random bits, URL-safe (what ``secrets.token_urlsafe(16)``
#: gives), drawn in batches (see :mod:`libdockit.random_batches`).
random_jti = RandomBatches(_jti_text)


#: ``json.dumps(value, separators=(",", ":"))`` without building an encoder per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
#: What json.dumps writes for a string (ensure_ascii), without the encoder's Python frame.
_JSON_STRING = encode_basestring_ascii


def access_json(access: list[dict[str, Any]]) -> str:
    """``json.dumps(access, separators=(",", ":"))``: entries of strings and lists of
    strings (what the policy makes) are written here, anything else by the encoder (which
    costs an encoder object per token)."""
    entries = []
    for entry in access:
        if entry.__class__ is not dict:
            return _COMPACT_JSON(access)
        members = []
        for name, value in entry.items():
            if name.__class__ is not str:
                return _COMPACT_JSON(access)
            if value.__class__ is str:
                text = _JSON_STRING(value)
            elif value.__class__ is list and all(item.__class__ is str for item in value):
                text = "[" + ",".join(map(_JSON_STRING, value)) + "]"
            else:
                return _COMPACT_JSON(access)
            members.append(f"{_JSON_STRING(name)}:{text}")
        entries.append("{" + ",".join(members) + "}")
    return "[" + ",".join(entries) + "]"


def _timestamp(moment: datetime) -> int:
    """Whole seconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed token and its lifetime (``expires_in`` is ``expires_at - issued_at``)."""

    token: str
    issued_at: datetime
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What signing with one key needs, computed once per key."""

    key: SigningKey
    jws: JwsSigner
    not_after: int


#: What makes two tokens of one second the same but their ``jti``: the prepared signer
#: (by identity: one key and header), ``sub``, ``aud``, ``exp`` and the access claim's JSON.
_ReuseKey = tuple[JwsSigner, str, str, int, str]


class TokenSigner:
    """Signs registry tokens for one issuer with a fixed lifetime (seconds, at least 60).

    ``jwks_audiences``: the services whose tokens carry ``kid`` without ``x5c`` (see above).

    ``reuse_within_second``: a request whose token would have the claims of one already
    signed in the same second gets that token again. In a pull storm many clients sharing
    credentials (a robot, a pull secret on every node) ask for the same scope at once; their
    tokens differ only in ``jti`` (``iat``, ``nbf`` and ``exp`` are whole seconds), and the
    signature is the largest cost of a warm request. Sharing one is safe: the registry never
    reads ``jti``, the audit log records decisions, never the tokens signed or their
    ``jti``, and a token is a bearer token valid any number of times until ``exp`` anyway.
    The login and the decision are still made on every request; only the signature is
    shared. Another key, a renewed certificate or a rotation prepares another signer, so
    the token is new. Off, every token has its own ``jti``.
    """

    def __init__(
        self,
        issuer: str,
        lifetime: int = 300,
        clock: Clock = utc_now,
        jti_source: JtiSource = random_jti,
        *,
        jwks_audiences: Iterable[str] = (),
        reuse_within_second: bool = True,
    ) -> None:
        if not issuer:
            raise ConfigError("token.issuer", "the token issuer must not be empty")
        if lifetime < MIN_LIFETIME:
            raise ConfigError(
                "token.lifetime", f"must be at least {MIN_LIFETIME} seconds, got {lifetime}"
            )
        self._issuer = issuer
        self.lifetime = lifetime
        self._clock = clock
        self._jti_source = jti_source
        self.jwks_audiences = frozenset(jwks_audiences)
        self._prepared: dict[tuple[str, bool], _Prepared] = {}
        self._lock = threading.Lock()
        self._claims_start = '{"iss":' + _JSON_STRING(issuer) + ',"sub":'  # the same for all
        self._reuse = reuse_within_second
        # The second the kept tokens were issued in, and those tokens: replaced as a whole
        # when the second changes, so a thread never takes a token of another second.
        self._reusable: tuple[int, dict[_ReuseKey, IssuedToken]] = (0, {})

    @property
    def issuer(self) -> str:
        return self._issuer

    def _prepare(self, key: SigningKey, *, with_x5c: bool) -> _Prepared:
        cache_key = (key.kid, with_x5c)
        prepared = self._prepared.get(cache_key)
        if prepared is not None and prepared.key is key:
            return prepared
        header: dict[str, Any] = {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}
        if with_x5c:
            header["x5c"] = list(key.x5c)
        prepared = _Prepared(
            key=key,
            jws=JwsSigner(header, key.private_key),
            not_after=_timestamp(key.not_after),
        )
        with self._lock:
            if len(self._prepared) >= _MAX_CACHED_KEYS:
                self._prepared.clear()
            self._prepared[cache_key] = prepared
        return prepared

    def sign(
        self,
        key: SigningKey,
        *,
        subject: str,
        audience: str,
        access: list[dict[str, Any]] | None = None,
        access_claim: str | None = None,
        lifetime: int | None = None,
    ) -> IssuedToken:
        """A token for ``subject`` ("" for anonymous) to present to service ``audience``,
        valid for ``lifetime`` seconds (None: the signer's), never past its certificate.
        Its ``access`` claim is ``access``, or ``access_claim``: the same already written
        as JSON (see :func:`access_json`), as a remembered decision holds it. The same
        claims again within one second get the same token (see the class).

        Raises KeyMaterialError if the key's certificate has expired (checked before a
        token is reused).
        """
        if not isinstance(audience, str) or not audience:
            raise InvalidRequest("a token needs an audience: the registry's service name")
        prepared = self._prepare(key, with_x5c=audience not in self.jwks_audiences)
        issued_at = _timestamp(self._clock())
        expires_at = min(
            issued_at + (self.lifetime if lifetime is None else lifetime), prepared.not_after
        )
        if expires_at <= issued_at:
            raise KeyMaterialError(
                f"the certificate of signing key {key.kid} expired at {key.not_after.isoformat()}"
            )
        claim = access_claim if access_claim is not None else access_json(access or [])
        reuse_key = (prepared.jws, subject, audience, expires_at, claim)
        kept = self._kept(issued_at) if self._reuse else None
        if kept is not None:
            reused = kept.get(reuse_key)
            if reused is not None:
                return reused
        # The JSON of {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"} in that
        # order, as json.dumps with compact separators writes it, without building the dict.
        claims = (
            f"{self._claims_start}{_JSON_STRING(subject)},"
            f'"aud":{_JSON_STRING(audience)},"exp":{expires_at},"nbf":{issued_at},'
            f'"iat":{issued_at},"jti":{_JSON_STRING(self._jti_source())},'
            f'"access":{claim}}}'
        )
        issued = IssuedToken(
            token=prepared.jws.sign(claims.encode("ascii")),
            issued_at=datetime.fromtimestamp(issued_at, UTC),
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            expires_in=expires_at - issued_at,
        )
        if kept is not None and len(kept) < MAX_REUSED_PER_SECOND:
            kept[reuse_key] = issued  # threads passing the check together add one each
        return issued

    def _kept(self, second: int) -> dict[_ReuseKey, IssuedToken]:
        """The tokens kept for reuse in ``second``: a new, empty dict when it is not the
        second of those kept so far.

        No lock: reading and replacing ``self._reusable`` (the second and its dict as one
        tuple) and a dict's get and set are each atomic in CPython, so a thread sees one
        second's tokens or none; a store lost to another thread's new second costs one
        signature.
        """
        kept_second, kept = self._reusable
        if kept_second != second:
            kept = {}
            self._reusable = (second, kept)
        return kept
