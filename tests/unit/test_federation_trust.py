"""Trust policy fields: what a policy may accept, each refusal naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from libdockit.errors import ValidationError
from libdockit.federation import TrustPolicy

GOOD: dict[str, Any] = {"name": "github", "issuer": "https://issuer.test", "audiences": ["d"]}


def test_defaults_accept_rs256_and_es256_with_a_minute_of_leeway() -> None:
    policy = TrustPolicy(**GOOD)
    assert policy.algorithms == ("RS256", "ES256")
    assert policy.leeway_seconds == 60
    assert policy.audiences == ("d",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", " github"),
        ("issuer", "token.actions.githubusercontent.com"),
        ("audiences", []),
        ("audiences", "dockit"),
        ("audiences", [""]),
        ("algorithms", []),
        ("algorithms", ["none"]),
        ("algorithms", ["HS256"]),
        ("algorithms", ["RS256", "HS512"]),
        ("leeway_seconds", -1),
        ("leeway_seconds", 301),
        ("static_jwks", {"kid": "x"}),
    ],
)
def test_bad_fields_are_refused_by_name(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        TrustPolicy(**{**GOOD, field: value})
    assert caught.value.field == field
