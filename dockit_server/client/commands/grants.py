"""``dockit grant``, ``revoke``, ``grants`` and ``permissions``: who may do what.

``grant SUBJECT SCOPE`` adds a grant. Granting exactly what a subject has already is a
success (exit 0, "already granted"), so setup scripts can run twice; a grant on the same
resource pattern with other actions is a conflict (exit 4) that names the existing grant.

``revoke SUBJECT SCOPE`` finds the subject's grant on that resource type and pattern and
deletes it, only when SCOPE names the same actions. With other actions it refuses (exit 4)
and changes nothing: revoking ``push`` from a ``pull,push`` grant must not silently take
``pull`` too. Name the grant's actions as shown to revoke it, or revoke and grant again to
narrow it.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING, Any

from libdockit.admin import parse_grant_scope
from libdockit.model import ANONYMOUS, AUTHENTICATED, GROUP_PREFIX, USER_PREFIX, parse_subject

from .. import output
from ..errors import ApiError, ConflictError, NotFoundError
from ..http import AdminClient, quote
from .common import Context, add_command

if TYPE_CHECKING:
    from .common import Subparsers

SUBJECT_HELP = (
    "user:NAME, group:NAME, robot:NAME, authenticated (any logged-in user) or anonymous (everyone)"
)
SCOPE_HELP = "TYPE:PATTERN:ACTIONS, e.g. repository:team/*:pull,push"


def _grants_of(client: AdminClient, subject: str) -> list[dict[str, Any]]:
    return client.list_all("/grants", {"subject": subject})


def _find(
    client: AdminClient, subject: str, resource_type: str, pattern: str
) -> dict[str, Any] | None:
    for grant in _grants_of(client, subject):
        if grant.get("resource_type") == resource_type and grant.get("pattern") == pattern:
            return grant
    return None


def _same_actions(grant: dict[str, Any], actions: tuple[str, ...]) -> bool:
    stored = grant.get("actions")
    return isinstance(stored, list) and set(stored) == set(actions)


def grant(ctx: Context) -> int:
    subject, scope = ctx.args.subject, ctx.args.scope
    client = ctx.client()
    body: dict[str, Any] = {"subject": subject, "scope": scope}
    if ctx.args.allow_unknown_type:
        body["allow_unknown_type"] = True
    try:
        created = client.post("/grants", body)
    except ApiError as exc:
        if exc.status != 409:
            raise
        canonical = parse_subject(subject)
        resource_type, pattern, actions = parse_grant_scope(scope)
        existing = _find(client, canonical, resource_type, pattern)
        if existing is None:
            raise
        if not _same_actions(existing, actions):
            raise ConflictError(
                f"{canonical} already has {existing.get('scope')} (grant {existing.get('id')}); "
                f"nothing changed. To change its actions: dockit revoke {canonical} "
                f"'{existing.get('scope')}' and grant again"
            ) from None
        ctx.output.emit(
            existing,
            lambda: (
                f"already granted: {canonical} {existing.get('scope')} (grant {existing.get('id')})"
            ),
        )
        return 0
    for note in created.get("notes") or ():
        ctx.note(f"note: {note}")
    ctx.output.emit(
        created,
        lambda: (
            f"granted {created.get('subject')} {created.get('scope')} (grant {created.get('id')})"
        ),
    )
    return 0


def revoke(ctx: Context) -> int:
    subject = parse_subject(ctx.args.subject)
    resource_type, pattern, actions = parse_grant_scope(ctx.args.scope)
    client = ctx.client()
    existing = _find(client, subject, resource_type, pattern)
    if existing is None:
        raise NotFoundError(
            f"{subject} has no grant on {resource_type}:{pattern} "
            f"(see: dockit permissions {subject})"
        )
    if not _same_actions(existing, actions):
        raise ConflictError(
            f"{subject}'s grant on {resource_type}:{pattern} is {existing.get('scope')} "
            f"(grant {existing.get('id')}), not {','.join(actions)}; nothing revoked. To revoke "
            f"it, name its actions: dockit revoke {subject} '{existing.get('scope')}'. To narrow "
            "it, revoke it and grant the actions to keep"
        )
    client.delete(f"/grants/{quote(str(existing.get('id')))}")
    ctx.output.emit(
        existing,
        lambda: f"revoked {subject} {existing.get('scope')} (grant {existing.get('id')})",
    )
    return 0


def list_grants(ctx: Context) -> int:
    query = {"subject": parse_subject(ctx.args.subject)} if ctx.args.subject else None
    grants = ctx.client().list_all("/grants", query)
    ctx.output.listing(grants, output.grant_rows, "no grants")
    return 0


def permissions(ctx: Context) -> int:
    subject = parse_subject(ctx.args.subject)
    client = ctx.client()
    document: dict[str, Any] = {"subject": subject, "user": None, "group": None, "grants": []}
    notes: dict[str, str] = {}
    if subject.startswith(USER_PREFIX):
        user = client.get(f"/users/{quote(subject[len(USER_PREFIX) :])}")
        document["user"] = user
        groups = [str(name) for name in user.get("groups") or []]
        sources = [subject, *(GROUP_PREFIX + name for name in groups), AUTHENTICATED, ANONYMOUS]
        for name in groups:
            if not client.get(f"/groups/{quote(name)}").get("enabled"):
                notes[GROUP_PREFIX + name] = "group disabled: grants nothing"
        if not user.get("enabled"):
            for source in sources[:-1]:
                notes[source] = "user disabled: cannot log in"
        everything = client.list_all("/grants")
        found = [g for source in sources for g in everything if g.get("subject") == source]
    else:
        if subject.startswith(GROUP_PREFIX):
            group = client.get(f"/groups/{quote(subject[len(GROUP_PREFIX) :])}")
            document["group"] = group
            if not group.get("enabled"):
                notes[subject] = "group disabled: grants nothing"
        found = _grants_of(client, subject)
    for item in found:
        via = str(item.get("subject"))
        document["grants"].append(
            {"via": via, "active": via not in notes, "note": notes.get(via), "grant": item}
        )
    ctx.output.emit(document, lambda: _permissions_text(document))
    return 0


def _permissions_text(document: dict[str, Any]) -> str:
    subject = document["subject"]
    lines = []
    user = document["user"]
    if user is not None:
        state = "enabled" if user.get("enabled") else "disabled"
        groups = output.names(user.get("groups"))
        lines.append(f"{subject}: {state}; groups: {groups}")
    entries = document["grants"]
    if not entries:
        lines.append(f"no grants reach {subject}")
        return "\n".join(lines)
    rows = [
        [
            str(entry["via"]),
            output.text(entry["grant"].get("id")),
            str(entry["grant"].get("scope")),
            entry["note"] or "",
        ]
        for entry in entries
    ]
    lines.append(output.table(["VIA", "ID", "SCOPE", "NOTE"], rows))
    return "\n".join(lines)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    command = partial(add_command, commands, parents=[common])
    add = command(
        "grant",
        grant,
        "let a subject do actions on matching resources",
        description="Add a grant. Patterns: exact names, * within one path segment, ** across "
        "segments, ${user} for the caller's name. Actions: pull, push (implies pull), delete, *. "
        "Granting exactly what exists already is not an error. A grant that could never "
        "match is refused: an unknown resource type, upper-case letters, a user or group "
        "that does not exist (with LDAP, such names are taken to be the directory's).",
    )
    add.add_argument("subject", help=SUBJECT_HELP)
    add.add_argument("scope", help=SCOPE_HELP)
    add.add_argument(
        "--allow-unknown-type",
        action="store_true",
        help="store a resource type registries never ask for (they ask for repository and "
        "registry), for a service with types of its own; without it such a type is refused "
        "as a typo",
    )
    remove = command(
        "revoke",
        revoke,
        "delete a subject's grant on a resource pattern",
        description="Delete the subject's grant on TYPE:PATTERN. ACTIONS must be the grant's "
        "actions as `dockit permissions` shows them; otherwise nothing is revoked (exit 4).",
    )
    remove.add_argument("subject", help=SUBJECT_HELP)
    remove.add_argument("scope", help=SCOPE_HELP)
    listing = command(
        "grants", list_grants, "list every grant", description="List every grant, by id."
    )
    listing.add_argument("--subject", help="only this subject's grants: " + SUBJECT_HELP)
    show = command(
        "permissions",
        permissions,
        "show the grants that reach a subject",
        description="Show a subject's grants. For user:NAME also the grants reaching them "
        "through their groups, authenticated and anonymous, each labelled with where it came from.",
    )
    show.add_argument("subject", help=SUBJECT_HELP)
