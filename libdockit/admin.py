"""Admin operations with validation: what the Admin API and embedding apps call to change
users, groups and grants. Names are normalised and checked here, new passwords checked
against the password policy (:mod:`libdockit.password_policy`) and hashed here, so stores
only ever see clean values.

Refresh tokens are revoked here too: setting a user's password, or disabling them, deletes
every refresh token they hold (deleting a user takes their tokens along in the store). The
refresh token store defaults to the user store when it is one (every Dockit backend is), so
no caller can forget it. Likewise a new password clears the user's failed-login counter (see
:mod:`libdockit.throttle`): the user is no longer blocked, and a password they tried before
it was set is checked again rather than refused as a wrong one repeated.

Every change names who makes it (``actor``, an :class:`~libdockit.audit.Actor`) and is
recorded in the audit log when the service has one: the action (``user.create``,
``group.member.add`` ...), the target, and the views (:mod:`libdockit.views`) of the thing
before and after the change, as the Admin API shows them. So a change is audited whoever
makes it: the Admin API, ``dockit bootstrap-admin``, the first admin made at start or an
app embedding the library. A password is never recorded (``user.password`` shows no state),
nor a grant's or key's secret (their views have none)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .audit import Actor, Auditor, record_change
from .backends.base import GrantStore, LoginFailureStore, RefreshTokenStore, UserStore
from .backends.credential_store import AccessCredentialStore
from .errors import Conflict, DockitError, NotFound, ValidationError
from .grant_checks import check_grant
from .model import (
    LOCAL_SOURCE,
    AddedGrant,
    Grant,
    Group,
    Page,
    RefreshToken,
    User,
    normalize_actions,
    parse_subject,
    validate_name,
    validate_resource_type,
)
from .paging import check_paging
from .password_policy import PasswordPolicy
from .passwords import PasswordHasher
from .patterns import compile_pattern
from .secret import Secret
from .throttle import USER_KEY
from .views import grant_view, group_view, user_view

if TYPE_CHECKING:  # only named: federation imports the token path
    from .federation.admin import TrustPolicyAdmin

MAX_TOKEN_ID_LENGTH = 128


def parse_grant_scope(text: str) -> tuple[str, str, tuple[str, ...]]:
    """Split ``type:pattern:actions`` (e.g. ``repository:team/*:pull,push``) into its parts.

    Like a registry scope, the type ends at the first ``:`` and the actions start after the
    last one, so patterns may name ``host:port/`` resources.
    """
    first, last = text.find(":"), text.rfind(":")
    if first < 0 or first == last:
        raise ValidationError("scope", "must be of the form type:pattern:actions")
    resource_type = validate_resource_type(text[:first])
    pattern = text[first + 1 : last]
    compile_pattern(pattern)
    return resource_type, pattern, normalize_actions(text[last + 1 :])


class AdminService:
    def __init__(
        self,
        users: UserStore,
        grants: GrantStore,
        hasher: PasswordHasher,
        refresh_tokens: RefreshTokenStore | None = None,
        *,
        directory: str | None = None,
        login_failures: LoginFailureStore | None = None,
        password_policy: PasswordPolicy | None = None,
        audit: Auditor | None = None,
        trust_policies: TrustPolicyAdmin | None = None,
    ) -> None:
        """``directory`` names a directory (e.g. ``"LDAP"``) whose users and groups are
        real grant subjects without a local row (see :mod:`libdockit.grant_checks`).
        ``audit`` records every change; None records nothing. ``trust_policies`` manages
        workload-identity trust policies (see :mod:`libdockit.federation.admin`)."""
        self.users = users
        self.directory = directory
        self.grants = grants
        self.hasher = hasher
        self.password_policy = password_policy or PasswordPolicy()
        if refresh_tokens is None and isinstance(users, RefreshTokenStore):
            refresh_tokens = users
        self.refresh_tokens = refresh_tokens
        if login_failures is None and isinstance(users, LoginFailureStore):
            login_failures = users
        self.login_failures = login_failures
        #: Robots share login names with local users (see :mod:`libdockit.credential_admin`).
        self.robots = users if isinstance(users, AccessCredentialStore) else None
        self.audit = audit
        self.trust_policies = trust_policies

    # -- users --------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        password: Secret,
        *,
        actor: Actor,
        is_admin: bool = False,
        enabled: bool = True,
    ) -> User:
        name = validate_name(username, field_name="username")
        self.password_policy.check(password)
        if (
            self.robots is not None
            and self.robots.list_access_credentials(kind="robot", name=name, limit=1).items
        ):
            raise Conflict(
                f"a robot account is named {name!r}: users and robots share login names "
                "(docker login -u NAME), so pick another name",
                detail={"username": name},
            )
        password_hash = self.hasher.hash(password)
        user = self.users.create_user(name, password_hash, is_admin=is_admin, enabled=enabled)
        record_change(
            self.audit, actor, "user.create", f"user:{user.username}", after=user_view(user)
        )
        return user

    def get_user(self, username: str) -> User:
        return self.users.get_user(validate_name(username, field_name="username"))

    def list_users(self, *, offset: int = 0, limit: int = 100) -> Page[User]:
        check_paging(offset, limit)
        return self.users.list_users(offset=offset, limit=limit)

    def set_password(self, username: str, password: Secret, *, actor: Actor) -> None:
        name = validate_name(username, field_name="username")
        self.password_policy.check(password)
        self.users.get_user(name)
        self.users.set_password_hash(name, self.hasher.hash(password))
        self._revoke_all(name)
        if self.login_failures is not None:
            self.login_failures.clear_login_failures(USER_KEY + name)
        record_change(self.audit, actor, "user.password", f"user:{name}")

    def update_user(
        self,
        username: str,
        *,
        actor: Actor,
        enabled: bool | None = None,
        is_admin: bool | None = None,
    ) -> User:
        name = validate_name(username, field_name="username")
        user = before = self.users.get_user(name)
        if enabled is not None:
            user = self.users.set_user_enabled(name, enabled)
            if not enabled:
                self._revoke_all(name)
        if is_admin is not None:
            user = self.users.set_user_admin(name, is_admin)
        if enabled is not None or is_admin is not None:
            record_change(
                self.audit,
                actor,
                "user.update",
                f"user:{name}",
                before=user_view(before),
                after=user_view(user),
            )
        return user

    def delete_user(self, username: str, *, actor: Actor) -> None:
        name = validate_name(username, field_name="username")
        before = self._view(lambda: user_view(self.users.get_user(name)))
        self.users.delete_user(name)
        record_change(self.audit, actor, "user.delete", f"user:{name}", before=before)

    # -- refresh tokens -------------------------------------------------------------------
    def list_refresh_tokens(
        self, username: str, *, offset: int = 0, limit: int = 100
    ) -> Page[RefreshToken]:
        """A user's refresh tokens (a local user's, or a directory user's of that name),
        newest first; NotFound for a name that is neither a local user nor holds a token."""
        name = validate_name(username, field_name="username")
        check_paging(offset, limit)
        page: Page[RefreshToken] = Page()
        if self.refresh_tokens is not None:
            page = self.refresh_tokens.list_refresh_tokens(
                username=name, offset=offset, limit=limit
            )
        if page.total == 0:
            self.users.get_user(name)
        return page

    def revoke_user_refresh_tokens(self, username: str, *, actor: Actor) -> int:
        """Revoke every refresh token of a name (local and directory user alike); how many
        there were. NotFound for a name that is neither a local user nor held a token."""
        name = validate_name(username, field_name="username")
        before = self._view(lambda: user_view(self.users.get_user(name)))
        revoked = self._revoke_all(name, source=None)
        if revoked == 0:
            self.users.get_user(name)
        record_change(
            self.audit,
            actor,
            "user.refresh_tokens.revoke",
            f"user:{name}",
            before=before,
            after={"username": name, "revoked": revoked},
        )
        return revoked

    def revoke_refresh_token(self, token_id: str, *, actor: Actor) -> RefreshToken:
        """Revoke one refresh token by its public id; NotFound if there is none."""
        if not token_id or len(token_id) > MAX_TOKEN_ID_LENGTH or not token_id.isprintable():
            raise ValidationError("token_id", "is not a refresh token id")
        if self.refresh_tokens is None:
            raise NotFound(f"refresh token {token_id!r} not found")
        revoked = self.refresh_tokens.revoke_refresh_token(token_id)
        record_change(self.audit, actor, "refresh_token.revoke", f"refresh_token:{token_id}")
        return revoked

    def _revoke_all(self, username: str, *, source: str | None = LOCAL_SOURCE) -> int:
        """A local user's tokens by default (a new password, a disabled account)."""
        if self.refresh_tokens is None:
            return 0
        return self.refresh_tokens.revoke_user_refresh_tokens(username, source=source)

    # -- groups -------------------------------------------------------------------------
    def create_group(self, name: str, *, actor: Actor, enabled: bool = True) -> Group:
        group = self.users.create_group(validate_name(name), enabled=enabled)
        record_change(
            self.audit, actor, "group.create", f"group:{group.name}", after=group_view(group)
        )
        return group

    def get_group(self, name: str) -> Group:
        return self.users.get_group(validate_name(name))

    def list_groups(self, *, offset: int = 0, limit: int = 100) -> Page[Group]:
        check_paging(offset, limit)
        return self.users.list_groups(offset=offset, limit=limit)

    def set_group_enabled(self, name: str, enabled: bool, *, actor: Actor) -> Group:
        return self._change_group(
            actor, "group.update", name, lambda group: self.users.set_group_enabled(group, enabled)
        )

    def delete_group(self, name: str, *, actor: Actor) -> None:
        group = validate_name(name)
        before = self._view(lambda: group_view(self.users.get_group(group)))
        self.users.delete_group(group)
        record_change(self.audit, actor, "group.delete", f"group:{group}", before=before)

    def add_member(self, group: str, username: str, *, actor: Actor) -> Group:
        return self._change_group(
            actor,
            "group.member.add",
            group,
            lambda name: self.users.add_member(
                name, validate_name(username, field_name="username")
            ),
        )

    def remove_member(self, group: str, username: str, *, actor: Actor) -> Group:
        return self._change_group(
            actor,
            "group.member.remove",
            group,
            lambda name: self.users.remove_member(
                name, validate_name(username, field_name="username")
            ),
        )

    def _change_group(
        self, actor: Actor, action: str, name: str, change: Callable[[str], Group]
    ) -> Group:
        group = validate_name(name)
        before = self._view(lambda: group_view(self.users.get_group(group)))
        changed = change(group)
        record_change(
            self.audit, actor, action, f"group:{group}", before=before, after=group_view(changed)
        )
        return changed

    # -- grants -------------------------------------------------------------------------
    def add_grant(
        self,
        subject: str,
        resource_type: str,
        pattern: str,
        actions: object,
        *,
        actor: Actor,
        allow_unknown_type: bool = False,
    ) -> AddedGrant:
        """Store a grant; refuse one that could never match (see
        :mod:`libdockit.grant_checks`), unless only its type is unknown and
        ``allow_unknown_type`` says that is deliberate."""
        compile_pattern(pattern)
        grant = Grant(
            subject=parse_subject(subject),
            resource_type=validate_resource_type(resource_type),
            pattern=pattern,
            actions=normalize_actions(actions),
        )
        notes = check_grant(
            grant,
            self.users,
            allow_unknown_type=allow_unknown_type,
            directory=self.directory,
            robots=self.robots,
        )
        added = AddedGrant(self.grants.add_grant(grant), notes)
        after = grant_view(added.grant)
        if notes:
            after["notes"] = list(notes)
        record_change(self.audit, actor, "grant.create", f"grant:{added.grant.id}", after=after)
        return added

    def add_grant_from_scope(
        self, subject: str, scope: str, *, actor: Actor, allow_unknown_type: bool = False
    ) -> AddedGrant:
        resource_type, pattern, actions = parse_grant_scope(scope)
        return self.add_grant(
            subject,
            resource_type,
            pattern,
            list(actions),
            actor=actor,
            allow_unknown_type=allow_unknown_type,
        )

    def get_grant(self, grant_id: int) -> Grant:
        return self.grants.get_grant(grant_id)

    def list_grants(
        self, *, subject: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[Grant]:
        check_paging(offset, limit)
        wanted = parse_subject(subject) if subject is not None else None
        return self.grants.list_grants(subject=wanted, offset=offset, limit=limit)

    def delete_grant(self, grant_id: int, *, actor: Actor) -> None:
        before = self._view(lambda: grant_view(self.grants.get_grant(grant_id)))
        self.grants.delete_grant(grant_id)
        record_change(self.audit, actor, "grant.delete", f"grant:{grant_id}", before=before)

    # -- the audit log ------------------------------------------------------------------
    def _view(self, read: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The view of a thing before a change, when there is an audit log to record it;
        None when there is none, or the thing cannot be read (the change itself then
        answers the error: NotFound, BackendUnavailable ...)."""
        if self.audit is None:
            return None
        try:
            return read()
        except DockitError:
            return None
