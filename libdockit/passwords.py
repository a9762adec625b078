"""argon2id password hashing with OWASP's minimum parameters as the floor.

Verification of an unknown user runs a dummy verify against a fixed hash so that "no such
user" costs the same time as "wrong password" and cannot be told apart by timing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from argon2 import PasswordHasher as _Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import ConfigError, ValidationError
from .secret import Secret

#: OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class HashParameters:
    memory_kib: int = OWASP_MIN_MEMORY_KIB
    time_cost: int = OWASP_MIN_TIME_COST
    parallelism: int = 1

    def check(self) -> None:
        if self.memory_kib < OWASP_MIN_MEMORY_KIB:
            raise ConfigError("passwords.memory_kib", f"must be at least {OWASP_MIN_MEMORY_KIB}")
        if self.time_cost < OWASP_MIN_TIME_COST:
            raise ConfigError("passwords.time_cost", f"must be at least {OWASP_MIN_TIME_COST}")
        if self.parallelism < 1:
            raise ConfigError("passwords.parallelism", "must be at least 1")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    #: A fresh hash to store when the stored one used older parameters.
    new_hash: str | None = None


class PasswordHasher:
    def __init__(self, parameters: HashParameters | None = None) -> None:
        params = parameters or HashParameters()
        params.check()
        self.parameters = params
        self._hasher = _Argon2Hasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash("dockit-dummy-password-for-unknown-users")

    def hash(self, password: Secret) -> str:
        check_password(password)
        return self._hasher.hash(password.reveal())

    def verify(self, password_hash: str, password: Secret) -> VerifyResult:
        """Check ``password`` against ``password_hash``; a malformed hash never matches."""
        if not password or len(password) > MAX_PASSWORD_LENGTH or not _encodable(password):
            self.dummy_verify()
            return VerifyResult(ok=False)
        try:
            self._hasher.verify(password_hash, password.reveal())
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return VerifyResult(ok=False)
        if self._hasher.check_needs_rehash(password_hash):
            return VerifyResult(ok=True, new_hash=self._hasher.hash(password.reveal()))
        return VerifyResult(ok=True)

    def dummy_verify(self) -> None:
        """Spend the time of one verify, for unknown users."""
        with contextlib.suppress(VerifyMismatchError):
            self._hasher.verify(self._dummy_hash, "not-the-dummy-password")


def check_password(password: Secret) -> None:
    """Reject passwords Dockit will never accept: empty, too long, or with NUL bytes."""
    if not password:
        raise ValidationError("password", "must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in password.reveal():
        raise ValidationError("password", "must not contain NUL characters")
    if not _encodable(password):
        raise ValidationError("password", "must be valid Unicode text")


def _encodable(password: Secret) -> bool:
    """False for text UTF-8 cannot carry (lone surrogates), which argon2 cannot hash."""
    try:
        password.reveal().encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
