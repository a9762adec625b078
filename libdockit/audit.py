"""Record admin changes and token decisions in an :class:`AuditStore`, and keep it bounded.

The audit log answers "who changed what, when" and "who was given (or refused) what".
Nothing secret goes in: views of users carry no password hash, token decisions carry
scopes and outcomes, never credentials or tokens.

Recording must not break the request it describes: if the store cannot take the event,
the failure is logged (without the event's content) and the request goes on. Retention is
applied every ``prune_every`` records in a process, so no separate job is needed.

With ``flush_seconds`` above 0, token decisions and lockouts are written in batches by a
background thread (:mod:`libdockit.audit_writer`): they reach the store up to that long after
the request, and :meth:`Auditor.query` writes this process's queue first. Admin changes are
always written before the response, as is everything when ``flush_seconds`` is 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from .audit_writer import BatchedAuditWriter
from .backends.base import AuditStore
from .clock import Clock, utc_now
from .errors import DockitError, ValidationError
from .model import AUDIT_KINDS, AuditEvent, AuditFilter, Page, check_audit_filter, normalize_name
from .paging import check_paging
from .throttle import Lockout

log = logging.getLogger("dockit.audit")

#: Longest list of scopes kept in one token event (a request may carry up to 100).
MAX_SCOPES_RECORDED = 20
#: Longest error message kept in one token event (messages are short; this bounds them).
MAX_MESSAGE_RECORDED = 500


#: Subjects whose name part is a user or group name, normalised like the names themselves.
_NAMED = ("user:", "group:")


def normalize_subject(subject: str | None) -> str | None:
    """``user:NAME`` and ``group:NAME`` with NAME as the store keeps it (Unicode NFKC, lower
    case: full-width ``user:BOB`` and ``user:BoB`` are ``user:bob``), so a filter finds
    every spelling a request used; anything else as it is."""
    if subject is None:
        return None
    for prefix in _NAMED:
        if subject.startswith(prefix):
            return prefix + normalize_name(subject[len(prefix) :])
    return subject


@dataclass(frozen=True, slots=True)
class Retention:
    """How long events are kept, per kind, so anonymous traffic never pushes admin history
    out: token events (decisions, lockouts) for ``days`` and at most ``max_events`` of
    them; admin events (changes, refused Admin API attempts) for ``admin_days`` and at most
    ``admin_max_events`` (None: no bound). A count bound on admin events would let a flood
    of refused attempts push changes out, so by default they are bounded by age alone."""

    days: int | None = 90
    max_events: int | None = 1_000_000
    admin_days: int | None = 365
    admin_max_events: int | None = None
    #: Apply the bounds after this many records in a process.
    prune_every: int = 1000


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where a recorded action came from."""

    client_address: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes an admin change, and from where: every change made through
    :class:`~libdockit.admin.AdminService` or :class:`~libdockit.keys.manager.KeyManager` names
    one, and the audit log records it. ``subject`` is ``user:NAME`` for a person (an admin
    over the Admin API) or ``system:NAME`` for a program acting on its own (``dockit
    bootstrap-admin``, the first admin made at start, an embedding app's setup)."""

    subject: str
    request: RequestInfo = RequestInfo()

    @classmethod
    def user(cls, username: str, request: RequestInfo | None = None) -> Actor:
        return cls(f"user:{username}", request or RequestInfo())

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(f"system:{name}")


@dataclass(frozen=True, slots=True)
class TokenVia:
    """How a token was asked for: ``GET``, or ``POST`` with its ``grant_type`` (None when
    the form was refused before a valid one was read)."""

    method: str
    grant_type: str | None = None


class Auditor:
    def __init__(
        self,
        store: AuditStore,
        *,
        retention: Retention | None = None,
        record_tokens: bool = True,
        flush_seconds: float = 0.0,
        on_backlog: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._retention = retention or Retention()
        self._record_tokens = record_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._since_prune = 0
        self._batched = (
            BatchedAuditWriter(
                store,
                flush_seconds=flush_seconds,
                on_written=self._written,
                on_backlog=on_backlog,
                on_dropped=on_dropped,
            )
            if flush_seconds > 0
            else None
        )

    def flush(self) -> None:
        """Write the events this process has queued (see ``flush_seconds``)."""
        if self._batched is not None:
            self._batched.flush()

    def close(self) -> None:
        """Write what is queued and stop the writer thread; later events are written at once."""
        if self._batched is not None:
            self._batched.close()

    def admin_change(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        request: RequestInfo,
    ) -> None:
        self._record(
            AuditEvent(
                kind="admin",
                actor=normalize_subject(actor) or actor,
                action=action,
                target=normalize_subject(target),
                before=before,
                after=after,
                client_address=request.client_address,
                request_id=request.request_id,
            )
        )

    def change(
        self,
        actor: Actor,
        action: str,
        target: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        """An admin change made by ``actor`` (see :meth:`admin_change`); ``before`` and
        ``after`` are copied."""
        self.admin_change(
            actor=actor.subject,
            action=action,
            target=target,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
            request=actor.request,
        )

    def admin_refusal(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        status: int,
        reason: str | None,
        request: RequestInfo,
    ) -> None:
        """An Admin API request refused before it did anything (401 bad credentials, 403 not
        an admin or cross-site, 429 throttled): action ``admin.refuse``, with the action it
        attempted, who it claimed to be (never a password) and where it came from."""
        self._record_batched(
            AuditEvent(
                kind="admin",
                actor=normalize_subject(actor) or actor,
                action="admin.refuse",
                target=normalize_subject(target),
                detail={"attempted": action, "status": status, "reason": reason},
                client_address=request.client_address,
                request_id=request.request_id,
                at=self._batched_at(),
            )
        )

    def token_decision(
        self,
        *,
        actor: str,
        service: str | None,
        requested: Sequence[str],
        granted: Sequence[str] | None,
        outcome: str,
        request: RequestInfo,
        reason: str | None = None,
        message: str | None = None,
        via: TokenVia | None = None,
        credential: Mapping[str, str] | None = None,
    ) -> None:
        """``granted`` None means no token was issued (``reason`` is the error code, and
        ``message`` the error's message, as the client got them). ``credential``: which
        robot, personal token or trust policy logged in (see
        :meth:`libdockit.delegation.Delegation.audit_detail`)."""
        if not self._record_tokens:
            return
        detail: dict[str, Any] = {
            "service": service,
            "requested": list(requested[:MAX_SCOPES_RECORDED]),
            "granted": list(granted[:MAX_SCOPES_RECORDED]) if granted is not None else None,
            "outcome": outcome,
        }
        if len(requested) > MAX_SCOPES_RECORDED:
            detail["requested_total"] = len(requested)
        if reason is not None:
            detail["reason"] = reason
        if message is not None:
            detail["message"] = message[:MAX_MESSAGE_RECORDED]
        if via is not None:
            detail["method"] = via.method
            if via.grant_type is not None:
                detail["grant_type"] = via.grant_type
        if credential is not None:
            detail["credential"] = dict(credential)
        self._record_batched(
            AuditEvent(
                kind="token",
                actor=actor,
                action="token.issue" if granted is not None else "token.refuse",
                target=service,
                detail=detail,
                client_address=request.client_address,
                request_id=request.request_id,
                at=self._batched_at(),
            )
        )

    def lockout(self, lockout: Lockout) -> None:
        """A failed-login counter just reached its limit: action ``login.blocked`` on
        ``user:NAME`` or ``client:ADDRESS`` (kind ``token``: it is about logins), once per
        lockout; the attempts refused during it are ``token.refuse`` events."""
        blocked = lockout.failures.blocked_until
        self._record_batched(
            AuditEvent(
                kind="token",
                actor="anonymous",
                action="login.blocked",
                target=lockout.key,
                detail={
                    "failures": lockout.failures.failures,
                    "window_start": lockout.failures.window_start.isoformat(),
                    "blocked_until": blocked.isoformat() if blocked is not None else None,
                },
                client_address=lockout.attempt.client_address,
                request_id=lockout.attempt.request_id,
                at=self._batched_at(),
            )
        )

    def query(
        self, *, offset: int = 0, limit: int = 100, **where: Unpack[AuditFilter]
    ) -> Page[AuditEvent]:
        """Events matching every filter of ``where``, newest first (see
        AuditStore.query_events); names in ``actor`` and ``target`` are normalised."""
        check_paging(offset, limit)
        kind = check_audit_filter(where).get("kind")
        if kind is not None and kind not in AUDIT_KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(AUDIT_KINDS)}")
        self.flush()
        normalized: AuditFilter = {
            **where,
            "actor": normalize_subject(where.get("actor")),
            "target": normalize_subject(where.get("target")),
        }
        return self._store.query_events(offset=offset, limit=limit, **normalized)

    def prune(self) -> int:
        """Apply the retention bounds now, each kind with its own; returns how many events
        were deleted."""
        retention, now = self._retention, self._clock()
        deleted = 0
        for kind, days, most in (
            ("token", retention.days, retention.max_events),
            ("admin", retention.admin_days, retention.admin_max_events),
        ):
            before = now - timedelta(days=days) if days is not None else None
            deleted += self._store.prune_events(before=before, keep_last=most, kind=kind)
        return deleted

    def _batched_at(self) -> datetime | None:
        """The time of a batched event is its decision's, not its write's."""
        return self._clock() if self._batched is not None else None

    def _record_batched(self, event: AuditEvent) -> None:
        if self._batched is None:
            self._record(event)
        else:
            self._batched.submit(event)

    def _record(self, event: AuditEvent) -> None:
        try:
            self._store.record_event(event)
        except DockitError as exc:
            log.warning("could not record audit event %s: %s", event.action, exc.code)
            return
        self._written(1)

    def _written(self, count: int) -> None:
        """Apply retention once ``prune_every`` events were written by this process."""
        with self._lock:
            self._since_prune += count
            due = self._since_prune >= self._retention.prune_every
            if due:
                self._since_prune = 0
        if due:
            try:
                deleted = self.prune()
            except DockitError as exc:
                log.warning("could not prune the audit log: %s", exc.code)
            else:
                if deleted:
                    log.info("pruned %d audit events", deleted)


def record_change(
    audit: Auditor | None,
    actor: Actor,
    action: str,
    target: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """:meth:`Auditor.change` when there is an audit log (``audit`` None: nothing)."""
    if audit is not None:
        audit.change(actor, action, target, before=before, after=after)
