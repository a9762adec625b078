"""``dockit audit``: the audit log through ``GET /api/v1/audit``, newest first.

The options are the filters of :class:`libdockit.model.AuditFilter`, sent as the API's
query parameters of the same names (``--kind``, ``--actor``, ``--action``, ...). An actor
may be a bare NAME (``user:NAME``). Times are RFC 3339 (no zone: UTC), a date (midnight
UTC), or a time ago such as ``90m``, ``1h`` or ``2d``; they are sent as RFC 3339 UTC.

Without ``--all`` one page of the newest ``--limit`` events (default 50) is shown; ``--all``
reads every page. ``-o json`` prints the events, a JSON list, as the Admin API gives them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from libdockit.model import ANONYMOUS, AUDIT_FILTERS, USER_PREFIX, FilterField

from .. import output
from ..errors import CliError, UsageError
from ..http import PAGE_SIZE, AdminClient
from .common import Context, add_command
from .support import newer_route, parse_time

if TYPE_CHECKING:
    from .common import Subparsers

DEFAULT_LIMIT = 50
DETAIL_WIDTH = 80
ROUTE = "GET /api/v1/audit"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# A module global, so tests can fix "now" for relative times.
_now: Callable[[], datetime] = _utc_now


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
    if not 1 <= value <= PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {PAGE_SIZE} (or use --all)")
    return value


def actor_filter(raw: str) -> str:
    """``alice`` means ``user:alice``; ``user:alice`` and ``anonymous`` stay as they are."""
    text = raw.strip()
    if text == ANONYMOUS or ":" in text:
        return text
    return USER_PREFIX + text


def filters(args: argparse.Namespace) -> dict[str, str]:
    """The query parameters for the filters given on the command line."""
    query: dict[str, str] = {}
    for field in AUDIT_FILTERS:
        raw = getattr(args, field.name)
        if not raw:
            continue
        if field.type is datetime:
            query[field.name] = parse_time(raw, f"--{field.name}", _now)
        else:
            query[field.name] = actor_filter(raw) if field.name == "actor" else raw
    if "since" in query and "until" in query:
        since, until = (datetime.fromisoformat(query[n]) for n in ("since", "until"))
        if since >= until:
            raise UsageError(
                f"--since ({query['since']}) must be before --until ({query['until']})"
            )
    return query


def _page(
    client: AdminClient, query: dict[str, str], offset: int, limit: int
) -> tuple[list[Any], int]:
    page = client.get("/audit", {**query, "offset": str(offset), "limit": str(limit)})
    items, total = page.get("items"), page.get("total")
    if not isinstance(items, list) or not isinstance(total, int):
        raise CliError(f"unexpected answer from {client.url}/api/v1/audit: not a listing")
    return [item for item in items if isinstance(item, dict)], total


def fetch(
    client: AdminClient, query: dict[str, str], *, every: bool, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """``(events, total)``: one page of ``limit``, or with ``every`` all of them.

    The log grows at its newest end while pages are read, which shifts older events to
    later offsets: an event seen twice is kept once.
    """
    if not every:
        return _page(client, query, 0, limit)
    events: list[dict[str, Any]] = []
    seen: set[object] = set()
    offset = 0
    while True:
        batch, total = _page(client, query, offset, PAGE_SIZE)
        for event in batch:
            key = event.get("id")
            if key is None or key not in seen:
                seen.add(key)
                events.append(event)
        offset += len(batch)
        if not batch or offset >= total:
            return events, len(events)


def audit(ctx: Context) -> int:
    args = ctx.args
    query = filters(args)
    client = ctx.client()
    with newer_route(client.url, ROUTE):
        events, total = fetch(client, query, every=args.all, limit=args.limit)
    ctx.output.listing(events, event_rows, "no audit events match")
    if not ctx.output.json and total > len(events):
        ctx.note(
            f"showing the newest {len(events)} of {total} matching events; "
            "--limit N or --all for more"
        )
    return 0


# -- the DETAIL column ------------------------------------------------------------------------


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _scopes(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(scope) for scope in value) or "nothing"
    return "-" if value is None else str(value)


def _token_detail(event: dict[str, Any], detail: dict[str, Any]) -> str:
    granted = detail.get("granted")
    if granted is None:
        outcome = str(detail.get("outcome") or "refused")
        reason = detail.get("reason")
        result = f"{outcome}: {reason}" if reason else outcome
        message = detail.get("message")
        if message:
            result = f"{result} ({message})"
    else:
        result = _scopes(granted)
    text = f"{_scopes(detail.get('requested'))} → {result}"
    service = detail.get("service")
    if service and service != event.get("target"):
        text = f"{service}: {text}"
    return text


#: What a robot's or personal access token's view shows in a line: who and until when.
_CREDENTIAL_KEYS = ("name", "owner", "scopes", "expires_at", "enabled", "access_token_lifetime")


def _credential_detail(action: object, before: object, after: object, target: object) -> str:
    """A robot's or personal access token's change: made, rotated, switched, deleted."""
    name = str(target).split(":", 1)[-1]
    state = after if isinstance(after, dict) else before
    if not isinstance(state, dict):
        return "-"
    if isinstance(before, dict) and isinstance(after, dict):
        changes = [
            f"{key}: {_value(before.get(key))} → {_value(after.get(key))}"
            for key in _CREDENTIAL_KEYS
            if before.get(key) != after.get(key)
        ]
        if action == "robot.rotate":
            changes.insert(0, "new secret")
        return "; ".join(changes) or "no change"
    shown = " ".join(
        f"{key}={_value(state.get(key))}"
        for key in _CREDENTIAL_KEYS
        if key in state and state.get(key) not in (None, [], True, name)
    )
    return shown if isinstance(after, dict) else f"was {shown}"


def _shown(key: str) -> bool:
    """Timestamps and days_left change without anyone changing them."""
    return not key.endswith("_at") and key != "days_left"


def _fields(state: dict[str, Any], target: object) -> str:
    """``key=value`` of what was created or deleted, less what the target names already,
    timestamps, and a grant's parts (its scope says them)."""
    name = str(target).split(":", 1)[-1]
    if "scope" in state:
        state = {key: state.get(key) for key in ("subject", "scope")}
    return " ".join(
        f"{key}={_value(value)}"
        for key, value in state.items()
        if _shown(key) and str(value) != name
    )


