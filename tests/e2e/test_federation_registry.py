"""Workload identity federation end to end: independent OIDC issuers on loopback (the npm
oauth2-mock-server, see tests/support/oidc_issuer.py) sign GitHub-, GitLab- and
Kubernetes-shaped tokens; the real ``dockit api-server`` (two workers, SQLite) exchanges them
for registry tokens; Debian's docker-registry 2.8.2 takes those; skopeo and the docker CLI
are the clients, with the trust policy's name as the user name and the token as the password.

The engines (dockerd's docker login and push) are in tests/e2e/engines.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest

from libdockit.federation import ClaimCondition, GrantTemplate, TrustPolicy
from tests.e2e.conftest import SERVICE, OciImage, unique
from tests.support import skopeo
from tests.support.docker_cli import docker_login, read_docker_config
from tests.support.dockit import DockitServer, TokenAnswer, post_token_form
from tests.support.federation import (
    AUDIENCE,
    github_claims,
    gitlab_claims,
    kubernetes_claims,
    store_policy,
)
from tests.support.oidc_issuer import (
    OidcIssuer,
    hs256_with_public_key,
    installed_issuer,
    unsigned,
    with_kid,
)
from tests.support.registry import Registry

pytestmark = [pytest.mark.registry]

#: The server's access-token lifetime; the GitHub policy asks for less, GitLab's for more.
TOKEN_LIFETIME = 900


@pytest.fixture(scope="module")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    """The real server; an unknown kid may refetch an issuer's keys every second, so a key
    rotation is seen after one."""
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"),
        services=(SERVICE,),
        token_lifetime=TOKEN_LIFETIME,
        extra_env={
            "DOCKIT_LOGIN_MAX_FAILURES": "0",
            "DOCKIT_AUDIT_FLUSH_SECONDS": "0",
            "DOCKIT_FEDERATION_JWKS_REFETCH_SECONDS": "1",
        },
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def issuer_dir() -> Path:
    return installed_issuer()


def _issuer(issuer_dir: Path, factory: pytest.TempPathFactory) -> OidcIssuer:
    return OidcIssuer(issuer_dir, factory.mktemp("oidc") / "issuer.log")


@pytest.fixture(scope="module")
def github(issuer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = _issuer(issuer_dir, tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gitlab(issuer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = _issuer(issuer_dir, tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cluster(issuer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = _issuer(issuer_dir, tmp_path_factory)
    yield running
    running.stop()


def github_policy(github: OidcIssuer) -> TrustPolicy:
    return TrustPolicy(
        name="gh-acme",
        issuer=github.url,
        audiences=[AUDIENCE],
        conditions=[
            ClaimCondition("repository_owner", "acme"),
            ClaimCondition("ref", "refs/heads/*"),
        ],
        grants=[GrantTemplate("ci/${claim.repository}/**", ["push"])],
        max_token_lifetime_seconds=600,
    )


@pytest.fixture(scope="module")
def policies(
    dockit: DockitServer, github: OidcIssuer, gitlab: OidcIssuer, cluster: OidcIssuer
) -> None:
    store_policy(dockit, github_policy(github))
    store_policy(
        dockit,
        TrustPolicy(
            name="gl-acme",
            issuer=gitlab.url,
            audiences=[AUDIENCE],
            conditions=[
                ClaimCondition("namespace_path", "acme"),
                ClaimCondition("ref_type", "branch"),
            ],
            grants=[
                GrantTemplate("gl/${claim.project_path}/**", ["push"]),
                GrantTemplate("shared/**", ["pull"]),
            ],
            max_token_lifetime_seconds=3600,
        ),
    )
    store_policy(
        dockit,
        TrustPolicy(
            name="k8s-ci",
            issuer=cluster.url,
            audiences=[AUDIENCE],
            conditions=[
                ClaimCondition("kubernetes.io/namespace", "ci"),
                ClaimCondition("sub", "system:serviceaccount:ci:*"),
            ],
            grants=[GrantTemplate("k8s/${claim.kubernetes.io/serviceaccount/name}/**", ["push"])],
        ),
    )


@pytest.fixture(autouse=True)
def no_server_errors(dockit: DockitServer, policies: None) -> Iterator[None]:
    yield
    assert dockit.running(), dockit.log()[-6000:]
    assert "Traceback" not in dockit.all_logs(), dockit.all_logs()[-6000:]


def ask(dockit: DockitServer, policy: str, token: str, *scopes: str) -> TokenAnswer:
    return dockit.token(SERVICE, scopes, creds=(policy, token))


def access(answer: TokenAnswer) -> list[Any]:
    claims = jwt.decode(answer.token, options={"verify_signature": False})
    return [entry["actions"] for entry in claims["access"]]


def push(
    image: OciImage, registry: Registry, repo: str, creds: tuple[str, str]
) -> skopeo.SkopeoResult:
    return skopeo.push(image.layout, image.tag, registry.host, repo, creds=creds)


# -- stock clients push and pull ---------------------------------------------------------------


def test_a_github_token_pushes_and_pulls_with_skopeo(
    dockit: DockitServer,
    registry: Registry,
    github: OidcIssuer,
    oci_image: OciImage,
    tmp_path: Path,
) -> None:
    token = github.mint(github_claims(jti=unique("gh")))
    repo = "ci/acme/app/web"
    pushed = push(oci_image, registry, repo, ("gh-acme", token))
    assert pushed.ok, f"{pushed}\n{dockit.log()[-3000:]}"
    pulled = skopeo.pull(
        registry.host, repo, oci_image.tag, tmp_path / "out", creds=("gh-acme", token)
    )
    assert pulled.ok, pulled
    # Another repository of the owner is not this job's.
    elsewhere = push(oci_image, registry, "ci/acme/other/web", ("gh-acme", token))
    assert not elsewhere.ok
    assert "denied" in elsewhere.stderr, elsewhere


def test_the_github_tokens_access_token(dockit: DockitServer, github: OidcIssuer) -> None:
    answer = ask(
        dockit,
        "gh-acme",
        github.mint(github_claims()),
        "repository:ci/acme/app/web:pull,push",
        "repository:alice/app:pull",
    )
    assert answer.status == 200, answer
    claims = jwt.decode(answer.token, options={"verify_signature": False})
    assert claims["sub"] == "federation:gh-acme"
    assert claims["exp"] - claims["iat"] == 600  # the policy's cap, under the server's 900
    assert access(answer) == [["pull", "push"], []]


def test_docker_login_with_the_policy_name_and_token(
    dockit: DockitServer, registry: Registry, github: OidcIssuer, tmp_path: Path
) -> None:
    """The docker CLI (no daemon): GET with offline_token=true gets no refresh token, so
    docker keeps the OIDC token itself, as docker/login-action does."""
    token = github.mint(github_claims(jti=unique("login")))
    result = docker_login(registry.host, "gh-acme", token, tmp_path)
    assert result.returncode == 0, f"{result.stderr}\n{registry.log()[-2000:]}"
    entry = read_docker_config(tmp_path)["auths"][registry.host]
    assert "identitytoken" not in entry
    refused = docker_login(registry.host, "gh-acme", unsigned(token), tmp_path / "other")
    assert refused.returncode != 0


def test_a_gitlab_token_gets_its_grants(
    dockit: DockitServer, registry: Registry, gitlab: OidcIssuer, oci_image: OciImage
) -> None:
    token = gitlab.mint(gitlab_claims(jti=unique("gl")))
    pushed = push(oci_image, registry, "gl/acme/app/api", ("gl-acme", token))
    assert pushed.ok, pushed
    answer = ask(
        dockit,
        "gl-acme",
        token,
        "repository:gl/acme/app/api:pull,push",
        "repository:shared/base/x:pull,push",
        "repository:ci/acme/app/web:push",
    )
    assert access(answer) == [["pull", "push"], ["pull"], []]
    claims = jwt.decode(answer.token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME  # the server's cap wins
    tag = gitlab.mint(gitlab_claims(ref_type="tag", ref="v1"))
    assert ask(dockit, "gl-acme", tag).status == 401


def test_a_kubernetes_token_gets_its_service_accounts_grants(
    dockit: DockitServer, registry: Registry, cluster: OidcIssuer, oci_image: OciImage
) -> None:
    token = cluster.mint(kubernetes_claims("ci", "builder"))
    pushed = push(oci_image, registry, "k8s/builder/tool", ("k8s-ci", token))
    assert pushed.ok, pushed
    other = cluster.mint(kubernetes_claims("ci", "deployer"))
    assert access(ask(dockit, "k8s-ci", other, "repository:k8s/builder/tool:push")) == [[]]
    prod = cluster.mint(kubernetes_claims("prod", "builder"))
    refused = ask(dockit, "k8s-ci", prod, "repository:k8s/builder/tool:push")
    assert refused.status == 401
    assert "kubernetes.io/namespace = ci" in refused.json["errors"][0]["message"]


# -- every check, through the real server ------------------------------------------------------


def _refusals(github: OidcIssuer, gitlab: OidcIssuer) -> dict[str, str]:
    good = github.mint(github_claims())
    return {
        "wrong audience": github.mint(github_claims(aud="sts.amazonaws.com")),
        "another issuer's token": gitlab.mint(github_claims()),
        "wrong iss": github.mint(github_claims(iss="https://token.actions.githubusercontent.com")),
        "expired": github.mint({**github_claims(), "iat": 0, "nbf": 0}, expires_in=-600),
        "alg none": unsigned(good),
        "unknown kid": with_kid(good, "no-such-key"),
        "claim not matching": github.mint(github_claims(repository_owner="evil")),
        "HS256 with the public key": hs256_with_public_key(github, good),
    }


def test_each_bad_token_is_refused_with_401(
    dockit: DockitServer, github: OidcIssuer, gitlab: OidcIssuer
) -> None:
    for case, token in _refusals(github, gitlab).items():
        answer = ask(dockit, "gh-acme", token, "repository:ci/acme/app/web:push")
        assert answer.status == 401, (case, answer)
        assert answer.error_codes() == ["UNAUTHORIZED"], (case, answer)
        assert answer.headers["WWW-Authenticate"].startswith("Basic"), case
        assert token not in dockit.all_logs(), case


def test_skopeo_with_a_bad_token_is_refused(
    registry: Registry, github: OidcIssuer, oci_image: OciImage
) -> None:
    token = github.mint(github_claims(repository_owner="evil"))
    refused = push(oci_image, registry, "ci/acme/app/web", ("gh-acme", token))
    assert not refused.ok
    assert "401" in refused.stderr or "unauthorized" in refused.stderr.lower(), refused


def test_a_key_rotation_at_the_issuer_is_picked_up(
    dockit: DockitServer, github: OidcIssuer
) -> None:
    assert ask(dockit, "gh-acme", github.mint(github_claims())).status == 200
    new_kid = github.rotate("ES256")
    time.sleep(1.1)  # past the refetch interval (1 s) of whichever worker answers
    rotated = github.mint(github_claims(jti=unique("rotated")), kid=new_kid)
    answer = ask(dockit, "gh-acme", rotated, "repository:ci/acme/app/web:push")
    assert answer.status == 200, answer
    assert access(answer) == [["push"]]


def test_a_changed_policy_counts_from_the_next_login(
    dockit: DockitServer, github: OidcIssuer
) -> None:
    token = github.mint(github_claims(ref="refs/heads/feature"))
    assert ask(dockit, "gh-acme", token).status == 200
    stricter = replace(
        github_policy(github), conditions=(ClaimCondition("ref", "refs/heads/main"),)
    )
    store_policy(dockit, stricter, replace=True)
    try:
        for _ in range(4):  # whichever worker answers
            assert ask(dockit, "gh-acme", token).status == 401
    finally:
        store_policy(dockit, github_policy(github), replace=True)
    assert ask(dockit, "gh-acme", token).status == 200


def test_an_issuer_that_is_gone_affects_its_own_tokens_only(
    dockit: DockitServer,
    github: OidcIssuer,
    issuer_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    leaving = _issuer(issuer_dir, tmp_path_factory)
    try:
        name = unique("gone")
        store_policy(
            dockit,
            TrustPolicy(
                name=name,
                issuer=leaving.url,
                audiences=[AUDIENCE],
                grants=[GrantTemplate("ci/**", ["push"])],
            ),
        )
        token = leaving.mint(github_claims())
    finally:
        leaving.stop()
    answer = ask(dockit, name, token, "repository:ci/acme/app/web:push")
    assert answer.status == 503, answer
    assert answer.error_codes() == ["UNAVAILABLE"], answer
    # Other issuers' tokens and passwords are unaffected.
    assert ask(dockit, "gh-acme", github.mint(github_claims())).status == 200
    user, password = unique("user"), unique("pw")
    dockit.create_user(user, password)
    assert dockit.token(SERVICE, (), creds=(user, password)).status == 200


def test_no_refresh_token_for_a_federated_login(dockit: DockitServer, github: OidcIssuer) -> None:
    token = github.mint(github_claims())
    get = dockit.token(
        SERVICE,
        ["repository:ci/acme/app/web:push"],
        creds=("gh-acme", token),
        params={"offline_token": "true", "client_id": "docker"},
    )
    assert get.status == 200, get
    assert "refresh_token" not in get.json
    post = post_token_form(
        dockit,
        {
            "grant_type": "password",
            "username": "gh-acme",
            "password": token,
            "service": SERVICE,
            "client_id": "docker",
            "access_type": "offline",
            "scope": "repository:ci/acme/app/web:pull,push",
        },
    )
    assert post.status == 200, post
    assert "refresh_token" not in post.json()
    assert "access_token" in post.json()


def test_the_audit_log_names_the_policy_issuer_sub_and_jti(
    dockit: DockitServer, github: OidcIssuer
) -> None:
    jti = unique("audited")
    token = github.mint(github_claims(jti=jti))
    for _ in range(2):  # a replay is allowed, and recorded
        assert ask(dockit, "gh-acme", token, "repository:ci/acme/app/web:push").status == 200
    query = urllib.parse.urlencode({"kind": "token", "actor": "federation:gh-acme", "limit": 500})
    events = dockit.audit_events(query, at_least=2)
    mine = [e for e in events if e["detail"].get("credential", {}).get("jti") == jti]
    assert len(mine) == 2, events
    for event in mine:
        assert event["detail"]["credential"] == {
            "kind": "federation",
            "id": "federation:gh-acme",
            "issuer": github.url,
            "sub": "repo:acme/app:ref:refs/heads/main",
            "jti": jti,
        }
        assert event["detail"]["granted"] == ["repository:ci/acme/app/web:push"]
