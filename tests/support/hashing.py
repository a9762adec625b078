"""A real :class:`~libdockit.passwords.PasswordHasher` that counts the slow work it is asked
for, so tests can check who pays a password verify without timing anything."""

from __future__ import annotations

from libdockit.passwords import PasswordHasher, VerifyResult
from libdockit.secret import Secret


class CountingHasher(PasswordHasher):
    """Counts ``verifies`` (a stored hash checked) and ``dummies`` (a dummy verify).

    A verify of an empty or over-long password runs a dummy verify inside and counts as
    both; tests that read the counts use ordinary passwords.
    """

    def __init__(self) -> None:
        super().__init__()
        self.verifies = 0
        self.dummies = 0

    @property
    def spent(self) -> int:
        """Slow hash runs so far, of either kind."""
        return self.verifies + self.dummies

    def reset(self) -> None:
        self.verifies = self.dummies = 0

    def verify(self, password_hash: str, password: Secret) -> VerifyResult:
        self.verifies += 1
        return super().verify(password_hash, password)

    def dummy_verify(self) -> None:
        self.dummies += 1
        super().dummy_verify()
