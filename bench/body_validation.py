"""What reading an Admin API body costs with each way of declaring it.

``python3 -m bench.body_validation [ROUNDS]``: Dockit's real request bodies (one valid and
one with a mistyped field per declaration), read as the server reads them (the strict JSON
reader of :mod:`dockit_server.resources.admin.bodies`, then the checks), by:

* the hand-written getters the Admin API used before its bodies were declared (kept here,
  reduced to what these bodies use, as the baseline);
* msgspec: ``msgspec.convert`` into the declared Struct (what Dockit does now);
* msgspec straight from the bytes (``msgspec.json.decode``): faster, but it takes a repeated
  key and refuses a lone surrogate escape, both of which the API answers otherwise;
* pydantic v2 models with the same fields (``extra="forbid"``, strict), from the object and
  from the bytes, when pydantic is installed (it comes with the test tools).

Then the import cost of each library (with the eight declarations) in a fresh interpreter,
against ``import falcon`` in the same run, and each one's installed size. Prints Markdown;
measures, never asserts.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import msgspec

from dockit_server.resources.admin import body_types as declared
from dockit_server.resources.admin.bodies import _no_constants, _no_duplicates, decode_body
from libdockit.errors import ValidationError
from libdockit.secret import Secret

#: A valid body and one with a mistyped field for each declaration.
BODIES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "UserCreate": (
        {"username": "alice", "password": "alice-pw-12", "admin": False},
        {"username": "alice", "password": "alice-pw-12", "admin": "yes"},
    ),
    "UserUpdate": ({"enabled": False}, {"enabled": 0}),
    "PasswordSet": ({"password": "a-new-pw-12"}, {"password": None}),
    "GroupCreate": ({"name": "team", "enabled": True}, {"name": 7}),
    "GroupUpdate": ({"enabled": True}, {"enabled": "true"}),
    "KeyCreate": ({"algorithm": "ES256", "validity_days": 90}, {"validity_days": 1.5}),
    "GrantParts": (
        {
            "subject": "group:team",
            "resource_type": "repository",
            "pattern": "team/**",
            "actions": ["pull", "push"],
        },
        {
            "subject": "group:team",
            "resource_type": "repository",
            "pattern": "team/**",
            "actions": ["pull", 1],
        },
    ),
    "GrantScope": (
        {"subject": "user:alice", "scope": "repository:users/alice/*:*"},
        {"subject": "user:alice", "scope": ["repository:a:pull"]},
    ),
}


def strict_json(raw: bytes) -> Any:
    """The server's JSON step: no repeated keys, no NaN."""
    return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


# -- the baseline: hand-written getters, as the resources called them ---------------------------
_JSON_TYPES = {bool: "true or false", str: "a string", int: "an integer", list: "an array"}


