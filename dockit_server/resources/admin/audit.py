"""``GET /api/v1/audit``: the audit log, newest first, filtered and paged.

Filters: ``kind`` (admin or token), ``actor`` (e.g. ``user:alice``), ``action`` (exact, or a
prefix ending in ``.*`` such as ``user.*``), ``target``, ``since`` (inclusive) and ``until``
(exclusive) as RFC 3339 times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import falcon

from libdockit.audit import Auditor
from libdockit.errors import NotFound, ValidationError
from libdockit.model import AuditEvent

from . import view_types
from .auth import AdminAuth
from .paging import page_json, read_paging, single_param
from .views import rfc3339

FILTERS = ("kind", "actor", "action", "target", "since", "until")


def event_json(event: AuditEvent) -> dict[str, Any]:
    assert event.id is not None, "a stored event has its id"
    view: view_types.AuditEvent = {
        "id": event.id,
        "at": rfc3339(event.at),
        "kind": event.kind,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
        "client_address": event.client_address,
        "request_id": event.request_id,
    }
    return dict(view)


def _time_param(req: falcon.Request, name: str) -> datetime | None:
    raw = single_param(req, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(name, "must be an RFC 3339 time, e.g. 2024-05-01T12:00:00Z") from None
    if moment.tzinfo is None:
        raise ValidationError(name, "must carry a time zone, e.g. a trailing Z for UTC")
    return moment


class AuditResource:
    def __init__(self, auditor: Auditor | None, auth: AdminAuth) -> None:
        self._auditor = auditor
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        offset, limit = read_paging(req, *FILTERS)
        if self._auditor is None:
            raise NotFound("the audit log is turned off (audit.enabled = false)")
        page = self._auditor.query(
            kind=single_param(req, "kind"),
            actor=single_param(req, "actor"),
            action=single_param(req, "action"),
            target=single_param(req, "target"),
            since=_time_param(req, "since"),
            until=_time_param(req, "until"),
            offset=offset,
            limit=limit,
        )
        resp.media = page_json(page, offset, limit, event_json)