def _admin_detail(before: object, after: object, target: object) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        changes = [
            f"{key}: {_value(before.get(key))} → {_value(after.get(key))}"
            for key in sorted(set(before) | set(after))
            if _shown(key) and before.get(key) != after.get(key)
        ]
        return "; ".join(changes) or "no change"
    if isinstance(after, dict):
        return _fields(after, target)
    if isinstance(before, dict):
        return "was " + _fields(before, target)
    return "-"


def detail_text(event: dict[str, Any]) -> str:
    """A short line for people: requested → granted for a token, what changed for admin."""
    detail = event.get("detail")
    if event.get("kind") == "token" and isinstance(detail, dict):
        text = _token_detail(event, detail)
    elif event.get("action") == "admin.refuse" and isinstance(detail, dict):
        text = f"tried {detail.get('attempted')}: {detail.get('status')} {detail.get('reason')}"
    elif str(event.get("target")).startswith(("robot:", "pat:")):
        text = _credential_detail(
            event.get("action"), event.get("before"), event.get("after"), event.get("target")
        )
    else:
        text = _admin_detail(event.get("before"), event.get("after"), event.get("target"))
    if len(text) > DETAIL_WIDTH:
        text = text[: DETAIL_WIDTH - 1] + "…"
    credential = detail.get("credential") if isinstance(detail, dict) else None
    if isinstance(credential, dict):  # who exactly, never cut: what an audit is read for
        text += " " + _credential_text(credential, event.get("actor"))
    return text


def _credential_text(credential: dict[str, Any], actor: object) -> str:
    """``[federation iss=URL sub=SUB jti=JTI]``, ``[pat pat:ID]``: the credential of a
    delegated login beyond what the actor names (its id when that is not the actor; the
    issuer, ``sub`` and ``jti`` of a federated token)."""
    first = ("issuer", "sub", "jti")
    keys = [key for key in first if key in credential]
    keys += sorted(key for key in credential if key not in (*first, "kind", "id"))
    parts = [str(credential.get("kind", "credential"))]
    if credential.get("id") not in (None, actor):
        parts.append(_value(credential["id"]))
    parts += [f"{'iss' if key == 'issuer' else key}={_value(credential[key])}" for key in keys]
    return "[" + " ".join(parts) + "]"


def event_rows(events: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    rows = [
        [
            output.text(e.get("at")),
            output.text(e.get("actor")),
            output.text(e.get("action")),
            output.text(e.get("target")),
            detail_text(e),
        ]
        for e in events
    ]
    return headers, rows


def _option(field: FilterField) -> dict[str, Any]:
    """An audit filter as an option: its meaning as the API documents it, for a terminal."""
    text = field.doc.replace("`", "").rstrip(".")
    text = text[0].lower() + text[1:]
    if field.type is datetime:
        return {"metavar": "TIME", "help": text.replace("this RFC 3339 time", "TIME")}
    if field.choices is not None:
        return {"choices": field.choices, "help": text}
    if field.name == "actor":
        text += " (a bare NAME is user:NAME)"
    return {"metavar": field.name.upper(), "help": text}


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "audit",
        audit,
        "show the audit log: admin changes and token decisions, newest first",
        parents=[common],
        description="Show audit events, newest first: changes made through the Admin API "
        "and token decisions. TIME is RFC 3339 (no zone: UTC), a date, or a time ago such "
        "as 30m, 1h or 2d.",
    )
    for field in AUDIT_FILTERS:
        parser.add_argument(f"--{field.name}", **_option(field))
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show the newest N events, at most {PAGE_SIZE} (default {DEFAULT_LIMIT})",
    )
    amount.add_argument("--all", action="store_true", help="every matching event")
