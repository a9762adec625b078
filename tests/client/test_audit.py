"""``dockit audit`` through the real server: admin changes and token decisions, filters,
limits, both formats and exit codes. (Answers the real server cannot be made to give, such
as an older server without the route, are in test_audit_pieces.py against a fake.)"""

from __future__ import annotations

from typing import Any

import pytest

from dockit_server.client.errors import EXIT_DENIED, EXIT_OK, EXIT_USAGE
from tests.client.conftest import MakeUser
from tests.client.helpers import Cli, unique
from tests.support.dockit import DockitServer


def events(dockit: DockitServer, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dockit.admin("GET", f"/audit?{query}", expect=200).json()["items"]
    return items


def rows(stdout: str) -> list[list[str]]:
    """The table's rows split into AT, ACTOR, ACTION, TARGET and DETAIL."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    return [line.split(None, 4) for line in lines[1:]]


def test_admin_changes(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("audited")
    dockit.create_user(name, "pw-1-of-user")
    dockit.set_user(name, enabled=False)
    result = admin_cli("audit", "--target", f"user:{name}")
    assert result.code == EXIT_OK, result
    assert [row[1:] for row in rows(result.stdout)] == [
        ["user:admin", "user.update", f"user:{name}", "enabled: true → false"],
        ["user:admin", "user.create", f"user:{name}", "admin=false enabled=true groups=[]"],
    ]
    assert all(row[0].endswith("Z") for row in rows(result.stdout))
    assert result.stderr == ""

    as_json = admin_cli("audit", "--target", f"user:{name}", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json() == events(dockit, f"target=user:{name}")
    assert [e["action"] for e in as_json.json()] == ["user.update", "user.create"]


def test_grants_and_deletions(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    grant_id = dockit.grant(f"user:{user}", f"repository:{user}/*:pull")
    dockit.revoke(grant_id)
    result = admin_cli("audit", "--target", f"grant:{grant_id}", "--action", "grant.*")
    assert result.code == EXIT_OK, result
    assert [row[2:] for row in rows(result.stdout)] == [
        [
            "grant.delete",
            f"grant:{grant_id}",
            f"was subject=user:{user} scope=repository:{user}/*:pull",
        ],
        [
            "grant.create",
            f"grant:{grant_id}",
            f"subject=user:{user} scope=repository:{user}/*:pull",
        ],
    ]


def test_token_decisions(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    dockit.grant(f"user:{user}", f"repository:{user}/*:pull")
    scope = f"repository:{user}/app:pull,push"
    assert dockit.token(dockit.services[0], [scope], (user, f"{user}-pw")).status == 200
    assert dockit.token(dockit.services[0], [scope], (user, "wrong")).status == 401
    dockit.audit_events(f"kind=token&actor=user:{user}", at_least=2)  # written in batches
    result = admin_cli("audit", "--kind", "token", "--actor", user)  # a bare name is user:NAME
    assert result.code == EXIT_OK, result
    service = dockit.services[0]
    refused, issued = (row[1:] for row in rows(result.stdout))
    assert refused[:3] == [f"user:{user}", "token.refuse", service]
    # The message follows the code (cut to the column's width).
    assert refused[3].startswith(f"{scope} → refused (401): UNAUTHORIZED (invalid")
    assert issued == [
        f"user:{user}",
        "token.issue",
        service,
        f"{scope} → repository:{user}/app:pull",
    ]
    only_refused = admin_cli(
        "audit", "--actor", f"user:{user}", "--action", "token.refuse", "-o", "json"
    )
    assert only_refused.code == EXIT_OK, only_refused
    [refused_event] = only_refused.json()
    assert refused_event["detail"]["requested"] == [scope]
    assert refused_event["detail"]["message"] == "invalid username or password"
    assert refused_event["detail"]["method"] == "GET"
    assert "wrong" not in only_refused.stdout


def test_times(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("timed")
    dockit.create_user(name, "pw-1-of-user")
    target = ("--target", f"user:{name}")
    recent = admin_cli("audit", *target, "--since", "1h")
    assert [row[2] for row in rows(recent.stdout)] == ["user.create"]
    assert admin_cli("audit", *target, "--since", "1h", "--until", "2999-01-01T00:00").code == 0
    for args in (["--since", "2999-01-01"], ["--until", "2001-01-01T00:00:00+01:00"]):
        none = admin_cli("audit", *target, *args)
        assert none.code == EXIT_OK, none
        assert none.stdout == "no audit events match\n"
    assert admin_cli("audit", *target, "--until", "2001-01-01", "-o", "json").json() == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--since", "yesterday"], "--since must be a time such as 2024-05-01T12:00:00Z"),
        (["--until", "5"], "--until must be a time"),
        (["--since", "1h", "--until", "2h"], "must be before --until"),
        (["--since", "2024-05-02", "--until", "2024-05-01"], "must be before --until"),
        (["--kind", "login"], "invalid choice: 'login'"),
        (["--limit", "0"], "must be from 1 to 1000 (or use --all)"),
        (["--limit", "1001"], "must be from 1 to 1000"),
        (["--limit", "ten"], "not a whole number"),
        (["--limit", "5", "--all"], "not allowed with argument"),
    ],
)
def test_bad_filters(admin_cli: Cli, args: list[str], said: str) -> None:
    result = admin_cli("audit", *args)
    assert result.code == EXIT_USAGE, result
    assert said in result.stderr
    assert result.stdout == ""


def test_limit_and_all(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("busy")
    dockit.create_user(name, "pw-1-of-user")
    for enabled in (False, True, False):
        dockit.set_user(name, enabled=enabled)
    target = ("--target", f"user:{name}")
    some = admin_cli("audit", *target, "--limit", "2")
    assert some.code == EXIT_OK, some
    assert len(rows(some.stdout)) == 2
    assert some.stderr == (
        "showing the newest 2 of 4 matching events; --limit N or --all for more\n"
    )
    every = admin_cli("audit", *target, "--all")
    assert [row[2] for row in rows(every.stdout)] == ["user.update"] * 3 + ["user.create"]
    assert every.stderr == ""
    as_json = admin_cli("audit", *target, "--limit", "1", "-o", "json")
    assert [e["after"]["enabled"] for e in as_json.json()] == [False]
    assert as_json.stderr == ""


def test_audit_needs_an_admin(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": user, "DOCKIT_PASSWORD": f"{user}-pw"}
    result = cli("audit", env=env)
    assert result.code == EXIT_DENIED, result
    assert f"{user} is not an admin" in result.stderr
