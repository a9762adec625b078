"""Grant patterns against names an anonymous caller crafts, on a real ``dockit api-server``.

A pattern with several wildcards used to become a backtracking regular expression, and a
255-character name made one match take minutes of the worker's CPU (the server has one
worker here, so the next request waited too). Each request below must come back within the
client's usual timeout with the right answer.
"""

from __future__ import annotations

import jwt

from tests.support.dockit import DockitServer

from .corpus import SERVICE
from .test_properties import reference_match

PATTERNS = (
    "pub/*-*-*-*-*-*-*-x",
    "*a*a*a*a*a*a*b",
    "**a**a**a**a**a**a**b",
    "**-**-**-**-**/x",
)
NAMES = (
    "pub/" + "a-" * 125 + "a",
    "a" * 255,
    "-".join(["a"] * 127),
    "/".join(["aaa"] * 63),
)


def granted(server: DockitServer, name: str) -> list[str]:
    answer = server.token(SERVICE, [f"repository:{name}:pull"])
    assert answer.status == 200, answer
    claims = jwt.decode(answer.token, options={"verify_signature": False})
    [entry] = claims["access"]
    actions: list[str] = entry["actions"]
    return actions


def test_crafted_names_cost_no_more_than_plain_ones(server: DockitServer) -> None:
    for pattern in PATTERNS:
        server.grant("anonymous", f"repository:{pattern}:pull")
    for name in NAMES:
        expected = ["pull"] if any(reference_match(p, name, None) for p in PATTERNS) else []
        assert granted(server, name) == expected, name
    # The names the patterns are for still match.
    assert granted(server, "pub/a-b-c-d-e-f-g-x") == ["pull"]
    assert granted(server, "xaaaaaayb") == ["pull"]
    assert granted(server, "q/r-s-t-u-v/x") == ["pull"]
