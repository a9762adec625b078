"""The Admin API: JSON over HTTP under ``/api/v1`` for users, groups and grants.

Modules, one concern each: :mod:`.auth` (admin Basic credentials, admitted by a hook every
resource declares), :mod:`.body_types` and
:mod:`.view_types` (the declarations of request bodies and answers), :mod:`.bodies` (reading
a body as its declaration), :mod:`.paging` (query parameters), :mod:`.views` (JSON views),
:mod:`.users`, :mod:`.groups`, :mod:`.grants` (resources), :mod:`.routes` (the table),
:mod:`.openapi_doc` / :mod:`.openapi_schemas` (the OpenAPI document) and :mod:`.openapi`.
"""

from __future__ import annotations

import falcon

from ...admin_refusals import AdminRefusals
from ...components import Components
from .auth import AdminAuth
from .openapi import OpenApiResource
from .routes import ADMIN_ROUTES, OPENAPI_ROUTE
from .views import API_PREFIX

__all__ = ["API_PREFIX", "register_admin_routes"]


def register_admin_routes(
    app: falcon.App[falcon.Request, falcon.Response],
    components: Components,
    refusals: AdminRefusals,
) -> None:
    """Add every Admin API route, and the public OpenAPI document, to ``app``; refused
    attempts are recorded by ``refusals``."""
    auth = AdminAuth(components.tokens, refusals)
    for template, factory in ADMIN_ROUTES:
        app.add_route(API_PREFIX + template, factory(components, auth))
    app.add_route(API_PREFIX + OPENAPI_ROUTE, OpenApiResource())
