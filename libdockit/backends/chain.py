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

Groups of identities from other sources (the directory) are checked against ``local_users``:
a local group of the same name that is *disabled* is dropped from the identity, so disabling
``developers`` in Dockit switches off ``group:developers`` grants for directory members too.
Every other directory group counts (directory groups have no disabled state). Whether a
directory user is an admin (``admin_group``) is the directory's word alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..errors import BackendUnavailable, NotFound, ValidationError
from ..model import Identity, validate_name
from ..secret import Secret
from .base import Authenticator, GroupSource, UserStore

LOCAL_SOURCE = "local"


class ChainAuthenticator:
    """See the module docs. ``groups`` lists, in order, where :meth:`groups_for` looks for
    users that are not local (defaults to the authenticators that are GroupSources)."""

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        *,
        local_users: UserStore | None = None,
        local_users_shadow: bool = False,
        groups: Sequence[GroupSource] | None = None,
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

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        unavailable: BackendUnavailable | None = None
        for position, authenticator in enumerate(self._authenticators):
            local = position == 0 and self._users is not None
            try:
                identity = authenticator.authenticate(username, password)
                if identity is None and local and self._shadow and self._is_local(username):
                    return None  # the local user shadows the directory
            except BackendUnavailable as exc:
                if local and self._shadow:
                    raise  # cannot tell whether the local store owns the name
                unavailable = unavailable or exc
                continue
            if identity is not None:
                return identity if local else self._without_disabled_groups(identity)
        if unavailable is not None:
            raise unavailable
        return None

    def groups_for(self, username: str) -> tuple[str, ...]:
        """The groups of the account a login under ``username`` would try first: the local
        user's if there is one, else the first non-empty answer of the other sources."""
        if self._users is not None and self._is_local(username):
            return self._users.groups_for(validate_name(username))
        for source in self._group_sources:
            groups = source.groups_for(username)
            if groups:
                return self._usable(groups)
        return ()

    def close(self) -> None:
        """Close every authenticator that can be closed (e.g. LDAP connection pools)."""
        for authenticator in self._authenticators:
            close = getattr(authenticator, "close", None)
            if callable(close):
                close()

    # -- helpers --------------------------------------------------------------------------------
    def _is_local(self, username: str) -> bool:
        assert self._users is not None
        try:
            name = validate_name(username)
        except ValidationError:
            return False
        return self._users.get_credentials(name) is not None

    def _without_disabled_groups(self, identity: Identity) -> Identity:
        if identity.source == LOCAL_SOURCE or not identity.groups:
            return identity
        return replace(identity, groups=self._usable(identity.groups))

    def _usable(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        if self._users is None:
            return groups
        kept = []
        for name in groups:
            try:
                if not self._users.get_group(name).enabled:
                    continue
            except NotFound:
                pass  # only in the directory: it counts
            kept.append(name)
        return tuple(kept)
