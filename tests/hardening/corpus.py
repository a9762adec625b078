"""The bad-input corpus, as data: every entry must be refused with a 4xx and change nothing.

An :class:`Entry` is one raw HTTP request. ``layer`` says who must refuse it:

* ``"app"``: Dockit itself, with a distribution-style JSON error body;
* ``"http"``: gunicorn's HTTP parser, before Dockit sees the request (CR, LF or NUL in a
  header, a request line or header over gunicorn's limits). Its body is gunicorn's own
  HTML; what is asserted is the 4xx and that nothing was injected or granted.

Admin bodies are built from the OpenAPI document (every operation that takes a body), so a
new route is covered as soon as it is documented. ``{ADMIN}`` style fixtures come from
:class:`Fixture`: the names the corpus test creates before it runs.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Layer = Literal["app", "http"]
SERVICE = "registry.test"
API = "/api/v1"
INJECTED = "X-Injected"


@dataclass(frozen=True)
class Entry:
    label: str
    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | None = None
    layer: Layer = "app"
    admin: bool = False  # add the admin's Basic credentials


@dataclass(frozen=True)
class Fixture:
    """What exists in the store while the corpus runs."""

    admin: str
    admin_password: str
    user: str
    user_password: str
    group: str
    grant_id: int
    kid: str
    extra: Mapping[str, str] = field(default_factory=dict)


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def q(value: str | bytes) -> str:
    """Percent-encode; a lone surrogate escape (``\\udcff``) becomes the raw byte 0xFF."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return urllib.parse.quote(value, safe="")


def token_target(*pairs: tuple[str, str | bytes]) -> bytes:
    """A /v2/token GET target; values are percent-encoded (bytes as they are)."""
    query = "&".join(f"{name}={q(value)}" for name, value in pairs)
    return f"/v2/token?{query}".encode()


# -- scopes that break the grammar ---------------------------------------------------------
CHAR_CLASSES = {
    "space": " ",
    "tab": "\t",
    "nul": "\x00",
    "cr": "\r",
    "lf": "\n",
    "del": "\x7f",
    "c1": "\x85",
    "upper": "A",
    "backslash": "\\",
    "quote": '"',
    "apostrophe": "'",
    "angle": "<",
    "semicolon": ";",
    "percent": "%",
    "hash": "#",
    "question": "?",
    "ampersand": "&",
    "equals": "=",
    "plus": "+",
    "comma": ",",
    "star": "*",
    "at": "@",
    "tilde": "~",
    "pipe": "|",
    "brace": "{",
    "bracket": "[",
    "paren": "(",
    "latin1": "é",
    "fullwidth-a": "ａ",
    "cyrillic-a": "а",
    "combining": "a\u0301",
    "zero-width": "\u200b",
    "rtl-override": "\u202e",
    "bom": "\ufeff",
    "emoji": "\U0001f600",
    "surrogate-escape": "\udcff",
    "replacement": "\ufffd",
}

SCOPE_GRAMMAR: tuple[tuple[str, str], ...] = (
    ("empty-type", ":name:pull"),
    ("only-type", "repository"),
    ("two-parts", "repository:pull"),
    ("empty-name", "repository::pull"),
    ("empty-actions", "repository:name:"),
    ("upper-type", "Repository:name:pull"),
    ("space-type", "repo sitory:name:pull"),
    ("open-class", "repository(:name:pull"),
    ("empty-class", "repository():name:pull"),
    ("unclosed-class", "repository(plugin:name:pull"),
    ("upper-class", "repository(Plugin):name:pull"),
    ("nested-class", "repository((x)):name:pull"),
    ("upper-name", "repository:Upper/case:pull"),
    ("leading-slash", "repository:/a:pull"),
    ("trailing-slash", "repository:a/:pull"),
    ("double-slash", "repository:a//b:pull"),
    ("leading-sep", "repository:-a:pull"),
    ("trailing-sep", "repository:a-:pull"),
    ("triple-underscore", "repository:a___b:pull"),
    ("double-dot", "repository:a..b:pull"),
    ("dot-segment", "repository:./a:pull"),
    ("dotdot-segment", "repository:a/../b:pull"),
    ("upper-action", "repository:a:PULL"),
    ("empty-action", "repository:a:pull,,push"),
    ("trailing-comma", "repository:a:pull,"),
    ("action-space", "repository:a:pu ll"),
    ("action-digit-sign", "repository:a:pull!"),
    ("only-colons", ":::"),
    ("many-colons", "repository:a:b:c:d:e:pull,"),
    ("port-no-host", "repository::5000/a:pull"),
    ("bad-port", "repository:host:port/a:pull"),
    ("bad-ipv6", "repository:[::1/a:pull"),
    ("long-name", "repository:" + "a" * 256 + ":pull"),
    ("long-component", "repository:" + "/".join(["a" * 128] * 3) + ":pull"),
    # Any lowercase word is a valid type or action (unknown ones grant nothing), so these
    # are refused for their size: the value is over the 8192-character cap.
    ("long-action", "repository:a:" + "p" * 8200),
    ("long-type", "r" * 8200 + ":a:pull"),
    *(
        (f"name-char-{name}", f"repository:a{char}b:pull")
        for name, char in CHAR_CLASSES.items()
        if char not in (" ", "*", ",", "@")
    ),
    *(
        (f"type-char-{name}", f"repo{char}:a:pull")
        for name, char in CHAR_CLASSES.items()
        if char not in (" ",)
    ),
    *(
        (f"action-char-{name}", f"repository:a:pull{char}")
        for name, char in CHAR_CLASSES.items()
        if char not in (" ", ",")
    ),
)

