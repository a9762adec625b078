"""Helpers for the /v2/token tests with refresh tokens: form posts, grants, checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import falcon
import falcon.testing

from tests.server.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    USER,
    USER_PASSWORD,
    assert_error,
    basic,
)
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
SERVICE = "registry.test"
OTHER = "other.test"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN_AUTH = basic(ADMIN, ADMIN_PASSWORD)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class ContextRecorder:
    """Keeps what each request left in ``req.context`` for the access log."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, ok: bool
    ) -> None:
        self.seen.append({"user": req.context.get("user")})


def post(client: falcon.testing.TestClient, **fields: str) -> falcon.testing.Result:
    return client.simulate_post("/v2/token", body=urlencode(fields), headers=FORM)


def password_grant(
    client: falcon.testing.TestClient, *, offline: bool = True, **extra: str
) -> falcon.testing.Result:
    fields = {
        "grant_type": "password",
        "username": USER,
        "password": USER_PASSWORD,
        "service": SERVICE,
        "client_id": "docker",
    }
    if offline:
        fields["access_type"] = "offline"
    return post(client, **{**fields, **extra})


def refresh_grant(
    client: falcon.testing.TestClient, token: str, **extra: str
) -> falcon.testing.Result:
    fields = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "service": SERVICE,
        "client_id": "docker",
    }
    return post(client, **{**fields, **extra})


def new_refresh_token(client: falcon.testing.TestClient) -> str:
    result = password_grant(client)
    assert result.status_code == 200, result.text
    token = result.json["refresh_token"]
    assert isinstance(token, str)
    return token


def claims(client: falcon.testing.TestClient, access_token: str) -> dict[str, Any]:
    bundle = client.simulate_get("/v2/certs/pem").content
    return verify_token(access_token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE)


def assert_refused(result: falcon.testing.Result, said: str, *secrets: str) -> None:
    entry = assert_error(result, 401, "UNAUTHORIZED")
    assert said in entry["message"], entry
    assert result.headers["www-authenticate"].startswith('Basic realm="')
    for secret in secrets:
        assert secret not in result.text


def get_token(
    client: falcon.testing.TestClient, headers: dict[str, str] | None = None, **params: str
) -> falcon.testing.Result:
    query = urlencode({"service": SERVICE, **params})
    return client.simulate_get("/v2/token", query_string=query, headers=headers)
