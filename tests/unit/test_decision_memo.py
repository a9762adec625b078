"""The remembered token decisions: found only by the very grants, subjects and scopes that
made them, and the same as deciding again."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from libdockit.decision_memo import (
    MAX_GRANTS_REMEMBERED,
    MAX_SCOPE_TEXT_REMEMBERED,
    DecisionMemo,
    PreparedDecision,
    prepared,
)
from libdockit.model import Grant, Identity
from libdockit.policy import decide, subjects_for
from libdockit.scope import parse_scopes

ALICE = Identity(username="alice", groups=("dev",))
PULL = ("repository:team/app:pull,push",)
GRANTS = (
    Grant("user:alice", "repository", "team/*", ("pull",), 1),
    Grant("group:dev", "repository", "other/*", ("pull", "push"), 2),
)


def _decide(
    memo: DecisionMemo,
    identity: Identity | None,
    grants: tuple[Grant, ...],
    texts: tuple[str, ...],
) -> PreparedDecision:
    return memo.decide(identity, grants, parse_scopes(texts), subjects_for(identity), texts)


def test_a_repeated_request_is_answered_from_memory_and_alike() -> None:
    memo = DecisionMemo()
    first = _decide(memo, ALICE, GRANTS, PULL)
    again = _decide(memo, ALICE, tuple(GRANTS), PULL)  # other container, same grant objects
    assert again is first
    fresh = prepared(decide(ALICE, GRANTS, parse_scopes(PULL), subjects_for(ALICE)))
    assert first == fresh
    assert json.loads(first.access_json) == fresh.decision.access()
    assert first.requested == ("repository:team/app:pull,push",)
    assert first.granted == ("repository:team/app:pull",)


def test_new_grant_objects_are_decided_again() -> None:
    """A store makes new Grant objects for every change: equal ones must not be trusted to
    be the same (the key is their identity), and changed ones must change the answer."""
    memo = DecisionMemo()
    first = _decide(memo, ALICE, GRANTS, PULL)
    copies = tuple(replace(grant) for grant in GRANTS)
    assert _decide(memo, ALICE, copies, PULL) is not first
    widened = (replace(GRANTS[0], actions=("pull", "push")), GRANTS[1])
    assert _decide(memo, ALICE, widened, PULL).granted == ("repository:team/app:pull,push",)
    assert _decide(memo, ALICE, (), PULL).granted == ()


def test_the_caller_and_the_scopes_are_part_of_the_key() -> None:
    memo = DecisionMemo()
    mine = (Grant("user:alice", "repository", "home/${user}/*", ("pull",), 1),)
    bob = Identity(username="bob")
    texts = ("repository:home/alice/x:pull",)
    assert _decide(memo, ALICE, mine, texts).granted == ("repository:home/alice/x:pull",)
    assert _decide(memo, bob, mine, texts).granted == ()
    assert _decide(memo, None, mine, texts).granted == ()
    other = ("repository:home/alice/y:pull",)
    assert _decide(memo, ALICE, mine, other).granted == ("repository:home/alice/y:pull",)


def test_bounded_and_large_grant_sets_are_not_kept() -> None:
    memo = DecisionMemo(max_entries=2)
    for name in ("a", "b", "c"):
        _decide(memo, ALICE, GRANTS, (f"repository:team/{name}:pull",))
    assert len(memo) == 2
    many = tuple(
        Grant("user:alice", "repository", f"r{n}/*", ("pull",), n)
        for n in range(MAX_GRANTS_REMEMBERED + 1)
    )
    memo = DecisionMemo()
    assert _decide(memo, ALICE, many, ("repository:r3/x:pull",)).granted == (
        "repository:r3/x:pull",
    )
    assert len(memo) == 0
    off = DecisionMemo(max_entries=0)
    _decide(off, ALICE, GRANTS, PULL)
    assert len(off) == 0
    with pytest.raises(ValueError, match="must not be negative"):
        DecisionMemo(max_entries=-1)


def test_long_scope_values_are_decided_but_not_kept() -> None:
    memo = DecisionMemo()
    texts = tuple(f"repository:team/{n:03d}{'a' * 100}:pull" for n in range(10))
    assert sum(map(len, texts)) > MAX_SCOPE_TEXT_REMEMBERED
    assert len(_decide(memo, ALICE, GRANTS, texts).granted) == 10
    assert len(memo) == 0
