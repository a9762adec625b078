"""Keep browsers from changing Dockit on a page's behalf (cross-site request forgery).

An admin's browser may hold Basic credentials for Dockit and send them with any request a
web page makes it send. Such a page can send a "simple" request without asking: a form
POST (``application/x-www-form-urlencoded``, ``multipart/form-data``, ``text/plain``) or a
``fetch`` without a ``Content-Type``. So every Admin API write (POST, PUT, PATCH, DELETE):

* is refused with 403 ``DENIED`` when the browser marks it as coming from another site:
  ``Sec-Fetch-Site`` other than ``same-origin`` or ``none``, or an ``Origin`` whose host
  and port are not the request's ``Host`` (``Origin: null`` included);
* is refused with 415 ``UNSUPPORTED_MEDIA_TYPE`` when it carries a ``Content-Type`` that is
  not JSON, body or not (the body of a write must be JSON, see
  :func:`~dockit_server.resources.admin.bodies.read_object`, and a write without one needs
  no ``Content-Type``).

A 403 to a request that sent credentials is recorded in the audit log as a refused attempt
(``admin.refuse``, see :mod:`.admin_refusals`).

A JSON body with a JSON ``Content-Type`` is not a simple request: a browser sends it across
sites only after a CORS preflight, which Dockit never answers. The ``dockit`` CLI, curl and
other programs send neither ``Origin`` nor ``Sec-Fetch-Site``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import falcon

from libdockit.errors import PermissionDenied

from .admin_refusals import AdminRefusals
from .resources.admin.bodies import is_json_media_type, unsupported_media_type
from .resources.admin.views import API_PREFIX

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE = frozenset({"same-origin", "none"})


class CrossSiteGuard:
    def __init__(self, refusals: AdminRefusals) -> None:
        self._refusals = refusals

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        if req.method not in _WRITES or not req.path.startswith(API_PREFIX):
            return
        refused = _cross_site(req)
        if refused is not None:
            self._refusals.record(req, resource, params, refused)
            raise refused
        if req.content_type and not is_json_media_type(req.content_type):
            raise unsupported_media_type()


def _cross_site(req: falcon.Request) -> PermissionDenied | None:
    fetch_site = (req.get_header("Sec-Fetch-Site") or "").strip().lower()
    if fetch_site and fetch_site not in _SAME_SITE:
        return PermissionDenied(
            f"cross-site requests cannot change Dockit (Sec-Fetch-Site: {fetch_site})"
        )
    origin = req.get_header("Origin")
    if origin is not None and not _same_host(origin, req.get_header("Host") or ""):
        return PermissionDenied("cross-site requests cannot change Dockit (Origin)")
    return None


def _same_host(origin: str, host: str) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) names ``host`` (the Host header). The
    scheme is not compared: a TLS-terminating proxy changes it, a site cannot."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = 443 if parts.scheme == "https" else 80
    origin_host = parts.hostname.lower()
    try:
        wanted = urlsplit(f"//{host.strip()}")
        wanted_port = wanted.port
    except ValueError:
        return False
    # A Host without a port is the default port of the scheme the page used.
    return (wanted.hostname or "").lower() == origin_host and (port or default) == (
        wanted_port or default
    )
