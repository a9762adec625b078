"""TokenService: answers a registry token request, from what the client sent to the signed
token, and records the decision in the audit log.

:meth:`TokenService.handle` is the one call the server's token endpoint (and an embedding
application) makes: it checks the service once, logs in (a password or a refresh token
through :class:`~libdockit.login.Logins`, or nobody for an anonymous token), checks the
account, decides what the caller's grants allow, signs, makes or returns a refresh token
when asked, and records the decision, a refused request included: a DockitError (or any
other failure) is recorded and raised again, so the caller answers it as every other error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

from .audit import Auditor, RequestInfo, TokenVia
from .backends.base import Authenticator, GrantSource, GroupSource
from .decision_memo import DecisionMemo, PreparedDecision, prepared, rememberable
from .delegation import (
    CredentialRefused,
    CredentialUnavailable,
    Delegation,
    narrow,
)
from .errors import DockitError, UnsupportedGrantType, ValidationError
from .explain import Explanation, explain_decision
from .keys.ring import KeyRing
from .login import CredentialExchange, Login, Logins
from .model import ANONYMOUS, USER_PREFIX, Grant, Identity, validate_name
from .policy import Decision, decide, subjects_for
from .refresh import RefreshTokens
from .scope import ResourceScope, parse_scopes
from .secret import Secret
from .throttle import Attempt, LoginThrottle
from .token_request import (
    GRANT_TYPES,
    POST,
    TokenOutcome,
    TokenRequest,
    check_account,
    check_client_id,
    check_service,
    required,
)
from .tokens import TokenSigner

#: The password of credentials sent with a username alone (refused as incomplete).
_NO_PASSWORD = Secret("")
#: Statuses of a refusal for the credentials sent: the audit log names who they claimed.
_REFUSED_LOGINS = (401, 429)


class TokenService:
    """Authenticates callers and issues registry tokens for what their grants allow.

    ``services`` is the allow-list of registry service names tokens may be issued for;
    empty means any service; ``unknown_service_hint`` ends the message of a request for
    another one (e.g. which settings to change). ``groups`` tells which groups a user is in
    without their password, for :meth:`explain`; without it explanations consider no
    groups. ``refresh_tokens`` turns refresh tokens on; without it none are issued or
    accepted. ``throttle`` limits failed logins. ``audit`` records every token decision
    (None: none are). ``while_waiting`` is entered while a login waits for the same
    credentials' check in another request (see :mod:`libdockit.single_flight`).
    ``exchanges`` log in with credentials other than passwords (robot and personal token
    secrets, federated tokens; see :mod:`libdockit.delegation`): such a login gets what its
    :class:`~libdockit.delegation.Delegation` allows, for its lifetime, never a refresh token.
    """

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        grants: GrantSource,
        keys: KeyRing,
        signer: TokenSigner,
        services: Sequence[str] = (),
        groups: GroupSource | None = None,
        refresh_tokens: RefreshTokens | None = None,
        throttle: LoginThrottle | None = None,
        audit: Auditor | None = None,
        unknown_service_hint: str = "",
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
        exchanges: Sequence[CredentialExchange] = (),
    ) -> None:
        self._logins = Logins(
            authenticator,
            refresh_tokens=refresh_tokens,
            throttle=throttle,
            while_waiting=while_waiting,
            exchanges=exchanges,
        )
        self._grants = grants
        self._keys = keys
        self._signer = signer
        self._services = frozenset(services)
        self._service_hint = unknown_service_hint
        self._groups = groups
        self._refresh = refresh_tokens
        self._audit = audit
        self._memo = DecisionMemo()

    @property
    def keys(self) -> KeyRing:
        return self._keys

    @property
    def refresh_tokens(self) -> RefreshTokens | None:
        return self._refresh

    @property
    def logins(self) -> Logins:
        """Where passwords and refresh tokens are checked (see :mod:`libdockit.login`)."""
        return self._logins

    def handle(self, request: TokenRequest) -> TokenOutcome:
        """Answer a token request (see :mod:`libdockit.token_request`) and record the
        decision: the issued token, or the DockitError to answer with (raised again once
        recorded). Fields are checked in a fixed order, so the error of a request with
        several faults does not depend on anything else."""
        login: Login | None = None
        try:
            if request.unreadable is not None:
                raise request.unreadable
            if request.method == POST:
                grant_type = required(request.grant_type, "grant_type")
                if grant_type not in GRANT_TYPES:
                    raise UnsupportedGrantType(
                        "the 'grant_type' field must be 'password' or 'refresh_token'"
                    )
                service = self._check_service(required(request.service, "service"))
                client_id = check_client_id(required(request.client_id, "client_id"))
                scopes = parse_scopes(request.scopes)
                login = self._grant(request, grant_type, service)
            else:
                service = self._check_service(request.service)
                scopes = parse_scopes(request.scopes)
                client_id = check_client_id(request.client_id) if request.offline else None
                if request.password is not None or request.username is not None:
                    login = self._logins.login(
                        request.username or "",
                        request.password or _NO_PASSWORD,
                        service=service,
                        attempt=Attempt(request.client_address, request.request_id),
                    )
                    check_account(login.identity, request.account)
            identity = login.identity if login is not None else None
            delegation = login.delegation if login is not None else None
            if delegation is None:
                ready = self._prepared_decision(identity, scopes, request.scopes)
                subject = identity.username if identity is not None else ""
                lifetime = None
            else:
                assert identity is not None  # a delegation comes with a login
                ready = self._prepared_delegated(identity, delegation, scopes, request.scopes)
                subject = delegation.token_subject or identity.username
                lifetime = delegation.token_lifetime
            decision = ready.decision
            token = self._signer.sign(
                self._keys.signing_key(),  # the signer checks the certificate's end
                subject=subject,
                audience=service,
                access_claim=ready.access_json,
                lifetime=lifetime,
            )
            refresh_token = (
                self._refresh_token(request, login, service, client_id)
                if request.offline and login is not None and delegation is None
                else None
            )
        except Exception as exc:
            if self._audit is not None:
                self._record_refusal(self._audit, request, exc, login)
            raise
        if self._audit is not None:
            self._audit.token_decision(
                actor=decision.subject,
                service=service,
                requested=ready.requested,
                granted=ready.granted,
                outcome="issued",
                via=TokenVia(request.method, request.grant_type),
                request=RequestInfo(request.client_address, request.request_id),
                credential=delegation.audit_detail() if delegation is not None else None,
            )
        return TokenOutcome(token, decision, identity, refresh_token)

    def _check_service(self, service: str | None) -> str:
        return check_service(service, self._services, self._service_hint)

    def _grant(self, request: TokenRequest, grant_type: str, service: str) -> Login:
        """The login of a POST's grant: a password, or a refresh token."""
        attempt = Attempt(request.client_address, request.request_id)
        if grant_type == "password":
            username = required(request.username, "username")
            password = required(request.password, "password")
            return self._logins.login(username, password, service=service, attempt=attempt)
        value = required(request.refresh_token, "refresh_token")
        return self._logins.redeem_refresh_token(value, service=service, attempt=attempt)

    def _refresh_token(
        self, request: TokenRequest, login: Login, service: str, client_id: str | None
    ) -> Secret | None:
        """The refresh token the caller logged in with, else a new one (when this user can
        hold one); None when neither."""
        if login.refresh_token is not None:
            return request.refresh_token if request.refresh_token is not None else request.password
        if self._refresh is None:
            return None
        issued = self._refresh.issue(login.identity, service=service, client_id=client_id)
        return None if issued is None else issued.value

    @staticmethod
    def _record_refusal(
        audit: Auditor, request: TokenRequest, error: Exception, login: Login | None
    ) -> None:
        """What was asked, by whom (the user who logged in, or for a refused login the one
        claimed), and why it was refused, as the client was told (nothing of a 500)."""
        if isinstance(error, DockitError):
            status, reason = error.http_status, error.code
            message = error.message if status != 500 else "internal error"
        else:
            status, reason, message = 500, None, "internal error"
        credential = None
        if login is not None and login.delegation is not None:
            actor = login.delegation.actor
            credential = login.delegation.audit_detail()
        elif login is not None:
            actor = USER_PREFIX + login.identity.username
        elif isinstance(error, (CredentialRefused, CredentialUnavailable)):
            actor = error.actor or _claimed(request.username)
            credential = error.credential
        elif status in _REFUSED_LOGINS:
            actor = _claimed(request.username)
        else:
            actor = ANONYMOUS
        grant_type = request.grant_type if request.grant_type in GRANT_TYPES else None
        audit.token_decision(
            actor=actor,
            service=request.service,
            requested=[part for value in request.scopes for part in value.split()],
            granted=None,
            outcome=f"refused ({status})",
            reason=reason,
            message=message,
            via=TokenVia(request.method, grant_type),
            request=RequestInfo(request.client_address, request.request_id),
            credential=credential,
        )

    def authenticate(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        """The caller's identity; AuthenticationFailed for bad credentials (see
        :meth:`libdockit.login.Logins.authenticate`)."""
        return self._logins.authenticate(username, password, attempt=attempt)

    def authenticate_admin(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        """An admin's identity; PermissionDenied for any other user (see
        :meth:`libdockit.login.Logins.authenticate_admin`)."""
        return self._logins.authenticate_admin(username, password, attempt=attempt)

    def decide(self, identity: Identity | None, scopes: Sequence[ResourceScope]) -> Decision:
        """What ``identity`` (None: anonymous) gets for ``scopes``, with matching grants."""
        if not scopes:
            subject = ANONYMOUS if identity is None else USER_PREFIX + identity.username
            return Decision(subject=subject, scopes=())
        subjects = subjects_for(identity)
        return decide(identity, self._grants.grants_for_subjects(subjects), scopes, subjects)

    def _prepared_decision(
        self, identity: Identity | None, scopes: Sequence[ResourceScope], texts: Sequence[str]
    ) -> PreparedDecision:
        """:meth:`decide`, prepared for a token, remembered while the caller's grants stay
        the same objects (see :mod:`libdockit.decision_memo`); ``texts``: the scope values
        as the request sent them, which ``scopes`` were parsed from."""
        if not scopes:
            return prepared(self.decide(identity, scopes))
        subjects = subjects_for(identity)
        grants = self._grants.grants_for_subjects(subjects)
        return self._memo.decide(identity, grants, scopes, subjects, tuple(texts))

    def _prepared_delegated(
        self,
        identity: Identity,
        delegation: Delegation,
        scopes: Sequence[ResourceScope],
        texts: Sequence[str],
    ) -> PreparedDecision:
        """:meth:`decide_delegated`, prepared, and remembered like :meth:`_prepared_decision`
        when the grants are stored ones (a trust policy's, filled from each token's claims,
        are new objects every time)."""
        texts = tuple(texts)
        if not scopes or delegation.grants is not None or not rememberable(texts):
            return prepared(self.decide_delegated(identity, delegation, scopes))
        subjects = (
            delegation.subjects if delegation.subjects is not None else subjects_for(identity)
        )
        grants = self._grants.grants_for_subjects(subjects)
        key = (
            texts,
            subjects,
            delegation.actor,
            delegation.scopes,
            delegation.pattern_user or identity.username,
        )
        return self._memo.remember(
            key,
            grants,
            lambda: prepared(self._narrowed(identity, delegation, scopes, subjects, grants)),
        )

    def decide_delegated(
        self, identity: Identity, delegation: Delegation, scopes: Sequence[ResourceScope]
    ) -> Decision:
        """What a delegated login (see :mod:`libdockit.delegation`) gets for ``scopes``: the
        grants it names (or those of the subjects it names), narrowed by its scopes, with
        its actor as the decision's subject."""
        subjects = (
            delegation.subjects if delegation.subjects is not None else subjects_for(identity)
        )
        if not scopes:
            return Decision(subject=delegation.actor, scopes=())
        grants = (
            delegation.grants
            if delegation.grants is not None
            else self._grants.grants_for_subjects(subjects)
        )
        return self._narrowed(identity, delegation, scopes, subjects, grants)

    @staticmethod
    def _narrowed(
        identity: Identity,
        delegation: Delegation,
        scopes: Sequence[ResourceScope],
        subjects: Sequence[str],
        grants: Sequence[Grant],
    ) -> Decision:
        if delegation.pattern_user is not None:
            identity = replace(identity, username=delegation.pattern_user)
        decision = narrow(
            decide(identity, grants, scopes, subjects), delegation.scopes, identity.username
        )
        return Decision(delegation.actor, decision.scopes)

    def explain(self, username: str | None, scopes: Sequence[ResourceScope]) -> Explanation:
        """What ``username`` (None: anonymous) would be granted for ``scopes``, and why.

        Uses the user's current groups; it does not check that the user could log in.
        """
        identity = None
        if username is not None:
            name = validate_name(username, field_name="user")
            groups = self._groups.groups_for(name) if self._groups is not None else ()
            identity = Identity(username=name, groups=groups)
        return explain_decision(identity, self.decide(identity, scopes))


def _claimed(username: str | None) -> str:
    """The subject of the user a refused login claimed to be (never its password)."""
    if not username:
        return ANONYMOUS
    try:
        return USER_PREFIX + validate_name(username)
    except ValidationError:
        return ANONYMOUS
