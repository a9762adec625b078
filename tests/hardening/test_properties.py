"""Property-based tests (hypothesis) of the scope parser, grant patterns and the policy.

Bounded and reproducible in CI: at most 200 examples each, no deadline, derandomized and
without an example database, so every run tries the same inputs.
"""

from __future__ import annotations

import contextlib
import faulthandler
from dataclasses import replace
from random import Random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dockit_server.client.output import table, visible
from libdockit.audit import normalize_subject
from libdockit.errors import ScopeError, ValidationError
from libdockit.model import (
    ANONYMOUS,
    AUTHENTICATED,
    GROUP_PREFIX,
    USER_PREFIX,
    Grant,
    Identity,
    normalize_name,
)
from libdockit.password_policy import PasswordPolicy, common_passwords
from libdockit.patterns import MAX_PATTERN_LENGTH, compile_pattern
from libdockit.policy import decide
from libdockit.scope import (
    KNOWN_ACTIONS,
    MAX_NAME_LENGTH,
    MAX_SCOPES,
    PULL,
    PUSH,
    ResourceScope,
    format_scopes,
    parse_resource_scope,
    parse_scopes,
)
from libdockit.secret import Secret

BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies -------------------------------------------------------------------------------
LOWER_DIGIT = "abcdefghijklmnopqrstuvwxyz0123456789"
alnum = st.text(LOWER_DIGIT, min_size=1, max_size=6)
separator = st.sampled_from([".", "_", "__", "-", "--"])


@st.composite
def path_component(draw: st.DrawFn) -> str:
    parts = [draw(alnum)]
    for _ in range(draw(st.integers(0, 2))):
        parts += [draw(separator), draw(alnum)]
    return "".join(parts)


@st.composite
def resource_name(draw: st.DrawFn) -> str:
    components = draw(st.lists(path_component(), min_size=1, max_size=4))
    host = draw(
        st.one_of(
            st.none(),
            st.just("localhost"),
            st.builds(lambda a, b: f"{a}.{b}", alnum, alnum),
            st.builds(lambda a, p: f"{a}:{p}", alnum, st.integers(1, 65535)),
        )
    )
    name = "/".join(components)
    name = f"{host}/{name}" if host else name
    return name[:MAX_NAME_LENGTH].rstrip("/._-") or "a"


action = st.one_of(
    st.sampled_from(KNOWN_ACTIONS), st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
)
resource_type = st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True)


@st.composite
def valid_scope(draw: st.DrawFn) -> ResourceScope:
    actions = draw(st.lists(action, min_size=1, max_size=4, unique=True))
    return ResourceScope(
        type=draw(resource_type),
        name=draw(resource_name()),
        actions=tuple(actions),
        resource_class=draw(st.one_of(st.none(), resource_type)),
    )


# -- scope parser ------------------------------------------------------------------------------
@BOUNDED
@given(valid_scope())
def test_parse_format_round_trip(scope: ResourceScope) -> None:
    parsed = parse_resource_scope(scope.format())
    assert parsed == scope
    assert parse_resource_scope(parsed.format()) == parsed


@BOUNDED
@given(st.lists(valid_scope(), min_size=1, max_size=8))
def test_parse_scopes_round_trips_a_merged_list(scopes: list[ResourceScope]) -> None:
    parsed = parse_scopes([format_scopes(scopes)])
    assert parse_scopes([format_scopes(parsed)]) == parsed


@BOUNDED
@given(st.lists(st.text(max_size=60), max_size=6))
def test_arbitrary_text_only_raises_scope_error(values: list[str]) -> None:
    with contextlib.suppress(ScopeError):
        parse_scopes(values)


@BOUNDED
@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_arbitrary_single_scope_only_raises_scope_error(text: str) -> None:
    with contextlib.suppress(ScopeError):
        parse_resource_scope(text)


@BOUNDED
@given(st.lists(valid_scope(), min_size=1, max_size=12))
def test_merged_output_has_no_duplicates(scopes: list[ResourceScope]) -> None:
    # Each scope twice, in separate values and in one space-separated value.
    texts = [s.format() for s in scopes] * 2
    merged = parse_scopes([*texts, " ".join(texts)])
    keys = [(s.type, s.resource_class, s.name) for s in merged]
    assert len(keys) == len(set(keys))
    assert len(merged) <= MAX_SCOPES
    for scope in merged:
        assert len(scope.actions) == len(set(scope.actions))


# -- grant patterns ----------------------------------------------------------------------------
def reference_match(pattern: str, name: str, username: str | None) -> bool:
    """The meaning of a pattern, written the slow and obvious way: a table over (pattern
    token, name position), filled from the end. O(len(pattern) * len(name)), no cleverness."""
    tokens: list[str] = []
    rest = pattern
    while rest:
        if rest.startswith("**"):
            tokens.append("**")
            rest = rest[2:]
        elif rest.startswith("${user}"):
            if username is None:
                return False
            tokens.extend(username)  # one literal character each
            rest = rest[len("${user}") :]
        else:
            tokens.append(rest[0])
            rest = rest[1:]
    size = len(name)
    after = [j == size for j in range(size + 1)]  # tokens[i + 1:] against name[j:]
    for token in reversed(tokens):
        here = [False] * (size + 1)
        for j in range(size, -1, -1):
            if token == "**":
                here[j] = after[j] or (j < size and here[j + 1])
            elif token == "*":
                here[j] = after[j] or (j < size and name[j] != "/" and here[j + 1])
            else:
                here[j] = j < size and name[j] == token and after[j + 1]
        after = here
    return after[0]


