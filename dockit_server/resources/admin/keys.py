"""``/api/v1/keys``: list, create (pending), activate and retire signing keys.

Views carry public facts only (kid, algorithm, state, times); never key material. After a
change the serving process re-reads its key ring at once; other processes within seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import falcon

from libdockit.backends.base import StoredKey
from libdockit.keymanager import KeyManager
from libdockit.keyring import KeyRing

from .auth import AdminAuth
from .bodies import read_body_as
from .body_types import KeyCreate
from .paging import check_params
from .views import API_PREFIX, key_json


class KeysResource:
    """``GET`` lists every stored key, oldest first; ``POST`` creates a pending key."""

    def __init__(self, manager: KeyManager, ring: KeyRing, auth: AdminAuth) -> None:
        self._manager = manager
        self._ring = ring
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = {"items": [key_json(key) for key in self._manager.list_keys()]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        body = read_body_as(req, KeyCreate)
        key = self._manager.create_key(body.algorithm, validity_days=body.validity_days)
        self._ring.refresh()
        resp.status = falcon.HTTP_201
        resp.location = f"{API_PREFIX}/keys/{key.kid}"
        resp.media = key_json(key)


class KeyResource:
    def __init__(self, manager: KeyManager, auth: AdminAuth) -> None:
        self._manager = manager
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response, kid: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = key_json(self._manager.get_key(kid))


class KeyStateResource:
    """``POST`` moves a key to another state: ``activate`` (it signs from now on; the
    previous active key is retired) or ``retire`` (it leaves the bundle once its tokens
    have expired)."""

    def __init__(
        self,
        manager: KeyManager,
        ring: KeyRing,
        auth: AdminAuth,
        change: Callable[[KeyManager, str], StoredKey],
    ) -> None:
        self._manager = manager
        self._ring = ring
        self._auth = auth
        self._change = change

    def on_post(self, req: falcon.Request, resp: falcon.Response, kid: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        key = self._change(self._manager, kid)
        self._ring.refresh()
        resp.media = key_json(key)
