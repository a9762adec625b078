"""Token signing, checked with the independent verifier in tests/support/verifier.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from libdockit.clock import utc_now
from libdockit.errors import ConfigError, InvalidRequest, KeyMaterialError
from libdockit.keys.bundle import bundle_certificates, bundle_pem
from libdockit.keys.material import Algorithm, SigningKey, generate_key
from libdockit.testing.pki import make_chain
from libdockit.tokens import IssuedToken, TokenSigner, access_json, random_jti
from tests.support.verifier import verify_token

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
ISSUER = "dockit-test"
SERVICE = "registry.test"
ACCESS: list[dict[str, Any]] = [
    {"type": "repository", "name": "alice/hello", "actions": ["pull", "push"]}
]


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _fixed(moment: datetime) -> Any:
    return lambda: moment


def _counter() -> Any:
    values: Iterator[int] = iter(range(1, 1000))
    return lambda: f"jti-{next(values)}"


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    algorithms: tuple[Algorithm, ...] = ("ES256", "RS256")
    return {alg: generate_key(alg, now=NOW - timedelta(days=1)) for alg in algorithms}


def _signer(**kwargs: Any) -> TokenSigner:
    kwargs.setdefault("clock", _fixed(NOW))
    kwargs.setdefault("jti_source", _counter())
    return TokenSigner(ISSUER, **kwargs)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_token_verifies_independently(algorithm: Algorithm, keys: dict[str, SigningKey]) -> None:
    key = keys[algorithm]
    issued = _signer().sign(key, subject="alice", audience=SERVICE, access=ACCESS)
    bundle = bundle_pem(bundle_certificates([key]))
    claims = verify_token(issued.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=NOW)
    iat = int(NOW.timestamp())
    assert claims == {
        "iss": ISSUER,
        "sub": "alice",
        "aud": SERVICE,
        "exp": iat + 300,
        "nbf": iat,
        "iat": iat,
        "jti": "jti-1",
        "access": ACCESS,
    }
    assert _segment(issued.token, 0) == {
        "alg": algorithm,
        "kid": key.kid,
        "typ": "JWT",
        "x5c": list(key.x5c),
    }


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_pyjwt_reads_the_token_too(algorithm: Algorithm) -> None:
    key = generate_key(algorithm, now=utc_now())
    issued = _signer(clock=utc_now).sign(key, subject="alice", audience=SERVICE, access=ACCESS)
    claims = jwt.decode(
        issued.token,
        key.private_key.public_key(),
        algorithms=[algorithm],
        audience=SERVICE,
        issuer=ISSUER,
    )
    assert claims["sub"] == "alice"


def test_issued_token_fields(keys: dict[str, SigningKey]) -> None:
    issued = _signer(lifetime=600).sign(keys["ES256"], subject="a", audience=SERVICE, access=[])
    assert isinstance(issued, IssuedToken)
    assert issued.issued_at == NOW
    assert issued.expires_at == NOW + timedelta(seconds=600)
    assert issued.expires_in == 600
    assert issued.issued_at.tzinfo is not None


def test_audience_is_a_string_and_anonymous_subject_is_empty(keys: dict[str, SigningKey]) -> None:
    issued = _signer().sign(keys["ES256"], subject="", audience=SERVICE, access=[])
    claims = _segment(issued.token, 1)
    assert claims["aud"] == SERVICE
    assert isinstance(claims["aud"], str)
    assert claims["sub"] == ""
    assert claims["access"] == []


def test_audience_is_required(keys: dict[str, SigningKey]) -> None:
    with pytest.raises(InvalidRequest):
        _signer().sign(keys["ES256"], subject="a", audience="", access=[])


def test_injected_clock_and_jti_are_used(keys: dict[str, SigningKey]) -> None:
    moments = iter([NOW, NOW + timedelta(seconds=90)])
    jtis = iter(["first", "second"])
    signer = TokenSigner(ISSUER, clock=lambda: next(moments), jti_source=lambda: next(jtis))
    first = _segment(signer.sign(keys["ES256"], subject="a", audience=SERVICE, access=[]).token, 1)
    second = _segment(signer.sign(keys["ES256"], subject="a", audience=SERVICE, access=[]).token, 1)
    assert (first["jti"], second["jti"]) == ("first", "second")
    assert second["iat"] - first["iat"] == 90


def test_fractional_seconds_are_dropped_and_naive_clock_is_utc(
    keys: dict[str, SigningKey],
) -> None:
    naive = datetime(2025, 3, 1, 12, 0, 0, 999_999)
    issued = _signer(clock=_fixed(naive)).sign(
        keys["ES256"], subject="a", audience=SERVICE, access=[]
    )
    assert _segment(issued.token, 1)["iat"] == int(NOW.timestamp())
    assert issued.issued_at == NOW


def test_default_jti_is_random() -> None:
    values = {random_jti() for _ in range(1000)}  # several batches drawn from the kernel
    assert len(values) == 1000
    assert all(len(value) == 22 for value in values)  # 128 bits, base64url, no padding
    assert all(base64.urlsafe_b64decode(value + "==") for value in values)


def test_exp_is_capped_at_the_certificate_not_after() -> None:
    key = generate_key(now=NOW - timedelta(days=1), validity=timedelta(days=1, seconds=100))
    issued = _signer().sign(key, subject="a", audience=SERVICE, access=[])
    claims = _segment(issued.token, 1)
    assert claims["exp"] == int(key.not_after.timestamp())
    assert claims["exp"] == int(NOW.timestamp()) + 100
    assert issued.expires_in == 100
    assert issued.expires_at == key.not_after
    bundle = bundle_pem(bundle_certificates([key]))
    verify_token(issued.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=NOW)


def test_expired_certificate_does_not_sign() -> None:
    key = generate_key(now=NOW - timedelta(days=2), validity=timedelta(days=1))
    with pytest.raises(KeyMaterialError, match="expired"):
        _signer().sign(key, subject="a", audience=SERVICE, access=[])


@pytest.mark.parametrize("lifetime", [0, 30, 59])
def test_lifetime_below_60_is_a_config_error(lifetime: int) -> None:
    with pytest.raises(ConfigError) as info:
        TokenSigner(ISSUER, lifetime=lifetime)
    assert info.value.key == "token.lifetime"


def test_lifetime_of_60_is_allowed(keys: dict[str, SigningKey]) -> None:
    issued = _signer(lifetime=60).sign(keys["ES256"], subject="a", audience=SERVICE, access=[])
    assert issued.expires_in == 60


def test_empty_issuer_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        TokenSigner("")
    assert info.value.key == "token.issuer"


def test_header_is_prepared_once_per_key(keys: dict[str, SigningKey]) -> None:
    signer = _signer()
    es, rs = keys["ES256"], keys["RS256"]
    first = signer.sign(es, subject="a", audience=SERVICE, access=[]).token
    prepared = signer._prepared[(es.kid, True)]
    second = signer.sign(es, subject="b", audience=SERVICE, access=[]).token
    assert signer._prepared[(es.kid, True)] is prepared
    assert first.split(".")[0] == second.split(".")[0]
    other = signer.sign(rs, subject="a", audience=SERVICE, access=[]).token
    assert other.split(".")[0] != first.split(".")[0]
    assert set(signer._prepared) == {(es.kid, True), (rs.kid, True)}


def test_chain_key_token_carries_the_chain() -> None:
    leaf = make_chain(2, now=NOW - timedelta(days=1))
    key = leaf.signing_key()
    issued = _signer().sign(key, subject="a", audience=SERVICE, access=ACCESS)
    header = _segment(issued.token, 0)
    assert len(header["x5c"]) == 3
    assert header["kid"] == key.kid
    bundle = bundle_pem(bundle_certificates([key]))
    verify_token(issued.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=NOW)
    # A registry that trusts only the root accepts it as well.
    root_only = bundle_pem([leaf.root])
    verify_token(issued.token, bundle_pem=root_only, issuer=ISSUER, service=SERVICE, now=NOW)


@pytest.mark.parametrize(
    ("subject", "audience", "jti", "access"),
    [
        ("alice", SERVICE, "jti-1", ACCESS),
        ("", "registry.example.com:5000", "a" * 22, []),
        ('quote" back\\slash', "tab\there", "new\nline", [{"name": "caf\u00e9", "n": 1}]),
        ("\u00e9l\u00e8ve", "\U0001f433 whale", "\u2028", [{"type": "r", "actions": ["*"]}]),
    ],
)
def test_claims_are_exactly_the_compact_json_of_the_claims(
    keys: dict[str, SigningKey], subject: str, audience: str, jti: str, access: Any
) -> None:
    """The hand-built claims are byte for byte what json.dumps makes of the claims dict."""
    signer = TokenSigner('iss \u00fc"x', clock=_fixed(NOW), jti_source=lambda: jti)
    token = signer.sign(keys["ES256"], subject=subject, audience=audience, access=access).token
    payload = token.split(".")[1]
    now = int(NOW.timestamp())
    expected = {
        "iss": 'iss \u00fc"x',
        "sub": subject,
        "aud": audience,
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": jti,
        "access": access,
    }
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == json.dumps(
        expected, separators=(",", ":")
    ).encode("ascii")


@pytest.mark.parametrize(
    "access",
    [
        [],
        ACCESS,
        [{"type": "repository", "class": "plugin", "name": "a/b", "actions": []}],
        [{"type": "r", "name": 'q"uote \\ \u00e9 \U0001f433', "actions": ["pull", "*"]}, {}],
        [{"type": "r", "actions": ["pull", 1]}],
        [{"type": "r", "count": 2, "nested": {"x": [None, True, 1.5]}}],
        [{1: "integer key"}],
        ["not a dict"],
    ],
)
def test_access_json_is_what_json_dumps_writes(access: Any) -> None:
    assert access_json(access) == json.dumps(access, separators=(",", ":"))
