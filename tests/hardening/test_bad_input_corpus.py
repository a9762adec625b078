"""The bad-input corpus (:mod:`tests.hardening.corpus`) against a real ``dockit api-server``.

Every entry goes over a raw socket, so malformed bytes reach gunicorn and Dockit as written.
For every entry: a 4xx (never a 5xx), a distribution-style error body when Dockit answers,
no injected header, a request id that is safe to echo; for the whole run: the store is
unchanged (users, groups, grants, keys, trust policies), the audit log holds no new admin
change, and the server's log has no Traceback.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from tests.support.dockit import API, DockitServer, TokenAnswer, basic_auth, http_request

from . import corpus
from .rawhttp import RawResponse, send_raw

USER = "alice"
USER_PASSWORD = "alice-pw-1"
GROUP = "devs"
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SNAPSHOT_PATHS = (
    "/users?limit=1000",
    "/groups?limit=1000",
    "/grants?limit=1000",
    "/keys",
    "/trust-policies?limit=1000",
)


def _snapshot(server: DockitServer) -> dict[str, Any]:
    return {path: server.admin("GET", path, expect=200).json() for path in SNAPSHOT_PATHS}


def _admin_changes(server: DockitServer) -> int:
    """Admin events that are changes (refused attempts are admin events too)."""
    total: int = server.admin("GET", "/audit?kind=admin&limit=1", expect=200).json()["total"]
    refused: int = server.admin("GET", "/audit?action=admin.refuse&limit=1", expect=200).json()[
        "total"
    ]
    return total - refused


def _problems(entry: corpus.Entry, response: RawResponse) -> list[str]:
    problems: list[str] = []
    if not 400 <= response.status < 500:
        problems.append(f"status {response.status}")
    if response.header(corpus.INJECTED) is not None:
        problems.append("an injected header came back")
    request_id = response.header("X-Request-Id")
    if request_id is not None and SAFE_REQUEST_ID.fullmatch(request_id) is None:
        problems.append(f"unsafe X-Request-Id echoed: {request_id!r}")
    if entry.layer == "http":
        return problems
    try:
        body = response.json()
        errors = body["errors"]
        assert isinstance(errors, list)
        assert errors
        for error in errors:
            assert isinstance(error["code"], str)
            assert error["code"]
            assert isinstance(error["message"], str)
    except (ValueError, KeyError, TypeError, AssertionError):
        problems.append(f"not a distribution-style error body: {response.body[:200]!r}")
    if "application/json" not in (response.header("Content-Type") or ""):
        problems.append(f"content type {response.header('Content-Type')!r}")
    return problems


@pytest.fixture(scope="module")
def fixture(server: DockitServer) -> corpus.Fixture:
    server.create_user(USER, USER_PASSWORD)
    server.create_user("fidev", "fidev-pw-1")
    server.create_group(GROUP)
    server.add_member(GROUP, USER)
    grant_id = server.grant("anonymous", "repository:public/*:pull")
    server.grant(f"group:{GROUP}", "repository:team/**:push")
    kid = server.admin("GET", "/keys", expect=200).json()["items"][0]["kid"]
    return corpus.Fixture(
        admin=server.admin_username,
        admin_password=server.admin_password or "",
        user=USER,
        user_password=USER_PASSWORD,
        group=GROUP,
        grant_id=grant_id,
        kid=kid,
        extra={"fi_suffix": "dev"},
    )


def test_corpus_refused_and_store_unchanged(server: DockitServer, fixture: corpus.Fixture) -> None:
    document = json.loads(http_request(server.url + API + "/openapi.json").body)
    entries = corpus.build(document, fixture)
    before, admin_changes = _snapshot(server), _admin_changes(server)
    admin_header = (b"Authorization", basic_auth(server.admin_creds).encode())

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for entry in entries:
        headers = (*entry.headers, admin_header) if entry.admin else entry.headers
        response = send_raw(
            "127.0.0.1", server.port, entry.method, entry.target, headers, entry.body
        )
        statuses[response.status] += 1
        failures.extend(f"{entry.label}: {p}" for p in _problems(entry, response))

    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    layers = Counter(entry.layer for entry in entries)
    print(
        f"\nbad-input corpus: {len(entries)} requests ({layers['app']} answered by Dockit, "
        f"{layers['http']} by gunicorn's parser); 5xx: {server_errors}; "
        f"statuses: {dict(sorted(statuses.items()))}"
    )
    assert not failures, f"{len(failures)} of {len(entries)} entries failed:\n" + "\n".join(
        failures[:80]
    )
    assert server_errors == 0
    assert _snapshot(server) == before, "the corpus changed the store"
    assert _admin_changes(server) == admin_changes, "the corpus made an admin change"
    log = server.log()
    assert "Traceback" not in log, log[-4000:]


def test_lookalike_usernames_normalise_or_fail(
    server: DockitServer, fixture: corpus.Fixture
) -> None:
    """NFKC + lower case: full-width and upper-case forms are the same account; look-alikes
    from other scripts are not, and get nothing."""
    password = fixture.admin_password
    for same in corpus.SAME_AS_ADMIN.values():
        answer = server.token(corpus.SERVICE, ["repository:team/x:pull"], (same, password))
        assert answer.status == 200, (same, answer)
    for other in corpus.LOOKALIKE_ADMINS.values():
        answer = server.token(corpus.SERVICE, ["repository:public/x:pull"], (other, password))
        assert answer.status == 401, (other, answer)
        assert answer.error_codes() == ["UNAUTHORIZED"]
    # A ligature normalises too: "ﬁdev" is the account "fidev".
    ligature = server.token(corpus.SERVICE, [], ("ﬁdev", "fidev-pw-1"))
    assert ligature.status == 200, ligature


def test_scopes_at_the_caps_are_accepted_and_grant_nothing_extra(
    server: DockitServer, fixture: corpus.Fixture
) -> None:
    """At the caps is valid; one over is a 400 (in the corpus). Nothing is granted that no
    grant gives."""
    at_cap_name = "/".join(["a" * 63] * 4)[:255].rstrip("/")
    scopes = [f"repository:{at_cap_name}:pull,push", *corpus._many(corpus.MAX_SCOPES - 1)]
    answer: TokenAnswer = server.token(corpus.SERVICE, scopes, (USER, USER_PASSWORD))
    assert answer.status == 200, answer
    import jwt

    claims = jwt.decode(answer.token, options={"verify_signature": False})
    assert all(entry["actions"] == [] for entry in claims["access"]), claims["access"]


def test_repeated_service_is_refused(server: DockitServer, fixture: corpus.Fixture) -> None:
    target = corpus.token_target(("service", "other"), ("service", corpus.SERVICE))
    response = send_raw("127.0.0.1", server.port, b"GET", target)
    assert response.status == 400
