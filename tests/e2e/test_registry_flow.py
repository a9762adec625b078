"""Dockit end to end: the real ``dockit api-server``, docker-registry 2.8.2 and skopeo.

The registry sends every client to Dockit's ``/v2/token`` and trusts only the bundle that
``dockit init-container`` wrote. Grants change through the Admin API between pushes and pulls,
so each test shows a change in Dockit's data reaching the registry's decision. One server and
one registry serve the module; every test creates its own uniquely named users, and a test
that adds a grant for ``anonymous`` or ``authenticated`` revokes it before it ends.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.e2e.conftest import SERVICE, TOKEN_LIFETIME, OciImage, unique
from tests.support import skopeo
from tests.support.docker_cli import docker_login, read_docker_config
from tests.support.dockit import DockitServer, Response, TokenAnswer, http_request
from tests.support.jwt_parts import jwt_claims, jwt_header
from tests.support.registry import Registry
from tests.support.skopeo import SkopeoResult
from tests.support.verifier import TokenRejected, libtrust_key_id, verify_token

pytestmark = pytest.mark.registry

DENIED = "denied: requested access to the resource is denied"
Creds = tuple[str, str]


@dataclass(frozen=True)
class Account:
    name: str
    password: str

    @property
    def creds(self) -> Creds:
        return (self.name, self.password)


MakeUser = Callable[[str], Account]


@pytest.fixture
def make_user(dockit: DockitServer) -> MakeUser:
    """Create a uniquely named, enabled user without grants through the Admin API."""

    def make(prefix: str) -> Account:
        account = Account(unique(prefix), unique("pw"))
        created = dockit.create_user(account.name, account.password)
        assert created["username"] == account.name
        assert created["enabled"] is True
        assert created["admin"] is False
        return account

    return make


@pytest.fixture(autouse=True)
def no_server_errors(dockit: DockitServer) -> Iterator[None]:
    """After every test: the server still runs and logged no traceback (no 500 anywhere)."""
    yield
    log = dockit.log()
    assert dockit.running(), log[-6000:]
    assert "Traceback" not in log, log[-6000:]
    assert "unexpected error" not in log, log[-6000:]


# -- helpers ----------------------------------------------------------------------------------


def push(
    image: OciImage, registry: Registry, repo: str, creds: Creds | None, tag: str | None = None
) -> SkopeoResult:
    return skopeo.push(
        image.layout, image.tag, registry.host, repo, creds=creds, dest_tag=tag or image.tag
    )


def assert_ok(result: SkopeoResult, registry: Registry) -> None:
    assert result.ok, f"{result}\nregistry log:\n{registry.log()[-3000:]}"


def assert_denied(result: SkopeoResult) -> None:
    assert result.returncode != 0, result
    assert DENIED in result.stderr, result


def pulled_digest(registry: Registry, repo: str, tag: str, dest: Path, creds: Creds | None) -> str:
    """Pull REPO:TAG with skopeo into a fresh layout; the manifest digest it got."""
    result = skopeo.pull(registry.host, repo, tag, dest, creds=creds)
    assert_ok(result, registry)
    inspected = skopeo.inspect_layout(dest, tag)
    assert inspected.ok, inspected
    digest: str = inspected.json()["Digest"]
    return digest


def tags(registry: Registry, repo: str, creds: Creds | None) -> list[str]:
    result = skopeo.list_tags(registry.host, repo, creds=creds)
    assert_ok(result, registry)
    found: list[str] = result.json()["Tags"]
    return sorted(found)


def token_actions(dockit: DockitServer, creds: Creds | None, scope: str) -> list[str]:
    """The actions a fresh token for one requested resource carries."""
    answer = dockit.token(SERVICE, [scope], creds)
    assert answer.status == 200, answer
    access = jwt_claims(answer.token)["access"]
    assert len(access) == 1, access
    actions: list[str] = access[0]["actions"]
    return actions


def catalog(registry: Registry, token: str) -> Response:
    return http_request(
        f"{registry.url}/v2/_catalog?n=1000", headers={"Authorization": f"Bearer {token}"}
    )


def access_map(access: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """``access`` as {(type, name): actions}; a resource listed twice would be a bug."""
    result: dict[tuple[str, str], set[str]] = {}
    for entry in access:
        key = (entry["type"], entry["name"])
        assert key not in result, f"{key} listed twice in {access}"
        result[key] = set(entry.get("actions", []))
    return result


# -- the bundle -------------------------------------------------------------------------------


def test_init_container_writes_the_bundle_the_registry_starts_with(
    dockit: DockitServer, bundle: Path, registry: Registry
) -> None:
    written = bundle.read_bytes()
    published = dockit.certs_pem()
    assert written == published

    def ders(pem: bytes) -> list[bytes]:
        return [
            cert.public_bytes(serialization.Encoding.DER)
            for cert in x509.load_pem_x509_certificates(pem)
        ]

    assert ders(written) == ders(published)
    assert len(ders(written)) >= 1
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o644
    assert not [p.name for p in bundle.parent.iterdir() if p != bundle], "temporary files left"

    assert registry.running()
    assert f'rootcertbundle: "{bundle}"' in registry.config_path.read_text()
    challenge = registry.get("/v2/").headers["WWW-Authenticate"]
    assert challenge == f'Bearer realm="{dockit.token_realm}",service="{SERVICE}"'
    # Dockit signs with a key whose certificate is in that bundle.
    kids = {libtrust_key_id(cert.public_key()) for cert in x509.load_pem_x509_certificates(written)}
    assert jwt_header(dockit.token(SERVICE).token)["kid"] in kids


# -- pushing and pulling ----------------------------------------------------------------------


def test_pusher_pushes_and_pull_only_user_pulls_but_cannot_push(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    make_user: MakeUser,
    tmp_path: Path,
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    dockit.grant(f"user:{alice.name}", f"repository:{alice.name}/*:pull,push")
    dockit.grant(f"user:{bob.name}", f"repository:{alice.name}/*:pull")
    repo = f"{alice.name}/app"

    assert_ok(push(oci_image, registry, repo, alice.creds), registry)
    inspected = skopeo.inspect(registry.host, repo, oci_image.tag, creds=alice.creds)
    assert inspected.ok, inspected
    assert inspected.json()["Digest"] == oci_image.digest

    assert pulled_digest(registry, repo, oci_image.tag, tmp_path / "bob", bob.creds) == (
        oci_image.digest
    )
    assert_denied(push(oci_image, registry, repo, bob.creds, tag="from-bob"))
    assert_denied(push(oci_image, registry, f"{alice.name}/other", bob.creds))
    # Nothing of bob's landed; alice's own grant still does not reach outside her namespace.
    assert tags(registry, repo, alice.creds) == [oci_image.tag]
    assert_denied(push(oci_image, registry, f"{bob.name}/app", alice.creds))


def test_anonymous_pull_needs_an_anonymous_grant(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    make_user: MakeUser,
    tmp_path: Path,
) -> None:
    publisher = make_user("publisher")
    dockit.grant(f"user:{publisher.name}", "repository:public/*:pull,push")
    assert_ok(push(oci_image, registry, "public/app", publisher.creds), registry)

    before = skopeo.pull(registry.host, "public/app", oci_image.tag, tmp_path / "a", creds=None)
    assert_denied(before)

    grant_id = dockit.grant("anonymous", "repository:public/*:pull")
    try:
        digest = pulled_digest(registry, "public/app", oci_image.tag, tmp_path / "b", None)
        assert digest == oci_image.digest
        assert_denied(push(oci_image, registry, "public/app", None, tag="anon"))
        assert_denied(push(oci_image, registry, "public/fresh", None))
        # `public/*` is one segment: nothing deeper, nothing elsewhere.
        assert token_actions(dockit, None, "repository:public/a/b:pull") == []
        assert token_actions(dockit, None, f"repository:{publisher.name}/x:pull") == []
    finally:
        dockit.revoke(grant_id)
    after = skopeo.pull(registry.host, "public/app", oci_image.tag, tmp_path / "c", creds=None)
    assert_denied(after)


def test_group_grant_follows_membership_and_group_state(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, make_user: MakeUser
) -> None:
    dev = make_user("dev")
    group = dockit.create_group("devs")
    assert group["enabled"] is True
    assert dockit.add_member("devs", dev.name)["members"] == [dev.name]
    dockit.grant("group:devs", "repository:team/**:pull,push")
    scope = "repository:team/a/b:pull,push"

    assert_ok(push(oci_image, registry, "team/a/b", dev.creds), registry)

    assert dockit.remove_member("devs", dev.name)["members"] == []
    assert_denied(push(oci_image, registry, "team/a/b", dev.creds, tag="after-removal"))
    assert token_actions(dockit, dev.creds, scope) == []

    dockit.add_member("devs", dev.name)
    assert token_actions(dockit, dev.creds, scope) == ["pull", "push"]
    assert dockit.set_group("devs", enabled=False)["enabled"] is False
    assert token_actions(dockit, dev.creds, scope) == []
    assert_denied(push(oci_image, registry, "team/a/b", dev.creds, tag="group-disabled"))
    # Enabled again, the group gives access back, and none of the denied pushes landed.
    dockit.set_group("devs", enabled=True)
    assert tags(registry, "team/a/b", dev.creds) == [oci_image.tag]


def test_user_home_grant_lets_each_user_push_only_under_their_own_name(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, make_user: MakeUser
) -> None:
    first, second = make_user("home"), make_user("home")
    grant_id = dockit.grant("authenticated", "repository:${user}/**:pull,push")
    try:
        assert_ok(push(oci_image, registry, f"{first.name}/app", first.creds), registry)
        assert_ok(push(oci_image, registry, f"{second.name}/deep/er/app", second.creds), registry)
        assert_denied(push(oci_image, registry, f"{second.name}/app", first.creds))
        assert_denied(push(oci_image, registry, f"{first.name}/app", second.creds, tag="x"))
        # Anonymous callers have no ${user}; a name that merely starts with it is not home.
        assert token_actions(dockit, None, f"repository:{first.name}/app:pull") == []
        assert token_actions(dockit, first.creds, f"repository:{first.name}x/app:push") == []
    finally:
        dockit.revoke(grant_id)
    assert_denied(push(oci_image, registry, f"{first.name}/app", first.creds, tag="revoked"))


# -- the catalog ------------------------------------------------------------------------------


def test_catalog_needs_a_catalog_grant(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, make_user: MakeUser
) -> None:
    reader, other = make_user("catalog"), make_user("nocatalog")
    dockit.grant(f"user:{reader.name}", "registry:catalog:*")
    dockit.grant(f"user:{reader.name}", f"repository:{reader.name}/*:pull,push")
    assert_ok(push(oci_image, registry, f"{reader.name}/listed", reader.creds), registry)

    allowed = catalog(registry, dockit.token(SERVICE, ["registry:catalog:*"], reader.creds).token)
    assert allowed.status == 200, allowed
    assert f"{reader.name}/listed" in allowed.json()["repositories"]

    for creds in (other.creds, None):
        answer = dockit.token(SERVICE, ["registry:catalog:*"], creds)
        assert answer.status == 200, answer
        assert jwt_claims(answer.token)["access"] == [
            {"type": "registry", "name": "catalog", "actions": []}
        ]
        refused = catalog(registry, answer.token)
        assert refused.status == 401, refused
        assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


# -- Admin API changes take effect at once ----------------------------------------------------


def test_revoked_grant_denies_the_next_push(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, make_user: MakeUser
) -> None:
    user = make_user("revoke")
    repo = f"{user.name}/app"
    grant_id = dockit.grant(f"user:{user.name}", f"repository:{user.name}/*:pull,push")
    fetched = dockit.admin("GET", f"/grants/{grant_id}", expect=200).json()
    assert fetched["subject"] == f"user:{user.name}"
    assert_ok(push(oci_image, registry, repo, user.creds), registry)

    deleted = dockit.admin("DELETE", f"/grants/{grant_id}")
    assert deleted.status == 204, deleted
    assert dockit.admin("GET", f"/grants/{grant_id}").status == 404
    assert_denied(push(oci_image, registry, repo, user.creds, tag="after-revoke"))
    assert token_actions(dockit, user.creds, f"repository:{repo}:pull,push") == []


def test_disabled_user_gets_401_and_skopeo_fails(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, make_user: MakeUser
) -> None:
    user = make_user("disable")
    repo = f"{user.name}/app"
    dockit.grant(f"user:{user.name}", f"repository:{user.name}/*:pull,push")
    assert_ok(push(oci_image, registry, repo, user.creds), registry)

    assert dockit.set_user(user.name, enabled=False)["enabled"] is False
    answer = dockit.token(SERVICE, [f"repository:{repo}:pull"], user.creds)
    assert answer.status == 401, answer
    assert answer.error_codes() == ["UNAUTHORIZED"]
    assert answer.headers["WWW-Authenticate"].startswith(f'Basic realm="{dockit.realm}"')
    failed = push(oci_image, registry, repo, user.creds, tag="disabled")
    assert failed.returncode != 0, failed
    assert "unauthorized" in failed.stderr, failed
    inspected = skopeo.inspect(registry.host, repo, oci_image.tag, creds=user.creds)
    assert inspected.returncode != 0, inspected

    # Enabled again, the same password works: the refusal was the flag, not the password.
    dockit.set_user(user.name, enabled=True)
    assert tags(registry, repo, user.creds) == [oci_image.tag]


# -- the tokens themselves --------------------------------------------------------------------


def test_issued_tokens_verify_against_the_bundle_with_granted_and_requested_access(
    dockit: DockitServer,
    registry: Registry,
    bundle: Path,
    oci_image: OciImage,
    make_user: MakeUser,
) -> None:
    user = make_user("verify")
    dockit.grant(f"user:{user.name}", f"repository:{user.name}/*:pull,push")
    dockit.grant(f"user:{user.name}", "registry:catalog:*")
    dockit.grant(f"user:{user.name}", f"repository:{user.name}-ro/app:pull")
    assert_ok(push(oci_image, registry, f"{user.name}/app", user.creds), registry)
    own = f"{user.name}/app"
    pem = bundle.read_bytes()

    cases: list[tuple[Creds | None, list[str], dict[tuple[str, str], set[str]]]] = [
        (
            user.creds,
            [
                f"repository:{own}:pull,push,delete",
                "repository:elsewhere/app:pull",
                "registry:catalog:*",
                f"repository:{user.name}-ro/app:push,pull",
            ],
            {
                ("repository", own): {"pull", "push"},
                ("repository", "elsewhere/app"): set(),
                ("registry", "catalog"): {"*"},
                ("repository", f"{user.name}-ro/app"): {"pull"},
            },
        ),
        # Several scopes in one value, and a repeated resource merged.
        (
            user.creds,
            [f"repository:{own}:pull repository:{user.name}/b:push", f"repository:{own}:push"],
            {("repository", own): {"pull", "push"}, ("repository", f"{user.name}/b"): {"push"}},
        ),
        (user.creds, [], {}),
        (
            None,
            [f"repository:{own}:pull", "registry:catalog:*"],
            {
                ("repository", own): set(),
                ("registry", "catalog"): set(),
            },
        ),
    ]
    for creds, scopes, expected in cases:
        answer = dockit.token(SERVICE, scopes, creds, account=creds[0] if creds else None)
        assert answer.status == 200, answer
        body = answer.json
        assert body["access_token"] == body["token"]
        assert body["expires_in"] == TOKEN_LIFETIME
        assert answer.headers["Cache-Control"] == "no-store"
        claims = verify_token(body["token"], bundle_pem=pem, issuer=dockit.issuer, service=SERVICE)
        assert isinstance(claims["aud"], str)
        assert claims["aud"] == SERVICE
        assert claims["sub"] == (creds[0] if creds else "")
        assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME
        granted = access_map(claims.get("access", []))
        # Anything not listed carries no action; listed-but-empty equals not listed.
        assert {k: v for k, v in granted.items() if v} == {k: v for k, v in expected.items() if v}
        assert set(granted) <= set(expected), granted

    # The registry itself accepts a token fetched straight from /v2/token ...
    token = dockit.token(SERVICE, [f"repository:{own}:pull"], user.creds).token
    inspected = skopeo.inspect(registry.host, own, oci_image.tag, creds=None, token=token)
    assert inspected.ok, inspected
    assert inspected.json()["Digest"] == oci_image.digest
    # ... and the verifier is not a rubber stamp: wrong service, wrong issuer, tampered claims.
    with pytest.raises(TokenRejected, match="aud"):
        verify_token(token, bundle_pem=pem, issuer=dockit.issuer, service="other.test")
    with pytest.raises(TokenRejected, match="iss"):
        verify_token(token, bundle_pem=pem, issuer="someone-else", service=SERVICE)
    head, claims_segment, signature = token.split(".")
    claims = jwt_claims(token)
    claims["access"][0]["actions"] = ["pull", "push"]
    forged_claims = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(
            f"{head}.{forged_claims}.{signature}",
            bundle_pem=pem,
            issuer=dockit.issuer,
            service=SERVICE,
        )
    assert claims_segment != forged_claims


# -- /v2/token errors -------------------------------------------------------------------------


def assert_error(answer: TokenAnswer, status: int, code: str | None = None) -> None:
    assert answer.status == status, answer
    assert isinstance(answer.json, dict), answer
    errors = answer.json["errors"]
    assert isinstance(errors, list), answer
    assert errors, answer
    assert all(isinstance(e.get("message"), str) and e["message"] for e in errors), answer
    if code is not None:
        assert [e["code"] for e in errors] == [code], answer


def test_token_endpoint_errors_against_the_real_server(
    dockit: DockitServer, make_user: MakeUser
) -> None:
    user = make_user("errors")
    scope = [f"repository:{user.name}/app:pull"]

    for creds in ((user.name, "wrong-password"), ("nobody-at-all", "whatever")):
        answer = dockit.token(SERVICE, scope, creds)
        assert_error(answer, 401, "UNAUTHORIZED")
        assert answer.headers["WWW-Authenticate"].startswith(f'Basic realm="{dockit.realm}"')
        assert "wrong-password" not in json.dumps(answer.json)

    raw = dockit.request(
        "GET", f"/v2/token?service={SERVICE}", headers={"Authorization": "Basic !!!not-base64"}
    )
    assert raw.status == 401, raw
    assert raw.error_codes() == ["UNAUTHORIZED"]

    for bad_scope in (
        "repository:Upper/Case:pull",
        "repository:app",
        "repository::pull",
        f"repository:{user.name}/app:",
        "repository:a//b:pull",
    ):
        assert_error(dockit.token(SERVICE, [bad_scope], user.creds), 400, "SCOPE_INVALID")
    assert_error(dockit.token("unknown.test", scope, user.creds), 400, "SERVICE_UNKNOWN")
    assert_error(dockit.token("unknown.test", scope, None), 400, "SERVICE_UNKNOWN")
    assert_error(dockit.token(None, scope, user.creds), 400)
    assert_error(dockit.token(SERVICE, scope, user.creds, account="someone-else"), 400)
    # The account check is case-insensitive like usernames, and not needed at all.
    assert dockit.token(SERVICE, scope, user.creds, account=user.name.upper()).status == 200
    assert dockit.token(SERVICE, scope, user.creds).status == 200

    # POST is the OAuth2 form flow (tests/e2e/test_docker_login.py); a query string is not a form.
    post = dockit.token(SERVICE, scope, user.creds, method="POST")
    assert_error(post, 400, "INVALID_REQUEST")
    assert "Traceback" not in dockit.log()


# -- the docker CLI ---------------------------------------------------------------------------


@pytest.mark.docker_cli
def test_docker_login_through_the_registry(
    dockit: DockitServer, registry: Registry, make_user: MakeUser, tmp_path: Path
) -> None:
    user = make_user("docker")
    good = tmp_path / "good"
    result = docker_login(registry.host, user.name, user.password, good)
    assert result.returncode == 0, result.stderr
    # Dockit answers docker's offline_token=true with a refresh token: docker stores that
    # (identitytoken) and no password (tests/e2e/test_docker_login.py goes further).
    entry = read_docker_config(good)["auths"][registry.host]
    assert entry["auth"] == base64.b64encode(f"{user.name}:".encode()).decode()
    assert entry["identitytoken"].startswith("dkr_")

    bad = tmp_path / "bad"
    refused = docker_login(registry.host, user.name, "not-the-password", bad)
    assert refused.returncode != 0, refused.stdout
    assert registry.host not in read_docker_config(bad).get("auths", {})
