"""Four gunicorn workers on one SQLite file under a bounded mixed load.

Eight client threads for about ten seconds: four ask for tokens (Basic auth, several scopes;
every token request also writes an audit event), four make admin writes (users, groups,
grants, memberships, deletes). Expected: no 5xx, no "database is locked" anywhere (answers or
the server's log), every token carries exactly its grants, and afterwards the Admin API shows
exactly the writes that succeeded.
"""

from __future__ import annotations

import itertools
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.resilience.conftest import granted
from tests.resilience.load import Call, run_load
from tests.support.dockit import DockitServer, Response

SERVICE = "registry.test"
LOAD_SECONDS = 10.0
READERS = 4
WRITERS = 4


@dataclass
class Model:
    """What the store must hold once the load is over: only writes that succeeded."""

    users: set[str] = field(default_factory=set)
    groups: dict[str, set[str]] = field(default_factory=dict)
    grants: dict[int, str] = field(default_factory=dict)  # id -> subject
    disabled: set[str] = field(default_factory=set)


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def writer_script(index: int, model: Model) -> Iterator[tuple[str, str, str, object, int]]:
    """Admin writes, one per step: (label, method, path, body, expected status).

    The model is changed by :func:`writer_call` only after the expected answer.
    """
    for k in itertools.count():
        user, group = f"w{index}-{k}", f"g{index}-{k}"
        yield "create-user", "POST", "/users", {"username": user, "password": f"pw-of-{user}"}, 201
        yield "create-group", "POST", "/groups", {"name": group}, 201
        yield "add-member", "PUT", f"/groups/{_q(group)}/members/{_q(user)}", None, 200
        scope = f"repository:{group}/*:pull,push"
        yield "grant", "POST", "/grants", {"subject": f"group:{group}", "scope": scope}, 201
        match k % 4:
            case 0:
                yield "delete-user", "DELETE", f"/users/{_q(user)}", None, 204
            case 1:
                yield (
                    "remove-member",
                    "DELETE",
                    f"/groups/{_q(group)}/members/{_q(user)}",
                    None,
                    200,
                )
            case 2:
                yield "delete-group", "DELETE", f"/groups/{_q(group)}", None, 204
            case _:
                yield "disable-user", "PATCH", f"/users/{_q(user)}", {"enabled": False}, 200


def apply(model: Model, label: str, path: str, body: object, response: Response) -> None:
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if label == "create-user":
        assert isinstance(body, dict)
        model.users.add(body["username"])
    elif label == "create-group":
        assert isinstance(body, dict)
        model.groups[body["name"]] = set()
    elif label == "add-member":
        model.groups[parts[1]].add(parts[3])
    elif label == "grant":
        assert isinstance(body, dict)
        model.grants[int(response.json()["id"])] = body["subject"]
    elif label == "delete-user":
        model.users.discard(parts[1])
        model.disabled.discard(parts[1])
        for members in model.groups.values():
            members.discard(parts[1])
    elif label == "disable-user":
        model.disabled.add(parts[1])
    elif label == "remove-member":
        model.groups[parts[1]].discard(parts[3])
    elif label == "delete-group":
        del model.groups[parts[1]]
        subject = f"group:{parts[1]}"
        for grant_id in [g for g, s in model.grants.items() if s == subject]:
            del model.grants[grant_id]


def test_four_workers_on_sqlite_hold_a_mixed_load(tmp_path: Path) -> None:
    server = DockitServer(tmp_path / "dockit", workers=4)
    with server:
        for i in range(READERS):
            server.create_user(f"reader{i}", f"reader{i}-pw")
            server.grant(f"user:reader{i}", f"repository:reader{i}/*:pull,push")
        model = Model()
        wrong_grants: list[str] = []
        locked: list[str] = []

        def reader(index: int, iteration: int) -> tuple[str, int]:
            mine = f"repository:reader{index}/app{iteration % 3}:pull,push"
            other = f"repository:reader{(index + 1) % READERS}/app:pull"
            answer = server.token(SERVICE, [mine, other], (f"reader{index}", f"reader{index}-pw"))
            if answer.status == 200:
                access = granted(answer.token)
                expected = {
                    mine.rsplit(":", 1)[0]: ["pull", "push"],
                    other.rsplit(":", 1)[0]: [],
                }
                if {k: v for k, v in access.items() if v} != {
                    k: v for k, v in expected.items() if v
                }:
                    wrong_grants.append(f"{mine} {other} -> {access}")
            elif b"locked" in repr(answer.json).encode():
                locked.append(repr(answer.json))
            return "token", answer.status

        scripts = [writer_script(i, model) for i in range(WRITERS)]

        def writer(index: int, iteration: int) -> tuple[str, int]:
            label, method, path, body, expected = next(scripts[index - READERS])
            response = server.admin(method, path, body)
            if b"locked" in response.body:
                locked.append(response.body.decode(errors="replace"))
            if response.status == expected:
                apply(model, label, path, body, response)
            return label, response.status

        calls: list[Call] = [*[reader] * READERS, *[writer] * WRITERS]
        result = run_load(calls, seconds=LOAD_SECONDS)
        print(f"\nconcurrency load: {result.summary()}")

        assert result.errors() == [], result.errors()[:5]
        assert locked == []
        assert wrong_grants == []
        unexpected = [o for o in result.outcomes if o.status not in (200, 201, 204)]
        assert unexpected == [], unexpected[:5]
        assert len(result.outcomes) >= 200, result.summary()

        users = {u["username"]: u for u in server.list_users() if u["username"][0] == "w"}
        assert set(users) == model.users
        assert {name for name, user in users.items() if not user["enabled"]} == model.disabled
        groups = server.admin("GET", "/groups?limit=1000", expect=200).json()["items"]
        assert {g["name"]: set(g["members"]) for g in groups} == model.groups
        grants = server.admin("GET", "/grants?limit=1000", expect=200).json()["items"]
        stored = {g["id"]: g["subject"] for g in grants if g["subject"].startswith("group:")}
        assert stored == model.grants
    log = server.all_logs()
    assert "database is locked" not in log
    assert "Traceback" not in log
