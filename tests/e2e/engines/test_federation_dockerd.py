"""A CI job's OIDC token through the Docker engine: ``docker login -u POLICY
--password-stdin`` with a GitHub-shaped token from an independent issuer on loopback, then
``docker push`` and ``docker pull`` through docker-registry 2.8 with Dockit.

Dockit gives a federated login no refresh token, so the daemon keeps the OIDC token itself
and sends it (a GET with Basic credentials, measured here) for every push and pull, as it
does after docker/login-action in GitHub Actions.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from libdockit.federation import ClaimCondition, GrantTemplate, TrustPolicy
from tests.e2e.conftest import unique
from tests.support.docker_cli import read_docker_config
from tests.support.dockerd import Dockerd
from tests.support.dockit import DockitServer
from tests.support.federation import AUDIENCE, github_claims, store_policy
from tests.support.oidc_issuer import OidcIssuer, installed_issuer
from tests.support.registry import Registry

from .conftest import failure

pytestmark = [pytest.mark.registry, pytest.mark.engines]


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = OidcIssuer(installed_issuer(), tmp_path_factory.mktemp("oidc") / "issuer.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def policy(dockit: DockitServer, github: OidcIssuer) -> str:
    name = unique("gh")
    store_policy(
        dockit,
        TrustPolicy(
            name=name,
            issuer=github.url,
            audiences=[AUDIENCE],
            conditions=[ClaimCondition("repository_owner", "acme")],
            grants=[GrantTemplate("ci/${claim.repository}/**", ["pull", "push"])],
        ),
    )
    return name


def test_docker_login_push_and_pull_with_an_oidc_token(
    dockerd: Dockerd,
    registry: Registry,
    dockit: DockitServer,
    github: OidcIssuer,
    policy: str,
    tmp_path: Path,
) -> None:
    config_dir = tmp_path / "docker-config"
    token = github.mint(github_claims(jti=unique("run")))
    login = dockerd.docker(
        config_dir, "login", registry.host, "-u", policy, "--password-stdin", input_text=token
    )
    assert login.returncode == 0, failure(login)
    assert "identitytoken" not in read_docker_config(config_dir)["auths"][registry.host]

    reference = f"{registry.host}/ci/acme/app/web:v1"
    dockerd.import_files(config_dir, {"built.txt": token[-16:].encode()}, reference)
    pushed = dockerd.docker(config_dir, "push", reference)
    assert pushed.returncode == 0, failure(pushed)
    assert dockerd.docker(config_dir, "rmi", reference).returncode == 0
    pulled = dockerd.docker(config_dir, "pull", reference)
    assert pulled.returncode == 0, failure(pulled)

    elsewhere = f"{registry.host}/ci/other/app/web:v1"
    dockerd.import_files(config_dir, {"built.txt": b"other"}, elsewhere)
    denied = dockerd.docker(config_dir, "push", elsewhere)
    assert denied.returncode != 0
    assert "denied" in denied.stderr, failure(denied)

    query = urllib.parse.urlencode({"kind": "token", "actor": f"federation:{policy}"})
    events = dockit.audit_events(query, at_least=3)
    assert {e["action"] for e in events} == {"token.issue"}
    # No identity token: the daemon sends the OIDC token with Basic credentials each time.
    vias = {(e["detail"].get("method"), e["detail"].get("grant_type")) for e in events}
    assert vias == {("GET", None)}, vias
    assert {e["detail"]["credential"]["issuer"] for e in events} == {github.url}


def test_a_token_that_meets_no_condition_cannot_log_in(
    dockerd: Dockerd, registry: Registry, github: OidcIssuer, policy: str, tmp_path: Path
) -> None:
    token = github.mint(github_claims(repository_owner="someone-else"))
    login = dockerd.docker(
        tmp_path / "cfg", "login", registry.host, "-u", policy, "--password-stdin", input_text=token
    )
    assert login.returncode != 0
    assert "401" in login.stderr or "unauthorized" in login.stderr.lower(), failure(login)
