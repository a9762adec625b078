"""The action of an Admin API write comes from its responder's declaration: every write
route the app's router holds names its action there, a refused attempt is recorded under
it, and a route added later is audited by its declaration, with no table to update."""

from __future__ import annotations

import itertools
import re
from typing import Any

import falcon
import falcon.inspect
import falcon.testing

from dockit_server.admin_refusals import AdminRefusals, admin_action
from dockit_server.app import create_app
from dockit_server.components import Components
from dockit_server.resources.admin.auth import AdminAuth, AdminResource, actor_of, admin_only

from .conftest import ADMIN, ADMIN_AUTH, API, USER_AUTH, WsgiApp, basic

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRONG_PASSWORD = basic(ADMIN, "not-the-password")
#: A declared action: dotted lower-case words (``user.refresh_tokens.revoke``).
ACTION_NAME = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_request_ids = (f"attempt-{n}" for n in itertools.count())


def write_routes(app: WsgiApp) -> list[tuple[str, str]]:
    """(METHOD, template) of every write responder the app's router holds under the API
    (falcon's own 405 responders left out)."""
    return sorted(
        (method.method, route.path)
        for route in falcon.inspect.inspect_routes(app)
        if route.path.startswith(API)
        for method in route.methods
        if method.method in WRITES and not method.internal
    )


def refused_attempt(
    client: falcon.testing.TestClient, method: str, template: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Send ``method`` to the route (each parameter ``zed``) with ``headers`` that get it
    refused; the ``admin.refuse`` event it left."""
    request_id = next(_request_ids)
    path = re.sub(r"\{\w+\}", "zed", template)
    result = client.simulate_request(
        method, path, headers={**headers, "X-Request-Id": request_id}, json={}
    )
    assert result.status_code in (401, 403), (method, path, result.status)
    events = client.simulate_get(
        f"{API}/audit", query_string="action=admin.refuse&limit=1000", headers=ADMIN_AUTH
    ).json["items"]
    (event,) = [e for e in events if e["request_id"] == request_id]
    return dict(event)


def undeclared(app: WsgiApp, client: falcon.testing.TestClient) -> list[tuple[str, str, str]]:
    """Write routes whose refused attempts are not named by a declaration."""
    found = []
    for method, template in write_routes(app):
        attempted = refused_attempt(client, method, template, WRONG_PASSWORD)["detail"]["attempted"]
        if ACTION_NAME.fullmatch(attempted) is None:
            found.append((method, template, attempted))
    return found


def test_every_write_route_declares_its_action(
    app: WsgiApp, client: falcon.testing.TestClient
) -> None:
    assert len(write_routes(app)) >= 16
    assert undeclared(app, client) == []
    user_update = refused_attempt(client, "PATCH", API + "/users/{username}", WRONG_PASSWORD)
    assert (user_update["actor"], user_update["target"]) == ("user:root", "user:zed")
    assert user_update["detail"]["attempted"] == "user.update"


@admin_only
class WidgetResource(AdminResource):
    """A write route no table has ever named: one responder declared, one not."""

    @admin_action("widget.polish", target="widget:{name}")
    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = {"polished": name, "by": actor_of(req).subject}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.status = falcon.HTTP_204


def test_a_new_route_is_audited_by_its_declaration(components: Components) -> None:
    app = create_app(components)
    auth = AdminAuth(components.tokens, AdminRefusals(components.audit, API))
    app.add_route(API + "/widgets/{name}", WidgetResource(auth))
    client = falcon.testing.TestClient(app)

    polish = refused_attempt(client, "POST", API + "/widgets/{name}", USER_AUTH)
    assert (polish["actor"], polish["target"]) == ("user:alice", "widget:zed")
    assert (polish["detail"]["attempted"], polish["detail"]["status"]) == ("widget.polish", 403)
    # The sweep above finds the responder that declares nothing.
    assert undeclared(app, client) == [
        ("DELETE", API + "/widgets/{name}", "delete /widgets/{name}")
    ]
    # An admin gets through the declared hook to the responder, which knows who acts.
    done = client.simulate_post(API + "/widgets/gear", headers=ADMIN_AUTH, json={})
    assert done.json == {"polished": "gear", "by": "user:root"}
    assert done.headers["Cache-Control"] == "no-store"


def test_a_cross_site_write_is_named_by_its_declaration(
    client: falcon.testing.TestClient,
) -> None:
    headers = {**ADMIN_AUTH, "Origin": "http://evil.example"}
    refused = refused_attempt(client, "DELETE", API + "/groups/{name}", headers)
    assert (refused["actor"], refused["target"]) == ("user:root", "group:zed")
    assert (refused["detail"]["attempted"], refused["detail"]["status"]) == ("group.delete", 403)
