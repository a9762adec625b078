"""Every Admin API route needs HTTP Basic credentials of an enabled admin."""

from __future__ import annotations

import base64

import falcon.testing
import pytest

from dockit_server.resources.admin.openapi_doc import OPENAPI_DOCUMENT
from libdockit.backends.memory.backend import MemoryBackend

from .conftest import ADMIN, ADMIN_AUTH, ADMIN_PASSWORD, USER_AUTH, Api, assert_error, basic

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SAMPLE_PARAMS = {
    "{username}": "alice",
    "{name}": "team",
    "{grant_id}": "1",
    "{kid}": "NOPE",
    "{token_id}": "0123456789abcdef",
}


def concrete(template: str) -> str:
    for placeholder, value in SAMPLE_PARAMS.items():
        template = template.replace(placeholder, value)
    return template


def protected_operations() -> list[tuple[str, str]]:
    """(METHOD, concrete path) of every documented operation that needs an admin."""
    found = []
    for path, item in OPENAPI_DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and operation.get("security") != []:
                found.append((method.upper(), concrete(path)))
    return found


PROTECTED = protected_operations()
#: A signed-in user's own personal access tokens: no admin flag needed (see
#: test_admin_credentials.py), but credentials all the same.
SELF_SERVICE = [
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/0123456789abcdef"),
]
ADMIN_ONLY = [operation for operation in PROTECTED if operation not in SELF_SERVICE]
BAD_HEADERS = {
    "none": {},
    "wrong password": basic(ADMIN, "wrong"),
    "unknown user": basic("ghost", ADMIN_PASSWORD),
    "empty password": basic(ADMIN, ""),
    "bearer": {"Authorization": "Bearer abc.def.ghi"},
    "not base64": {"Authorization": "Basic %%%"},
    "no colon": {"Authorization": "Basic " + base64.b64encode(b"root").decode()},
}


def test_every_admin_route_is_covered() -> None:
    assert len(PROTECTED) == 43
    assert len(ADMIN_ONLY) == 40  # every self-service operation is a documented one


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=list(BAD_HEADERS))
def test_bad_credentials_get_401_with_challenge(
    client: falcon.testing.TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    # A body that would be a 400 shows the 401 wins: nothing is parsed before auth.
    result = client.simulate_request(method, path, headers=headers, body=b"{not json")
    assert_error(result, 401, "UNAUTHORIZED")
    assert result.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert result.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY)
def test_non_admin_gets_403(client: falcon.testing.TestClient, method: str, path: str) -> None:
    result = client.simulate_request(method, path, headers=USER_AUTH, body=b"{not json")
    entry = assert_error(result, 403, "DENIED")
    assert "not an admin" in entry["message"]
    assert "WWW-Authenticate" not in result.headers


def test_disabled_admin_gets_401(api: Api, backend: MemoryBackend) -> None:
    backend.set_user_enabled(ADMIN, False)
    result = api.get("/users")
    assert_error(result, 401, "UNAUTHORIZED")


def test_username_is_normalised(api: Api) -> None:
    assert api.get("/users", headers=basic("ROOT", ADMIN_PASSWORD)).status_code == 200


def test_promoted_user_becomes_admin(api: Api) -> None:
    assert api.get("/users", headers=USER_AUTH).status_code == 403
    api.patch("/users/alice", json={"admin": True})
    assert api.get("/users", headers=USER_AUTH).status_code == 200
    api.patch("/users/alice", json={"admin": False}, headers=ADMIN_AUTH)
    assert api.get("/users", headers=USER_AUTH).status_code == 403


def test_openapi_document_is_public(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/v1/openapi.json")
    assert result.status_code == 200
    assert result.json["openapi"].startswith("3.1")


def test_unknown_admin_path_is_404(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/v1/nothing", headers=ADMIN_AUTH)
    assert result.status_code == 404
