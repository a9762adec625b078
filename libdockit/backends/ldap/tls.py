"""TLS for the LDAP backend: one verifying :class:`ssl.SSLContext` for ``ldaps://`` and
StartTLS, built once from the settings.

The certificate and the host name are always verified (Python's own check, which handles IP
addresses), TLS 1.2 at least, with the client certificate when configured. There is no
setting to turn verification off.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any

from ...errors import ConfigError
from .config import LdapConfig
from .deadline import arm
from .driver import ldap3

__all__ = ["VerifyingTls", "no_delay", "tls_context"]


class VerifyingTls(ldap3.Tls):  # type: ignore[misc]
    """ldap3's Tls, wrapping sockets with our own verifying SSLContext.

    ldap3 2.9 would check host names with ``ssl.match_hostname`` (deprecated, gone in 3.12)
    after turning the context's own check off; here the context checks, during the handshake.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self._context = context

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        no_delay(connection.socket)
        # The handshake waits no longer than the call's deadline (ldap.timeout) allows.
        arm(connection.socket, float(connection.receive_timeout or 300))
        connection.socket = self._context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )


def no_delay(sock: Any) -> None:
    """Send small requests at once: with Nagle's algorithm, a bind right after the TLS
    handshake waits for the server's delayed ACK (40 ms on Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tls_context(config: LdapConfig) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(config.ca_file) if config.ca_file is not None else None,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("ldap.ca_file", f"cannot load CA certificates: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.client_cert_file is not None:
        try:
            context.load_cert_chain(
                str(config.client_cert_file),
                str(config.client_key_file) if config.client_key_file is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "ldap.client_cert_file", f"cannot load the client certificate and key: {exc}"
            ) from None
    return context
