"""Bodies sent with ``Transfer-Encoding: chunked`` reach a real ``dockit api-server`` whole.

containers/image (skopeo, podman, buildah, CRI-O) POSTs its refresh-token form chunked, with
no Content-Length. Every route that takes a body must read it like a body of known length:
the same answer when it fits, the same 400 or 413 when it is too large, and never a wait
for the end of a body that does not end. Each request goes over a raw socket, so the bytes
on the wire are exactly the ones written here.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from tests.support.dockit import API, DockitServer, basic_auth

from .rawhttp import RawResponse, chunked, send_raw

SERVICE = "registry.test"
USER = "carol"
PASSWORD = "carol-pw-1"
SCOPE = f"repository:{USER}/app:pull,push"
FORM = b"application/x-www-form-urlencoded"
#: The limits of dockit_server.resources.token_form and .admin.bodies (both 64 KiB).
MAX_BODY = 64 * 1024
TOO_LARGE_FORM = f"the token request form is larger than {MAX_BODY} bytes"


@pytest.fixture(scope="module")
def user(server: DockitServer) -> str:
    server.create_user(USER, PASSWORD)
    server.grant(f"user:{USER}", f"repository:{USER}/**:pull,push")
    return USER


def _form(**fields: str) -> bytes:
    return urllib.parse.urlencode(sorted(fields.items())).encode()


def _post(
    server: DockitServer,
    path: str,
    body: bytes,
    *,
    content_type: bytes,
    framing: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> RawResponse:
    """POST ``body`` with a Content-Length (``framing="length"``) or chunked."""
    headers = [(b"Content-Type", content_type), *(extra or [])]
    if framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        body = chunked(body)
    return send_raw("127.0.0.1", server.port, b"POST", path.encode(), headers, body)


def _errors(response: RawResponse) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


def _password_form() -> bytes:
    return _form(
        grant_type="password",
        username=USER,
        password=PASSWORD,
        service=SERVICE,
        client_id="containers-image",
        scope=SCOPE,
    )


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_password_form_gets_a_token(server: DockitServer, user: str, framing: str) -> None:
    response = _post(server, "/v2/token", _password_form(), content_type=FORM, framing=framing)
    assert response.status == 200, response.body
    answer = response.json()
    assert answer["access_token"]
    assert answer["scope"] == SCOPE


def test_form_split_across_many_chunks(server: DockitServer, user: str) -> None:
    """Chunk boundaries fall inside names and values; the form is read whole all the same."""
    headers = [(b"Content-Type", FORM), (b"Transfer-Encoding", b"chunked")]
    body = chunked(_password_form(), chunk_size=3)
    response = send_raw("127.0.0.1", server.port, b"POST", b"/v2/token", headers, body)
    assert response.status == 200, response.body
    assert response.json()["scope"] == SCOPE


def test_refresh_form_sent_chunked_like_containers_image(server: DockitServer, user: str) -> None:
    """What skopeo and podman send with docker's identity token: a refresh_token grant,
    chunked, no Content-Length."""
    login = server.token(
        SERVICE, (), (USER, PASSWORD), params={"offline_token": "true", "client_id": "docker"}
    )
    refresh_token = login.json["refresh_token"]
    body = _form(
        grant_type="refresh_token",
        refresh_token=refresh_token,
        service=SERVICE,
        client_id="containers/image",
        scope=SCOPE,
    )
    response = _post(server, "/v2/token", body, content_type=FORM, framing="chunked")
    assert response.status == 200, response.body
    assert response.json()["scope"] == SCOPE


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_form_one_byte_too_large(server: DockitServer, framing: str) -> None:
    body = _form(grant_type="password", pad="x" * MAX_BODY)[: MAX_BODY + 1]
    response = _post(server, "/v2/token", body, content_type=FORM, framing=framing)
    assert response.status == 400, response.body
    assert _errors(response) == [{"code": "INVALID_REQUEST", "message": TOO_LARGE_FORM}]


def test_form_at_the_limit_is_read(server: DockitServer, user: str) -> None:
    """Exactly the limit is not too large: the password grant below it still works."""
    body = _password_form() + b"&pad="
    body += b"x" * (MAX_BODY - len(body))
    assert len(body) == MAX_BODY
    response = _post(server, "/v2/token", body, content_type=FORM, framing="chunked")
    assert response.status == 200, response.body


def test_chunked_form_that_never_ends_is_refused_once_too_large(server: DockitServer) -> None:
    """No last chunk ever comes: the answer must not wait for it. A server reading to the end
    would hang here until the socket timeout fails the test."""
    headers = [(b"Content-Type", FORM), (b"Transfer-Encoding", b"chunked")]
    body = chunked(b"grant_type=password&pad=" + b"y" * (MAX_BODY + 40_000), terminate=False)
    response = send_raw("127.0.0.1", server.port, b"POST", b"/v2/token", headers, body)
    assert response.status == 400, response.body
    assert _errors(response) == [{"code": "INVALID_REQUEST", "message": TOO_LARGE_FORM}]


@pytest.mark.parametrize(
    "framed",
    [
        pytest.param(b"zz\r\ngrant_type=password\r\n0\r\n\r\n", id="size-not-hex"),
        pytest.param(b"40\r\ngrant_type=password\r\n0\r\n\r\n", id="chunk-shorter-than-size"),
        pytest.param(b"5\r\ngrant_type\r\n0\r\n\r\n", id="no-crlf-after-chunk"),
    ],
)
def test_broken_chunked_framing_is_a_400(server: DockitServer, framed: bytes) -> None:
    headers = [(b"Content-Type", FORM), (b"Transfer-Encoding", b"chunked")]
    response = send_raw(
        "127.0.0.1", server.port, b"POST", b"/v2/token", headers, framed, end_input=True
    )
    assert response.status == 400, response.body
    if response.header("Content-Type") == "application/json":
        assert _errors(response)[0]["code"] == "INVALID_REQUEST"
    assert "Traceback" not in server.all_logs()


def test_a_refused_form_is_audited_and_logged_with_its_message(server: DockitServer) -> None:
    """The message the client got is kept, so "why did skopeo get a 400?" has an answer."""
    request_id = b"chunked-missing-grant-type"
    body = _form(service=SERVICE, client_id="containers-image")
    response = _post(
        server,
        "/v2/token",
        body,
        content_type=FORM,
        framing="chunked",
        extra=[(b"X-Request-Id", request_id)],
    )
    assert response.status == 400, response.body
    message = "the 'grant_type' field is required"
    assert _errors(response) == [{"code": "INVALID_REQUEST", "message": message}]
    events = server.audit_events("kind=token&action=token.refuse", at_least=1)
    [event] = [e for e in events if e["request_id"] == request_id.decode()]
    assert event["detail"]["reason"] == "INVALID_REQUEST"
    assert event["detail"]["message"] == message
    assert event["detail"]["method"] == "POST"
    assert f"chunked-missing-grant-type): INVALID_REQUEST: {message}" in server.all_logs()


# -- the Admin API ------------------------------------------------------------------------

JSON = b"application/json"


def _admin_headers(server: DockitServer) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", basic_auth(server.admin_creds).encode())]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_admin_json_body(server: DockitServer, framing: str) -> None:
    name = f"chunky-{framing}"
    body = json.dumps({"username": name, "password": "chunky-pw-1"}).encode()
    response = _post(
        server,
        f"{API}/users",
        body,
        content_type=JSON,
        framing=framing,
        extra=_admin_headers(server),
    )
    assert response.status == 201, response.body
    assert server.get_user(name)["username"] == name


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_admin_body_too_large_is_413(server: DockitServer, framing: str) -> None:
    body = json.dumps({"username": "big", "password": "p" * MAX_BODY}).encode()
    response = _post(
        server,
        f"{API}/users",
        body,
        content_type=JSON,
        framing=framing,
        extra=_admin_headers(server),
    )
    assert response.status == 413, response.body
    assert _errors(response) == [
        {"code": "BODY_TOO_LARGE", "message": f"the request body is larger than {MAX_BODY} bytes"}
    ]
    assert all(user["username"] != "big" for user in server.list_users())


def test_admin_broken_chunked_body_is_a_400(server: DockitServer) -> None:
    headers = [
        (b"Content-Type", JSON),
        (b"Transfer-Encoding", b"chunked"),
        *_admin_headers(server),
    ]
    framed = b"ff\r\n" + json.dumps({"username": "cut", "password": "cut-pw-1"}).encode()
    target = f"{API}/users".encode()
    response = send_raw("127.0.0.1", server.port, b"POST", target, headers, framed, end_input=True)
    assert response.status == 400, response.body
    assert _errors(response)[0]["code"] == "INVALID_BODY"
    assert all(user["username"] != "cut" for user in server.list_users())
