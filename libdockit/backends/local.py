"""Authenticate against the local users of a :class:`~libdockit.backends.base.UserStore`."""

from __future__ import annotations

from ..credcache import VerifiedCredentials
from ..errors import ValidationError
from ..model import Identity, validate_name
from ..passwords import PasswordHasher
from ..secret import Secret
from .base import UserStore


class LocalAuthenticator:
    """Password check for local users: disabled or unknown users get None, never an error.

    When the stored hash uses weaker parameters than the hasher's, it is replaced on login.
    With ``verified``, a password that matched recently skips the slow hash (see
    :mod:`libdockit.credcache`); the user row is still read, so disabling, deleting or a
    new password take effect on the next request.
    """

    def __init__(
        self,
        store: UserStore,
        hasher: PasswordHasher,
        *,
        verified: VerifiedCredentials | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._verified = verified

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        try:
            name = validate_name(username)
        except ValidationError:
            self._hasher.dummy_verify()
            return None
        found = self._store.get_credentials(name)
        if found is None:
            self._hasher.dummy_verify()
            return None
        user, password_hash = found
        if not self._password_matches(name, password_hash, password):
            return None
        if not user.enabled:
            return None
        return Identity(
            username=user.username,
            groups=self._store.groups_for(name),
            is_admin=user.is_admin,
            source="local",
        )

    def _password_matches(self, name: str, password_hash: str, password: Secret) -> bool:
        if self._verified is not None and self._verified.matches(name, password_hash, password):
            return True
        result = self._hasher.verify(password_hash, password)
        if not result.ok:
            return False
        if result.new_hash is not None:
            self._store.set_password_hash(name, result.new_hash)
            password_hash = result.new_hash
        if self._verified is not None:
            self._verified.remember(name, password_hash, password)
        return True
