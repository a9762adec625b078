"""``dockit keys list|show|create|activate|retire`` through the real server.

The module's server has one key ring, so tests create their own keys and look at those;
none assumes which key is active when it starts.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from dockit_server.client.errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.fake_api import CREDS, answer, fake_api
from tests.client.helpers import Cli
from tests.support.dockit import DockitServer


def keys_of(dockit: DockitServer) -> dict[str, dict[str, Any]]:
    items = dockit.admin("GET", "/keys", expect=200).json()["items"]
    return {key["kid"]: key for key in items}


def active_kid(dockit: DockitServer) -> str:
    [kid] = [kid for kid, key in keys_of(dockit).items() if key["state"] == "active"]
    return kid


def create_key(dockit: DockitServer, **body: object) -> str:
    kid: str = dockit.admin("POST", "/keys", body, expect=201).json()["kid"]
    return kid


def token_kid(dockit: DockitServer) -> str:
    token = dockit.token(dockit.services[0], [], (ADMIN, ADMIN_PASSWORD)).token
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def test_create_then_list_and_show(admin_cli: Cli, dockit: DockitServer) -> None:
    before = set(keys_of(dockit))
    created = admin_cli("keys", "create")
    assert created.code == EXIT_OK, created
    [kid] = set(keys_of(dockit)) - before
    line, steps = created.stdout.splitlines()
    assert (
        line == f"created key {kid} (ES256, pending, 365.0 days left): published, not signing yet"
    )
    assert steps.startswith("next: re-run the init step")
    assert "dockit init-container PATH" in steps
    assert "restart every registry" in steps
    assert steps.endswith(f"then: dockit keys activate {kid}")
    assert created.stderr == ""

    as_json = admin_cli(
        "keys", "create", "--algorithm", "RS256", "--validity-days", "100", "-o", "json"
    )
    assert as_json.code == EXIT_OK, as_json
    key = as_json.json()
    assert (key["algorithm"], key["state"], key["days_left"]) == ("RS256", "pending", 100.0)
    assert key == keys_of(dockit)[key["kid"]]
    assert f"dockit keys activate {key['kid']}" in as_json.stderr

    listed = admin_cli("keys", "list")
    assert listed.code == EXIT_OK, listed
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "KID",
        "ALGORITHM",
        "STATE",
        "DAYS",
        "LEFT",
        "CREATED",
        "ACTIVATED",
        "RETIRED",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[kid][1:4] == ["ES256", "pending", "365.0"]
    assert rows[kid][5:] == ["-", "-"]
    assert rows[key["kid"]][1:4] == ["RS256", "pending", "100.0"]
    listed_json = admin_cli("keys", "list", "-o", "json")
    assert listed_json.json() == dockit.admin("GET", "/keys", expect=200).json()["items"]

    shown = admin_cli("keys", "show", kid)
    assert shown.code == EXIT_OK, shown
    assert shown.stdout.splitlines()[:3] == [
        f"kid:       {kid}",
        "algorithm: ES256",
        "state:     pending",
    ]
    assert "(365.0 days left)" in shown.stdout
    assert admin_cli("keys", "show", kid, "-o", "json").json() == keys_of(dockit)[kid]


def test_create_bad_input(admin_cli: Cli) -> None:
    days = admin_cli("keys", "create", "--validity-days", "0")
    assert days.code == EXIT_USAGE, days
    assert "validity_days: must be from 1 to 3650" in days.stderr
    algorithm = admin_cli("keys", "create", "--algorithm", "HS256")
    assert algorithm.code == EXIT_USAGE, algorithm
    assert "usage:" in algorithm.stderr


def test_keys_that_expire_soon_are_warned_about(admin_cli: Cli, dockit: DockitServer) -> None:
    created = admin_cli("keys", "create", "--validity-days", "10", "-o", "json")
    assert created.code == EXIT_OK, created
    kid = created.json()["kid"]
    warning = f"warning: the certificate of the pending key {kid} expires in 10.0 days"
    assert warning in created.stderr
    listed = admin_cli("keys", "list")
    assert listed.code == EXIT_OK, listed
    assert warning in listed.stderr
    assert "dockit keys rotate --activate-after DURATION" in listed.stderr
    assert warning not in listed.stdout
    assert warning in admin_cli("keys", "list", "-o", "json").stderr

    dockit.admin("POST", f"/keys/{kid}/retire", {}, expect=200)
    assert kid not in admin_cli("keys", "list").stderr


def test_activate(admin_cli: Cli, dockit: DockitServer) -> None:
    old = active_kid(dockit)
    kid = create_key(dockit)
    result = admin_cli("keys", "activate", kid)
    assert result.code == EXIT_OK, result
    assert result.stdout == (
        f"activated key {kid} (ES256, active, 365.0 days left): it signs new tokens; the "
        f"previous key {old} is retired and stays published until the tokens it signed "
        "have expired\n"
    )
    states = keys_of(dockit)
    assert (states[kid]["state"], states[old]["state"]) == ("active", "retired")
    deadline = time.monotonic() + 20  # other workers re-read their key ring within seconds
    while token_kid(dockit) != kid:
        assert time.monotonic() < deadline, "tokens are not signed by the activated key"
        time.sleep(0.5)

    again = admin_cli("keys", "activate", kid, "-o", "json")
    assert again.code == EXIT_OK, again
    assert again.json() == keys_of(dockit)[kid]
    assert admin_cli("keys", "activate", kid).stdout.endswith("is active already\n")

    back = admin_cli("keys", "activate", old, "-o", "json")
    assert back.code == EXIT_OK, back
    assert back.json()["state"] == "active"
    assert f"warning: key {old} was retired at " in back.stderr
    assert "restart every registry" in back.stderr


def test_activate_unknown(admin_cli: Cli) -> None:
    result = admin_cli("keys", "activate", "NOPE:NOPE")
    assert result.code == EXIT_NOT_FOUND, result
    assert "key NOPE:NOPE not found (see: dockit keys list)" in result.stderr


def test_retire(admin_cli: Cli, dockit: DockitServer) -> None:
    kid = create_key(dockit)
    result = admin_cli("keys", "retire", kid)
    assert result.code == EXIT_OK, result
    assert result.stdout.startswith(f"retired key {kid} (ES256, retired, 365.0 days left): ")
    assert "until the tokens it signed have expired" in result.stdout
    assert keys_of(dockit)[kid]["state"] == "retired"
    again = admin_cli("keys", "retire", kid)
    assert again.code == EXIT_OK, again
    assert again.stdout.endswith("is retired already\n")
    as_json = admin_cli("keys", "retire", create_key(dockit), "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json()["state"] == "retired"


def test_retire_the_active_key_is_refused(admin_cli: Cli, dockit: DockitServer) -> None:
    kid = active_kid(dockit)
    result = admin_cli("keys", "retire", kid)
    assert result.code == EXIT_CONFLICT, result
    assert f"key {kid} is the active key: activate another key first" in result.stderr
    assert keys_of(dockit)[kid]["state"] == "active"


def test_unknown_keys(admin_cli: Cli) -> None:
    for command in ("show", "retire"):
        result = admin_cli("keys", command, "NOPE:NOPE")
        assert result.code == EXIT_NOT_FOUND, result
        assert "key NOPE:NOPE not found" in result.stderr


def test_keys_need_an_admin(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": user, "DOCKIT_PASSWORD": f"{user}-pw"}
    for args in (["list"], ["create"], ["activate", "X"], ["retire", "X"]):
        result = cli("keys", *args, env=env)
        assert result.code == EXIT_DENIED, result
        assert f"{user} is not an admin" in result.stderr


def test_an_answer_that_is_not_a_list_of_keys(cli: Cli) -> None:
    with fake_api({"GET /api/v1/keys": answer(200, {"keys": []})}) as (url, _):
        result = cli("keys", "list", "--url", url, env=CREDS)
    assert result.code == EXIT_FAILURE, result
    assert "not a list of keys" in result.stderr
