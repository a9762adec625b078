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

Reading the HTTP request is all this resource does before it asks the library: it turns the
query and the Basic header, or the form, into a :class:`~libdockit.token_request.TokenRequest`,
and :meth:`~libdockit.service.TokenService.handle` checks it, logs in, decides, signs and
records the decision in the audit log (a refused request too: its error is raised again and
answered by the error handlers). A request that cannot be read (a malformed form or Basic
header, a parameter given twice) goes to the library all the same, with what could not be
read, so that it is recorded. A refresh token is accepted wherever a password is (see
:mod:`libdockit.login`), but on this endpoint only for the service it was issued for. Bad
credentials or a bad refresh token are a 401 with the usual error body; too many failed
logins from the client or for the user a 429 ``TOOMANYREQUESTS`` with ``Retry-After`` (see
:mod:`libdockit.throttle`; docker and containerd show the error and do not retry the token
request); a malformed request is a 400, an unknown ``grant_type`` a 400 ``UNSUPPORTED``.
(containerd falls back from POST to GET on 400, 401, 404 and 405, so a client that cannot
do the form flow still gets a token by GET; it does not fall back on 429.)

``req.context.user`` names the user a token was issued to, for the access log. Nothing here
logs or echoes a password or a refresh token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

import falcon

from libdockit.clock import rfc3339
from libdockit.errors import DockitError, InvalidRequest
from libdockit.secret import Secret
from libdockit.service import TokenService
from libdockit.token_request import GET, POST, TokenOutcome, TokenRequest

from .. import client_address
from ..basic_auth import parse_basic
from .token_form import OAuthForm, read_form

#: Answer fields holding tokens: base64url and dots (a JWS) or ``dkr_`` and base64url (a
#: refresh token), nothing JSON escapes, so they are quoted as they are (scanning a 1 KB
#: token for characters to escape cost 2 us, twice per answer).
_TOKEN_FIELDS = frozenset({"token", "access_token", "refresh_token"})


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")


class TokenResource:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def _handle(self, req: falcon.Request, request: TokenRequest) -> TokenOutcome:
        """The library's answer; the user who logged in goes to the access log."""
        outcome = self._tokens.handle(request)
        if outcome.identity is not None:
            req.context.user = outcome.identity.username
        return outcome

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            request = _query_request(req)
        except DockitError as exc:
            request = TokenRequest(
                GET,
                req.get_param("service"),
                _every(req.params, "scope"),
                client_address=client_address.of(req),
                request_id=getattr(req.context, "request_id", None),
                unreadable=exc,
            )
        outcome = self._handle(req, request)
        token = outcome.token
        # answer_json's output for this flat object, written at once (see _TOKEN_FIELDS).
        text = (
            f'{{"token": "{token.token}", "access_token": "{token.token}", '
            f'"expires_in": {token.expires_in:d}, "issued_at": "{_issued_at(token.issued_at)}"'
        )
        if outcome.refresh_token is not None:
            text += f', "refresh_token": "{outcome.refresh_token.reveal()}"'
        _answer(resp, (text + "}").encode())

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = None
        try:
            form = read_form(req)
            request = _form_request(req, form)
        except DockitError as exc:
            request = TokenRequest(
                POST,
                form.once("service") if form is not None else None,
                form.every("scope") if form is not None else (),
                grant_type=form.once("grant_type") if form is not None else None,
                client_address=client_address.of(req),
                request_id=getattr(req.context, "request_id", None),
                unreadable=exc,
            )
        outcome = self._handle(req, request)
        token = outcome.token
        body: dict[str, Any] = {
            "access_token": token.token,
            "scope": " ".join(outcome.decision.granted_texts()),  # format_scopes, unbuilt
            "expires_in": token.expires_in,
            "issued_at": _issued_at(token.issued_at),
        }
        if outcome.refresh_token is not None:
            body["refresh_token"] = outcome.refresh_token.reveal()
        _answer(resp, answer_json(body))


def _query_request(req: falcon.Request) -> TokenRequest:
    """A GET's parameters and Basic credentials (``account`` is read only with them)."""
    params = req.params
    service = _single(params, "service")
    offline = _is_true(_single(params, "offline_token"))
    client_id = _single(params, "client_id")
    credentials = parse_basic(req.env.get("HTTP_AUTHORIZATION"))  # get_header's lookup
    username = password = account = None
    if credentials is not None:
        username, password = credentials
        account = _single(params, "account")
    return TokenRequest(
        GET,
        service,
        _every(params, "scope"),
        username=username,
        password=password,
        account=account,
        offline=offline,
        client_id=client_id,
        client_address=client_address.of(req),
        request_id=getattr(req.context, "request_id", None),
    )


def _form_request(req: falcon.Request, form: OAuthForm) -> TokenRequest:
    """A POST's form fields (the credentials of its grant type only)."""
    grant_type = form.single("grant_type")
    service = form.single("service")
    client_id = form.single("client_id")
    offline = form.single("access_type") == "offline"
    username = password = refresh_token = None
    if grant_type == "password":
        username = form.single("username")
        password = _secret(form.single("password"))
    elif grant_type == "refresh_token":
        refresh_token = _secret(form.single("refresh_token"))
    return TokenRequest(
        POST,
        service,
        form.every("scope"),
        username=username,
        password=password,
        offline=offline,
        client_id=client_id,
        grant_type=grant_type,
        refresh_token=refresh_token,
        client_address=client_address.of(req),
        request_id=getattr(req.context, "request_id", None),
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value is not None else None


def _answer(resp: falcon.Response, data: bytes) -> None:
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("Pragma", "no-cache")
    resp.content_type = falcon.MEDIA_JSON
    resp.data = data


class _IssuedAtText:
    """``rfc3339(moment)``, remembered for the last moment asked: tokens issued within the
    same second (a pull storm) share it, so the conversion runs about once a second rather
    than per token. The pair is replaced whole, so a concurrent request reads a consistent
    one; equal moments are the same instant, whose text is the same."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[datetime | None, str] = (None, "")

    def __call__(self, moment: datetime) -> str:
        last = self._last
        if last[0] == moment:
            return last[1]
        text = rfc3339(moment)
        self._last = (moment, text)
        return text


_issued_at = _IssuedAtText()


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


def _single(params: Mapping[str, str | list[str]], name: str) -> str | None:
    """A query parameter that must not repeat: which of two values would count is a guess."""
    value = params.get(name)
    if isinstance(value, list):
        raise InvalidRequest(f"the '{name}' parameter must be given at most once")
    return value


def _every(params: Mapping[str, str | list[str]], name: str) -> list[str] | tuple[()]:
    """Every value of a query parameter that may repeat (``req.get_param_as_list(name) or
    ()``, read from the parsed query at once)."""
    value = params.get(name)
    if value is None:
        return ()
    return value if isinstance(value, list) else [value]
