"""Robot accounts and personal access tokens, end to end: the real ``dockit api-server``
(gunicorn, 2 workers, SQLite), Debian's docker-registry 2.8.2 and skopeo.

The credentials are made in the server's database by the library (as tooling on the library
would; the Admin API for them is tested on its own), the owners and their grants through the
Admin API. What is checked is what a CI job sees: a robot pushes and pulls with its name and
secret; a personal token pulls what its scopes allow and nothing more; a credential that is
disabled, deleted or expired gets a 401 with a challenge on its very next request; an owner's
lost grant is lost through the token at once; no login with either gets a refresh token; the
audit log names the robot or token; no secret reaches the server's logs.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SERVICE, TOKEN_LIFETIME, OciImage, unique
from tests.support import skopeo
from tests.support.access_credentials import CredentialStore, Made
from tests.support.dockit import DockitServer, Response, TokenAnswer, post_token_form
from tests.support.jwt_parts import jwt_claims
from tests.support.registry import Registry

pytestmark = pytest.mark.registry

#: An expiry a test waits out: long enough to be used once first, short to wait for.
SHORT_EXPIRY = timedelta(seconds=3)
EXPIRY_WAIT = 15.0


@pytest.fixture(scope="module")
def made() -> list[str]:
    """Every secret made in this module, to look for in the logs."""
    return []


@pytest.fixture(scope="module")
def store(dockit: DockitServer, made: list[str]) -> CredentialStore:
    return RecordingStore(f"sqlite:///{dockit.database_path}", made)


class RecordingStore(CredentialStore):
    def __init__(self, url: str, made: list[str]) -> None:
        super().__init__(url)
        self._made = made

    def make(self, *args: Any, **kwargs: Any) -> Made:
        result = super().make(*args, **kwargs)
        self._made.append(result.secret)
        return result


@pytest.fixture(autouse=True)
def no_server_errors_nor_secrets(
    dockit: DockitServer, registry: Registry, made: list[str]
) -> Iterator[None]:
    yield
    logs = dockit.all_logs()
    assert dockit.running(), logs[-6000:]
    assert "Traceback" not in logs, logs[-6000:]
    registry_log = registry.log()
    for secret in made:
        assert secret not in logs
        assert secret not in registry_log
    assert "dkt_" not in logs


def new_owner(dockit: DockitServer, *, push: bool = True) -> tuple[str, str]:
    """A user who may push (or only pull) under ``NAME/**``."""
    creds = (unique("owner"), unique("pw"))
    dockit.create_user(*creds)
    dockit.grant(f"user:{creds[0]}", f"repository:{creds[0]}/**:{'push' if push else 'pull'}")
    return creds


def new_robot(
    store: CredentialStore, owner: str, **fields: Any
) -> tuple[Made, tuple[str, str], str]:
    """A robot of ``owner`` that may push under ``ROBOTNAME/**``: (made, creds, repo)."""
    name = unique("robot")
    robot = store.make("robot", name, f"user:{owner}", **fields)
    store.grant(f"robot:{name}", "repository", f"{name}/**", "push")
    return robot, (name, robot.secret), f"{name}/app"


def actions(answer: TokenAnswer | str, repo: str) -> list[str]:
    """The actions granted on ``repo`` by a token (or a 200 answer's token)."""
    token = answer if isinstance(answer, str) else answer.token
    return sorted(
        action
        for entry in jwt_claims(token).get("access", [])
        if entry["name"] == repo
        for action in entry["actions"]
    )


def assert_refused(answer: TokenAnswer, message: str) -> None:
    assert answer.status == 401, answer
    assert answer.error_codes() == ["UNAUTHORIZED"], answer
    assert message in answer.json["errors"][0]["message"], answer
    challenge = answer.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Basic realm="), answer.headers


# -- robots ---------------------------------------------------------------------------------


def test_a_robot_pushes_and_pulls_with_skopeo(
    dockit: DockitServer,
    registry: Registry,
    store: CredentialStore,
    oci_image: OciImage,
    tmp_path: Path,
) -> None:
    owner, _ = new_owner(dockit)
    robot, creds, repo = new_robot(store, owner)
    pushed = skopeo.push(oci_image.layout, oci_image.tag, registry.host, repo, creds=creds)
    assert pushed.ok, f"{pushed}\nregistry log:\n{registry.log()[-3000:]}"
    pulled = skopeo.pull(registry.host, repo, oci_image.tag, tmp_path / "out", creds=creds)
    assert pulled.ok, pulled
    # Nowhere else: not under the owner's repositories, not under another name.
    elsewhere = skopeo.push(
        oci_image.layout, oci_image.tag, registry.host, f"{owner}/app", creds=creds
    )
    assert not elsewhere.ok
    assert "denied" in elsewhere.stderr or "unauthorized" in elsewhere.stderr, elsewhere

    answer = dockit.token(SERVICE, [f"repository:{repo}:pull,push"], creds)
    assert jwt_claims(answer.token)["sub"] == f"robot:{creds[0]}"
    events = dockit.audit_events(f"kind=token&actor=robot:{creds[0]}", at_least=3)
    assert {event["detail"]["credential"]["id"] for event in events} == {f"robot:{creds[0]}"}
    used = store.get(robot.record.id)
    assert used.last_used_at is not None
    assert used.last_used_from == "127.0.0.1"


def test_a_robot_gets_no_refresh_token_by_get_nor_post(
    dockit: DockitServer, store: CredentialStore
) -> None:
    """What ``docker login`` asks (GET with offline_token) and what containerd and the
    docker daemon POST with a password: a token, never a refresh token."""
    owner, _ = new_owner(dockit)
    _, creds, repo = new_robot(store, owner)
    got = dockit.token(
        SERVICE,
        [],
        creds,
        account=creds[0],
        params={"offline_token": "true", "client_id": "docker"},
    )
    assert got.status == 200, got
    assert "refresh_token" not in got.json
    posted = post_token_form(
        dockit,
        {
            "grant_type": "password",
            "username": creds[0],
            "password": creds[1],
            "service": SERVICE,
            "client_id": "containerd-client",
            "access_type": "offline",
            "scope": f"repository:{repo}:pull",
        },
    )
    assert posted.status == 200, posted
    body = posted.json()
    assert "refresh_token" not in body
    assert actions(body["access_token"], repo) == ["pull"]


@pytest.mark.parametrize("change", ["disabled", "deleted", "expired"])
def test_a_credential_is_refused_on_the_next_request(
    dockit: DockitServer, registry: Registry, store: CredentialStore, change: str
) -> None:
    owner, _ = new_owner(dockit)
    expiry = SHORT_EXPIRY if change == "expired" else timedelta(days=1)
    robot, creds, repo = new_robot(store, owner, expires_in=expiry)
    scope = [f"repository:{repo}:pull"]
    assert actions(dockit.token(SERVICE, scope, creds), repo) == ["pull"]
    if change == "disabled":
        store.set_enabled(robot.record.id, False)
        assert_refused(dockit.token(SERVICE, scope, creds), "robot account is disabled")
        events = dockit.audit_events(f"kind=token&actor=robot:{creds[0]}", at_least=2)
        assert events[0]["detail"]["outcome"] == "refused (401)", events[0]
        store.set_enabled(robot.record.id, True)
        assert actions(dockit.token(SERVICE, scope, creds), repo) == ["pull"]
    elif change == "deleted":
        store.delete(robot.record.id)
        assert_refused(dockit.token(SERVICE, scope, creds), "unknown or revoked access token")
    else:
        deadline = time.monotonic() + EXPIRY_WAIT
        answer = dockit.token(SERVICE, scope, creds)
        while answer.status == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = dockit.token(SERVICE, scope, creds)
        assert_refused(answer, "robot account is expired")
    # The registry itself sends the client back to Dockit, which refuses it again.
    if change != "disabled":
        denied = skopeo.inspect(registry.host, repo, "v1", creds=creds)
        assert not denied.ok


def test_the_access_token_lives_the_credentials_own_lifetime(
    dockit: DockitServer, store: CredentialStore
) -> None:
    owner, _ = new_owner(dockit)
    _, creds, repo = new_robot(store, owner, access_token_lifetime=timedelta(seconds=1800))
    claims = jwt_claims(dockit.token(SERVICE, [f"repository:{repo}:push"], creds).token)
    assert claims["exp"] - claims["iat"] == 1800
    _, plain, other = new_robot(store, owner)
    claims = jwt_claims(dockit.token(SERVICE, [f"repository:{other}:push"], plain).token)
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME


# -- personal access tokens -------------------------------------------------------------------


def test_a_pat_pulls_within_its_scopes_and_cannot_push(
    dockit: DockitServer,
    registry: Registry,
    store: CredentialStore,
    oci_image: OciImage,
    tmp_path: Path,
) -> None:
    owner, password = new_owner(dockit)
    repo = f"{owner}/app"
    pushed = skopeo.push(
        oci_image.layout, oci_image.tag, registry.host, repo, creds=(owner, password)
    )
    assert pushed.ok, pushed
    pat = store.make("pat", "laptop", f"user:{owner}", scopes=[f"repository:{owner}/**:pull"])
    creds = (owner, pat.secret)

    pulled = skopeo.pull(registry.host, repo, oci_image.tag, tmp_path / "out", creds=creds)
    assert pulled.ok, pulled
    refused = skopeo.push(
        oci_image.layout, oci_image.tag, registry.host, f"{owner}/other", creds=creds
    )
    assert not refused.ok
    assert "denied" in refused.stderr or "unauthorized" in refused.stderr, refused
    answer = dockit.token(SERVICE, [f"repository:{repo}:pull,push"], creds)
    assert actions(answer, repo) == ["pull"]
    assert jwt_claims(answer.token)["sub"] == owner
    [event] = dockit.audit_events(f"kind=token&actor=user:{owner}&limit=1", at_least=1)
    assert event["detail"]["credential"] == {"kind": "pat", "id": f"pat:{pat.record.id}"}


def test_an_owner_who_loses_a_grant_or_is_disabled_loses_it_through_the_pat_at_once(
    dockit: DockitServer, store: CredentialStore
) -> None:
    owner = unique("owner")
    dockit.create_user(owner, unique("pw"))
    grant = dockit.grant(f"user:{owner}", f"repository:{owner}/**:push")
    repo = f"{owner}/app"
    pat = store.make("pat", "ci", f"user:{owner}")
    creds = (owner, pat.secret)
    scope = [f"repository:{repo}:pull,push"]
    assert actions(dockit.token(SERVICE, scope, creds), repo) == ["pull", "push"]
    dockit.revoke(grant)
    for _ in range(4):  # each a new connection, on either worker
        assert actions(dockit.token(SERVICE, scope, creds), repo) == []
    dockit.set_user(owner, enabled=False)
    assert_refused(dockit.token(SERVICE, scope, creds), "owner is disabled")


def test_a_pat_is_no_way_into_the_admin_api(dockit: DockitServer, store: CredentialStore) -> None:
    owner, _ = new_owner(dockit)
    dockit.set_user(owner, admin=True)
    pat = store.make("pat", "admin", f"user:{owner}")
    response: Response = dockit.admin("GET", "/users", creds=(owner, pat.secret))
    assert response.status == 403, response
    assert "cannot use the Admin API" in response.body.decode()


def test_a_secret_sent_with_another_name_is_refused(
    dockit: DockitServer, store: CredentialStore
) -> None:
    owner, _ = new_owner(dockit)
    pat = store.make("pat", "laptop", f"user:{owner}")
    other, _ = new_owner(dockit)
    answer = dockit.token(SERVICE, [f"repository:{owner}/app:pull"], (other, pat.secret))
    assert_refused(answer, "not the access token's owner")
    auth = base64.b64encode(f"{other}:{pat.secret}".encode()).decode()
    assert auth not in dockit.all_logs()