def _get(body: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    if name not in body:
        if default is ...:
            raise ValidationError(name, "is required")
        return default
    value = body[name]
    if type(value) is not kind:
        raise ValidationError(name, f"must be {_JSON_TYPES[kind]}")
    if isinstance(value, list) and any(type(item) is not str for item in value):
        raise ValidationError(name, "must be an array of strings")
    return value


def _known(body: dict[str, Any], *names: str) -> None:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise ValidationError(unknown[0], "unknown field")


#: The fields of each body: (name, JSON type, default; ... for required).
_HAND_FIELDS: dict[str, tuple[tuple[str, type, Any], ...]] = {
    "UserCreate": (
        ("username", str, ...),
        ("password", str, ...),
        ("admin", bool, False),
        ("enabled", bool, True),
    ),
    "UserUpdate": (("enabled", bool, None), ("admin", bool, None)),
    "PasswordSet": (("password", str, ...),),
    "GroupCreate": (("name", str, ...), ("enabled", bool, True)),
    "GroupUpdate": (("enabled", bool, ...),),
    "KeyCreate": (("algorithm", str, "ES256"), ("validity_days", int, 365)),
    "GrantParts": (
        ("subject", str, ...),
        ("resource_type", str, ...),
        ("pattern", str, ...),
        ("actions", list, ...),
        ("allow_unknown_type", bool, False),
    ),
    "GrantScope": (("subject", str, ...), ("scope", str, ...), ("allow_unknown_type", bool, False)),
}


def hand_written(name: str, body: dict[str, Any]) -> object:
    fields = _HAND_FIELDS[name]
    _known(body, *(field for field, _, _ in fields))
    values = [_get(body, field, kind, default) for field, kind, default in fields]
    if "password" in body:
        values.append(Secret(body["password"]))
    return values


# -- pydantic, when installed ---------------------------------------------------------------------
def pydantic_models() -> dict[str, Any] | None:
    try:
        import pydantic
    except ImportError:
        return None
    return _pydantic_models(pydantic)


_PYDANTIC_MODELS = """
from pydantic import BaseModel, ConfigDict, SecretStr

class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

class UserCreate(Body):
    username: str
    password: SecretStr
    admin: bool = False
    enabled: bool = True

class UserUpdate(Body):
    enabled: bool | None = None
    admin: bool | None = None

class PasswordSet(Body):
    password: SecretStr

class GroupCreate(Body):
    name: str
    enabled: bool = True

class GroupUpdate(Body):
    enabled: bool

class KeyCreate(Body):
    algorithm: str = "ES256"
    validity_days: int = 365

class GrantParts(Body):
    subject: str
    resource_type: str
    pattern: str
    actions: list[str]
    allow_unknown_type: bool = False

class GrantScope(Body):
    subject: str
    scope: str
    allow_unknown_type: bool = False
"""


def _pydantic_models(pydantic: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    # The same source the import-cost child runs; compiled without this module's
    # ``from __future__ import annotations``, so pydantic sees real types.
    exec(compile(_PYDANTIC_MODELS, "<models>", "exec", dont_inherit=True), namespace)
    return {name: namespace[name] for name in BODIES}


#: The Structs of :mod:`~dockit_server.resources.admin.body_types` without their
#: documentation (which needs libdockit's constants), for the import cost.
_MSGSPEC_STRUCTS = """
from msgspec import UNSET, Struct, UnsetType

class Body(Struct, forbid_unknown_fields=True, kw_only=True):
    pass

class UserCreate(Body):
    username: str
    password: str
    admin: bool = False
    enabled: bool = True

class UserUpdate(Body):
    enabled: bool | UnsetType = UNSET
    admin: bool | UnsetType = UNSET

class PasswordSet(Body):
    password: str

class GroupCreate(Body):
    name: str
    enabled: bool = True

class GroupUpdate(Body):
    enabled: bool

class KeyCreate(Body):
    algorithm: str = "ES256"
    validity_days: int = 365

class GrantParts(Body):
    subject: str
    resource_type: str
    pattern: str
    actions: list[str]
    allow_unknown_type: bool = False

class GrantScope(Body):
    subject: str
    scope: str
    allow_unknown_type: bool = False
"""


# -- measuring ------------------------------------------------------------------------------------
Read = Callable[[str, bytes], object]


def per_call_us(read: Read, name: str, raw: bytes, rounds: int) -> float:
    """Median over ``rounds`` batches of the time per ``read(name, raw)``, in microseconds."""
    batch = 200
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(batch):
            with contextlib.suppress(ValidationError, msgspec.ValidationError, ValueError):
                read(name, raw)
        times.append((time.perf_counter() - start) / batch)
    return statistics.median(times) * 1e6


def mean_us(read: Read, which: int, rounds: int) -> float:
    """Mean over the declarations of the valid (0) or bad (1) body's time."""
    return statistics.mean(
        per_call_us(read, name, json.dumps(pair[which]).encode(), rounds)
        for name, pair in BODIES.items()
    )


def candidates(models: dict[str, Any] | None) -> dict[str, Read]:
    structs = {body.__name__: body for body in declared.REQUEST_BODIES}
    found: dict[str, Read] = {
        "strict JSON step alone": lambda _name, raw: strict_json(raw),
        "hand-written (before)": lambda name, raw: hand_written(name, strict_json(raw)),
        "msgspec.convert (now)": lambda name, raw: decode_body(strict_json(raw), structs[name]),
        "msgspec from bytes": lambda name, raw: msgspec.json.decode(
            raw, type=structs[name], dec_hook=lambda _kind, value: Secret(value)
        ),
    }
    if models is not None:
        found["pydantic model_validate"] = lambda name, raw: models[name].model_validate(
            strict_json(raw)
        )
        found["pydantic from bytes"] = lambda name, raw: models[name].model_validate_json(raw)
    return found


def import_ms(code: str, runs: int) -> float:
    """Median milliseconds ``code`` takes in a fresh interpreter (its start not counted)."""
    program = (
        "import time; t = time.perf_counter()\n"
        + code
        + "\nprint((time.perf_counter() - t) * 1000)"
    )
    command = [sys.executable, "-c", program]
    times = [
        float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def installed_kib(*distributions: str) -> float:
    total = 0
    for name in distributions:
        files = metadata.distribution(name).files or []
        total += sum(file.size or 0 for file in files)
    return total / 1024


def main(rounds: int = 30) -> None:
    models = pydantic_models()
    ways = candidates(models)
    print("| way | valid bodies (us per body) | bad bodies (us per body) | valid / before |")
    print("| --- | ---: | ---: | ---: |")
    baseline = mean_us(ways["hand-written (before)"], 0, rounds)
    for label, read in ways.items():
        valid, bad = mean_us(read, 0, rounds), mean_us(read, 1, rounds)
        print(f"| {label} | {valid:.2f} | {bad:.2f} | {valid / baseline:.2f}x |")
    print()
    runs = 9
    falcon_ms = import_ms("import falcon", runs)
    msgspec_ms = import_ms(_MSGSPEC_STRUCTS, runs)
    print("| import in a fresh interpreter | ms | / import falcon | installed KiB |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| falcon | {falcon_ms:.1f} | 1.00x | {installed_kib('falcon'):.0f} |")
    print(
        f"| msgspec + the 8 declarations | {msgspec_ms:.1f} | {msgspec_ms / falcon_ms:.2f}x "
        f"| {installed_kib('msgspec'):.0f} |"
    )
    if models is not None:
        pydantic_ms = import_ms(_PYDANTIC_MODELS, runs)
        size = installed_kib("pydantic", "pydantic_core", "annotated-types", "typing-inspection")
        print(
            f"| pydantic + the 8 models | {pydantic_ms:.1f} | {pydantic_ms / falcon_ms:.2f}x "
            f"| {size:.0f} (with pydantic-core, annotated-types, typing-inspection) |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
