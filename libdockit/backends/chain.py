"""Try several authenticators in order: local users first (robots, break-glass), then LDAP.

:class:`ChainAuthenticator` implements :class:`~libdockit.backends.base.Authenticator` and
:class:`~libdockit.backends.base.GroupSource`.

Local users and directory users of the same name (``local_users``, ``local_users_shadow``):

* ``local_users_shadow=False`` (the default): every authenticator is asked in turn and the
  first that accepts the password wins. A local user ``alice`` and a directory user ``alice``
  can both log in, each with their own password; a wrong or disabled local account does not
  stop the directory from being asked. Either way the token is for ``user:alice``.
* ``local_users_shadow=True``: a name that exists as a local user is decided by the local
  store alone. A wrong password, or a disabled local user, is "bad credentials" and the
  directory is never asked about that name.

The first authenticator answers for ``local_users`` (a LocalAuthenticator over that store).

"Cannot tell" never becomes "no": when an authenticator raises BackendUnavailable the chain
goes on (unless shadowing means the answer must come from the one that failed) and, if no
later authenticator accepts the password, raises that error instead of returning None. So
"no such local user" plus "directory down" is BackendUnavailable (503), not 401.

Response times (``equalize``): a local authenticator on its own spends a dummy password
verify on a name it does not know, so that timing does not tell which names are local
users. In front of a directory that would put the slow hash on every directory login, so
the server builds it with ``equalize_unknown=False`` and passes its
:meth:`~libdockit.backends.local.LocalAuthenticator.dummy_verify` here instead. The chain
calls ``equalize`` once when no authenticator accepted the login, whether it then returns
None or raises BackendUnavailable, unless the name is a local user (whose password the
local authenticator already verified against the real hash). So every refused login costs
about one verify: an unknown name, a wrong directory password, a wrong local password, a
directory outage; a directory login that succeeds (whether the directory was asked or its
password cache answered) costs none. Without ``local_users`` the chain cannot tell, and
``equalize`` is called on every refusal. Not called: when the local store fails under
shadowing (the chain raises at once, as before anything is verified).

Groups of identities from other sources (the directory) are checked against ``local_users``:
a local group of the same name that is *disabled* is dropped from the identity, so disabling
``developers`` in Dockit switches off ``group:developers`` grants for directory members too.
Every other directory group counts (directory groups have no disabled state). Whether a
directory user is an admin (``admin_group``) is the directory's word alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from ..errors import BackendUnavailable, ValidationError
from ..model import LOCAL_SOURCE, Identity, LoginRecord, validate_name
from ..secret import Secret
from .base import Authenticator, GroupSource, RememberingAuthenticator, UserStore


@runtime_checkable
class RemembersRecords(Protocol):
    """A local authenticator that can tell a remembered password from a record read already."""

    def remembered_for(self, record: LoginRecord, password: Secret) -> Identity | None: ...


@runtime_checkable
class DirectoryIdentities(Protocol):
    """An authenticator that can tell who one of its users is without their password."""

    source: str

    def identity_for(self, username: str) -> Identity | None: ...


class ChainAuthenticator:
    """See the module docs. ``groups`` lists, in order, where :meth:`groups_for` looks for
    users that are not local (defaults to the authenticators that are GroupSources);
    ``equalize`` spends the time of one password verify when no authenticator accepted."""

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        *,
        local_users: UserStore | None = None,
        local_users_shadow: bool = False,
        groups: Sequence[GroupSource] | None = None,
        equalize: Callable[[], None] | None = None,
    ) -> None:
        if not authenticators:
            raise ValueError("a chain needs at least one authenticator")
        if local_users_shadow and local_users is None:
            raise ValueError("local_users_shadow needs local_users")
        self._authenticators = tuple(authenticators)
        self._users = local_users
        self._shadow = local_users_shadow
        if groups is None:
            rest = self._authenticators[1:] if local_users is not None else self._authenticators
            groups = [a for a in rest if isinstance(a, GroupSource)]
        self._group_sources = tuple(groups)
        self._equalize = equalize

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        unavailable: BackendUnavailable | None = None
        is_local: bool | None = None  # whether the name is a local user, once asked
        for position, authenticator in enumerate(self._authenticators):
            local = position == 0 and self._users is not None
            try:
                identity = authenticator.authenticate(username, password)
                if identity is None and local and self._shadow:
                    is_local = self._local_record(username) is not None
                    if is_local:
                        return None  # the local user shadows the directory
            except BackendUnavailable as exc:
                if local and self._shadow:
                    raise  # cannot tell whether the local store owns the name
                unavailable = unavailable or exc
                continue
            if identity is not None:
                return identity if local else self._without_disabled_groups(identity)
        self._refused(username, is_local)
        if unavailable is not None:
            raise unavailable
        return None

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """A login :meth:`authenticate` would accept, told without a slow check: only when
        the authenticator that would answer first remembers the password. A name that is a
        local user is the local authenticator's to answer (one read of the store); any
        other goes to the next authenticator. None whenever only ``authenticate`` can tell.
        """
        candidates = self._authenticators
        if self._users is not None:
            try:
                record = self._local_record(username)
            except BackendUnavailable:
                return None
            if record is not None:
                local = candidates[0]
                return (
                    local.remembered_for(record, password)
                    if isinstance(local, RemembersRecords)
                    else None
                )
            candidates = candidates[1:]
        if not candidates or not isinstance(candidates[0], RememberingAuthenticator):
            return None
        identity = candidates[0].remembered_identity(username, password)
        return None if identity is None else self._without_disabled_groups(identity)

    def groups_for(self, username: str) -> tuple[str, ...]:
        """The groups of the account a login under ``username`` would try first: the local
        user's if there is one, else the first non-empty answer of the other sources."""
        if self._users is not None:
            record = self._local_record(username)
            if record is not None:
                return record.groups
        for source in self._group_sources:
            groups = source.groups_for(username)
            if groups:
                return self._usable(groups)
        return ()

    def identity_for(self, username: str, *, source: str = LOCAL_SOURCE) -> Identity | None:
        """Who ``username`` of ``source`` is now, without a password (for refresh tokens, see
        :class:`libdockit.refresh.IdentityResolver`): an enabled local user with their
        enabled groups, or what the authenticator of that ``source`` (the directory) says,
        without the disabled local groups. With shadowing, a name that is a local user is
        never a directory user's. BackendUnavailable when the answer's owner cannot answer.
        """
        if source == LOCAL_SOURCE:
            record = self._local_record(username) if self._users is not None else None
            if record is None or not record.enabled:
                return None
            return Identity(record.username, record.groups, record.is_admin, LOCAL_SOURCE)
        for authenticator in self._authenticators:
            if not isinstance(authenticator, DirectoryIdentities):
                continue
            if authenticator.source != source:
                continue
            if self._shadow and self._local_record(username) is not None:
                return None
            identity = authenticator.identity_for(username)
            return None if identity is None else self._without_disabled_groups(identity)
        return None

    def close(self) -> None:
        """Close every authenticator that can be closed (e.g. LDAP connection pools)."""
        for authenticator in self._authenticators:
            close = getattr(authenticator, "close", None)
            if callable(close):
                close()

    # -- helpers --------------------------------------------------------------------------------
    def _refused(self, username: str, is_local: bool | None) -> None:
        """Nobody accepted: spend one verify unless the local store already did."""
        if self._equalize is None:
            return
        if self._users is not None and is_local is None:
            try:
                is_local = self._local_record(username) is not None
            except BackendUnavailable:
                is_local = False  # the store is down: it verified nothing either
        if not is_local:
            self._equalize()

    def _local_record(self, username: str) -> LoginRecord | None:
        assert self._users is not None
        try:
            name = validate_name(username)
        except ValidationError:
            return None
        return self._users.login_record(name)

    def _without_disabled_groups(self, identity: Identity) -> Identity:
        if identity.source == LOCAL_SOURCE or not identity.groups:
            return identity
        return replace(identity, groups=self._usable(identity.groups))

    def _usable(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """``groups`` without the ones that are disabled local groups: one store call, read
        on every directory login so that disabling a group takes effect at once."""
        if self._users is None or not groups:
            return groups
        disabled = self._users.disabled_groups(groups)
        return tuple(name for name in groups if name not in disabled) if disabled else groups
