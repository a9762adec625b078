"""``/healthz`` (the process answers) and ``/readyz`` (store reachable, a key can sign)."""

from __future__ import annotations

import falcon

from libdockit.backends.base import HealthCheck
from libdockit.errors import DockitError
from libdockit.keyring import KeyRing


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class ReadyResource:
    def __init__(self, store: HealthCheck, keys: KeyRing) -> None:
        self._store = store
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks: dict[str, str] = {}
        ready = True
        for name, check in (("store", self._store.ping), ("signing_key", self._keys.active)):
            try:
                check()
                checks[name] = "ok"
            except DockitError as exc:
                ready = False
                checks[name] = exc.message
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ok" if ready else "unavailable", "checks": checks}
