"""``/api/v1/keys``: list, create (pending), activate and retire signing keys.

Views carry public facts only (kid, algorithm, state, times); never key material. After a
change the serving process re-reads its key ring at once; other processes within seconds.
"""

from __future__ import annotations

import falcon

from libdockit.keys.manager import KeyManager
from libdockit.keys.ring import KeyRing
from libdockit.model import StoredKey

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .bodies import read_body_as
from .body_types import KeyCreate
from .paging import check_params
from .views import API_PREFIX, key_json


@admin_only
class KeysResource(AdminResource):
    """``GET`` lists every stored key, oldest first; ``POST`` creates a pending key."""

    def __init__(self, manager: KeyManager, ring: KeyRing, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._manager = manager
        self._ring = ring

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        resp.media = {"items": [key_json(key) for key in self._manager.list_keys()]}

    @admin_action("key.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        body = read_body_as(req, KeyCreate)
        key = self._manager.create_key(
            body.algorithm, validity_days=body.validity_days, actor=actor_of(req)
        )
        self._ring.refresh()
        resp.status = falcon.HTTP_201
        resp.location = f"{API_PREFIX}/keys/{key.kid}"
        resp.media = key_json(key)


@admin_only
class KeyResource(AdminResource):
    def __init__(self, manager: KeyManager, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response, kid: str) -> None:
        check_params(req, ())
        resp.media = key_json(self._manager.get_key(kid))


class _KeyStateResource(AdminResource):
    def __init__(self, manager: KeyManager, ring: KeyRing, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._manager = manager
        self._ring = ring

    def _answer(self, resp: falcon.Response, key: StoredKey) -> None:
        self._ring.refresh()
        resp.media = key_json(key)


@admin_only
class KeyActivateResource(_KeyStateResource):
    """``POST`` makes a key the one that signs from now on (the previous active key is
    retired)."""

    @admin_action("key.activate", target="key:{kid}")
    def on_post(self, req: falcon.Request, resp: falcon.Response, kid: str) -> None:
        check_params(req, ())
        self._answer(resp, self._manager.activate_key(kid, actor=actor_of(req)))


@admin_only
class KeyRetireResource(_KeyStateResource):
    """``POST`` retires a key: it leaves the bundle once its tokens have expired."""

    @admin_action("key.retire", target="key:{kid}")
    def on_post(self, req: falcon.Request, resp: falcon.Response, kid: str) -> None:
        check_params(req, ())
        self._answer(resp, self._manager.retire_key(kid, actor=actor_of(req)))
