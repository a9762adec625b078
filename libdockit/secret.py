"""A wrapper that keeps credentials out of reprs, logs and tracebacks."""

from __future__ import annotations

import hmac
from typing import Final


class Secret:
    """Holds a secret string; ``repr``/``str`` show ``***`` and equality is constant-time."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value: Final = value

    def reveal(self) -> str:
        """The secret itself; call it only where the value is really needed."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Secret values are not picklable")
