"""The OpenAPI document describes exactly the routes the app serves, and real answers
match its schemas (checked with a tiny JSON Schema subset, below, to add no dependency)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import falcon
import falcon.testing
import openapi_spec_validator
import pytest
from falcon.routing.compiled import CompiledRouterNode

from dockit_server.resources.admin.bodies import MAX_BODY_BYTES
from dockit_server.resources.admin.openapi_doc import OPENAPI_DOCUMENT

from .conftest import ADMIN_AUTH, API, USER_AUTH, WsgiApp

DOC: dict[str, Any] = OPENAPI_DOCUMENT
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# -- a JSON Schema subset ---------------------------------------------------------------
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}


def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref`` chains within the document."""
    while "$ref" in node:
        target: Any = DOC
        pointer = str(node["$ref"])
        assert pointer.startswith("#/"), pointer
        for part in pointer[2:].split("/"):
            target = target[part]
        node = target
    return node


def _is(value: Any, wanted: str) -> bool:
    if isinstance(value, bool) and wanted in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[wanted])


def check(schema: Mapping[str, Any], value: Any, path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``: type, enum, oneOf, required, properties,
    additionalProperties: false, minProperties, items, minItems, minimum/maximum,
    minLength/maxLength and pattern. Other keywords are annotations here."""
    schema = resolve(schema)
    if "type" in schema:
        wanted = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, name) for name in wanted):
            return [f"{path}: {type(value).__name__} is not {wanted}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not check(s, value, path)]
        if len(matching) != 1:
            errors.append(f"{path}: matches {len(matching)} oneOf schemas, not 1")
    if isinstance(value, dict):
        required = schema.get("required", ())
        errors += [f"{path}: missing {name!r}" for name in required if name not in value]
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{path}: fewer than {schema['minProperties']} properties")
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors += check(properties[name], item, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {name!r}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        for index, item in enumerate(value):
            errors += check(schema.get("items", {}), item, f"{path}[{index}]")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{path}: length {len(value)} out of range")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        errors.append(f"{path}: {value} out of range")
    return errors


def test_checker_catches_violations() -> None:
    user = {"$ref": "#/components/schemas/User"}
    assert check(user, {"username": "a"})  # missing fields
    good = {
        "username": "a",
        "enabled": True,
        "admin": False,
        "groups": [],
        "created_at": None,
        "updated_at": "2024-01-01T00:00:00Z",
    }
    assert check(user, good) == []
    assert check(user, {**good, "enabled": 1})
    assert check(user, {**good, "password_hash": "x"})
    assert check(user, {**good, "groups": ["UPPER"]})
    assert check({"$ref": "#/components/schemas/GrantCreate"}, {"subject": "x"})


# -- the routes -------------------------------------------------------------------------
def served_routes(app: WsgiApp) -> set[tuple[str, str]]:
    """(template, METHOD) for every responder the app's router has under /api/v1."""

    def walk(nodes: list[CompiledRouterNode]) -> Iterator[tuple[str, str]]:
        for node in nodes:
            if node.resource is not None and node.uri_template and node.method_map:
                for method, responder in node.method_map.items():
                    # Falcon's default OPTIONS and 405 responders are not the resource's.
                    if inspect.ismethod(responder) and responder.__self__ is node.resource:
                        yield node.uri_template, method
            yield from walk(node.children)

    return {(t, m) for t, m in walk(app._router._roots) if t.startswith(API + "/")}


def documented_routes() -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in DOC["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_document_describes_exactly_the_served_routes(
    app: WsgiApp,
) -> None:
    assert served_routes(app) == documented_routes()


def test_an_undocumented_route_is_caught(app: WsgiApp) -> None:
    class Extra:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = {}

    app.add_route(API + "/extra", Extra())
    assert served_routes(app) - documented_routes() == {(API + "/extra", "GET")}


def test_served_document(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get(API + "/openapi.json")
    assert result.status_code == 200
    assert result.headers["Content-Type"].startswith("application/json")
    assert result.json == DOC
    assert DOC["openapi"] == "3.1.0"
    assert DOC["components"]["securitySchemes"]["basicAuth"] == {
        **DOC["components"]["securitySchemes"]["basicAuth"],
        "type": "http",
        "scheme": "basic",
    }
    assert DOC["security"] == [{"basicAuth": []}]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_document_is_consistent() -> None:
    for pointer in _refs(DOC):
        assert resolve({"$ref": pointer}), pointer
    operation_ids = []
    for path, item in DOC["paths"].items():
        declared = {
            resolve(p)["name"] for p in item.get("parameters", ()) if resolve(p)["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for method in (m for m in item if m in HTTP_METHODS):
            operation = item[method]
            operation_ids.append(operation["operationId"])
            responses = operation["responses"]
            if operation.get("security") != []:
                assert {"400", "401", "403", "503"} <= set(responses), (path, method)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (path, method)
    assert len(operation_ids) == len(set(operation_ids))


# -- real answers against the documented schemas ----------------------------------------
@dataclass(frozen=True)
class Step:
    method: str
    template: str
    status: int
    args: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=lambda: dict(ADMIN_AUTH))
    body: bytes | None = None


PARTS = {
    "subject": "group:team",
    "resource_type": "repository",
    "pattern": "a/*",
    "actions": ["pull"],
}
BOB = {"username": "bob"}
TEAM = {"name": "team"}
TEAM_BOB = {"name": "team", "username": "bob"}
GRANT = {"grant_id": "1"}
ROBOT = {"name": "ci", "owner": "user:bob"}
CI = {"name": "ci"}
TEXT = {**ADMIN_AUTH, "Content-Type": "text/plain"}
JSON_TYPED = {**ADMIN_AUTH, "Content-Type": "application/json"}
FORM = {**ADMIN_AUTH, "Content-Type": "application/x-www-form-urlencoded"}
CROSS_SITE = {**ADMIN_AUTH, "Sec-Fetch-Site": "cross-site"}
POLICY_FIELDS = {
    "issuer": "https://token.actions.githubusercontent.com",
    "audiences": ["dockit"],
    "conditions": [{"claim": "repository_owner", "value": "acme"}],
    "grants": [{"pattern": "ci/${claim.repository}/**", "actions": ["push"]}],
}
GH = {"name": "gh"}
STEPS = [
    Step("GET", "/openapi.json", 200, headers={}),
    Step("GET", "/users", 200),
    Step("GET", "/users", 401, headers={}),
    Step("GET", "/users", 403, headers=USER_AUTH),
    Step("GET", "/users", 400, json=None, headers={**ADMIN_AUTH}, args={"?": "limit=x"}),
    Step("POST", "/users", 201, json={"username": "bob", "password": "pw-123456"}),
    Step("POST", "/users", 409, json={"username": "bob", "password": "pw-123456"}),
    Step("POST", "/users", 400, json={"username": "bob"}),
    Step("POST", "/users", 415, headers=TEXT, body=b"{}"),
    Step("POST", "/users", 413, headers=JSON_TYPED, body=b" " * (MAX_BODY_BYTES + 1)),
    Step("POST", "/users", 415, body=b'{"username": "bob"}'),
    Step(
        "POST", "/users", 403, headers=CROSS_SITE, json={"username": "x", "password": "x-1234567"}
    ),
    Step("GET", "/users/{username}", 200, BOB),
    Step("GET", "/users/{username}", 404, {"username": "nobody"}),
    Step("PATCH", "/users/{username}", 200, BOB, json={"admin": True}),
    Step("PATCH", "/users/{username}", 409, {"username": "root"}, json={"admin": False}),
    Step("PUT", "/users/{username}/password", 204, BOB, json={"password": "x-123456"}),
    Step("GET", "/users/{username}/refresh-tokens", 200, BOB),
    Step("GET", "/users/{username}/refresh-tokens", 404, {"username": "nobody"}),
    Step("DELETE", "/users/{username}/refresh-tokens", 200, BOB),
    Step("DELETE", "/refresh-tokens/{token_id}", 404, {"token_id": "0123456789abcdef"}),
    Step("POST", "/groups", 201, json={"name": "team"}),
    Step("GET", "/groups", 200),
    Step("GET", "/groups/{name}", 200, TEAM),
    Step("PATCH", "/groups/{name}", 200, TEAM, json={"enabled": False}),
    Step("PUT", "/groups/{name}/members/{username}", 415, TEAM_BOB, headers=FORM, body=b""),
    Step("PUT", "/groups/{name}/members/{username}", 403, TEAM_BOB, headers=CROSS_SITE),
    Step("PUT", "/groups/{name}/members/{username}", 200, TEAM_BOB),
    Step("DELETE", "/groups/{name}/members/{username}", 200, TEAM_BOB),
    Step("DELETE", "/groups/{name}/members/{username}", 404, TEAM_BOB),
    Step("POST", "/grants", 201, json=PARTS),
    Step("POST", "/grants", 201, json={"subject": "user:bob", "scope": "repository:b/**:*"}),
    Step("GET", "/grants", 200),
    Step("GET", "/explain", 200, {"?": "user=bob&scope=repository:b/x:pull,push"}),
    Step("GET", "/explain", 200, {"?": "scope=repository:b/x:pull&scope=registry:catalog:*"}),
    Step("GET", "/explain", 400, {"?": "user=bob"}),
    Step("GET", "/grants/{grant_id}", 200, GRANT),
    Step("GET", "/grants/{grant_id}", 400, {"grant_id": "x"}),
    Step("DELETE", "/grants/{grant_id}", 204, GRANT),
    Step("DELETE", "/grants/{grant_id}", 404, GRANT),
    Step("GET", "/audit", 200),
    Step("GET", "/audit", 200, {"?": "kind=admin&action=user.*&since=2020-01-01T00:00:00Z"}),
    Step("GET", "/audit", 400, {"?": "since=yesterday"}),
    Step("GET", "/keys", 200),
    Step("POST", "/keys", 201, json={"validity_days": 30}),
    Step("POST", "/keys", 400, json={"algorithm": "none"}),
    Step("GET", "/keys/{kid}", 404, {"kid": "NOPE"}),
    Step("POST", "/keys/{kid}/activate", 404, {"kid": "NOPE"}),
    Step("POST", "/keys/{kid}/retire", 404, {"kid": "NOPE"}),
    Step("POST", "/trust-policies", 201, json={"name": "gh", **POLICY_FIELDS}),
    Step("POST", "/trust-policies", 409, json={"name": "gh", **POLICY_FIELDS}),
    Step(
        "POST", "/trust-policies", 400, json={"name": "x", **POLICY_FIELDS, "leeway_seconds": 900}
    ),
    Step("GET", "/trust-policies", 200),
    Step("GET", "/trust-policies/{name}", 200, GH),
    Step("GET", "/trust-policies/{name}", 404, {"name": "nobody"}),
    Step("PUT", "/trust-policies/{name}", 200, GH, json={**POLICY_FIELDS, "leeway_seconds": 5}),
    Step("PUT", "/trust-policies/{name}", 404, {"name": "nobody"}, json=POLICY_FIELDS),
    Step(
        "POST",
        "/trust-policies/{name}/explain",
        200,
        GH,
        json={"claims": {"repository_owner": "acme", "repository": "acme/app"}},
    ),
    Step("POST", "/trust-policies/{name}/explain", 400, GH, json={}),
    Step("DELETE", "/trust-policies/{name}", 204, GH),
    Step("DELETE", "/trust-policies/{name}", 404, GH),
    Step("POST", "/robots", 201, json={**ROBOT, "expires_in": 3600}),
    Step("POST", "/robots", 400, json={"name": "ci2", "owner": "user:bob"}),
    Step("POST", "/robots", 409, json={"name": "bob", "owner": "user:bob", "expires_in": 60}),
    Step("POST", "/robots", 404, json={"name": "ci2", "owner": "user:x", "expires_in": 60}),
    Step("GET", "/robots", 200, {"?": "owner=user:bob"}),
    Step("GET", "/robots/{name}", 200, CI),
    Step("GET", "/explain", 200, {"?": "robot=ci&scope=repository:b/x:pull"}),
    Step("GET", "/explain", 404, {"?": "robot=nobody&scope=repository:b/x:pull"}),
    Step("GET", "/robots/{name}", 404, {"name": "nobody"}),
    Step("PATCH", "/robots/{name}", 200, CI, json={"enabled": False}),
    Step("POST", "/robots/{name}/secret", 200, CI),
    Step("POST", "/robots/{name}/secret", 404, {"name": "nobody"}, json={}),
    Step("DELETE", "/robots/{name}", 204, CI),
    Step("DELETE", "/robots/{name}", 404, CI),
    Step("POST", "/tokens", 201, json={"name": "laptop", "scopes": ["repository:a/*:pull"]}),
    Step("POST", "/tokens", 201, headers=USER_AUTH, json={"name": "ci", "expires_in": 60}),
    Step("POST", "/tokens", 400, headers=USER_AUTH, json={"name": "x", "expires_in": 10**9}),
    Step("GET", "/tokens", 200, headers=USER_AUTH),
    Step("GET", "/tokens", 401, headers={}),
    Step("DELETE", "/tokens/{token_id}", 404, {"token_id": "nope"}, headers=USER_AUTH),
    Step("GET", "/users/{username}/tokens", 200, {"username": "alice"}),
    Step("DELETE", "/groups/{name}", 204, TEAM),
    Step("DELETE", "/users/{username}", 204, BOB),
]


def test_every_operation_is_exercised() -> None:
    assert {(API + s.template, s.method) for s in STEPS} == documented_routes()


def test_answers_match_the_documented_schemas(client: falcon.testing.TestClient) -> None:
    for step in STEPS:
        path = step.template
        for name, value in step.args.items():
            path = path.replace("{" + name + "}", value)
        result = client.simulate_request(
            step.method,
            API + path,
            headers=step.headers,
            json=step.json,
            body=step.body,
            query_string=step.args.get("?"),
        )
        where = f"{step.method} {step.template} -> {result.status_code}"
        assert result.status_code == step.status, (where, result.text)
        operation = DOC["paths"][API + step.template][step.method.lower()]
        response = resolve(operation["responses"][str(step.status)])
        for header in response.get("headers", {}):
            assert header in result.headers, (where, header)
        content = response.get("content")
        if content is None:
            assert result.content == b"", where
            continue
        assert result.headers["Content-Type"].startswith("application/json"), where
        assert check(content["application/json"]["schema"], result.json) == [], where


@pytest.mark.parametrize("name", sorted(DOC["components"]["schemas"]))
def test_schemas_are_objects_or_combinations(name: str) -> None:
    schema = DOC["components"]["schemas"][name]
    assert schema.get("type") == "object" or "oneOf" in schema, name


def test_document_passes_openapi_spec_validator() -> None:
    """The whole document against the OpenAPI 3.1 meta-schema."""
    openapi_spec_validator.validate(DOC)
