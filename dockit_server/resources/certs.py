"""``/v2/certs/pem`` and ``/v2/certs/jwks``: the published signing keys, for registries.

Both read the key store afresh on every request (one small query; parsed keys stay cached)
instead of serving the key ring's keys, which another process may have changed up to a
refresh interval ago: the init step that runs right after ``POST /api/v1/keys`` must see the
new pending key whichever worker answers, or the registries restart without it and refuse
every token the key signs once it is activated. If the store is down they answer with the
keys read last.
"""

from __future__ import annotations

import falcon

from libdockit.keys.material import public_jwk
from libdockit.keys.ring import KeyRing

PEM_MEDIA_TYPE = "application/x-pem-file"
#: How old the keys behind an answer may be, in seconds: read them for each answer.
MAX_AGE = 0.0


class CertsResource:
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._keys.refresh(max_age=MAX_AGE)
        resp.content_type = PEM_MEDIA_TYPE
        resp.data = self._keys.bundle_pem()


class JwksResource:
    """``/v2/certs/jwks``: the published keys as a JWK Set, for registry 3.x's ``jwks``.

    Each key's ``kid`` is the libtrust ID that token headers carry, and ``x5c`` its chain.
    3.x trusts each key under its ``kid`` member, so the kid-only tokens of
    ``token.jwks_services`` find their key here (see :mod:`libdockit.tokens`).
    """

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._keys.refresh(max_age=MAX_AGE)
        resp.media = {"keys": [public_jwk(key) for key in self._keys.published()]}
