"""A registry token request as the client sent it, what answering it gave, and the checks
of its fields.

Two kinds of request (see :meth:`libdockit.service.TokenService.handle`):

* ``GET`` (distribution's docs/spec/auth/token.md): ``service``, ``scope``, ``account``,
  and credentials (HTTP Basic) or none for an anonymous token; ``offline_token=true`` asks
  for a refresh token, recorded with ``client_id``.
* ``POST`` (docs/spec/auth/oauth.md): a form with ``grant_type`` ``password`` (``username``,
  ``password``) or ``refresh_token`` (``refresh_token``), and ``service`` and ``client_id``,
  both required; ``access_type=offline`` asks for a refresh token.

The records are slotted but not frozen: one is built per request, and a frozen
dataclass's ``__init__`` (``object.__setattr__`` per field) costs 1.3 us more for
:class:`TokenRequest`. Treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .errors import DockitError, InvalidRequest, UnknownService
from .model import Identity, normalize_name
from .policy import Decision
from .secret import Secret
from .tokens import IssuedToken

GET = "GET"
POST = "POST"
GRANT_TYPES = ("password", "refresh_token")
MAX_SERVICE_LENGTH = 255
MAX_CLIENT_ID_LENGTH = 255

_Value = TypeVar("_Value", str, Secret)


@dataclass(slots=True)
class TokenRequest:
    """What a client sent, as sent: :meth:`~libdockit.service.TokenService.handle` checks
    every field (in the order the answer depends on) and records the decision.

    ``method``: ``GET`` or ``POST`` (see the module docs), recorded with the decision.
    ``scopes``: the ``scope`` values (each may hold several, space-separated).
    ``username`` and ``password``: the credentials of a GET (both None: anonymous; the
    username may be empty, as containerd sends it with a refresh token), or of a POST
    password grant. ``refresh_token``: a POST refresh-token grant's token. ``offline``:
    ``offline_token=true`` (GET) or ``access_type=offline`` (POST). ``client_address`` and
    ``request_id``: where it came from, for the failed-login throttle and the audit log.
    ``unreadable``: what the layer that read the request could not read (a malformed form,
    Basic header or repeated parameter); the request is refused with it, and recorded.
    """

    method: str = GET
    service: str | None = None
    scopes: Sequence[str] = ()
    username: str | None = None
    password: Secret | None = None
    account: str | None = None
    offline: bool = False
    client_id: str | None = None
    grant_type: str | None = None
    refresh_token: Secret | None = None
    client_address: str | None = None
    request_id: str | None = None
    unreadable: DockitError | None = None


@dataclass(slots=True)
class TokenOutcome:
    """An issued token: ``identity`` None for an anonymous one; ``refresh_token`` when one
    was asked for and this user can hold one (the one the client logged in with, if it
    did)."""

    token: IssuedToken
    decision: Decision
    identity: Identity | None
    refresh_token: Secret | None = None


def required(value: _Value | None, name: str) -> _Value:
    """A POST form field that must be sent and not be empty."""
    if not value:
        raise InvalidRequest(f"the '{name}' field is required")
    return value


def check_service(service: str | None, served: frozenset[str], hint: str = "") -> str:
    """``service`` if it is a well-formed name on the allow-list ``served`` (empty: any);
    ``hint`` ends the message of an UnknownService (e.g. which settings to change)."""
    if not service:
        raise InvalidRequest("the 'service' parameter is required")
    if len(service) > MAX_SERVICE_LENGTH or not service.isprintable():
        raise InvalidRequest("the 'service' parameter is not a valid service name")
    if served and service not in served:
        names = sorted(served)
        raise UnknownService(
            f"service {service!r} is not one this Dockit serves ({', '.join(names)}){hint}",
            detail={"service": service, "served": names},
        )
    return service


def check_client_id(client_id: str | None) -> str | None:
    """``client_id`` (RFC 6749 appendix A.1: printable ASCII), or None if not sent."""
    if client_id is None:
        return None
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidRequest(
            f"the 'client_id' parameter must be 1 to {MAX_CLIENT_ID_LENGTH} characters"
        )
    if any(not " " <= char <= "~" for char in client_id):
        raise InvalidRequest("the 'client_id' parameter must be printable ASCII")
    return client_id


def check_account(identity: Identity, account: str | None) -> None:
    """The legacy ``account`` parameter must name the authenticated user, if sent."""
    if account and normalize_name(account) != identity.username:
        raise InvalidRequest("the 'account' parameter does not match the authenticated user")
