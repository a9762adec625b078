"""``/v2/certs/pem``: every published signing certificate, for the registry's bundle."""

from __future__ import annotations

import falcon

from libdockit.keyring import KeyRing

PEM_MEDIA_TYPE = "application/x-pem-file"


class CertsResource:
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = PEM_MEDIA_TYPE
        resp.data = self._keys.bundle_pem()