PATTERN_TOKENS = ("a", "b", "-", "/", "ab", "*", "**", "${user}")
NAME_CHARS = "ab-/"


@st.composite
def a_pattern(draw: st.DrawFn, max_tokens: int = 10) -> str:
    tokens = draw(st.lists(st.sampled_from(PATTERN_TOKENS), min_size=1, max_size=max_tokens))
    return without_triple_stars("".join(tokens))[:MAX_PATTERN_LENGTH]


def without_triple_stars(text: str) -> str:
    """``***`` is refused as ambiguous; make the pattern valid instead."""
    while "***" in text:
        text = text.replace("***", "**")
    return text


pattern_user = st.sampled_from((None, "a", "ab", "b-a"))


@BOUNDED
@given(a_pattern(), st.text(NAME_CHARS, max_size=16), pattern_user)
@example("*a*", "ba", None)
@example("**/*", "a/", None)
@example("a/**/b", "a/b", None)
@example("a**b*", "a/b/b", None)
@example("*/**/a*", "b/a/a", None)
@example("${user}/**", "ab/a", "ab")
def test_pattern_matches_like_the_reference(pattern: str, name: str, user: str | None) -> None:
    assert compile_pattern(pattern).matches(name, user) is reference_match(pattern, name, user)


#: Far beyond any one match (microseconds): a matcher this slow is stuck.
STUCK_SECONDS = 30
#: Crafted to make a backtracking matcher try every way of splitting the name between the
#: wildcards: each piece is everywhere in the name, and the end never matches.
ADVERSARIAL = (
    ("*a*a*a*a*a*a*b", "a" * 255),
    ("**a**a**a**a**a**a**b", "a" * 255),
    ("pub/*-*-*-*-*-*-*-x", "pub/" + "a-" * 125 + "a"),
    ("**-**-**-**-**/x", "-".join(["a"] * 127)),
    ("*/**/*a*a*a*/**/b", "/".join(["aaa"] * 63)),
    ("**/" + "a/" * 40 + "b/**", "/".join(["a"] * 128)),
)


@BOUNDED
@given(
    st.sampled_from(ADVERSARIAL),
    st.integers(0, 255),
    st.lists(st.sampled_from(("*", "**", "a", "-", "/", "a*", "*a")), max_size=6),
)
def test_patterns_agree_with_the_reference_on_crafted_names(
    case: tuple[str, str], cut: int, extra: list[str]
) -> None:
    """Long adversarial names (up to the 255 a name may have) against patterns with many
    wildcards: the answer is the reference's, and it comes back (a backtracking matcher
    takes minutes on each and is stopped: a regex in C holds the GIL and ignores signals,
    so only faulthandler's own thread can end the run)."""
    pattern, name = case
    pattern = without_triple_stars(pattern + "".join(extra))
    name = name[:cut]
    faulthandler.dump_traceback_later(STUCK_SECONDS, exit=True)
    try:
        matched = compile_pattern(pattern).matches(name)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert matched is reference_match(pattern, name, None)


# -- policy ------------------------------------------------------------------------------------
USERS = ("alice", "bob")
GROUPS = ("devs", "ops")
subject = st.sampled_from(
    (
        ANONYMOUS,
        AUTHENTICATED,
        *(USER_PREFIX + u for u in USERS),
        *(GROUP_PREFIX + g for g in GROUPS),
    )
)
pattern = st.sampled_from(
    ("team/app", "team/*", "team/**", "**", "*", "${user}/*", "${user}/**", "other/x")
)
grant_actions = st.lists(st.sampled_from(KNOWN_ACTIONS), min_size=1, max_size=3, unique=True)
requested_names = st.sampled_from(
    ("team/app", "team/app/sub", "alice/app", "bob/x", "other/x", "solo")
)


@st.composite
def a_grant(draw: st.DrawFn) -> Grant:
    return Grant(
        subject=draw(subject),
        resource_type=draw(st.sampled_from(("repository", "registry"))),
        pattern=draw(pattern),
        actions=tuple(draw(grant_actions)),
    )


@st.composite
def a_request(draw: st.DrawFn) -> list[ResourceScope]:
    items = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("repository", "registry")),
                requested_names,
                st.lists(
                    st.sampled_from((*KNOWN_ACTIONS, "other")), min_size=1, max_size=4, unique=True
                ),
            ),
            min_size=1,
            max_size=5,
            unique_by=lambda item: (item[0], item[1]),
        )
    )
    return [ResourceScope(type=t, name=n, actions=tuple(a)) for t, n, a in items]


