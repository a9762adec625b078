"""Authenticate against the local users of a :class:`~libdockit.backends.base.UserStore`."""

from __future__ import annotations

from ..errors import ValidationError
from ..model import Identity, validate_name
from ..passwords import PasswordHasher
from ..secret import Secret
from .base import UserStore


class LocalAuthenticator:
    """Password check for local users: disabled or unknown users get None, never an error.

    When the stored hash uses weaker parameters than the hasher's, it is replaced on login.
    """

    def __init__(self, store: UserStore, hasher: PasswordHasher) -> None:
        self._store = store
        self._hasher = hasher

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
        result = self._hasher.verify(password_hash, password)
        if not result.ok or not user.enabled:
            return None
        if result.new_hash is not None:
            self._store.set_password_hash(name, result.new_hash)
        return Identity(
            username=user.username,
            groups=self._store.groups_for(name),
            is_admin=user.is_admin,
            source="local",
        )
