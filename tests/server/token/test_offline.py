"""GET /v2/token with ``offline_token=true`` (what ``docker login`` sends), a refresh token
as the Basic password (containerd's GET fallback), and what both methods leave in the
request context for the access log, and what the audit log records."""

from __future__ import annotations

import falcon.testing
import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.refresh import hash_refresh_token
from tests.server.conftest import USER, USER_PASSWORD, assert_error, basic
from tests.server.token.flow import (
    OTHER,
    SERVICE,
    ContextRecorder,
    assert_refused,
    claims,
    get_token,
    new_refresh_token,
    post,
    refresh_grant,
)

# -- GET with offline_token -----------------------------------------------------------------


def test_get_offline_token_as_docker_login_sends_it(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    result = get_token(
        client,
        basic(USER, USER_PASSWORD),
        account=USER,
        client_id="docker",
        offline_token="true",
    )
    assert result.status_code == 200, result.text
    body = result.json
    assert set(body) == {"token", "access_token", "expires_in", "issued_at", "refresh_token"}
    (record,) = store.list_refresh_tokens(username=USER).items
    assert record.token_hash == hash_refresh_token(body["refresh_token"])
    assert (record.service, record.client_id) == (SERVICE, "docker")


def test_get_without_offline_token_is_unchanged(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    for params in ({}, {"offline_token": "false"}, {"client_id": "docker"}):
        body = get_token(client, basic(USER, USER_PASSWORD), **params).json
        assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    anonymous = get_token(client, offline_token="true").json
    assert "refresh_token" not in anonymous
    assert store.list_refresh_tokens().total == 0
    assert_error(get_token(client, offline_token="true", client_id="\t"), 400, "INVALID_REQUEST")
    # Without offline_token, client_id is ignored, as it always was.
    assert get_token(client, client_id="\t").status_code == 200


@pytest.mark.parametrize("username", [USER, "<token>", ""])
def test_get_with_a_refresh_token_as_the_password(
    client: falcon.testing.TestClient, store: MemoryBackend, username: str
) -> None:
    """containerd's GET fallback sends an identity token with an empty username."""
    value = new_refresh_token(client)
    result = get_token(
        client, basic(username, value), scope=f"repository:{USER}/app:pull", offline_token="true"
    )
    assert result.status_code == 200, result.text
    assert result.json["refresh_token"] == value
    assert claims(client, result.json["token"])["sub"] == USER
    assert store.list_refresh_tokens().total == 1
    assert_refused(get_token(client, basic(username, value), service=OTHER), "issued for", value)


def test_get_with_an_empty_username_and_a_password(client: falcon.testing.TestClient) -> None:
    assert_refused(get_token(client, basic("", USER_PASSWORD)), "required", USER_PASSWORD)


# -- what the access log and the audit log get ----------------------------------------------


def test_context_for_logs_and_audit(
    client: falcon.testing.TestClient, store: MemoryBackend, recorder: ContextRecorder
) -> None:
    value = new_refresh_token(client)
    refresh_grant(client, value, scope=f"repository:{USER}/app:pull")
    refresh_grant(client, "dkr_" + "z" * 43)
    post(client, grant_type="password")
    get_token(client, basic(USER, USER_PASSWORD))
    get_token(client, basic(USER, "wrong"))
    issued_post, refresh_ok, refresh_bad, malformed, get_ok, get_bad = recorder.seen
    for seen in (issued_post, refresh_ok, get_ok):
        assert seen["user"] == USER
    for seen in (refresh_bad, malformed, get_bad):
        assert seen["user"] is None
    events = list(reversed(store.query_events(kind="token").items))
    assert [(e.actor, e.action, e.target) for e in events] == [
        (f"user:{USER}", "token.issue", SERVICE),
        (f"user:{USER}", "token.issue", SERVICE),
        ("anonymous", "token.refuse", SERVICE),
        ("anonymous", "token.refuse", None),  # refused before a service was read
        (f"user:{USER}", "token.issue", SERVICE),
        (f"user:{USER}", "token.refuse", SERVICE),  # the user the refused login claimed
    ]
    refreshed = events[1].detail
    assert refreshed is not None
    assert refreshed["granted"] == [f"repository:{USER}/app:pull"]
    assert (refreshed["method"], refreshed["grant_type"]) == ("POST", "refresh_token")
    assert value not in repr(events)