identity = st.one_of(
    st.none(),
    st.builds(
        lambda u, g: Identity(username=u, groups=tuple(g)),
        st.sampled_from(USERS),
        st.lists(st.sampled_from(GROUPS), unique=True, max_size=2),
    ),
)
grants = st.lists(a_grant(), max_size=8)


def granted(
    who: Identity | None, given: list[Grant], req: list[ResourceScope]
) -> set[tuple[str, str, str]]:
    decision = decide(who, given, req)
    return {(s.requested.type, s.requested.name, a) for s in decision.scopes for a in s.granted}


@BOUNDED
@given(identity, grants, a_request())
def test_granted_is_a_subset_of_requested(
    who: Identity | None, given: list[Grant], req: list[ResourceScope]
) -> None:
    decision = decide(who, given, req)
    assert [s.requested for s in decision.scopes] == req
    for scope in decision.scopes:
        assert set(scope.granted) <= set(scope.requested.actions)
        assert set(scope.granted) <= set(KNOWN_ACTIONS)


@BOUNDED
@given(identity, grants, a_grant(), a_request())
def test_adding_a_grant_never_removes_access(
    who: Identity | None, given: list[Grant], extra: Grant, req: list[ResourceScope]
) -> None:
    assert granted(who, given, req) <= granted(who, [*given, extra], req)


@BOUNDED
@given(identity, grants, a_request(), st.randoms(use_true_random=False))
def test_result_is_independent_of_grant_order(
    who: Identity | None, given: list[Grant], req: list[ResourceScope], rnd: Random
) -> None:
    shuffled = list(given)
    rnd.shuffle(shuffled)
    assert decide(who, given, req).access() == decide(who, shuffled, req).access()


@BOUNDED
@given(identity, grants, a_request())
def test_without_groups_only_own_anonymous_and_authenticated_grants_count(
    who: Identity | None, given: list[Grant], req: list[ResourceScope]
) -> None:
    """A user taken out of every group (or whose groups are all disabled, which the store
    leaves out of ``groups``) gets exactly what their own, ``authenticated`` and
    ``anonymous`` grants give."""
    if who is None:
        return
    alone = replace(who, groups=())
    held = {USER_PREFIX + who.username, AUTHENTICATED, ANONYMOUS}
    own = [g for g in given if g.subject in held]
    assert granted(alone, given, req) == granted(alone, own, req)
    assert granted(alone, given, req) <= granted(who, given, req)


@BOUNDED
@given(grants, a_request())
def test_anonymous_gets_only_anonymous_grants(given: list[Grant], req: list[ResourceScope]) -> None:
    """A caller that did not (or could not, being disabled) log in is anonymous."""
    anonymous_only = [g for g in given if g.subject == ANONYMOUS]
    assert granted(None, given, req) == granted(None, anonymous_only, req)


@BOUNDED
@given(identity, grants, a_request())
def test_push_implies_pull(
    who: Identity | None, given: list[Grant], req: list[ResourceScope]
) -> None:
    pushable = {(t, n) for t, n, a in granted(who, given, req) if a == PUSH}
    with_pull = [ResourceScope(type=s.type, name=s.name, actions=(PULL, PUSH)) for s in req]
    result = granted(who, given, with_pull)
    for t, n in pushable:
        assert (t, n, PULL) in result


# -- text the CLI prints; subjects the audit log keeps -----------------------------------------
@BOUNDED
@given(st.lists(st.lists(st.text(max_size=30), min_size=2, max_size=2), max_size=5))
def test_cli_tables_show_no_control_characters(rows: list[list[str]]) -> None:
    """Whatever a client sent, a table is one line per row and every character visible."""
    rendered = table(["A", "B"], rows)
    lines = rendered.split("\n")
    assert len(lines) == len(rows) + 1
    for line in lines:
        assert all(char.isprintable() or char == " " for char in line), repr(line)
    for text in (cell for row in rows for cell in row):
        assert visible(visible(text)) == visible(text)  # escaped text is printable as it is


@BOUNDED
@given(st.text(max_size=30), st.sampled_from(("user:", "group:")))
def test_audit_subjects_normalise_like_names(name: str, prefix: str) -> None:
    subject = normalize_subject(prefix + name)
    assert subject == prefix + normalize_name(name)
    assert normalize_subject(subject) == subject


PASSWORD_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40
)


@BOUNDED
@given(st.one_of(PASSWORD_TEXT, st.sampled_from(sorted(common_passwords())[:500])))
def test_password_policy_says_why(password: str) -> None:
    """A new password is refused for its length or for being common (any case), never for
    anything else that is valid text, and the refusal names the field."""
    common = password.lower() in common_passwords()
    sent = password.upper() if common and password.isascii() else password  # any case
    if len(sent) >= 8 and not common:
        PasswordPolicy().check(Secret(sent))
        return
    with pytest.raises(ValidationError) as caught:
        PasswordPolicy().check(Secret(sent))
    assert caught.value.field == "password"