MAX_SCOPES = 100
MAX_SCOPE_VALUE_LENGTH = 8192


def _many(count: int, prefix: str = "repository:s") -> list[str]:
    return [f"{prefix}{index}:pull" for index in range(count)]


# -- Authorization headers ------------------------------------------------------------------
def auth_headers(fx: Fixture) -> list[tuple[str, bytes, Layer]]:
    good = f"{fx.user}:{fx.user_password}".encode()
    admin_pw = fx.admin_password.encode()
    cases: list[tuple[str, bytes, Layer]] = [
        ("empty", b"", "app"),
        ("spaces", b"   ", "app"),
        ("no-scheme", b64(good), "app"),
        ("scheme-only", b"Basic", "app"),
        ("scheme-space", b"Basic ", "app"),
        ("bearer", b"Bearer " + b64(good), "app"),
        ("digest", b'Digest username="alice", realm="x"', "app"),
        ("basicx", b"Basicx " + b64(good), "app"),
        ("bad-base64", b"Basic !!!!not-base64!!!!", "app"),
        ("bad-padding", b"Basic " + b64(good).rstrip(b"="), "app"),
        ("base64-url", b"Basic " + base64.urlsafe_b64encode(b"\xfb\xff:\xfe\xff"), "app"),
        (
            "base64-spaces",
            b"Basic " + b" ".join(b64(good)[i : i + 4] for i in range(0, 8, 4)),
            "app",
        ),
        ("no-colon", b"Basic " + b64(fx.user.encode()), "app"),
        ("non-utf8", b"Basic " + b64(b"\xff\xfe:\xc3\x28"), "app"),
        ("non-utf8-user", b"Basic " + b64(b"ali\xe7e:" + fx.user_password.encode()), "app"),
        ("latin1-header", b"Basic \xe9\xe9\xe9", "app"),
        (
            "nul-user",
            b"Basic " + b64(fx.user.encode() + b"\x00:" + fx.user_password.encode()),
            "app",
        ),
        ("nul-password", b"Basic " + b64(good + b"\x00"), "app"),
        ("only-colon", b"Basic " + b64(b":"), "app"),
        ("many-colons", b"Basic " + b64(b"::::::::"), "app"),
        ("colons-in-user", b"Basic " + b64(b"a:l:i:c:e:" + fx.user_password.encode()), "app"),
        ("empty-user", b"Basic " + b64(b":" + fx.user_password.encode()), "app"),
        ("empty-password", b"Basic " + b64(fx.user.encode() + b":"), "app"),
        ("wrong-password", b"Basic " + b64(fx.user.encode() + b":nope"), "app"),
        ("unknown-user", b"Basic " + b64(b"nobody:" + fx.user_password.encode()), "app"),
        ("star-user", b"Basic " + b64(b"*:*"), "app"),
        ("long-user", b"Basic " + b64(b"a" * 2000 + b":pw"), "app"),
        ("long-password", b"Basic " + b64(fx.user.encode() + b":" + b"p" * 2500), "app"),
        ("over-cap", b"Basic " + b"A" * 4100, "app"),
        ("huge", b"Basic " + b"A" * 9000, "http"),
        ("cr-in-value", b"Basic " + b64(good) + b"\rX-Injected: 1", "http"),
        ("lf-in-value", b"Basic " + b64(good) + b"\nX-Injected: 1", "http"),
        ("nul-in-value", b"Basic \x00" + b64(good), "http"),
        # Look-alikes of the admin's name, each with the admin's real password.
        ("cyrillic-admin", b"Basic " + b64("аdmin:".encode() + admin_pw), "app"),
        ("greek-admin", b"Basic " + b64("admіn:".encode() + admin_pw), "app"),
        ("zero-width-admin", b"Basic " + b64("ad\u200bmin:".encode() + admin_pw), "app"),
        ("combining-admin", b"Basic " + b64("a\u0301dmin:".encode() + admin_pw), "app"),
        ("rtl-admin", b"Basic " + b64("\u202eadmin:".encode() + admin_pw), "app"),
        ("space-admin", b"Basic " + b64(b" admin:" + admin_pw), "app"),
        # Forms that normalise to the admin, with a wrong password.
        ("fullwidth-admin-wrong", b"Basic " + b64("ａｄｍｉｎ:wrong".encode()), "app"),
        ("upper-admin-wrong", b"Basic " + b64(b"ADMIN:wrong"), "app"),
    ]
    return cases


