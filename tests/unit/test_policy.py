"""Table-driven tests of grant resolution: union of grants, deny by default."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from libdockit.model import Grant, Identity
from libdockit.policy import decide, implied_actions, subjects_for
from libdockit.scope import parse_scopes

ALICE = Identity("alice", groups=("devs",))
BOB = Identity("bob")
CAROL = Identity("carol", groups=("ops", "devs"))

GRANTS = [
    Grant("user:alice", "repository", "alice/*", ("push",), id=1),
    Grant("group:devs", "repository", "team/**", ("pull",), id=2),
    Grant("group:ops", "repository", "team/**", ("*",), id=3),
    Grant("authenticated", "repository", "library/*", ("pull",), id=4),
    Grant("anonymous", "repository", "public/*", ("pull",), id=5),
    Grant("user:bob", "repository", "${user}/**", ("push", "delete"), id=6),
    Grant("group:admins", "registry", "catalog", ("*",), id=7),
    Grant("user:carol", "registry", "catalog", ("*",), id=8),
]


@dataclass(frozen=True)
class Case:
    who: Identity | None
    scope: str
    granted: tuple[str, ...]
    matched: tuple[int, ...]


CASES = [
    Case(ALICE, "repository:alice/app:pull,push", ("pull", "push"), (1,)),
    Case(ALICE, "repository:alice/a/b:pull", (), ()),
    Case(ALICE, "repository:team/x/y:pull,push", ("pull",), (2,)),
    Case(ALICE, "repository:team/x:delete", (), ()),
    Case(CAROL, "repository:team/x:delete,push,pull", ("delete", "push", "pull"), (2, 3)),
    Case(ALICE, "repository:library/ubuntu:pull,push", ("pull",), (4,)),
    Case(None, "repository:library/ubuntu:pull", (), ()),
    Case(None, "repository:public/x:pull,push", ("pull",), (5,)),
    Case(ALICE, "repository:public/x:pull", ("pull",), (5,)),
    Case(BOB, "repository:bob/a/b:push,delete,pull", ("push", "delete", "pull"), (6,)),
    Case(BOB, "repository:alice/a:push", (), ()),
    Case(ALICE, "repository:bob/a:pull", (), ()),
    Case(CAROL, "registry:catalog:*", ("*",), (8,)),
    Case(ALICE, "registry:catalog:*", (), ()),
    Case(CAROL, "repository:catalog:pull", (), ()),
    Case(ALICE, "repository(plugin):alice/p:pull", ("pull",), (1,)),
    Case(ALICE, "repository:alice/app:metadata-read", (), ()),
    Case(CAROL, "repository:team/x:*", ("*",), (3,)),
    Case(ALICE, "repository:team/x:*", (), ()),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.who and c.who.username}-{c.scope}")
def test_decisions(case: Case) -> None:
    decision = decide(case.who, GRANTS, parse_scopes([case.scope]))
    (result,) = decision.scopes
    assert result.granted == case.granted
    assert tuple(m.grant.id for m in result.matches) == case.matched
    assert set(result.granted) <= set(result.requested.actions)
    assert result.denied == tuple(a for a in result.requested.actions if a not in case.granted)


def test_access_lists_every_requested_resource_in_order() -> None:
    decision = decide(
        ALICE, GRANTS, parse_scopes(["repository:alice/a:pull repository:nope/x:pull"])
    )
    assert decision.access() == [
        {"type": "repository", "name": "alice/a", "actions": ["pull"]},
        {"type": "repository", "name": "nope/x", "actions": []},
    ]
    assert [s.format() for s in decision.granted_scopes()] == ["repository:alice/a:pull"]


def test_access_keeps_the_class() -> None:
    decision = decide(ALICE, GRANTS, parse_scopes(["repository(plugin):alice/p:pull"]))
    assert decision.access() == [
        {"type": "repository", "class": "plugin", "name": "alice/p", "actions": ["pull"]}
    ]


def test_group_not_held_grants_nothing() -> None:
    # A disabled group is simply not among the identity's groups.
    without_devs = Identity("alice", groups=())
    decision = decide(without_devs, GRANTS, parse_scopes(["repository:team/x:pull"]))
    assert decision.scopes[0].granted == ()


def test_subjects() -> None:
    assert subjects_for(None) == ("anonymous",)
    assert subjects_for(CAROL) == (
        "user:carol",
        "group:ops",
        "group:devs",
        "authenticated",
        "anonymous",
    )


def test_implied_actions() -> None:
    assert implied_actions(["push"]) == {"push", "pull"}
    assert implied_actions(["*"]) == {"pull", "push", "delete", "*"}
    assert implied_actions(["delete"]) == {"delete"}
    assert implied_actions(["bogus"]) == frozenset()


def test_no_grants_denies_everything() -> None:
    decision = decide(ALICE, [], parse_scopes(["repository:alice/a:pull,push,delete"]))
    assert decision.scopes[0].granted == ()
    assert decision.subject == "user:alice"


def test_granted_texts_are_the_granted_scopes_formatted() -> None:
    grants = [
        Grant("anonymous", "repository", "public/*", ("pull",)),
        Grant("anonymous", "repository", "tools/**", ("*",)),
    ]
    requested = parse_scopes(
        ["repository:public/a:pull,push repository:private/b:pull repository(plugin):tools/x:push"]
    )
    decision = decide(None, grants, requested)
    assert decision.granted_texts() == [s.format() for s in decision.granted_scopes()]
    assert decision.granted_texts() == [
        "repository:public/a:pull",
        "repository(plugin):tools/x:push",
    ]
