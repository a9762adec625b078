"""What ``dockit api-server`` checks and says in the master process, around gunicorn.

* :func:`check_bind` runs before gunicorn: a port in use (or an address that is not this
  machine's) is one line naming ``server.bind`` / ``DOCKIT_BIND``, not gunicorn's five
  retries of "Connection in use".
* :func:`banner` is printed once, by the master when gunicorn listens (never by a worker):
  the URL, the database (never its password), the issuer, the services, the settings a
  registry needs, and the next command. After it comes a generated first admin's password,
  set apart so it does not scroll away among the start-up lines, or a note that
  ``admin.password`` was ignored because the database has users already.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import urllib.parse
from collections.abc import Callable
from typing import TextIO

from libdockit.errors import ConfigError

from .bootstrap import FirstAdmin
from .config import Settings

BIND_KEY = "server.bind"
_RULE = "-" * 72
_WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - recognised, not bound


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port)


def check_bind(settings: Settings) -> None:
    """Raise ConfigError naming ``server.bind`` unless gunicorn will be able to listen."""
    host, port = _split_bind(settings.server_bind)
    where = f"{settings.server_bind} (--bind, DOCKIT_BIND or server.bind)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            BIND_KEY, f"cannot listen on {where}: {host!r} is not a known host ({exc.strerror})"
        ) from None
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn binds: a port left in TIME_WAIT by a stopped Dockit is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(BIND_KEY, f"cannot listen on {where}: {_bind_reason(exc)}") from None


def _bind_reason(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            "the port is in use by another process (another Dockit?); stop it, or choose "
            "another port, e.g. --bind 127.0.0.1:4316"
        )
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root); use a port from 1024 up"
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            "that address is not one of this machine's; use 127.0.0.1 (this machine only) "
            "or 0.0.0.0 (every interface)"
        )
    return error.strerror or str(error)


def public_database_url(url: str) -> str:
    """The database URL with any password replaced by ``***``; a SQLite path made absolute."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if path and path != ":memory:":
            return f"{url} ({os.path.abspath(path)})"
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = user.partition(":")[0] + ":***@" + host
    query = urllib.parse.urlencode(
        [
            (key, "***" if key == "password" else value)
            for key, value in urllib.parse.parse_qsl(parts.query)
        ]
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def banner(settings: Settings, version: str) -> str:
    """The start-up banner (no secret in it)."""
    host, port = _split_bind(settings.server_bind)
    scheme = "https" if settings.server_tls_cert_file is not None else "http"
    if host in _WILDCARDS:
        url = f"{scheme}://{_url_host(host or '0.0.0.0')}:{port}"  # noqa: S104
        local_url = f"{scheme}://127.0.0.1:{port}"
        reach = "every interface: clients use this machine's name or address"
        realm_host = "HOST-CLIENTS-REACH"
    else:
        url = local_url = f"{scheme}://{_url_host(host)}:{port}"
        reach = (
            "this machine only; --bind 0.0.0.0:PORT listens on every interface"
            if _is_loopback(host)
            else "this address only"
        )
        realm_host = _url_host(host)
    services = ", ".join(settings.token_services)
    service_line = (
        services
        if services
        else "any (set token.services / DOCKIT_SERVICES to your registries' service names)"
    )
    registry_service = (
        settings.token_services[0] if settings.token_services else "YOUR-REGISTRY-SERVICE-NAME"
    )
    lines = [
        _RULE,
        f"Dockit {version} listens on {url} ({reach})",
        f"  database  {public_database_url(settings.database_url.reveal())}",
        f"  issuer    {settings.token_issuer}",
        f"  services  {service_line}",
        "  Next, before the registry starts, write the certificates it must trust:",
        f"    dockit init-container ./certs.pem --url {local_url}",
        "  then start the registry with (docker-registry / registry:2 environment):",
        f"    REGISTRY_AUTH_TOKEN_REALM={scheme}://{realm_host}:{port}/v2/token",
        f"    REGISTRY_AUTH_TOKEN_SERVICE={registry_service}",
        f"    REGISTRY_AUTH_TOKEN_ISSUER={settings.token_issuer}",
        "    REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=/path/to/certs.pem   (that file, where the "
        "registry sees it)",
        _RULE,
    ]
    return "\n".join(lines)


def first_admin_notice(
    settings: Settings, first_admin: FirstAdmin | None, local_url: str
) -> str | None:
    """The generated password, set apart; or why ``admin.password`` changed nothing."""
    if first_admin is not None and first_admin.generated_password is not None:
        name = first_admin.username
        return "\n".join(
            [
                "=" * 72,
                f"Created the first admin {name!r} with the password "
                f"{first_admin.generated_password.reveal()}",
                "It is shown only this once: store it now. To use it:",
                f"  export DOCKIT_URL={local_url} DOCKIT_USERNAME={name} DOCKIT_PASSWORD=...",
                f"Change it: `dockit user passwd {name}` (or, with access to the database, "
                f"`dockit bootstrap-admin {name} --reset-password`).",
                "DOCKIT_ADMIN_PASSWORD chooses the first admin's password of a new database.",
                "=" * 72,
            ]
        )
    if first_admin is not None:
        return f"Created the first admin {first_admin.username!r}."
    if settings.admin_password is not None:
        return (
            "note: admin.password (DOCKIT_ADMIN_PASSWORD) is ignored: it only sets the first "
            "admin's password when the database has no users, and this one has users. To "
            "change a password: `dockit user passwd NAME`, or on this database "
            "`dockit bootstrap-admin NAME --reset-password`."
        )
    return None


def announcer(
    settings: Settings,
    first_admin: FirstAdmin | None,
    version: str,
    stream: TextIO | None = None,
) -> Callable[[], None]:
    """A callable that prints the banner and the admin notice once (the first call)."""
    admin = first_admin
    pending = True

    def announce() -> None:
        nonlocal admin, pending
        if not pending:
            return
        pending = False
        out = stream or sys.stderr
        host, port = _split_bind(settings.server_bind)
        scheme = "https" if settings.server_tls_cert_file is not None else "http"
        local = "127.0.0.1" if host in _WILDCARDS else _url_host(host)
        text = banner(settings, version)
        notice = first_admin_notice(settings, admin, f"{scheme}://{local}:{port}")
        admin = None  # the generated password is not kept once shown
        if notice is not None:
            text += "\n" + notice
        out.write(text + "\n")
        out.flush()

    return announce
