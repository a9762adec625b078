"""The Admin API's route table, relative to :data:`~.views.API_PREFIX`.

Every resource here requires an admin; the public OpenAPI route is added separately.
"""

from __future__ import annotations

from collections.abc import Callable

from libdockit.admin import AdminService

from .auth import AdminAuth
from .grants import GrantResource, GrantsResource
from .groups import GroupMemberResource, GroupResource, GroupsResource
from .users import UserPasswordResource, UserResource, UsersResource

ResourceFactory = Callable[[AdminService, AdminAuth], object]

ADMIN_ROUTES: tuple[tuple[str, ResourceFactory], ...] = (
    ("/users", UsersResource),
    ("/users/{username}", UserResource),
    ("/users/{username}/password", UserPasswordResource),
    ("/groups", GroupsResource),
    ("/groups/{name}", GroupResource),
    ("/groups/{name}/members/{username}", GroupMemberResource),
    ("/grants", GrantsResource),
    ("/grants/{grant_id}", GrantResource),
)
EXPLAIN_ROUTE = "/explain"
OPENAPI_ROUTE = "/openapi.json"
