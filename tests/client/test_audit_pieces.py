"""``dockit audit`` against a fake Admin API, for what the real server cannot be made to
answer (no route, the log turned off, a log growing between pages, a broken answer), the
exact query it sends, and its DETAIL column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dockit_server.client.commands import audit
from dockit_server.client.commands.audit import detail_text
from dockit_server.client.errors import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK
from tests.client.fake_api import CREDS, Seen, answer, error, fake_api
from tests.client.helpers import Canned, Cli

AUDIT = "GET /api/v1/audit"


def event(event_id: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": event_id,
        "at": f"2024-05-01T12:00:{event_id:02d}Z",
        "kind": "admin",
        "actor": "user:root",
        "action": "user.create",
        "target": f"user:u{event_id}",
        "before": None,
        "after": {"username": f"u{event_id}", "enabled": True},
        "detail": None,
        "client_address": "127.0.0.1",
        "request_id": None,
    }
    return base | fields


def page(items: list[dict[str, Any]], total: int, offset: int = 0) -> Canned:
    return answer(200, {"items": items, "total": total, "offset": offset, "limit": 1000})


def test_the_query_it_sends(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "_now", lambda: datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    with fake_api({AUDIT: page([], 0)}) as (url, seen):
        result = cli(
            "audit",
            "--url",
            url,
            "--kind",
            "admin",
            "--actor",
            "anonymous",
            "--action",
            "user.*",
            "--target",
            "user:bob",
            "--since",
            "90m",
            "--until",
            "2024-05-01T13:30:00+02:00",
            "--limit",
            "7",
            env=CREDS,
        )
    assert result.code == EXIT_OK, result
    assert result.stdout == "no audit events match\n"
    [request] = seen
    assert request.params == {
        "kind": "admin",
        "actor": "anonymous",
        "action": "user.*",
        "target": "user:bob",
        "since": "2024-05-01T10:30:00Z",
        "until": "2024-05-01T11:30:00Z",
        "offset": "0",
        "limit": "7",
    }


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("2024-05-01T08:00", "2024-05-01T08:00:00Z"),
        ("2024-05-01t08:00:00z", "2024-05-01T08:00:00Z"),
        ("2024-05-01T08:00:00.250-01:00", "2024-05-01T09:00:00.250000Z"),
        ("2d", "2024-04-29T12:00:00Z"),
        ("1h30m", "2024-05-01T10:30:00Z"),
    ],
)
def test_times_are_sent_as_rfc3339_utc(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, given: str, sent: str
) -> None:
    monkeypatch.setattr(audit, "_now", lambda: datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    with fake_api({AUDIT: page([], 0)}) as (url, seen):
        result = cli("audit", "--url", url, "--since", given, env=CREDS)
    assert result.code == EXIT_OK, result
    assert seen[0].params["since"] == sent


def test_all_reads_every_page_once_while_the_log_grows(cli: Cli) -> None:
    def pages(request: Seen) -> Canned:
        # A new event arrives after the first page: the rest shift one place later.
        offset = int(request.params["offset"])
        if offset == 0:
            return page([event(5), event(4)], 4)
        if offset == 2:
            return page([event(4), event(3)], 5, offset)
        if offset == 4:
            return page([event(2), event(1)], 5, offset)
        return page([], 5, offset)

    with fake_api({AUDIT: pages}) as (url, seen):
        result = cli("audit", "--url", url, "--all", "-o", "json", env=CREDS)
    assert result.code == EXIT_OK, result
    assert [e["id"] for e in result.json()] == [5, 4, 3, 2, 1]
    assert [(r.params["offset"], r.params["limit"]) for r in seen] == [
        ("0", "1000"),
        ("2", "1000"),
        ("4", "1000"),
    ]


def test_table(cli: Cli) -> None:
    items = [
        event(2, action="user.update", before={"enabled": True}, after={"enabled": False}),
        event(1),
    ]
    with fake_api({AUDIT: page(items, 9)}) as (url, _):
        result = cli("audit", "--url", url, env=CREDS)
    assert result.code == EXIT_OK, result
    assert result.stdout.splitlines() == [
        "AT                    ACTOR      ACTION       TARGET   DETAIL",
        "2024-05-01T12:00:02Z  user:root  user.update  user:u2  enabled: true → false",
        "2024-05-01T12:00:01Z  user:root  user.create  user:u1  enabled=true",
    ]
    assert (
        result.stderr == "showing the newest 2 of 9 matching events; --limit N or --all for more\n"
    )


@pytest.mark.parametrize(
    ("canned", "code", "said"),
    [
        (
            error(404, "NOT_FOUND", "the audit log is turned off (audit.enabled = false)"),
            EXIT_NOT_FOUND,
            "dockit audit: the audit log is turned off (audit.enabled = false)",
        ),
        (
            error(404, "NOT_FOUND", "404 Not Found"),
            EXIT_NOT_FOUND,
            "has no GET /api/v1/audit: it is older than this dockit command",
        ),
        (answer(200, {"items": "many"}), EXIT_FAILURE, "not a listing"),
    ],
)
def test_answers_it_cannot_use(cli: Cli, canned: Canned, code: int, said: str) -> None:
    with fake_api({AUDIT: canned}) as (url, _):
        result = cli("audit", "--url", url, env=CREDS)
    assert result.code == code, result
    assert said in result.stderr
    assert result.stdout == ""


# -- the DETAIL column ------------------------------------------------------------------------


def token(detail: dict[str, Any], target: str = "registry.test") -> dict[str, Any]:
    return event(1, kind="token", action="token.issue", target=target, after=None, detail=detail)


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (
            token(
                {
                    "service": "registry.test",
                    "requested": ["repository:a:pull,push"],
                    "granted": ["repository:a:pull"],
                }
            ),
            "repository:a:pull,push → repository:a:pull",
        ),
        (
            token({"service": "registry.test", "requested": ["repository:a:pull"], "granted": []}),
            "repository:a:pull → nothing",
        ),
        (
            token(
                {
                    "service": "registry.test",
                    "requested": [],
                    "granted": None,
                    "outcome": "refused (401)",
                    "reason": "UNAUTHORIZED",
                }
            ),
            "nothing → refused (401): UNAUTHORIZED",
        ),
        (
            token(
                {
                    "service": "registry.test",
                    "requested": [],
                    "granted": None,
                    "outcome": "refused (400)",
                    "reason": "INVALID_REQUEST",
                    "message": "the 'grant_type' field is required",
                }
            ),
            "nothing → refused (400): INVALID_REQUEST (the 'grant_type' field is required)",
        ),
        (
            token({"service": "other.test", "requested": ["a:b:c"], "granted": None}, target="x"),
            "other.test: a:b:c → refused",
        ),
        (
            event(
                1,
                before={"name": "g", "members": ["a"]},
                after={"name": "g", "members": ["a", "b"]},
            ),
            'members: ["a"] → ["a", "b"]',
        ),
        (
            event(
                1,
                before={"enabled": True, "updated_at": "x"},
                after={"enabled": True, "updated_at": "y"},
            ),
            "no change",
        ),
        (
            event(1, target="user:u1", before={"username": "u1", "admin": True}, after=None),
            "was admin=true",
        ),
        (event(1, action="user.password", after=None), "-"),
        (
            event(
                1,
                action="robot.create",
                target="robot:ci",
                after={
                    "name": "ci",
                    "id": "X",
                    "owner": "group:ci",
                    "expires_at": "2027-01-01T00:00:00Z",
                    "enabled": True,
                    "access_token_lifetime": None,
                    "last_used_from": None,
                },
            ),
            "owner=group:ci expires_at=2027-01-01T00:00:00Z",
        ),
        (
            event(
                1,
                action="robot.rotate",
                target="robot:ci",
                before={"name": "ci", "expires_at": "2027-01-01T00:00:00Z"},
                after={"name": "ci", "expires_at": "2027-01-01T00:00:00Z"},
            ),
            "new secret",
        ),
        (
            event(
                1,
                action="pat.revoke",
                target="pat:X",
                before={"name": "laptop", "owner": "user:a", "scopes": ["repository:a/*:pull"]},
                after=None,
            ),
            'was name=laptop owner=user:a scopes=["repository:a/*:pull"]',
        ),
    ],
)
def test_detail(item: dict[str, Any], text: str) -> None:
    assert detail_text(item) == text


def test_long_details_are_cut() -> None:
    scopes = [f"repository:team/app{n}:pull" for n in range(10)]
    text = detail_text(token({"service": "registry.test", "requested": scopes, "granted": scopes}))
    assert len(text) == 80
    assert text.endswith("…")


def test_a_delegated_logins_credential_is_shown_whole() -> None:
    scopes = [f"repository:ci/acme/app{n}:push" for n in range(10)]
    credential = {
        "kind": "federation",
        "id": "federation:gh",
        "issuer": "https://token.actions.githubusercontent.com",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "jti": "7b1e7c2a-0d3c-4f8e-9a51-3c1f0e1b2a4d",
    }
    detail = {"service": "registry.test", "requested": scopes, "granted": scopes}
    item = {**token({**detail, "credential": credential}), "actor": "federation:gh"}
    cut, shown = detail_text(item).split(" [", 1)
    assert len(cut) == 80
    assert shown == (
        "federation iss=https://token.actions.githubusercontent.com "
        "sub=repo:acme/app:ref:refs/heads/main jti=7b1e7c2a-0d3c-4f8e-9a51-3c1f0e1b2a4d]"
    )


def test_a_personal_tokens_id_is_shown_when_the_actor_is_its_owner() -> None:
    detail = {"requested": ["repository:a/b:pull"], "granted": ["repository:a/b:pull"]}
    pat = {**token(detail), "actor": "user:alice"}
    pat["detail"] = {**detail, "credential": {"kind": "pat", "id": "pat:Ab3"}}
    assert detail_text(pat).endswith(" [pat pat:Ab3]")
