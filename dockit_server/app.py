"""create_app(): the Falcon application, from collaborators passed in (no globals)."""

from __future__ import annotations

from typing import Any

import falcon

from .admin_refusals import AdminRefusals
from .client_address import ClientAddress
from .components import Components
from .cross_site import CrossSiteGuard
from .errors import ErrorHandlers
from .middleware import RequestContext, StoreConnection
from .resources.admin import API_PREFIX, register_admin_routes
from .resources.certs import CertsResource, JwksResource
from .resources.health import HealthResource, ReadyResource
from .resources.metrics import MetricsResource
from .resources.token import TokenResource


def create_app(components: Components) -> falcon.App[falcon.Request, falcon.Response]:
    context = RequestContext(metrics=components.metrics, json_logs=components.json_logs)
    refusals = AdminRefusals(components.audit, API_PREFIX)
    middleware: list[Any] = [
        ClientAddress(components.trusted_proxies),
        context,
        CrossSiteGuard(refusals),
    ]
    if components.store_connection is not None:
        # First, so that its process_response, which gives the connection back, runs last.
        middleware.insert(0, StoreConnection(components.store_connection))
    app: falcon.App[falcon.Request, falcon.Response] = falcon.App(middleware=middleware)
    app.req_options.auto_parse_qs_csv = False
    app.req_options.strip_url_path_trailing_slash = True
    ErrorHandlers(components.realm).install(app)
    app.add_route("/v2/token", TokenResource(components.tokens))
    app.add_route("/v2/certs/pem", CertsResource(components.tokens.keys))
    app.add_route("/v2/certs/jwks", JwksResource(components.tokens.keys))
    app.add_route("/healthz", HealthResource())
    app.add_route("/readyz", ReadyResource(components.health, components.tokens.keys))
    if components.metrics is not None:
        app.add_route("/metrics", MetricsResource(components.metrics))
    register_admin_routes(app, components, refusals)
    return app
