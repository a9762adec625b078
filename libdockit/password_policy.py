"""What a new password must be: long enough, and not one of the most common passwords.

Checked when a password is set (the Admin API, the CLI through it, ``bootstrap-admin``, the
first admin at start-up), never at login: a password set before the policy keeps working.
The common passwords are those of John the Ripper's ``password.lst`` (Openwall Project,
public domain; 3,410 entries once lower-cased), shipped as ``data/common-passwords.txt`` and
compared without case. Why a list and not a strength estimator: the rule is short to state
and to check, a refusal says exactly what is wrong, and the list is read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .errors import ConfigError, ValidationError
from .passwords import MAX_PASSWORD_LENGTH, check_password
from .secret import Secret

DEFAULT_MIN_LENGTH = 8


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once per process)."""
    text = resources.files("libdockit").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """``min_length`` characters at least; ``refuse_common`` refuses the shipped list."""

    min_length: int = DEFAULT_MIN_LENGTH
    refuse_common: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= MAX_PASSWORD_LENGTH:
            raise ConfigError(
                "passwords.min_length", f"must be between 1 and {MAX_PASSWORD_LENGTH}"
            )

    def check(self, password: Secret) -> None:
        """ValidationError (HTTP 400, field ``password``) saying what is wrong."""
        check_password(password)
        if len(password) < self.min_length:
            raise ValidationError("password", f"must be at least {self.min_length} characters long")
        if self.refuse_common and password.reveal().lower() in common_passwords():
            raise ValidationError("password", "is one of the most common passwords; choose another")
