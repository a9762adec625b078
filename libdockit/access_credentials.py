"""Rules for robot accounts' and personal access tokens' credentials, with no I/O: making
one (record and secret), judging one at login, and a personal token's scopes.

A personal access token's scopes are written like registry scopes whose name is a grant
pattern, ``TYPE:PATTERN:ACTIONS`` (``repository:alice/**:pull``; the pattern may hold ``:``,
as ``host:5000/x`` does, so the text splits at its first and last ``:``). They are kept as
canonical texts on the record and narrow the owner's rights (a token without scopes has
all of them): a request gets what the owner's
grants give *and* what the token's scopes allow, both worked out afresh for every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from .access_secrets import credential_secret_hash, new_credential_id, new_credential_secret
from .clock import as_utc
from .errors import ValidationError
from .model import (
    LOCAL_SOURCE,
    MAX_NAME_LENGTH,
    AccessCredential,
    CredentialKind,
    normalize_actions,
    validate_name,
    validate_resource_type,
)
from .patterns import compile_pattern
from .policy import implied_actions
from .secret import Secret

#: Why a stored credential does not log in (the audit log's reason).
DISABLED = "disabled"
EXPIRED = "expired"


def new_access_credential(
    kind: CredentialKind,
    name: str,
    owner: str,
    *,
    now: datetime,
    expires_at: datetime | None,
    scopes: Iterable[str] = (),
    access_token_lifetime: timedelta | None = None,
    owner_source: str = LOCAL_SOURCE,
) -> tuple[AccessCredential, Secret]:
    """A new credential and its secret (show it once; only its hash is on the record).

    A robot's ``name`` is its login name, checked like a user name (no shell
    metacharacters, so ``docker login -u NAME`` needs no quoting); a personal token's is a
    label of 1-64 printable characters. ``expires_at`` must be after ``now``; ``scopes`` are
    checked and made canonical.
    """
    name = validate_name(name) if kind == "robot" else _label(name)
    if expires_at is not None and as_utc(expires_at) <= as_utc(now):
        raise ValidationError("expires_at", "must be in the future")
    if access_token_lifetime is not None and access_token_lifetime < timedelta(seconds=1):
        raise ValidationError("access_token_lifetime", "must be at least one second")
    secret = new_credential_secret()
    credential = AccessCredential(
        id=new_credential_id(),
        kind=kind,
        name=name,
        owner=owner,
        secret_hash=credential_secret_hash(secret),
        created_at=as_utc(now),
        expires_at=None if expires_at is None else as_utc(expires_at),
        scopes=normalize_credential_scopes(scopes),
        access_token_lifetime=access_token_lifetime,
        owner_source=owner_source,
    )
    return credential, secret


def _label(raw: str) -> str:
    label = raw.strip()
    if not 1 <= len(label) <= MAX_NAME_LENGTH or not label.isprintable():
        raise ValidationError("name", f"must be 1-{MAX_NAME_LENGTH} printable characters")
    return label


def credential_refusal(credential: AccessCredential, at: datetime) -> str | None:
    """Why ``credential`` may not log in at ``at`` (:data:`DISABLED`, :data:`EXPIRED`), or
    None when it may (its owner's state is the caller's to check)."""
    if not credential.enabled:
        return DISABLED
    if credential.expires_at is not None and credential.expires_at <= as_utc(at):
        return EXPIRED
    return None


def parse_credential_scope(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``TYPE:PATTERN:ACTIONS`` as (resource type, pattern, canonical actions); a
    :class:`ValidationError` if any part is invalid."""
    first, last = text.find(":"), text.rfind(":")
    if first <= 0 or first == last:
        raise ValidationError("scopes", f"{text!r} is not of the form type:pattern:actions")
    pattern = text[first + 1 : last]
    try:
        resource_type = validate_resource_type(text[:first])
        compile_pattern(pattern)
        actions = normalize_actions(text[last + 1 :])
    except ValidationError as exc:  # name the scope, and which part of it is wrong
        raise ValidationError("scopes", f"{text!r}: {exc}") from None
    return resource_type, pattern, actions


def normalize_credential_scopes(texts: Iterable[str]) -> tuple[str, ...]:
    """The canonical texts of ``texts`` (actions in canonical order), duplicates dropped,
    in the order given."""
    canonical: dict[str, None] = {}
    for text in texts:
        resource_type, pattern, actions = parse_credential_scope(text)
        canonical[f"{resource_type}:{pattern}:{','.join(actions)}"] = None
    return tuple(canonical)


def actions_within_scopes(
    scopes: Sequence[str], resource_type: str, name: str, username: str
) -> frozenset[str] | None:
    """Every action the scopes allow on resource ``name`` of ``resource_type`` for a token
    owned by ``username`` (``${user}`` in a pattern is the owner), implied ones included
    (``push`` allows ``pull``, ``*`` everything). None for a token without scopes: it is
    not narrowed, and has all its owner's rights."""
    if not scopes:
        return None
    allowed: set[str] = set()
    for text in scopes:
        scope_type, pattern, actions = parse_credential_scope(text)
        if scope_type == resource_type and compile_pattern(pattern).matches(name, username):
            allowed |= implied_actions(actions)
    return frozenset(allowed)
