"""``dockit robot ...`` and ``dockit token ...`` through the real server: secrets printed
once (stdout alone, or in the JSON), never in the server's log or the audit log; expiry
caps; robot names that a user has; personal tokens managed by their owner without the
admin flag, and refused for someone else's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dockit_server.client.errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.helpers import Cli, run_cli, subprocess_env, unique
from tests.support.dockit import DockitServer

SECRET = re.compile(r"dkt_[A-Za-z0-9_-]{43}")


def secret_of(stdout: str) -> str:
    """The one line a ``create`` or ``rotate`` prints on stdout: the secret."""
    assert SECRET.fullmatch(stdout.strip()), stdout
    return stdout.strip()


def everything_recorded(dockit: DockitServer) -> str:
    """The server's log and every audit event, as text."""
    events = dockit.admin("GET", "/audit?limit=1000", expect=200).json()["items"]
    return dockit.log() + json.dumps(events)


def test_robot_life_cycle(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    owner = make_user("owner")
    name = unique("ci")
    made = admin_cli("robot", "create", name, "--owner", f"user:{owner}", "--expires-in", "30d")
    assert made.code == EXIT_OK, made
    first = secret_of(made.stdout)
    assert "shown this once" in made.stderr
    assert f"dockit grant robot:{name}" in made.stderr

    listed = admin_cli("robot", "list", "--owner", f"user:{owner}", "-o", "json")
    assert [r["name"] for r in listed.json()] == [name]
    assert "secret" not in listed.json()[0]
    table = admin_cli("robot", "list")
    assert name in table.stdout
    assert first not in table.stdout
    shown = admin_cli("robot", "show", f"robot:{name}")
    assert shown.code == EXIT_OK, shown
    assert f"user:{owner}" in shown.stdout

    granted = admin_cli("grant", f"robot:{name}", "repository:ci/*:push")
    assert granted.code == EXIT_OK, granted
    explained = admin_cli("explain", "--robot", name, "repository:ci/app:push", "repository:x:pull")
    assert explained.code == EXIT_OK, explained
    assert f"robot account {name} (owner user:{owner})" in explained.stdout
    rows = [line.split()[:3] for line in explained.stdout.splitlines()[-2:]]
    assert rows == [["repository:ci/app", "push", "yes"], ["repository:x", "pull", "no"]]
    typo = admin_cli("grant", f"robot:{name}x", "repository:ci/*:push")
    assert typo.code == EXIT_USAGE, typo
    assert f"did you mean robot:{name}?" in typo.stderr

    rotated = admin_cli("robot", "rotate", name, "-o", "json")
    assert rotated.code == EXIT_OK, rotated
    second = rotated.json()["secret"]
    assert SECRET.fullmatch(second)
    assert second != first
    assert "shown this once" in rotated.stderr

    assert admin_cli("robot", "disable", name, "-o", "json").json()["enabled"] is False
    assert admin_cli("robot", "enable", name, "-o", "json").json()["enabled"] is True
    deleted = admin_cli("robot", "delete", name, "--yes")
    assert deleted.code == EXIT_OK, deleted
    assert admin_cli("robot", "show", name).code == EXIT_NOT_FOUND
    assert dockit.admin("GET", f"/grants?subject=robot:{name}", expect=200).json()["total"] == 0

    recorded = everything_recorded(dockit)
    assert first not in recorded
    assert second not in recorded
    assert f"robot:{name}" in recorded  # the changes were audited


def test_caps_and_names(admin_cli: Cli, make_user: MakeUser) -> None:
    owner = make_user("owner")
    too_long = admin_cli(
        "robot", "create", unique("ci"), "--owner", f"user:{owner}", "--expires-in", "400d"
    )
    assert too_long.code == EXIT_USAGE, too_long
    assert "at most 365 days" in too_long.stderr
    assert too_long.stdout == ""
    never = admin_cli("robot", "create", unique("ci"), "--owner", f"user:{owner}", "--never")
    assert never.code == EXIT_USAGE, never
    assert "must expire" in never.stderr
    missing = admin_cli("robot", "create", unique("ci"), "--owner", f"user:{owner}")
    assert missing.code == EXIT_USAGE, missing
    assert "needs an expiry" in missing.stderr
    taken = admin_cli("robot", "create", owner, "--owner", f"user:{owner}", "--expires-in", "1d")
    assert taken.code == EXIT_CONFLICT, taken
    assert "a local user is named" in taken.stderr
    robot = unique("bot")
    assert (
        admin_cli("robot", "create", robot, "--owner", f"user:{owner}", "--expires-in", "1d").code
        == EXIT_OK
    )
    user_named_so = admin_cli("user", "add", robot, "--password-stdin", stdin="a-long-password-1\n")
    assert user_named_so.code == EXIT_CONFLICT, user_named_so
    assert "robot account is named" in user_named_so.stderr
    assert admin_cli("robot", "delete", robot, "-y").code == EXIT_OK


def test_personal_tokens_without_the_admin_flag(
    cli: Cli, admin_cli: Cli, dockit: DockitServer, make_user: MakeUser
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    as_alice = {
        "DOCKIT_URL": dockit.url,
        "DOCKIT_USERNAME": alice,
        "DOCKIT_PASSWORD": f"{alice}-pw",
    }
    as_bob = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": bob, "DOCKIT_PASSWORD": f"{bob}-pw"}
    made = cli(
        "token",
        "create",
        "laptop",
        "--scope",
        f"repository:{alice}/**:pull",
        "--scope",
        "repository:shared/*:pull",
        "--expires-in",
        "7d",
        env=as_alice,
    )
    assert made.code == EXIT_OK, made
    secret = secret_of(made.stdout)
    assert "shown this once" in made.stderr
    listed = cli("token", "list", "-o", "json", env=as_alice).json()
    assert [(t["name"], t["scopes"]) for t in listed] == [
        ("laptop", [f"repository:{alice}/**:pull", "repository:shared/*:pull"])
    ]
    token_id = listed[0]["id"]
    assert cli("token", "list", env=as_bob).stdout == "you have no personal access tokens\n"
    not_bobs = cli("token", "revoke", token_id, env=as_bob)
    assert not_bobs.code == EXIT_NOT_FOUND, not_bobs
    not_admin = cli("token", "list", "--user", alice, env=as_bob)
    assert not_admin.code == EXIT_DENIED, not_admin
    too_long = cli("token", "create", "x", "--expires-in", "91d", env=as_alice)
    assert too_long.code == EXIT_USAGE, too_long
    assert "at most 90 days" in too_long.stderr

    explained = admin_cli("explain", "--pat", token_id, f"repository:{alice}/app:pull")
    assert explained.code == EXIT_OK, explained
    assert f"personal access token {token_id} (laptop)" in explained.stdout
    by_admin = admin_cli("token", "list", "--user", alice, "-o", "json")
    assert [t["id"] for t in by_admin.json()] == [token_id]
    assert cli("token", "revoke", token_id, env=as_alice).code == EXIT_OK
    assert cli("token", "list", "-o", "json", env=as_alice).json() == []

    other = secret_of(cli("token", "create", "ci", env=as_bob).stdout)
    bobs = admin_cli("token", "list", "--user", bob, "-o", "json").json()
    assert bobs[0]["expires_at"] is not None  # the longest allowed, not never
    assert admin_cli("token", "revoke", bobs[0]["id"]).code == EXIT_OK
    recorded = everything_recorded(dockit)
    assert secret not in recorded
    assert other not in recorded
    assert f"pat:{token_id}" in recorded


def test_token_create_as_a_subprocess(
    dockit: DockitServer, make_user: MakeUser, tmp_path: Path
) -> None:
    """The installed command line, as a CI script runs it: the secret alone on stdout."""
    user = make_user("carol")
    env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=user, DOCKIT_PASSWORD=f"{user}-pw"
    )
    made = run_cli(["token", "create", "ci", "--expires-at", "2099-01-01"], env=env, cwd=tmp_path)
    assert made.code == EXIT_USAGE, made  # beyond the 90-day cap
    made = run_cli(["token", "create", "ci", "--expires-in", "1d"], env=env, cwd=tmp_path)
    assert made.code == EXIT_OK, made
    secret = secret_of(made.stdout)
    listed = run_cli(["token", "list", "-o", "json"], env=env, cwd=tmp_path)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["ci"]
    assert secret not in listed.stdout
    admin_env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN, DOCKIT_PASSWORD=ADMIN_PASSWORD
    )
    robots = run_cli(["robot", "list"], env=admin_env, cwd=tmp_path)
    assert robots.code == EXIT_OK, robots
