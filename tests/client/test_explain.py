"""``dockit explain`` through the real server: tables, JSON, notes, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockit_server.cli import main
from dockit_server.client.errors import EXIT_DENIED, EXIT_OK, EXIT_USAGE
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.helpers import Cli, run_cli, subprocess_env, unique
from tests.support.dockit import DockitServer


def test_explain_a_user(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    team, old = unique("team"), unique("old")
    dockit.create_group(team)
    dockit.create_group(old, enabled=False)
    dockit.add_member(team, user)
    dockit.add_member(old, user)
    by_group = dockit.grant(f"group:{team}", f"repository:{team}/*:pull,push")
    by_user = dockit.grant(f"user:{user}", f"repository:{team}/**:pull")
    dockit.grant(f"group:{old}", f"repository:{team}/*:delete")

    result = admin_cli("explain", user, f"repository:{team}/app:pull,push,delete")
    assert result.code == EXIT_OK, result
    head, table = result.stdout.split("\n\n")
    assert head.splitlines() == [
        f"subject:           user:{user}",
        "account:           local user, enabled",
        f"groups considered: {team}",
    ]
    resource = f"repository:{team}/app"
    assert [line.split(None, 3) for line in table.splitlines()] == [
        ["RESOURCE", "ACTION", "GRANTED", "BY"],
        [
            resource,
            "pull",
            "yes",
            f"group:{team} repository:{team}/*:pull,push (grant {by_group}); "
            f"user:{user} repository:{team}/**:pull (grant {by_user})",
        ],
        [resource, "push", "yes", f"group:{team} repository:{team}/*:pull,push (grant {by_group})"],
        [resource, "delete", "no", "-"],
    ]
    assert result.stderr == ""


def test_explain_as_json_is_the_api_answer(
    admin_cli: Cli, dockit: DockitServer, make_user: MakeUser
) -> None:
    user = make_user()
    dockit.grant(f"user:{user}", f"repository:{user}/*:pull")
    scopes = [f"repository:{user}/a:pull,push", f"repository:{user}/b:pull"]
    result = admin_cli("explain", f"user:{user.upper()}", *scopes, "-o", "json")
    assert result.code == EXIT_OK, result
    query = "&".join([f"user={user}", *(f"scope={s}" for s in scopes)])
    assert result.json() == dockit.admin("GET", f"/explain?{query}", expect=200).json()
    assert [s["scope"] for s in result.json()["scopes"]] == scopes


def test_explain_anonymous(admin_cli: Cli, dockit: DockitServer) -> None:
    public = unique("pub")
    grant_id = dockit.grant("anonymous", f"repository:{public}/*:pull")
    try:
        result = admin_cli("explain", "--anonymous", f"repository:{public}/x:pull,push")
    finally:
        dockit.revoke(grant_id)
    assert result.code == EXIT_OK, result
    assert "subject:           anonymous\n" in result.stdout
    assert "account:           none: a caller without credentials\n" in result.stdout
    rows = [line.split(None, 3) for line in result.stdout.splitlines()[-2:]]
    assert rows == [
        [
            f"repository:{public}/x",
            "pull",
            "yes",
            f"anonymous repository:{public}/*:pull (grant {grant_id})",
        ],
        [f"repository:{public}/x", "push", "no", "-"],
    ]
    as_json = admin_cli("explain", "--anonymous", f"repository:{public}/x:pull", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert (as_json.json()["subject"], as_json.json()["account"]) == ("anonymous", None)


def test_explain_notes_a_disabled_user(
    admin_cli: Cli, dockit: DockitServer, make_user: MakeUser
) -> None:
    user = make_user(enabled=False)
    dockit.grant(f"user:{user}", f"repository:{user}/*:pull")
    result = admin_cli("explain", user, f"repository:{user}/x:pull")
    assert result.code == EXIT_OK, result
    assert "account:           local user, disabled\n" in result.stdout
    assert "note:              the user is disabled: no token is issued to them at all\n" in (
        result.stdout
    )


def test_explain_notes_a_name_that_is_no_local_user(admin_cli: Cli) -> None:
    name = unique("ghost")
    result = admin_cli("explain", name, "repository:x/y:pull")
    assert result.code == EXIT_OK, result
    assert "account:           no local user of this name\n" in result.stdout
    assert "note:              no local user of this name: only a directory login" in result.stdout
    assert result.stdout.rstrip().endswith("repository:x/y  pull    no       -")


def test_explain_needs_a_scope(admin_cli: Cli) -> None:
    result = admin_cli("explain", "alice")
    assert result.code == EXIT_USAGE, result
    assert "name a USER and at least one SCOPE" in result.stderr
    assert "--anonymous" in result.stderr
    assert admin_cli("explain", "--anonymous").code == EXIT_USAGE


def test_explain_bad_scope(admin_cli: Cli) -> None:
    result = admin_cli("explain", "alice", "repository:x")
    assert result.code == EXIT_USAGE, result
    assert result.stderr.startswith("dockit explain: scope 'repository:x'")
    assert result.stdout == ""


def test_explain_needs_an_admin(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": user, "DOCKIT_PASSWORD": f"{user}-pw"}
    result = cli("explain", user, "repository:x/y:pull", env=env)
    assert result.code == EXIT_DENIED, result
    assert f"{user} is not an admin" in result.stderr


def test_explain_as_a_process(dockit: DockitServer, tmp_path: Path) -> None:
    env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN, DOCKIT_PASSWORD=ADMIN_PASSWORD
    )
    result = run_cli(
        ["explain", "--anonymous", "repository:x/y:pull", "-o", "json"], env=env, cwd=tmp_path
    )
    assert result.code == EXIT_OK, result
    assert result.json()["scopes"][0]["actions"] == [
        {"action": "pull", "granted": False, "grants": []}
    ]


def test_help_lists_the_new_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("explain", "keys", "audit", "tokens"):
        assert f"\n    {command} " in text
    assert "permissions, explain, keys, audit,\ntokens) call the Admin API" in text
    for group, commands in (
        ("keys", ("list", "show", "create", "activate", "retire", "rotate")),
        ("tokens", ("list", "revoke", "revoke-all")),
    ):
        with pytest.raises(SystemExit):
            main([group, "--help"])
        shown = capsys.readouterr().out
        assert all(f"\n    {name} " in shown or f"\n    {name}\n" in shown for name in commands)
