"""``/v2/token``: the registry token endpoint.

* ``GET`` (distribution's docs/spec/auth/token.md): HTTP Basic credentials, or none for an
  anonymous token. With credentials, ``offline_token=true`` adds a ``refresh_token`` (what
  ``docker login`` stores as ``identitytoken``); ``client_id`` is recorded with it.
* ``POST`` (docs/spec/auth/oauth.md): a form with ``grant_type`` ``password`` (``username``,
  ``password``) or ``refresh_token`` (``refresh_token``), and ``service`` and ``client_id``,
  both required; ``scope`` is one space-separated value (repeating it works too);
  ``access_type=offline`` asks for a refresh token. The answer carries ``access_token``,
  ``scope`` (what was granted), ``expires_in``, ``issued_at`` and, when asked,
  ``refresh_token``: for a ``refresh_token`` grant, the same token (moby stores a new one
  only when it differs).

A refresh token is accepted wherever a password is (see :mod:`libdockit.service`), but on
this endpoint only for the service it was issued for. Bad credentials or a bad refresh token
are a 401 with the usual error body; too many failed logins from the client or for the
user a 429 ``TOOMANYREQUESTS`` with ``Retry-After`` (see :mod:`libdockit.throttle`; docker
and containerd show the error and do not retry the token request); a malformed request is
a 400, an unknown ``grant_type`` a 400 ``UNSUPPORTED``. (containerd falls back from POST to
GET on 400, 401, 404 and 405, so a client that cannot do the form flow still gets a token
by GET; it does not fall back on 429.)

Both methods set ``req.context.user`` to the authenticated user (for access logs) and
``req.context.token_result`` to the :class:`~libdockit.service.TokenResult` (None when no
token was issued), and POST sets ``req.context.token_service`` and
``req.context.grant_type``, for the audit log. Nothing here logs or echoes a password or a
refresh token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

import falcon

from libdockit.errors import InvalidRequest, UnknownService, UnsupportedGrantType
from libdockit.model import Identity
from libdockit.scope import ResourceScope, parse_scopes
from libdockit.secret import Secret
from libdockit.service import Login, TokenResult, TokenService
from libdockit.throttle import Attempt

from .. import client_address
from ..basic_auth import parse_basic
from .token_form import read_form

GRANT_TYPES = ("password", "refresh_token")
#: Answer fields holding tokens: base64url and dots (a JWS) or ``dkr_`` and base64url (a
#: refresh token), nothing JSON escapes, so they are quoted as they are (scanning a 1 KB
#: token for characters to escape cost 2 us, twice per answer).
_TOKEN_FIELDS = frozenset({"token", "access_token", "refresh_token"})


@lru_cache(maxsize=4)  # every token issued in one second shares it: strftime costs more
def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")


class TokenResource:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def _check_service(self, raw: str | None) -> str:
        """The library's check, with the settings on both sides named."""
        try:
            return self._tokens.check_service(raw)
        except UnknownService as exc:
            raise UnknownService(
                f"{exc.message}: the registry sends its auth.token.service "
                "(REGISTRY_AUTH_TOKEN_SERVICE); add that name to Dockit's token.services "
                "(DOCKIT_SERVICES), or set the registry's to one of these",
                detail=exc.detail,
            ) from None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.token_result = None
        service = self._check_service(_single(req, "service"))
        scopes = parse_scopes(req.get_param_as_list("scope") or [])
        offline = _is_true(_single(req, "offline_token"))
        # client_id only matters with offline_token (it is recorded with the refresh token).
        raw_client_id = _single(req, "client_id")
        client_id = self._tokens.check_client_id(raw_client_id) if offline else None
        credentials = parse_basic(req.get_header("Authorization"))
        login: Login | None = None
        if credentials is not None:
            username, password = credentials
            login = self._tokens.login(username, password, service=service, attempt=attempt_of(req))
            req.context.user = login.identity.username
            self._tokens.check_account(login.identity, _single(req, "account"))
        result = self._issue(req, login.identity if login else None, service, scopes)
        body: dict[str, Any] = {
            "token": result.token.token,
            "access_token": result.token.token,
            "expires_in": result.token.expires_in,
            "issued_at": rfc3339(result.token.issued_at),
        }
        if offline and credentials is not None and login is not None:
            self._add_refresh_token(body, login, credentials[1], service, client_id)
        _answer(resp, body)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.token_result = None
        form = read_form(req)
        grant_type = form.required("grant_type")
        if grant_type not in GRANT_TYPES:
            raise UnsupportedGrantType(
                "the 'grant_type' field must be 'password' or 'refresh_token'"
            )
        req.context.grant_type = grant_type
        service = self._check_service(form.required("service"))
        req.context.token_service = service
        client_id = self._tokens.check_client_id(form.required("client_id"))
        scopes = parse_scopes(form.every("scope"))
        req.context.requested_scopes = [scope.format() for scope in scopes]
        offline = form.single("access_type") == "offline"
        if grant_type == "password":
            username = form.required("username")
            req.context.attempted_user = username
            presented = Secret(form.required("password"))
            login = self._tokens.login(
                username, presented, service=service, attempt=attempt_of(req)
            )
        else:
            presented = Secret(form.required("refresh_token"))
            login = self._tokens.redeem_refresh_token(
                presented, service=service, attempt=attempt_of(req)
            )
        req.context.user = login.identity.username
        result = self._issue(req, login.identity, service, scopes)
        body: dict[str, Any] = {
            "access_token": result.token.token,
            "scope": " ".join(result.decision.granted_texts()),  # format_scopes, unbuilt
            "expires_in": result.token.expires_in,
            "issued_at": rfc3339(result.token.issued_at),
        }
        if offline:
            self._add_refresh_token(body, login, presented, service, client_id)
        _answer(resp, body)

    def _issue(
        self,
        req: falcon.Request,
        identity: Identity | None,
        service: str,
        scopes: Sequence[ResourceScope],
    ) -> TokenResult:
        result = self._tokens.issue(identity, service=service, scopes=scopes)
        req.context.token_result = result  # for the audit log
        return result

    def _add_refresh_token(
        self,
        body: dict[str, Any],
        login: Login,
        presented: Secret,
        service: str,
        client_id: str | None,
    ) -> None:
        """The refresh token the caller logged in with, else a new one (when this user can
        hold one); nothing when neither."""
        if login.refresh_token is not None:
            body["refresh_token"] = presented.reveal()
            return
        issued = self._tokens.issue_refresh_token(
            login.identity, service=service, client_id=client_id
        )
        if issued is not None:
            body["refresh_token"] = issued.reveal()


def attempt_of(req: falcon.Request) -> Attempt:
    """Where this login attempt comes from, for the failed-login throttle."""
    return Attempt(client_address.of(req), req.context.get("request_id"))


def _answer(resp: falcon.Response, body: dict[str, Any]) -> None:
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("Pragma", "no-cache")
    resp.content_type = falcon.MEDIA_JSON
    resp.data = answer_json(body)


def answer_json(body: dict[str, Any]) -> bytes:
    """The answer's flat object of strings and integers as ``json.dumps(body,
    ensure_ascii=False)`` writes it (what falcon's media handler sent)."""
    members = []
    for name, value in body.items():
        if isinstance(value, int):
            text = str(value)
        elif name in _TOKEN_FIELDS:
            text = f'"{value}"'
        else:
            text = encode_basestring(value)
        members.append(f"{encode_basestring(name)}: {text}")
    return ("{" + ", ".join(members) + "}").encode()


def _single(req: falcon.Request, name: str) -> str | None:
    """A query parameter that must not repeat: which of two values would count is a guess."""
    value = req.params.get(name)
    if isinstance(value, list):
        raise InvalidRequest(f"the '{name}' parameter must be given at most once")
    return value
