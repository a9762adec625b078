"""Refuse grants that can never match anything, before they are stored.

A grant is stored only when some token request could use it:

* its resource type is one a registry asks for: ``repository`` (pull, push, delete) or
  ``registry`` (distribution's catalog, ``registry:catalog:*``). Any other type is refused
  unless the caller says it is deliberate (``allow_unknown_type``): the token protocol is
  open, and a service other than a registry may ask Dockit for types of its own, so an
  outright refusal would lock those out, while a typo (``repositry``) is refused by default;
* its pattern can match a lower-case name: resource names are lower case (distribution's
  reference grammar), only a ``host[:port]`` first component may hold capitals;
* a ``registry`` grant gives what the catalog asks for: a pattern matching ``catalog`` and
  the action ``*`` (the registry asks for exactly ``registry:catalog:*``);
* its subject exists: a local user or group, or a robot account (``robot:NAME``). With a
  directory (LDAP) configured, users and groups have no local row, so an unknown name is
  taken to be the directory's, with a note; robots live only in Dockit, so a missing one is
  always refused.

Each refusal is a :class:`~libdockit.errors.ValidationError` naming the field and the fix.
"""

from __future__ import annotations

import difflib
import re

from .backends.base import UserStore
from .backends.credential_store import AccessCredentialStore
from .errors import NotFound, ValidationError
from .model import GROUP_PREFIX, ROBOT_PREFIX, USER_PREFIX, Grant
from .patterns import compile_pattern
from .scope import ALL

REPOSITORY = "repository"
REGISTRY = "registry"
#: The resource types distribution's registry asks tokens for.
KNOWN_RESOURCE_TYPES: tuple[str, ...] = (REPOSITORY, REGISTRY)
#: The only ``registry`` resource distribution defines (``/v2/_catalog``).
CATALOG = "catalog"
_UPPER_RE = re.compile(r"[A-Z]")


def check_grant(
    grant: Grant,
    users: UserStore,
    *,
    allow_unknown_type: bool = False,
    directory: str | None = None,
    robots: AccessCredentialStore | None = None,
) -> tuple[str, ...]:
    """Raise :class:`ValidationError` for a grant that can never match; return notes about
    what was accepted on trust (a directory subject), for the caller to show. ``robots``:
    where robot accounts are (None: a ``robot:`` subject is not checked)."""
    check_resource_type(grant.resource_type, allow_unknown_type=allow_unknown_type)
    check_pattern_case(grant.pattern)
    if grant.resource_type == REGISTRY:
        check_catalog_grant(grant)
    if grant.subject.startswith(ROBOT_PREFIX):
        if robots is not None:
            check_robot_exists(grant.subject, robots)
        return ()
    note = check_subject_exists(grant.subject, users, directory=directory)
    return (note,) if note else ()


def check_resource_type(resource_type: str, *, allow_unknown_type: bool = False) -> None:
    if resource_type in KNOWN_RESOURCE_TYPES or allow_unknown_type:
        return
    close = difflib.get_close_matches(resource_type, KNOWN_RESOURCE_TYPES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValidationError(
        "resource_type",
        f"unknown resource type {resource_type!r}{hint}: registries ask for "
        f"{' and '.join(KNOWN_RESOURCE_TYPES)}; for a service with types of its own, "
        "pass allow_unknown_type (dockit grant --allow-unknown-type)",
    )


def _host_like(segment: str) -> bool:
    """A first path component that the reference grammar reads as ``host[:port]``."""
    return "." in segment or ":" in segment or segment == "localhost" or segment.startswith("[")


def lower_case_pattern(pattern: str) -> str:
    """``pattern`` as it can match: lower case, except a ``host[:port]`` first component."""
    head, slash, rest = pattern.partition("/")
    if slash and _host_like(head):
        return head + slash + rest.lower()
    return pattern.lower()


def check_pattern_case(pattern: str) -> None:
    wanted = lower_case_pattern(pattern)
    if wanted != pattern and _UPPER_RE.search(pattern):
        raise ValidationError(
            "pattern",
            f"{pattern!r} has upper-case letters, but resource names are lower case, so it "
            f"could never match; use {wanted!r}",
        )


def check_catalog_grant(grant: Grant) -> None:
    """The registry asks for ``registry:catalog:*``; anything else never matches."""
    example = f"{REGISTRY}:{CATALOG}:{ALL}"
    if not compile_pattern(grant.pattern).matches(CATALOG):
        raise ValidationError(
            "pattern",
            f"a {REGISTRY} grant's pattern must match {CATALOG!r} (the only {REGISTRY} "
            f"resource a registry asks for); use {example!r}",
        )
    if ALL not in grant.actions:
        raise ValidationError(
            "actions",
            f"the registry asks for {example} (the action '*', literally), so "
            f"{','.join(grant.actions)} on {REGISTRY}:{CATALOG} never matches; use {example!r}",
        )


def check_subject_exists(subject: str, users: UserStore, *, directory: str | None) -> str | None:
    """None when the subject exists (or is ``anonymous``/``authenticated``); a note when it
    is taken to be a directory's user or group; else :class:`ValidationError`."""
    if subject.startswith(USER_PREFIX):
        name, kind = subject[len(USER_PREFIX) :], "user"
        create = f"dockit user add {name} (POST /api/v1/users)"
    elif subject.startswith(GROUP_PREFIX):
        name, kind = subject[len(GROUP_PREFIX) :], "group"
        create = f"dockit group add {name} (POST /api/v1/groups)"
    else:
        return None
    try:
        if kind == "user":
            users.get_user(name)
        else:
            users.get_group(name)
    except NotFound:
        if directory is not None:
            return (
                f"{subject} is not a local {kind}: taken to be the directory's ({directory}) "
                f"{kind} of that name, which Dockit cannot check; make sure it is spelled as "
                "the directory has it"
            )
        raise ValidationError(
            "subject",
            f"{subject} does not exist: create the {kind} first with {create}, then grant",
        ) from None
    return None


def check_robot_exists(
    subject: str, robots: AccessCredentialStore, *, field: str = "subject", then: str = "grant"
) -> None:
    """:class:`ValidationError` (naming ``field``) unless the robot ``robot:NAME`` exists (a
    directory has no robots, so none is taken on trust); the fix it names is to create the
    robot first, then ``then``."""
    name = subject[len(ROBOT_PREFIX) :]
    if robots.list_access_credentials(kind="robot", name=name, limit=1).items:
        return
    known = [robot.name for robot in robots.list_access_credentials(kind="robot", limit=1000).items]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {ROBOT_PREFIX}{close[0]}?)" if close else ""
    raise ValidationError(
        field,
        f"{subject} does not exist{hint}: create the robot first with dockit robot create "
        f"{name} (POST /api/v1/robots), then {then}",
    )
