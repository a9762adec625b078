"""A trust policy that maps a GitHub repository's workflow onto an existing robot account,
end to end: an independent OIDC issuer on loopback (the npm oauth2-mock-server, see
tests/support/oidc_issuer.py) signs the workflow's token; the real ``dockit api-server``
(two workers, SQLite) takes the policy and the robot through its Admin API; Debian's
docker-registry 2.8.2 and skopeo push with the policy's name and the token.

The token pushes where the robot may and nowhere else; a grant given to the robot later
counts from the next login; once the robot is disabled the next login is 401.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import SERVICE, OciImage, unique
from tests.support import skopeo
from tests.support.dockit import DockitServer
from tests.support.federation import AUDIENCE, github_claims
from tests.support.oidc_issuer import OidcIssuer, installed_issuer
from tests.support.registry import Registry

pytestmark = [pytest.mark.registry]


@pytest.fixture(scope="module")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"),
        services=(SERVICE,),
        extra_env={"DOCKIT_LOGIN_MAX_FAILURES": "0", "DOCKIT_AUDIT_FLUSH_SECONDS": "0"},
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = OidcIssuer(installed_issuer(), tmp_path_factory.mktemp("oidc") / "issuer.log")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_server_errors(dockit: DockitServer) -> Iterator[None]:
    yield
    assert dockit.running(), dockit.log()[-6000:]
    assert "Traceback" not in dockit.all_logs(), dockit.all_logs()[-6000:]


def test_a_workflow_mapped_to_a_robot_pushes_where_the_robot_may(
    dockit: DockitServer, registry: Registry, github: OidcIssuer, oci_image: OciImage
) -> None:
    robot, policy = unique("pusher"), unique("gh-acme-app")
    owner = unique("owner")
    dockit.create_user(owner, unique("pw"))
    dockit.admin(
        "POST",
        "/robots",
        {"name": robot, "owner": f"user:{owner}", "expires_in": 86400},
        expect=201,
    )
    dockit.grant(f"robot:{robot}", "repository:builds/**:pull,push")
    dockit.admin(
        "POST",
        "/trust-policies",
        {
            "name": policy,
            "issuer": github.url,
            "audiences": [AUDIENCE],
            "conditions": [
                {"claim": "repository", "value": "acme/app"},
                {"claim": "ref", "value": "refs/heads/main"},
            ],
            "robot": robot,
        },
        expect=201,
    )
    token = github.mint(github_claims(jti=unique("run")))
    creds = (policy, token)

    def push(repo: str) -> skopeo.SkopeoResult:
        return skopeo.push(oci_image.layout, oci_image.tag, registry.host, repo, creds=creds)

    pushed = push("builds/acme/app")
    assert pushed.ok, f"{pushed}\n{dockit.log()[-3000:]}"
    elsewhere = push("later/acme/app")
    assert not elsewhere.ok
    assert "denied" in elsewhere.stderr, elsewhere
    # Another repository's workflow does not match the policy.
    other = github.mint(github_claims(repository="acme/other", jti=unique("run")))
    refused = dockit.token(SERVICE, ["repository:builds/x:push"], creds=(policy, other))
    assert refused.status == 401, refused

    # A grant given to the robot counts from the next login, same token.
    dockit.grant(f"robot:{robot}", "repository:later/**:push")
    later = push("later/acme/app")
    assert later.ok, later

    dockit.admin("PATCH", f"/robots/{robot}", {"enabled": False}, expect=200)
    answer = dockit.token(SERVICE, ["repository:builds/acme/app:push"], creds=creds)
    assert answer.status == 401, answer
    assert "the robot account is disabled" in answer.json["errors"][0]["message"]
    disabled = push("builds/acme/app")
    assert not disabled.ok
    assert "401" in disabled.stderr or "unauthorized" in disabled.stderr.lower(), disabled

    query = f"kind=token&actor=federation:{policy}&limit=200"
    events = dockit.audit_events(query, at_least=3)
    issued = [e["detail"] for e in events if e["detail"].get("outcome") == "issued"]
    assert issued, events
    assert all(d["credential"]["robot"] == robot for d in issued), issued
    refusals = [e["detail"] for e in events if e["detail"].get("outcome") == "refused (401)"]
    assert any(d["credential"].get("robot") == robot for d in refusals), refusals