def _auth_entries(fx: Fixture) -> Iterator[Entry]:
    token = token_target(("service", SERVICE), ("scope", "repository:public/app:pull"))
    for label, value, layer in auth_headers(fx):
        headers = ((b"Authorization", value),)
        yield Entry(f"auth/token/{label}", b"GET", token, headers, layer=layer)
        yield Entry(f"auth/admin/{label}", b"GET", f"{API}/users".encode(), headers, layer=layer)


# -- /v2/token ------------------------------------------------------------------------------
def _token_entries(fx: Fixture) -> Iterator[Entry]:
    scope_ok = ("scope", "repository:public/app:pull")
    for label, scope in SCOPE_GRAMMAR:
        target = token_target(("service", SERVICE), ("scope", scope))
        yield Entry(
            f"token/scope/{label}", b"GET", target, layer="app" if len(target) < 8000 else "http"
        )
    yield Entry("token/no-service", b"GET", token_target(scope_ok))
    yield Entry("token/empty-service", b"GET", token_target(("service", ""), scope_ok))
    yield Entry("token/unknown-service", b"GET", token_target(("service", "other"), scope_ok))
    yield Entry("token/service-nul", b"GET", token_target(("service", SERVICE + "\x00")))
    yield Entry("token/service-ff", b"GET", token_target(("service", b"\xff\xfe")))
    yield Entry("token/service-long", b"GET", token_target(("service", "s" * 5000)))
    yield Entry(
        "token/scope-non-utf8",
        b"GET",
        token_target(("service", SERVICE), ("scope", b"repository:\xff\xfe:pull")),
    )
    yield Entry(
        "token/scope-overlong-utf8",
        b"GET",
        token_target(("service", SERVICE), ("scope", b"repository:\xc0\xaf:pull")),
    )
    yield Entry(
        "token/raw-ff-in-target",
        b"GET",
        b"/v2/token?service=" + SERVICE.encode() + b"&scope=\xff",
        layer="http",
    )
    many = [("scope", s) for s in _many(MAX_SCOPES + 1, "repository:")]
    yield Entry("token/get-101-scopes", b"GET", token_target(("service", SERVICE), *many))
    yield Entry(
        "token/get-101-scopes-spaces",
        b"GET",
        token_target(("service", SERVICE), ("scope", " ".join(s for _, s in many))),
    )
    thousands = [("scope", s) for s in _many(3000)]
    yield Entry(
        "token/get-3000-scopes",
        b"GET",
        token_target(("service", SERVICE), *thousands),
        layer="http",
    )
    yield Entry(
        "token/account-mismatch",
        b"GET",
        token_target(("service", SERVICE), ("account", "someone-else"), scope_ok),
        ((b"Authorization", b"Basic " + b64(f"{fx.user}:{fx.user_password}".encode())),),
    )
    yield Entry(
        "token/offline-bad-client-id",
        b"GET",
        token_target(("service", SERVICE), ("offline_token", "true"), ("client_id", "x\x00y")),
        ((b"Authorization", b"Basic " + b64(f"{fx.user}:{fx.user_password}".encode())),),
    )
    yield from _form_entries(fx)


def form(*pairs: tuple[str, str | bytes]) -> bytes:
    return "&".join(f"{name}={q(value)}" for name, value in pairs).encode()


