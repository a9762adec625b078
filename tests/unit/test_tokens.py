"""Token signing, checked with the independent verifier in tests/support/verifier.py."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from libdockit.clock import utc_now
from libdockit.errors import ConfigError, InvalidRequest, KeyMaterialError
from libdockit.keys.bundle import bundle_certificates, bundle_pem
from libdockit.keys.material import Algorithm, SigningKey, generate_key
from libdockit.testing.pki import issue_leaf, make_ca, make_chain
from libdockit.tokens import (
    MAX_REUSED_PER_SECOND,
    IssuedToken,
    TokenSigner,
    access_json,
    random_jti,
)
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


# -- the same claims within one second: one token -----------------------------------------


def _verified(issued: IssuedToken, key: SigningKey, *, service: str = SERVICE) -> dict[str, Any]:
    bundle = bundle_pem(bundle_certificates([key]))
    return verify_token(issued.token, bundle_pem=bundle, issuer=ISSUER, service=service, now=NOW)


def _clock_at(moments: list[datetime]) -> Any:
    """A clock that reads ``moments[0]``: a test moves it by assigning."""
    return lambda: moments[0]


def test_the_same_claims_in_one_second_get_the_same_token(keys: dict[str, SigningKey]) -> None:
    moments = [NOW]
    signer = _signer(clock=_clock_at(moments))
    first = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
    moments[0] = NOW + timedelta(milliseconds=999)  # the same second
    again = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
    assert again == first
    assert _verified(again, keys["ES256"])["jti"] == "jti-1"
    # A remembered decision's access claim (already JSON) is the same claim.
    claim = access_json(ACCESS)
    held = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access_claim=claim)
    assert held.token == first.token


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "bob"},
        {"subject": ""},
        {"audience": "registry.other"},
        {"access": [{"type": "repository", "name": "alice/hello", "actions": ["pull"]}]},
        {"access": []},
        {"lifetime": 600},
        {"key": "RS256"},
        {"key": "another ES256"},
    ],
)
def test_other_claims_or_another_key_get_a_new_token(
    keys: dict[str, SigningKey], change: dict[str, Any]
) -> None:
    signer = _signer()
    claims: dict[str, Any] = {"subject": "alice", "audience": SERVICE, "access": ACCESS}
    first = signer.sign(keys["ES256"], **claims)
    named = change.get("key", "ES256")
    key = generate_key(now=NOW - timedelta(days=1)) if named == "another ES256" else keys[named]
    other_claims = {**claims, **{name: v for name, v in change.items() if name != "key"}}
    other = signer.sign(key, **other_claims)
    assert other.token != first.token
    verified = _verified(other, key, service=other_claims["audience"])
    assert verified["jti"] == "jti-2"
    assert verified["sub"] == other_claims["subject"]
    assert verified["access"] == other_claims["access"]
    # ... and each is kept on its own: asking for the first claims again reuses the first.
    assert signer.sign(keys["ES256"], **claims) == first


def test_a_renewed_certificate_for_the_same_key_gets_a_new_token() -> None:
    root = make_ca(now=NOW - timedelta(days=10))
    leaf = issue_leaf(root, now=NOW - timedelta(days=1))
    renewed = issue_leaf(root, now=NOW - timedelta(hours=1), private_key=leaf.private_key)
    old_key, new_key = leaf.signing_key(), renewed.signing_key()
    assert old_key.kid == new_key.kid
    signer = _signer()
    first = signer.sign(old_key, subject="alice", audience=SERVICE, access=ACCESS)
    second = signer.sign(new_key, subject="alice", audience=SERVICE, access=ACCESS)
    assert second.token != first.token
    assert _segment(second.token, 0)["x5c"] == list(new_key.x5c)
    assert _verified(second, new_key)["jti"] == "jti-2"


def test_the_next_second_gets_a_new_token(keys: dict[str, SigningKey]) -> None:
    moments = [NOW]
    signer = _signer(clock=_clock_at(moments))
    first = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
    moments[0] = NOW + timedelta(seconds=1)
    later = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
    assert later.token != first.token
    assert later.issued_at == NOW + timedelta(seconds=1)
    assert _segment(later.token, 1)["jti"] == "jti-2"
    # Back to the first second's claims (a clock stepped back): not served from its memo.
    moments[0] = NOW
    back = signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
    assert back.token not in (first.token, later.token)
    assert _segment(back.token, 1)["jti"] == "jti-3"
    assert back.issued_at == NOW


def test_reuse_can_be_turned_off(keys: dict[str, SigningKey]) -> None:
    signer = _signer(reuse_within_second=False)
    tokens = [
        signer.sign(keys["ES256"], subject="alice", audience=SERVICE, access=ACCESS)
        for _ in range(3)
    ]
    assert [_verified(issued, keys["ES256"])["jti"] for issued in tokens] == [
        "jti-1",
        "jti-2",
        "jti-3",
    ]
    assert len({issued.token for issued in tokens}) == 3


def test_at_most_the_cap_is_kept_in_one_second(keys: dict[str, SigningKey]) -> None:
    values: Iterator[int] = iter(range(1, 10_000))
    signer = TokenSigner(ISSUER, clock=_fixed(NOW), jti_source=lambda: f"jti-{next(values)}")
    key = keys["ES256"]
    count = MAX_REUSED_PER_SECOND + 10
    issued = [
        signer.sign(key, subject=f"user{n}", audience=SERVICE, access=ACCESS) for n in range(count)
    ]
    for n, token in enumerate(issued):
        assert _verified(token, key)["sub"] == f"user{n}"
    assert len({token.token for token in issued}) == count
    second, kept = signer._reusable
    assert second == int(NOW.timestamp())
    assert len(kept) == MAX_REUSED_PER_SECOND
    # The first claims are still reused; those beyond the cap are signed again each time.
    assert signer.sign(key, subject="user0", audience=SERVICE, access=ACCESS) == issued[0]
    beyond = signer.sign(key, subject=f"user{count - 1}", audience=SERVICE, access=ACCESS)
    assert beyond.token != issued[-1].token
    assert _verified(beyond, key)["jti"] == f"jti-{count + 1}"
    assert len(signer._reusable[1]) == MAX_REUSED_PER_SECOND


def test_an_expired_certificate_is_refused_though_its_claims_were_just_signed() -> None:
    """The certificate check comes before any reuse. For one key it cannot change within a
    second (``exp`` is capped at the certificate's end, in whole seconds), so the case is a
    certificate swapped for an expired one of the same key (same ``kid``) in that second."""
    root = make_ca(now=NOW - timedelta(days=10))
    valid = issue_leaf(root, now=NOW - timedelta(days=1))
    expired = issue_leaf(
        root, now=NOW - timedelta(days=3), validity=timedelta(days=1), private_key=valid.private_key
    )
    valid_key, expired_key = valid.signing_key(), expired.signing_key()
    assert valid_key.kid == expired_key.kid
    signer = _signer()
    signer.sign(valid_key, subject="alice", audience=SERVICE, access=ACCESS)
    with pytest.raises(KeyMaterialError, match="expired"):
        signer.sign(expired_key, subject="alice", audience=SERVICE, access=ACCESS)
    # The same key one second past its certificate's end, after a token in its last second.
    key = generate_key(now=NOW - timedelta(days=1), validity=timedelta(days=1, seconds=1))
    moments = [NOW]
    ending = _signer(clock=_clock_at(moments))
    assert ending.sign(key, subject="alice", audience=SERVICE, access=ACCESS).expires_in == 1
    moments[0] = NOW + timedelta(seconds=1)
    with pytest.raises(KeyMaterialError, match="expired"):
        ending.sign(key, subject="alice", audience=SERVICE, access=ACCESS)


def test_threads_in_different_seconds_never_get_each_others_tokens() -> None:
    """Threads whose clocks read different seconds share one signer: each gets tokens of
    its own second only, however their memos replace each other. The certificate ends
    before the lifetime would, so ``exp`` is the same in both seconds: only the second
    of the kept tokens tells them apart."""
    key = generate_key(now=NOW - timedelta(days=1), validity=timedelta(days=1, seconds=100))
    seconds: dict[int, datetime] = {}
    signer = TokenSigner(ISSUER, clock=lambda: seconds[threading.get_ident()])
    errors: list[BaseException] = []
    issued: list[tuple[datetime, IssuedToken]] = []

    def work(moment: datetime) -> None:
        seconds[threading.get_ident()] = moment
        try:
            for _ in range(200):
                token = signer.sign(key, subject="alice", audience=SERVICE, access=[])
                issued.append((moment, token))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(NOW + timedelta(seconds=n % 2),)) for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(issued) == 1200
    for moment, token in issued:
        assert token.issued_at == moment
        assert _segment(token.token, 1)["iat"] == int(moment.timestamp())
        assert token.expires_at == key.not_after
