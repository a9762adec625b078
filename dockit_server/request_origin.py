"""Where a request comes from, in the library's terms: the client address (see
:mod:`.client_address`) and the request id, for the failed-login throttle (an
:class:`~libdockit.throttle.Attempt`) and the audit log (a :class:`~libdockit.audit.RequestInfo`).
"""

from __future__ import annotations

import falcon

from libdockit.audit import RequestInfo
from libdockit.throttle import Attempt

from . import client_address


def attempt_of(req: falcon.Request) -> Attempt:
    """Where this login attempt comes from, for the failed-login throttle."""
    return Attempt(client_address.of(req), req.context.get("request_id"))


def request_info(req: falcon.Request) -> RequestInfo:
    """Where this request comes from, for the audit log."""
    return RequestInfo(
        client_address=client_address.of(req), request_id=req.context.get("request_id")
    )
