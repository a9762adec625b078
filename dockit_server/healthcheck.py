"""``dockit healthcheck``: is the api-server configured here ready? (a container HEALTHCHECK).

It reads the same settings as ``dockit api-server`` (``DOCKIT_CONFIG``, ``DOCKIT_*``) and asks
``/readyz`` where that server listens: the host of ``server.bind`` (a wildcard address is
asked on loopback), over HTTPS when ``server.tls_cert_file`` is set. The certificate is not
verified: the check talks to its own server, by an address the certificate need not name,
and sends nothing secret. Exit 0 when ``/readyz`` answers 200, 1 otherwise (with one line
on stderr saying why).
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.error
import urllib.request

from .config import Settings

READY_PATH = "/readyz"
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away


def ready_url(settings: Settings) -> str:
    """Where the api-server of ``settings`` answers ``/readyz``."""
    host, _, port = settings.server_bind.rpartition(":")
    host = host.strip("[]")
    host = _WILDCARDS.get(host, host)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    scheme = "https" if settings.server_tls_cert_file is not None else "http"
    return f"{scheme}://{host}:{port}{READY_PATH}"


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def check(settings: Settings, *, timeout: float = 3.0) -> tuple[bool, str]:
    """(ready, what happened) for the server ``settings`` describe."""
    url = ready_url(settings)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # never through a proxy of the environment
        urllib.request.HTTPSHandler(context=_unverified_context()),
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return False, f"{url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {getattr(exc, 'reason', exc)}"
    if status != 200:
        return False, f"{url} answered HTTP {status}"
    return True, f"{url} is ready"
