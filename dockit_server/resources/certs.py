"""``/v2/certs/pem`` and ``/v2/certs/jwks``: the published signing keys, for registries."""

from __future__ import annotations

import falcon

from libdockit.keyring import KeyRing
from libdockit.keys import public_jwk

PEM_MEDIA_TYPE = "application/x-pem-file"


class CertsResource:
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = PEM_MEDIA_TYPE
        resp.data = self._keys.bundle_pem()


class JwksResource:
    """``/v2/certs/jwks``: the published keys as a JWK Set, for registry 3.x's ``jwks``.

    Each key's ``kid`` is the libtrust ID that token headers carry, and ``x5c`` its chain.
    """

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"keys": [public_jwk(key) for key in self._keys.published()]}
