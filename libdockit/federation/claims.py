"""Claim conditions and claim interpolation for trust policies.

A condition names a claim and a value: an exact value, or a glob with the grant patterns'
tokens (``*`` within one ``/``-separated segment, ``**`` across segments; see
:mod:`libdockit.patterns`), e.g. ``ref = refs/heads/*``. Globs are enough for the claims CI
systems and Kubernetes issue (paths, refs, ``system:serviceaccount:NS:NAME``) and, unlike an
expression language, cannot be written to do anything but match one string.

A claim is named by its key; a ``/`` walks into a nested object, so Kubernetes' namespace
is ``kubernetes.io/namespace``. Only string claims match or interpolate: a number, list or
object never matches a condition.

Interpolation fills ``${claim.NAME}`` in a grant pattern (``ci/${claim.repository}/**``).
The value is lower-cased (registry names are) and must then be a plain repository path
(lowercase alphanumerics separated by ``.``, ``_``, ``-`` and ``/``): anything else,
including ``*`` or ``..``, makes that grant unusable rather than widening it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..patterns import NamePattern, compile_pattern

__all__ = ["ClaimCondition", "claim_value", "interpolate", "unmet_conditions", "validate_template"]

_PLACEHOLDER_RE = re.compile(r"\$\{claim\.([A-Za-z0-9_.:/-]+)\}")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_SAFE_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_CLAIM_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+(?:/[A-Za-z0-9_.:-]+)*")


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name`` (``a/b`` walks into object ``a``), or None when absent."""
    value: Any = claims
    for part in name.split("/"):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True, slots=True)
class ClaimCondition:
    """Claim ``claim`` must equal ``value`` or, when it holds ``*``, match it as a glob."""

    claim: str
    value: str

    def __post_init__(self) -> None:
        if not _CLAIM_NAME_RE.fullmatch(self.claim):
            raise ValidationError("conditions", f"{self.claim!r} is not a claim name")
        if not self.value:
            raise ValidationError("conditions", f"{self.claim}: the value is empty")
        if "*" in self.value:
            try:
                compile_pattern(self.value)
            except ValidationError as error:
                raise ValidationError(
                    "conditions", f"{self.claim}: {error.message.removeprefix('pattern: ')}"
                ) from error

    @property
    def is_glob(self) -> bool:
        return "*" in self.value

    def _pattern(self) -> NamePattern:
        return compile_pattern(self.value)

    def matches(self, claims: Mapping[str, Any]) -> bool:
        found = claim_value(claims, self.claim)
        if not isinstance(found, str):
            return False
        return self._pattern().matches(found) if self.is_glob else found == self.value

    def __str__(self) -> str:
        return f"{self.claim} {'~' if self.is_glob else '='} {self.value}"


def unmet_conditions(
    conditions: Sequence[ClaimCondition], claims: Mapping[str, Any]
) -> list[ClaimCondition]:
    """The conditions ``claims`` do not meet (empty: all met), for explain and refusals."""
    return [condition for condition in conditions if not condition.matches(claims)]


def validate_template(template: str) -> str:
    """``template`` if it is a grant pattern once its placeholders are filled; else
    ValidationError naming ``grants``."""
    probe = _PLACEHOLDER_RE.sub("x", template)
    if "${" in probe.replace("${user}", ""):
        raise ValidationError("grants", f"{template!r}: only ${{claim.NAME}} may be filled in")
    try:
        compile_pattern(probe)
    except ValidationError as error:
        raise ValidationError("grants", f"{template!r}: {error.message}") from error
    return template


def interpolate(template: str, claims: Mapping[str, Any]) -> str | None:
    """``template`` with each ``${claim.NAME}`` filled in; None when a claim is missing,
    not a string, or not a plain repository path (see the module docs)."""
    unusable = False

    def fill(placeholder: re.Match[str]) -> str:
        nonlocal unusable
        value = claim_value(claims, placeholder.group(1))
        if not isinstance(value, str) or not _SAFE_PATH_RE.fullmatch(value.lower()):
            unusable = True
            return ""
        return value.lower()

    filled = _PLACEHOLDER_RE.sub(fill, template)
    return None if unusable else filled
