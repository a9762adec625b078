"""Authenticate against the local users of a :class:`~libdockit.backends.base.UserStore`."""

from __future__ import annotations

from ..credcache import VerifiedCredentials
from ..errors import ValidationError
from ..model import Identity, LoginRecord, validate_name
from ..passwords import PasswordHasher
from ..secret import Secret
from .base import UserStore


class LocalAuthenticator:
    """Password check for local users: disabled or unknown users get None, never an error.

    When the stored hash uses weaker parameters than the hasher's, it is replaced on login.
    With ``verified``, a password that matched recently skips the slow hash (see
    :mod:`libdockit.credcache`); the user's record is still read, so disabling, deleting or a
    new password take effect on the next request.

    An unknown user costs the time of one verify, so response times do not tell which names
    exist. ``equalize_unknown=False`` returns None for them at once instead: for a caller
    that asks other authenticators next and pays :meth:`dummy_verify` itself when none of
    them accepts (see :class:`~libdockit.backends.chain.ChainAuthenticator`).
    """

    def __init__(
        self,
        store: UserStore,
        hasher: PasswordHasher,
        *,
        verified: VerifiedCredentials | None = None,
        equalize_unknown: bool = True,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._verified = verified
        self._equalize_unknown = equalize_unknown

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        try:
            name = validate_name(username)
        except ValidationError:
            self._unknown()
            return None
        record = self._store.login_record(name)
        if record is None:
            self._unknown()
            return None
        if not record.enabled:
            # Never from the cache: refused in the time of any refusal, right password or not.
            self._hasher.dummy_verify()
            return None
        if not self._password_matches(name, record.password_hash, password):
            return None
        return _identity(record)

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """The identity when this password matched the user's stored hash less than the
        cache's lifetime ago (no slow hash); None otherwise (see RememberingAuthenticator)."""
        try:
            name = validate_name(username)
        except ValidationError:
            return None
        record = self._store.login_record(name)
        return None if record is None else self.remembered_for(record, password)

    def remembered_for(self, record: LoginRecord, password: Secret) -> Identity | None:
        """:meth:`remembered_identity` for a record the caller has read already."""
        if self._verified is None or not record.enabled:
            return None
        if not self._verified.matches(record.username, record.password_hash, password):
            return None
        return _identity(record)

    def dummy_verify(self) -> None:
        """Spend the time of one password verify (for a name nobody accepted)."""
        self._hasher.dummy_verify()

    def _unknown(self) -> None:
        if self._equalize_unknown:
            self._hasher.dummy_verify()

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


def _identity(record: LoginRecord) -> Identity:
    return Identity(
        username=record.username,
        groups=record.groups,
        is_admin=record.is_admin,
        source="local",
    )
