"""A personal access token never exceeds its scopes: over generated owner grants, token
scopes and requests, what a token request through the token gets is exactly what the owner
would get, cut to what the scopes allow (worked out here by a simple model of scopes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libdockit import Options, assemble
from libdockit.access_credentials import new_access_credential
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key
from libdockit.model import Grant, Identity
from libdockit.scope import parse_scopes
from libdockit.token_request import TokenRequest

SERVICE = "registry.test"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
NAMES = ("alice/app", "alice/lib", "team/app", "other")
PATTERNS = ("alice/app", "alice/*", "team/*", "**", "${user}/*")
ACTIONS = ("pull", "push", "delete", "*")
ALL = frozenset({"pull", "push", "delete"})

actions = st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True)
rules = st.lists(
    st.tuples(st.sampled_from(PATTERNS), actions), max_size=4, unique_by=lambda rule: rule[0]
)


def implied(names: list[str]) -> frozenset[str]:
    if "*" in names:
        return ALL | {"*"}
    return frozenset(names) | ({"pull"} if "push" in names else set())


def matches(pattern: str, name: str) -> bool:
    pattern = pattern.replace("${user}", "alice")
    if pattern == "**":
        return True
    if pattern.endswith("/*"):
        prefix = pattern[:-1]
        return name.startswith(prefix) and "/" not in name[len(prefix) :]
    return pattern == name


def allowed_by(scopes: list[tuple[str, list[str]]], name: str) -> frozenset[str]:
    if not scopes:
        return ALL | {"*"}
    allowed: frozenset[str] = frozenset()
    for pattern, names in scopes:
        if matches(pattern, name):
            allowed |= implied(names)
    return allowed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grants=rules,
    scopes=rules,
    requests=st.lists(st.tuples(st.sampled_from(NAMES), actions), min_size=1, max_size=3),
)
def test_a_token_gets_its_owners_grants_within_its_scopes(
    grants: list[tuple[str, list[str]]],
    scopes: list[tuple[str, list[str]]],
    requests: list[tuple[str, list[str]]],
) -> None:
    store = MemoryBackend()
    store.create_user("alice", "unused-hash")
    for pattern, names in grants:
        store.add_grant(Grant("user:alice", "repository", pattern, tuple(names)))
    ensure_active_key(store, now=T0 - timedelta(minutes=1))
    dockit = assemble(
        store, Options(services=[SERVICE], audit=None, throttle=None, clock=lambda: T0)
    )
    record, secret = new_access_credential(
        "pat",
        "laptop",
        "user:alice",
        now=T0,
        expires_at=None,
        scopes=[f"repository:{pattern}:{','.join(names)}" for pattern, names in scopes],
    )
    store.add_access_credential(record)
    texts = [f"repository:{name}:{','.join(names)}" for name, names in requests]

    outcome = dockit.tokens.handle(
        TokenRequest(service=SERVICE, scopes=texts, username="alice", password=secret)
    )
    owner = dockit.tokens.decide(Identity(username="alice"), parse_scopes(texts))

    for through_token, as_owner in zip(outcome.decision.scopes, owner.scopes, strict=True):
        name = through_token.requested.name
        within = allowed_by(scopes, name)
        assert set(through_token.granted) <= set(as_owner.granted) & within
        assert set(through_token.granted) == {a for a in as_owner.granted if a in within}
