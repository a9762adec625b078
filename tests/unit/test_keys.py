"""Key generation and loading, libtrust key IDs, JWK thumbprints and the bundle."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from libdockit.errors import KeyMaterialError
from libdockit.keys.bundle import bundle_certificates, bundle_pem, parse_bundle
from libdockit.keys.material import (
    Algorithm,
    SigningKey,
    from_stored,
    generate_key,
    jwk_thumbprint,
    libtrust_kid,
    load_key,
    public_jwk,
    to_stored,
)
from libdockit.testing.pki import issue_leaf, make_ca, make_chain

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
KID_FORMAT = re.compile(r"^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$")


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certs_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def _self_signed(private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
    )
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        cert = builder.sign(private_key, None)
    else:
        cert = builder.sign(private_key, hashes.SHA384())
    return _certs_pem(cert)


@pytest.fixture(scope="module")
def es_key() -> SigningKey:
    return generate_key("ES256", now=NOW)


@pytest.fixture(scope="module")
def rs_key() -> SigningKey:
    return generate_key("RS256", now=NOW)


# -- libtrust key ID --------------------------------------------------------------------


def test_libtrust_kid_matches_the_distribution_spec_example() -> None:
    # The schema-1 manifest example in distribution's docs/spec/manifest-v2-1.md.
    public_key = ec.EllipticCurvePublicNumbers(
        _b64url_int("3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A"),
        _b64url_int("t72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010"),
        ec.SECP256R1(),
    ).public_key()
    assert libtrust_kid(public_key) == "OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4"


def test_libtrust_kid_computed_by_hand() -> None:
    public_key = ec.derive_private_key(123456789, ec.SECP256R1()).public_key()
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # 30 bytes = 240 bits = 48 base32 characters exactly, so there is never padding.
    encoded = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode()
    assert len(encoded) == 48
    assert "=" not in encoded
    expected = ":".join(encoded[i : i + 4] for i in range(0, 48, 4))
    assert libtrust_kid(public_key) == expected


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_libtrust_kid_format(algorithm: Algorithm, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue("es_key" if algorithm == "ES256" else "rs_key")
    assert KID_FORMAT.match(key.kid)
    assert key.kid == libtrust_kid(key.chain[0].public_key())
    # The documented example has the same shape.
    assert KID_FORMAT.match("ARSD:B7VI:XXUJ:V5FD:3UY5:J77M:7K37:2MAK:TWTR:7FW3:3J22:PYIZ")


# -- JWK --------------------------------------------------------------------------------


def test_jwk_thumbprint_rfc7638_example() -> None:
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJEC"
        "PebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
        "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
        "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    public_key = rsa.RSAPublicNumbers(_b64url_int("AQAB"), _b64url_int(n)).public_key()
    assert jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_jwk_thumbprint_ec_by_hand() -> None:
    public_key = ec.derive_private_key(42, ec.SECP256R1()).public_key()
    numbers = public_key.public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    canonical = f'{{"crv":"P-256","kty":"EC","x":"{b64(numbers.x)}","y":"{b64(numbers.y)}"}}'
    digest = hashlib.sha256(canonical.encode()).digest()
    assert jwk_thumbprint(public_key) == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_public_jwk_ec(es_key: SigningKey) -> None:
    jwk = public_jwk(es_key)
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use", "x5c"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert jwk["kid"] == es_key.kid
    assert jwk["x5c"] == list(es_key.x5c)
    numbers = es_key.private_key.public_key().public_numbers()
    assert isinstance(numbers, ec.EllipticCurvePublicNumbers)
    assert _b64url_int(jwk["x"]) == numbers.x
    assert _b64url_int(jwk["y"]) == numbers.y
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32


def test_public_jwk_rsa(rs_key: SigningKey) -> None:
    jwk = public_jwk(rs_key)
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use", "x5c"}
    assert (jwk["kty"], jwk["alg"], jwk["e"]) == ("RSA", "RS256", "AQAB")
    numbers = rs_key.private_key.public_key().public_numbers()
    assert isinstance(numbers, rsa.RSAPublicNumbers)
    assert _b64url_int(jwk["n"]) == numbers.n
    assert "d" not in jwk


# -- generation -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_generated_key_and_certificate(
    algorithm: Algorithm, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue("es_key" if algorithm == "ES256" else "rs_key")
    assert key.algorithm == algorithm
    if algorithm == "ES256":
        assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.private_key.curve, ec.SECP256R1)
    else:
        assert isinstance(key.private_key, rsa.RSAPrivateKey)
        assert key.private_key.key_size == 2048
    (cert,) = key.chain
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dockit"
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert key.not_after == NOW + timedelta(days=365)
    assert key.not_after.tzinfo is not None
    assert key.not_before <= NOW
    assert NOW - key.not_before <= timedelta(minutes=5)
    assert key.x5c == (base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),)


def test_generate_key_options() -> None:
    key = generate_key("ES256", now=NOW, common_name="registry-signer", validity=timedelta(days=7))
    cert = key.chain[0]
    assert cert.subject.rfc4514_string() == "CN=registry-signer"
    assert key.not_after == NOW + timedelta(days=7)
    other = generate_key("ES256", now=NOW)
    assert other.kid != key.kid
    assert other.chain[0].serial_number != cert.serial_number


def test_generate_key_rsa_size() -> None:
    key = generate_key("RS256", now=NOW, rsa_key_size=3072)
    assert isinstance(key.private_key, rsa.RSAPrivateKey)
    assert key.private_key.key_size == 3072
    with pytest.raises(KeyMaterialError, match="2048"):
        generate_key("RS256", now=NOW, rsa_key_size=1024)


def test_generate_key_rejects_bad_arguments() -> None:
    with pytest.raises(KeyMaterialError, match="unsupported algorithm"):
        generate_key("HS256", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(KeyMaterialError, match="validity"):
        generate_key(now=NOW, validity=timedelta(0))


def test_signing_key_repr_hides_key_material(es_key: SigningKey) -> None:
    text = repr(es_key)
    assert es_key.kid in text
    assert "private" not in text.lower()
    assert "MII" not in text


def test_signing_key_checks_its_parts(es_key: SigningKey, rs_key: SigningKey) -> None:
    with pytest.raises(KeyMaterialError, match="does not match"):
        SigningKey(es_key.kid, "ES256", generate_key(now=NOW).private_key, es_key.chain)
    with pytest.raises(KeyMaterialError, match="kid"):
        SigningKey(rs_key.kid, "ES256", es_key.private_key, es_key.chain)
    with pytest.raises(KeyMaterialError, match="cannot sign"):
        SigningKey(es_key.kid, "RS256", es_key.private_key, es_key.chain)
    with pytest.raises(KeyMaterialError, match="at least"):
        SigningKey(es_key.kid, "ES256", es_key.private_key, ())


# -- persistence ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_stored_round_trip(algorithm: Algorithm, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue("es_key" if algorithm == "ES256" else "rs_key")
    stored = to_stored(key, "active", NOW)
    assert (stored.kid, stored.algorithm, stored.state) == (key.kid, algorithm, "active")
    assert stored.created_at == stored.activated_at == NOW
    assert stored.retired_at is None
    assert stored.not_after == key.not_after
    assert b"ENCRYPTED" not in stored.private_key_pem
    assert stored.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = from_stored(stored)
    assert loaded.kid == key.kid
    assert loaded.algorithm == key.algorithm
    assert loaded.chain == key.chain
    assert loaded.x5c == key.x5c
    assert loaded.not_after == key.not_after
    assert loaded.private_key.private_numbers() == key.private_key.private_numbers()


def test_to_stored_states(es_key: SigningKey) -> None:
    pending = to_stored(es_key, "pending", NOW)
    assert pending.activated_at is None
    assert pending.retired_at is None
    retired = to_stored(es_key, "retired", NOW)
    assert retired.retired_at == NOW


def test_from_stored_rejects_a_lying_record(es_key: SigningKey, rs_key: SigningKey) -> None:
    stored = to_stored(es_key, "active", NOW)
    with pytest.raises(KeyMaterialError, match="another kid"):
        from_stored(replace(stored, kid=rs_key.kid))
    with pytest.raises(KeyMaterialError, match="says RS256"):
        from_stored(replace(stored, algorithm="RS256"))
    with pytest.raises(KeyMaterialError):
        from_stored(replace(stored, private_key_pem=b"garbage"))


# -- loading ----------------------------------------------------------------------------


def test_load_key_round_trip(es_key: SigningKey) -> None:
    stored = to_stored(es_key, "pending", NOW)
    loaded = load_key(stored.private_key_pem, stored.certificate_chain_pem)
    assert loaded.kid == es_key.kid
    assert loaded.chain == es_key.chain


def test_load_key_mismatched_key_and_certificate(es_key: SigningKey) -> None:
    other = generate_key(now=NOW)
    with pytest.raises(KeyMaterialError, match="does not match") as info:
        load_key(_pem(other.private_key), _certs_pem(*es_key.chain))
    assert "BEGIN" not in info.value.message


def test_load_key_encrypted(es_key: SigningKey) -> None:
    encrypted = es_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    chain = _certs_pem(*es_key.chain)
    assert load_key(encrypted, chain, password=b"s3cret").kid == es_key.kid
    with pytest.raises(KeyMaterialError, match="password is needed"):
        load_key(encrypted, chain)
    with pytest.raises(KeyMaterialError, match="wrong password") as info:
        load_key(encrypted, chain, password=b"nope")
    assert "s3cret" not in info.value.message
    with pytest.raises(KeyMaterialError, match="not encrypted"):
        load_key(_pem(es_key.private_key), chain, password=b"s3cret")


@pytest.mark.parametrize(
    ("private_key", "message"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "secp384r1 are not supported"),
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "1024 bits are too small"),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519PrivateKey keys are not supported"),
    ],
    ids=["p384", "rsa1024", "ed25519"],
)
def test_load_key_unsupported_keys(
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    message: str,
    es_key: SigningKey,
) -> None:
    with pytest.raises(KeyMaterialError, match=message):
        load_key(_pem(private_key), _certs_pem(*es_key.chain))


def test_load_key_unreadable_input(es_key: SigningKey) -> None:
    key_pem = _pem(es_key.private_key)
    with pytest.raises(KeyMaterialError, match="cannot be read"):
        load_key(b"not a key", _certs_pem(*es_key.chain))
    with pytest.raises(KeyMaterialError, match="holds no PEM certificate"):
        load_key(key_pem, b"")
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(KeyMaterialError, match="certificate 1 of the certificate chain"):
        load_key(key_pem, broken)


def test_load_key_ca_chain_root_intermediate_leaf() -> None:
    leaf = make_chain(2)
    key = load_key(leaf.key_pem(), leaf.chain_pem())
    assert len(key.chain) == 3
    assert key.chain[0] == leaf.certificate
    assert key.kid == libtrust_kid(leaf.certificate.public_key())
    assert len(key.x5c) == 3
    # The bundle carries the leaf and the CA the chain ends with.
    assert bundle_certificates([key]) == [leaf.certificate, leaf.root]
    # Without the root in the file the intermediate is the last certificate.
    no_root = load_key(leaf.key_pem(), leaf.chain_pem(include_root=False))
    assert bundle_certificates([no_root]) == [leaf.certificate, leaf.issuers[0]]


def test_load_key_deep_chain_rsa() -> None:
    leaf = make_chain(3, algorithm="RS256")
    key = leaf.signing_key()
    assert key.algorithm == "RS256"
    assert len(key.chain) == 4


def test_load_key_chain_out_of_order() -> None:
    leaf = make_chain(2)
    intermediate, root = leaf.issuers
    with pytest.raises(KeyMaterialError, match="did not issue"):
        load_key(leaf.key_pem(), _certs_pem(leaf.certificate, root, intermediate))


def test_load_key_chain_through_a_non_ca() -> None:
    root = make_ca()
    not_a_ca = issue_leaf(root)
    below = issue_leaf(not_a_ca)
    with pytest.raises(KeyMaterialError, match="not a CA"):
        load_key(below.key_pem(), below.chain_pem())


def test_load_key_skips_other_pem_blocks(es_key: SigningKey) -> None:
    key_pem = _pem(es_key.private_key)
    combined = key_pem + _certs_pem(*es_key.chain)
    assert load_key(key_pem, combined).kid == es_key.kid


# -- bundle -----------------------------------------------------------------------------


def test_bundle_deduplicates_in_stable_order(es_key: SigningKey, rs_key: SigningKey) -> None:
    root = make_ca()
    first = issue_leaf(root).signing_key()
    second = issue_leaf(root).signing_key()
    certs = bundle_certificates([first, es_key, second, first, rs_key])
    assert certs == [
        first.chain[0],
        root.certificate,
        es_key.chain[0],
        second.chain[0],
        rs_key.chain[0],
    ]
    assert bundle_certificates([]) == []


def test_bundle_pem_round_trips_through_parse_bundle(es_key: SigningKey) -> None:
    leaf = make_chain(2)
    certs = bundle_certificates([es_key, leaf.signing_key()])
    pem = bundle_pem(certs)
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 3
    assert parse_bundle(pem) == certs


def test_parse_bundle_rejects_unusable_input(es_key: SigningKey) -> None:
    with pytest.raises(KeyMaterialError, match="no PEM certificate"):
        parse_bundle(b"")
    with pytest.raises(KeyMaterialError, match="no PEM certificate"):
        parse_bundle(b"<html>502 Bad Gateway</html>")
    with pytest.raises(KeyMaterialError, match="no PEM certificate"):
        parse_bundle(_pem(es_key.private_key))
    good = _certs_pem(*es_key.chain)
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(KeyMaterialError, match="certificate 2 of the bundle cannot be parsed"):
        parse_bundle(good + broken)
    with pytest.raises(KeyMaterialError, match="certificate 2 of the bundle holds a key"):
        parse_bundle(good + _self_signed(ed25519.Ed25519PrivateKey.generate()))


def test_parse_bundle_accepts_other_ec_curves() -> None:
    pem = _self_signed(ec.generate_private_key(ec.SECP384R1()))
    assert len(parse_bundle(pem)) == 1