FORM = ((b"Content-Type", b"application/x-www-form-urlencoded"),)


def _form_entries(fx: Fixture) -> Iterator[Entry]:
    base: list[tuple[str, str | bytes]] = [
        ("grant_type", "password"),
        ("service", SERVICE),
        ("client_id", "corpus"),
        ("username", fx.user),
        ("password", fx.user_password),
    ]

    def post(label: str, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = FORM) -> Entry:
        return Entry(f"token/form/{label}", b"POST", b"/v2/token", headers, body)

    yield post("empty", b"")
    yield post("json", b'{"grant_type": "password"}', ((b"Content-Type", b"application/json"),))
    yield post("text", form(*base), ((b"Content-Type", b"text/plain"),))
    yield post("no-content-type", form(*base), ())
    yield post("non-utf8", form(*base) + b"&scope=\xff\xfe")
    yield post("non-utf8-escaped", form(*base, ("scope", b"\xff\xfe")))
    yield post("nul-raw", form(*base) + b"&scope=a\x00b")
    yield post("nul-password", form(*base[:4], ("password", fx.user_password + "\x00")))
    yield post("too-large", form(*base, ("scope", "x" * (70 * 1024))))
    yield post("no-grant-type", form(*base[1:]))
    yield post("bad-grant-type", form(("grant_type", "client_credentials"), *base[1:]))
    yield post("grant-type-twice", form(("grant_type", "password"), *base))
    yield post("no-client-id", form(*base[:2], *base[3:]))
    yield post("no-password", form(*base[:4]))
    yield post("wrong-password", form(*base[:4], ("password", "nope")))
    yield post(
        "bad-refresh-token",
        form(("grant_type", "refresh_token"), *base[1:3], ("refresh_token", "x" * 64)),
    )
    yield post(
        "refresh-token-nul",
        form(("grant_type", "refresh_token"), *base[1:3], ("refresh_token", "\x00")),
    )
    yield post("many-fields", b"&".join(b"f%d=1" % i for i in range(300)) + b"&" + form(*base))
    for label, scope in SCOPE_GRAMMAR:
        yield post(f"scope/{label}", form(*base, ("scope", scope)))
    yield post("scopes-2000-repeated", form(*base, *(("scope", s) for s in _many(2000))))
    yield post("scopes-2000-spaces", form(*base, ("scope", " ".join(_many(2000)))))
    yield post("scopes-101-spaces", form(*base, ("scope", " ".join(_many(MAX_SCOPES + 1)))))
    yield post(
        "scope-value-over-cap",
        form(*base, ("scope", "repository:a:pull " * (MAX_SCOPE_VALUE_LENGTH // 18 + 1))),
    )
    admin_pw = fx.admin_password
    for label, name in LOOKALIKE_ADMINS.items():
        yield post(
            f"lookalike/{label}", form(*base[:3], ("username", name), ("password", admin_pw))
        )


#: Names that NFKC + lower case turn into ``admin``: the same account.
SAME_AS_ADMIN = {
    "upper": "ADMIN",
    "fullwidth": "ａｄｍｉｎ",
    "fullwidth-upper": "ＡＤＭＩＮ",
    "mathematical-bold": "\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427",
    "circled": "ⓐⓓⓜⓘⓝ",
}

#: Names that look like ``admin`` but are not it after NFKC + lower case.
LOOKALIKE_ADMINS = {
    "cyrillic-a": "аdmin",
    "cyrillic-all": "аdміn",
    "greek-iota": "admιn",
    "dotless-i": "admın",
    "combining-acute": "a\u0301dmin",
    "zero-width-space": "ad\u200bmin",
    "zero-width-joiner": "ad\u200dmin",
    "soft-hyphen": "ad\u00admin",
    "rtl-override": "\u202eadmin",
    "trailing-space": "admin ",
    "nbsp": "admin\u00a0",
}


# -- Admin API ------------------------------------------------------------------------------
JSON_TYPES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 1.5,
    "string": "s",
    "array": [],
    "object": {},
}

#: A valid body per request schema, so a single mistyped field is the only fault.
VALID_BASES: dict[str, dict[str, Any]] = {
    "UserCreate": {"username": "corpus-new-user", "password": "pw-corpus-1"},
    "UserUpdate": {"enabled": True},
    "PasswordSet": {"password": "pw-corpus-2"},
    "GroupCreate": {"name": "corpus-new-group"},
    "GroupUpdate": {"enabled": True},
    "KeyCreate": {"algorithm": "ES256"},
    "GrantParts": {
        "subject": "user:alice",
        "resource_type": "repository",
        "pattern": "corpus/*",
        "actions": ["pull"],
    },
    "GrantScope": {"subject": "user:alice", "scope": "repository:corpus/*:pull"},
    "TrustPolicyCreate": {
        "name": "corpus-policy",
        "issuer": "https://issuer.corpus.test",
        "audiences": ["dockit"],
    },
    "TrustPolicyUpdate": {"issuer": "https://issuer.corpus.test", "audiences": ["dockit"]},
    "TrustPolicyExplain": {"claims": {"sub": "corpus"}},
    "RobotCreate": {"name": "corpus-robot", "owner": "user:alice", "expires_in": 3600},
    "RobotUpdate": {"enabled": True},
    "SecretRotate": {"expires_in": 3600},
    "TokenCreate": {"name": "corpus-token", "expires_in": 3600},
}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


RAW_BODIES: tuple[tuple[str, bytes], ...] = (
    ("empty", b""),
    ("whitespace", b" \n\t "),
    ("null", b"null"),
    ("true", b"true"),
    ("number", b"42"),
    ("string", b'"text"'),
    ("array", b"[]"),
    ("array-of-object", b"[{}]"),
    ("truncated", b'{"a":'),
    ("single-quotes", b"{'a': 1}"),
    ("trailing-comma", b'{"a": 1,}'),
    ("nan", b'{"a": NaN}'),
    ("infinity", b'{"a": Infinity}'),
    ("duplicate-key", b'{"enabled": true, "enabled": false}'),
    ("non-utf8", b'{"username": "\xff\xfe"}'),
    ("utf16", '{"enabled": true}'.encode("utf-16")),
    ("nul", b'{"enabled":\x00 true}'),
    ("nul-in-key", b'{"ena\\u0000bled": true}'),
    ("lone-surrogate-key", b'{"\\udcff": true}'),
    ("deep-array", _deep(30000)),
    ("deep-object", b'{"a":' * 10000 + b"1" + b"}" * 10000),
    ("too-large", b'{"a": "' + b"x" * (70 * 1024) + b'"}'),
    ("huge-number", b'{"validity_days": 1' + b"0" * 5000 + b"}"),
)


def _schema_of(document: Mapping[str, Any], operation: Mapping[str, Any]) -> list[str]:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[1]
    schema = document["components"]["schemas"][name]
    if "oneOf" in schema:
        return [item["$ref"].rsplit("/", 1)[1] for item in schema["oneOf"]]
    return [name]


def _field_types(document: Mapping[str, Any], name: str) -> dict[str, set[str]]:
    schema = document["components"]["schemas"][name]
    types: dict[str, set[str]] = {}
    for field_name, spec in schema.get("properties", {}).items():
        kind = spec.get("type", "string")
        allowed = {kind} if isinstance(kind, str) else set(kind)
        types[field_name] = allowed
    return types


def _fill(path: str, fx: Fixture) -> str:
    values = {
        "username": fx.user,
        "name": fx.group,
        "grant_id": str(fx.grant_id),
        "kid": fx.kid,
        "token_id": "no-such-token",
    }
    for key, value in values.items():
        path = path.replace("{" + key + "}", q(value))
    return path


def _admin_body_entries(document: Mapping[str, Any], fx: Fixture) -> Iterator[Entry]:
    json_header = ((b"Content-Type", b"application/json"),)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            target = _fill(path, fx).encode()
            verb = method.upper().encode()
            where = f"admin/{method.upper()} {path}"
            for label, raw in RAW_BODIES:
                yield Entry(f"{where}/body/{label}", verb, target, json_header, raw, admin=True)
            yield Entry(
                f"{where}/content-type/text",
                verb,
                target,
                ((b"Content-Type", b"text/plain"),),
                b"{}",
                admin=True,
            )
            yield Entry(
                f"{where}/content-type/form",
                verb,
                target,
                ((b"Content-Type", b"application/x-www-form-urlencoded"),),
                b"a=1",
                admin=True,
            )
            for schema_name in _schema_of(document, operation):
                base = VALID_BASES[schema_name]
                yield Entry(
                    f"{where}/{schema_name}/unknown-field",
                    verb,
                    target,
                    json_header,
                    json.dumps({**base, "admn": True}).encode(),
                    admin=True,
                )
                required = document["components"]["schemas"][schema_name].get("required", [])
                if required:
                    yield Entry(
                        f"{where}/{schema_name}/empty-object",
                        verb,
                        target,
                        json_header,
                        b"{}",
                        admin=True,
                    )
                for field_name, allowed in _field_types(document, schema_name).items():
                    for type_name, value in JSON_TYPES.items():
                        if type_name in allowed:
                            continue
                        body = json.dumps({**base, field_name: value}).encode()
                        yield Entry(
                            f"{where}/{schema_name}/{field_name}={type_name}",
                            verb,
                            target,
                            json_header,
                            body,
                            admin=True,
                        )
                    if field_name == "password":
                        for label, text in WEAK_PASSWORDS.items():
                            body = json.dumps({**base, field_name: text}).encode()
                            yield Entry(
                                f"{where}/{schema_name}/password/weak-{label}",
                                verb,
                                target,
                                json_header,
                                body,
                                admin=True,
                            )
                    if "string" in allowed:
                        for label, text in BAD_STRINGS.items():
                            if label in PASSWORD_OK and field_name == "password":
                                continue
                            if label == "long" and field_name in UNCAPPED:
                                continue
                            body = json.dumps({**base, field_name: text}).encode()
                            yield Entry(
                                f"{where}/{schema_name}/{field_name}/{label}",
                                verb,
                                target,
                                json_header,
                                body,
                                admin=True,
                            )


#: Values no string field of the Admin API accepts.
BAD_STRINGS: dict[str, str] = {
    "empty": "",
    "nul": "a\x00b",
    "lone-surrogate": "\udcff",
    "crlf": "a\r\nX-Injected: 1",
    "long": "a" * 5000,
    "cyrillic-admin": "аdmin\x00",
}


#: Valid text, refused as a new password (passwords.min_length, the common passwords).
WEAK_PASSWORDS: dict[str, str] = {
    "one-char": "x",
    "seven-chars": "abcdefg",
    "common": "password1",
    "common-upper": "QWERTYUIOP",
    "common-digits": "12345678",
}


#: Bad strings that are still a valid password (any text without NUL, 1-1024 characters).
PASSWORD_OK = frozenset({"crlf"})
#: Fields with no length cap: a long value is valid there.
UNCAPPED = frozenset({"resource_type"})


def _admin_query_entries(document: Mapping[str, Any], fx: Fixture) -> Iterator[Entry]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method != "get":
                continue
            if path.endswith("/openapi.json"):
                continue
            target = _fill(path, fx)
            where = f"admin/GET {path}"
            names = [p["$ref"].rsplit("/", 1)[1] for p in operation.get("parameters", [])]
            yield Entry(f"{where}/query/unknown", b"GET", f"{target}?bogus=1".encode(), admin=True)
            yield Entry(f"{where}/query/nul", b"GET", f"{target}?bogus=%00".encode(), admin=True)
            if "limit" in names:
                for label, value in LIMIT_VALUES.items():
                    yield Entry(
                        f"{where}/limit/{label}",
                        b"GET",
                        f"{target}?limit={q(value)}".encode(),
                        admin=True,
                    )
                yield Entry(
                    f"{where}/limit/twice", b"GET", f"{target}?limit=1&limit=2".encode(), admin=True
                )
                yield Entry(
                    f"{where}/offset/negative", b"GET", f"{target}?offset=-1".encode(), admin=True
                )
    audit = f"{API}/audit"
    for label, value in {
        "since": "yesterday",
        "until": "2026-13-45T99:00:00Z",
        "kind": "nope",
        "since-nul": "\x00",
    }.items():
        name = label.split("-")[0]
        yield Entry(
            f"admin/GET audit/{label}", b"GET", f"{audit}?{name}={q(value)}".encode(), admin=True
        )
    for label, value in {
        "bad-subject": "user:",
        "subject-ff": "user:\xff",
        "subject-lookalike": "user:аdmin",
    }.items():
        yield Entry(
            f"admin/GET grants/{label}",
            b"GET",
            f"{API}/grants?subject={q(value)}".encode(),
            admin=True,
        )
    explain = f"{API}/explain"
    for label, (user, scope) in {
        "no-params": ("", ""),
        "bad-scope": (fx.user, "repository:A:pull"),
        "lookalike-user": ("аdmin", "repository:a:pull"),
        "many-scopes": (fx.user, " ".join(_many(MAX_SCOPES + 1))),
    }.items():
        query = "&".join(f"{k}={q(v)}" for k, v in (("user", user), ("scope", scope)) if v)
        yield Entry(f"admin/GET explain/{label}", b"GET", f"{explain}?{query}".encode(), admin=True)


LIMIT_VALUES = {
    "text": "ten",
    "float": "1.5",
    "negative": "-1",
    "zero": "0",
    "huge": "9" * 30,
    "over-max": "100000000",
    "plus": "+5",
    "hex": "0x10",
    "space": " 5",
    "fullwidth-digit": "５",
    "arabic-digit": "٥",
    "empty": "",
}


def _admin_path_entries(fx: Fixture) -> Iterator[Entry]:
    names: dict[str, str | bytes] = {
        "long": "a" * 300,
        "nul": "a\x00b",
        "ff": b"\xff",
        "upper-lookalike": "аdmin",
        "slash": "a/b",
        "dotdot": "..",
        "space": "a b",
        "crlf": "a\r\nX-Injected: 1",
    }
    for label, name in names.items():
        quoted = q(name)
        for template in ("/users/{}", "/groups/{}", "/users/{}/refresh-tokens", "/keys/{}"):
            target = f"{API}{template.format(quoted)}".encode()
            yield Entry(f"admin/path/{template}/{label}", b"GET", target, admin=True)
        yield Entry(
            f"admin/path/delete-user/{label}",
            b"DELETE",
            f"{API}/users/{quoted}".encode(),
            admin=True,
        )
        yield Entry(
            f"admin/path/put-member/{label}",
            b"PUT",
            f"{API}/groups/{q(fx.group)}/members/{quoted}".encode(),
            admin=True,
        )
        yield Entry(
            f"admin/path/activate-key/{label}",
            b"POST",
            f"{API}/keys/{quoted}/activate".encode(),
            admin=True,
        )
    for label, grant_id in {
        "text": "abc",
        "negative": "-1",
        "zero": "0",
        "float": "1.0",
        "huge": "9" * 40,
        "int64-overflow": str(2**63),
        "fullwidth": "１",
    }.items():
        # DELETE of an id over SQLite's range: see _OUT_OF_RANGE_GRANT_IDS.
        methods = (b"GET",) if label in ("huge", "int64-overflow") else (b"GET", b"DELETE")
        for method in methods:
            yield Entry(
                f"admin/path/grant/{method.decode()}/{label}",
                method,
                f"{API}/grants/{q(grant_id)}".encode(),
                admin=True,
            )
    yield Entry(
        "admin/path/refresh-token/long",
        b"DELETE",
        f"{API}/refresh-tokens/{'t' * 5000}".encode(),
        admin=True,
    )
    yield Entry(
        "admin/path/users/fullwidth-admin-delete",
        b"DELETE",
        f"{API}/users/{q('ａｄｍｉｎ')}".encode(),
        admin=True,
    )
    yield Entry(
        "admin/path/users/fullwidth-admin-demote",
        b"PATCH",
        f"{API}/users/{q('ＡＤＭＩＮ')}".encode(),
        ((b"Content-Type", b"application/json"),),
        b'{"admin": false}',
        admin=True,
    )
    yield Entry(
        "admin/path/users/create-fullwidth-admin",
        b"POST",
        f"{API}/users".encode(),
        ((b"Content-Type", b"application/json"),),
        json.dumps({"username": "ａｄｍｉｎ", "password": "pw-x-corpus-1"}).encode(),
        admin=True,
    )
    yield Entry(
        "admin/path/users/create-ligature-duplicate",
        b"POST",
        f"{API}/users".encode(),
        ((b"Content-Type", b"application/json"),),
        json.dumps({"username": "ﬁ" + fx.extra["fi_suffix"], "password": "pw-x-corpus-1"}).encode(),
        admin=True,
    )
    for label, name in SAME_AS_ADMIN.items():
        yield Entry(
            f"admin/create-duplicate/{label}",
            b"POST",
            f"{API}/users".encode(),
            ((b"Content-Type", b"application/json"),),
            json.dumps({"username": name, "password": "pw-x-corpus-1"}).encode(),
            admin=True,
        )
    for label, name in LOOKALIKE_ADMINS.items():
        yield Entry(
            f"admin/create-lookalike/{label}",
            b"POST",
            f"{API}/users".encode(),
            ((b"Content-Type", b"application/json"),),
            json.dumps({"username": name, "password": "pw-x-corpus-1"}).encode(),
            admin=True,
        )


# -- header values that could be echoed -----------------------------------------------------
ECHO_HEADERS = (
    b"X-Request-Id",
    b"Host",
    b"User-Agent",
    b"X-Forwarded-For",
    b"Accept",
    b"Content-Type",
    b"Origin",
    b"Referer",
    b"X-Forwarded-Proto",
)


def _header_entries() -> Iterator[Entry]:
    target = token_target(("scope", "repository:public/app:pull"))  # no service: a 400
    for name in ECHO_HEADERS:
        for label, value in {
            "crlf": b"a\r\nX-Injected: 1",
            "obs-fold": b"a\r\n X-Injected: 1",
            "bare-lf": b"a\nX-Injected: 1",
            "bare-cr": b"a\rX-Injected: 1",
            "nul": b"a\x00b",
        }.items():
            headers: tuple[tuple[bytes, bytes], ...] = ((name, value),)
            if name == b"Host":
                # Replace the client's own Host line: send_raw adds one first, so give two.
                headers = ((b"Host", value),)
            yield Entry(f"header/{name.decode()}/{label}", b"GET", target, headers, layer="http")
    # Values gunicorn passes on but Dockit must not echo as sent.
    for label, value in {
        "encoded-crlf": b"a%0d%0aX-Injected:%201",
        "space": b"a b",
        "html": b"<script>",
        "long": b"r" * 200,
        "latin1": b"\xe9t\xe9",
        "quote": b'a"b',
    }.items():
        yield Entry(f"header/X-Request-Id/{label}", b"GET", target, ((b"X-Request-Id", value),))


# -- cross-site writes: what a web page can make an admin's browser send --------------------
CROSS_SITE_MARKS: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    "sec-fetch-site": ((b"Sec-Fetch-Site", b"cross-site"),),
    "sec-fetch-same-site": ((b"Sec-Fetch-Site", b"same-site"),),
    "origin": ((b"Origin", b"http://evil.example"),),
    "origin-null": ((b"Origin", b"null"),),
    "origin-other-port": ((b"Origin", b"http://127.0.0.1:1"),),
}


def _cross_site_entries(document: Mapping[str, Any], fx: Fixture) -> Iterator[Entry]:
    """Every write, as a valid request would be sent, but marked cross-site; and as an
    HTML form would send it. Each would change the store if it got through."""
    json_header = (b"Content-Type", b"application/json")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            target = _fill(path, fx).encode()
            verb = method.upper().encode()
            where = f"cross-site/{method.upper()} {path}"
            body: bytes | None = None
            headers: tuple[tuple[bytes, bytes], ...] = ()
            if "requestBody" in operation:
                body = json.dumps(VALID_BASES[_schema_of(document, operation)[0]]).encode()
                headers = (json_header,)
            for label, marks in CROSS_SITE_MARKS.items():
                yield Entry(f"{where}/{label}", verb, target, headers + marks, body, admin=True)
            for label, form_type in (
                ("form", b"application/x-www-form-urlencoded"),
                ("multipart", b"multipart/form-data; boundary=x"),
                ("text", b"text/plain"),
            ):
                yield Entry(
                    f"{where}/{label}",
                    verb,
                    target,
                    ((b"Content-Type", form_type),),
                    body if body is not None else b"",
                    admin=True,
                )


def build(document: Mapping[str, Any], fx: Fixture) -> list[Entry]:
    """The whole corpus for one server, in a fixed order."""
    entries = [
        *_auth_entries(fx),
        *_token_entries(fx),
        *_admin_body_entries(document, fx),
        *_admin_query_entries(document, fx),
        *_admin_path_entries(fx),
        *_cross_site_entries(document, fx),
        *_header_entries(),
        *_OUT_OF_RANGE_GRANT_IDS,
    ]
    labels = [entry.label for entry in entries]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise AssertionError(f"duplicate corpus labels: {sorted(duplicates)[:5]}")
    return entries


#: Grant ids beyond SQLite's INTEGER range: the audit middleware once read them before the
#: responder validated the id, and SQLite's OverflowError became a 500.
_OUT_OF_RANGE_GRANT_IDS: tuple[Entry, ...] = tuple(
    Entry(
        f"admin/path/grant/DELETE/{label}",
        b"DELETE",
        f"{API}/grants/{grant_id}".encode(),
        admin=True,
    )
    for label, grant_id in (("huge", "9" * 40), ("int64-overflow", str(2**63)))
)
