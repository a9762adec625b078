"""``GET /api/v1/audit``: the audit log, newest first, filtered and paged.

The filters are :class:`libdockit.model.AuditFilter`'s, as query parameters of the same
names; times are RFC 3339.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import falcon

from libdockit.audit import Auditor
from libdockit.errors import NotFound, ValidationError
from libdockit.model import AUDIT_FILTERS, AuditEvent, AuditFilter

from . import view_types
from .auth import AdminAuth, AdminResource, admin_only
from .paging import page_json, read_paging, single_param
from .views import rfc3339

FILTERS = tuple(field.name for field in AUDIT_FILTERS)


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


@admin_only
class AuditResource(AdminResource):
    def __init__(self, auditor: Auditor | None, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._auditor = auditor

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req, *FILTERS)
        if self._auditor is None:
            raise NotFound("the audit log is turned off (audit.enabled = false)")
        page = self._auditor.query(offset=offset, limit=limit, **_filters(req))
        resp.media = page_json(page, offset, limit, event_json)


def _filters(req: falcon.Request) -> AuditFilter:
    return cast(
        AuditFilter,
        {
            field.name: _time_param(req, field.name)
            if field.type is datetime
            else single_param(req, field.name)
            for field in AUDIT_FILTERS
        },
    )
