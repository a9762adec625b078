"""The ldap3 side of the LDAP backend: connections, failover, searches and binds.

Imported only when an LDAP authenticator is built (see :mod:`libdockit.backends.ldap.backend`), so
``import libdockit`` never loads ldap3.

* Searches run on *service* connections (bound as ``bind_dn``, or anonymous) kept in a small
  pool: a connection is used by one thread at a time and returned after a successful
  operation. A pooled connection that fails (the server restarted, an idle timeout) is
  dropped and the operation retried once on a fresh one. After a fork the pool starts empty
  (the parent's sockets are left to the parent).
* A user's password is checked on a separate, short-lived connection that is closed at once.
* Each URL is tried in order, starting with the one that answered last. When none answers,
  :class:`~libdockit.errors.BackendUnavailable` names every URL and its error, never a password.
* Everything done within one :meth:`Directory.call` shares one deadline (``ldap.timeout``):
  each connect and read waits for at most what is left of it, on top of the per-server
  ``connect_timeout`` and ``receive_timeout``; once it has passed no further URL is tried.
  Calls of one process take turns, ``ldap.max_concurrent`` at once (see :mod:`.ldap_deadline`).
* TLS (``ldaps://`` or StartTLS): see :mod:`.ldap_tls`.
* Passwords are sent as their UTF-8 octets without SASLprep, as OpenLDAP's tools and dex do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...errors import BackendUnavailable
from .config import LdapConfig
from .deadline import CallLimit, DeadlinePassed, arm, remaining
from .driver import LDAPException, ldap3
from .tls import VerifyingTls, no_delay, tls_context

__all__ = ["Directory", "Entry"]

log = logging.getLogger("dockit.ldap")
T = TypeVar("T")

# Bind results that mean "these credentials do not log in", not "the directory is broken".
_REFUSED = frozenset({19, 32, 34, 48, 49, 50, 53})  # constraint, noSuchObject, invalidDN, ...
# success, and sizeLimitExceeded (the entries found so far are returned)
_PARTIAL_OK = frozenset({0, 4})
_NO_SUCH_OBJECT = 32
_SCOPES: Mapping[str, str] = {"sub": ldap3.SUBTREE, "one": ldap3.LEVEL, "base": ldap3.BASE}
DEFAULT_POOL_SIZE = 4


@dataclass(frozen=True, slots=True)
class Entry:
    """A search result: its DN and attribute values (names lower case, values decoded)."""

    dn: str
    attributes: Mapping[str, tuple[str, ...]]

    def values(self, name: str) -> tuple[str, ...]:
        if name == "DN":
            return (self.dn,)
        return self.attributes.get(name.lower(), ())

    def first(self, name: str | None) -> str | None:
        if name is None:
            return None
        values = self.values(name)
        return values[0] if values else None


class _Unavailable(Exception):
    """A server did not answer; carries what to report (never a credential)."""


@dataclass(frozen=True, slots=True)
class _Endpoint:
    url: str
    host: str
    port: int
    use_ssl: bool


def _endpoint(url: str) -> _Endpoint:
    parts = urlsplit(url)
    use_ssl = parts.scheme == "ldaps"
    return _Endpoint(
        url=url,
        host=parts.hostname or "",
        port=parts.port or (636 if use_ssl else 389),
        use_ssl=use_ssl,
    )


def _close(connection: Any) -> None:
    """Unbind when the socket still works, and in every case close it; never raises."""
    try:
        connection.unbind()
    except Exception:  # a dead socket: close it without the unbind message
        with contextlib.suppress(Exception):
            connection.strategy.close()
    sock = getattr(connection, "socket", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]


class Directory:
    """Searches and password checks against one directory (one or more URLs)."""

    def __init__(self, config: LdapConfig, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self._config = config
        self._endpoints = tuple(_endpoint(url) for url in config.urls)
        needs_tls = config.start_tls or any(e.use_ssl for e in self._endpoints)
        self._tls = VerifyingTls(tls_context(config)) if needs_tls else None
        self._bind_password = (
            config.bind_password.reveal().encode() if config.bind_password is not None else None
        )
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._pid = os.getpid()
        self._preferred = 0
        self._limit = CallLimit(config.timeout, config.max_concurrent)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(e.url for e in self._endpoints)

    def call(self) -> contextlib.AbstractContextManager[None]:
        """The directory work of one call (a login, a lookup): one deadline, one turn."""
        return self._limit.call()

    # -- connections ----------------------------------------------------------------------------
    def _ordered(self) -> list[tuple[int, _Endpoint]]:
        with self._lock:
            start = self._preferred
        count = len(self._endpoints)
        return [((start + i) % count, self._endpoints[(start + i) % count]) for i in range(count)]

    def _connect(self, endpoint: _Endpoint, user: str | None, password: bytes | None) -> Any:
        """Open (and StartTLS) a connection to one server; not yet bound."""
        try:
            connect_timeout = remaining(self._config.connect_timeout)
        except DeadlinePassed as exc:
            raise _Unavailable(f"{endpoint.url}: {exc}") from None
        server = ldap3.Server(
            endpoint.host,
            port=endpoint.port,
            use_ssl=endpoint.use_ssl,
            tls=self._tls,
            get_info=ldap3.NONE,
            connect_timeout=connect_timeout,
        )
        connection = ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.SIMPLE if user is not None else ldap3.ANONYMOUS,
            client_strategy=ldap3.SYNC,
            auto_referrals=False,
            read_only=True,
            raise_exceptions=False,
            receive_timeout=self._config.receive_timeout,
        )
        try:
            connection.open(read_server_info=False)
            no_delay(connection.socket)
            arm(connection.socket, self._config.receive_timeout)
            if self._config.start_tls and not endpoint.use_ssl:
                connection.start_tls(read_server_info=False)
        except (LDAPException, OSError) as exc:
            _close(connection)
            raise _Unavailable(f"{endpoint.url}: {_describe(exc)}") from exc
        return connection

    def _each_server(self, attempt: Callable[[_Endpoint], T]) -> T:
        """``attempt`` on each server in turn until one answers; BackendUnavailable if none."""
        errors: list[str] = []
        for index, endpoint in self._ordered():
            try:
                remaining(self._config.connect_timeout)
            except DeadlinePassed:
                errors.append(f"no answer within ldap.timeout ({self._config.timeout:g} s)")
                break
            try:
                result = attempt(endpoint)
            except _Unavailable as exc:
                errors.append(str(exc))
                continue
            with self._lock:
                self._preferred = index
            return result
        message = "the LDAP directory is unavailable: " + "; ".join(errors)
        log.warning("%s", message)
        raise BackendUnavailable(message)

    def _open_service(self) -> Any:
        def attempt(endpoint: _Endpoint) -> Any:
            connection = self._connect(endpoint, self._config.bind_dn, self._bind_password)
            try:
                arm(connection.socket, self._config.receive_timeout)
                bound = connection.bind()
            except (LDAPException, OSError) as exc:
                _close(connection)
                raise _Unavailable(f"{endpoint.url}: {_describe(exc)}") from exc
            if not bound:
                result = connection.result or {}
                _close(connection)
                who = f"as {self._config.bind_dn}" if self._config.bind_dn else "anonymously"
                raise _Unavailable(
                    f"{endpoint.url}: the service bind {who} was refused "
                    f"({result.get('description', 'unknown')}); check ldap.bind_dn and "
                    "ldap.bind_password"
                )
            return connection

        return self._each_server(attempt)

    def _take(self) -> tuple[Any, bool]:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent owns those sockets
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop(), True
        return self._open_service(), False

    def _give_back(self, connection: Any) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self._pool_size:
                self._idle.append(connection)
                return
        _close(connection)

    def _run(self, operation: Callable[[Any], T]) -> T:
        """``operation`` on a service connection; when a pooled connection turns out dead it
        is dropped and the operation runs once more on a fresh one."""
        connection, reused = self._take()
        if reused:
            try:
                arm(connection.socket, self._config.receive_timeout)
                result = operation(connection)
            except (LDAPException, OSError) as exc:
                _close(connection)
                log.info("dropping a dead pooled LDAP connection: %s", _describe(exc))
                connection = self._open_service()
            except BaseException:
                _close(connection)
                raise
            else:
                self._give_back(connection)
                return result
        try:
            arm(connection.socket, self._config.receive_timeout)
            result = operation(connection)
        except (LDAPException, OSError) as exc:
            _close(connection)
            raise self._lost(exc) from None
        except BaseException:
            _close(connection)
            raise
        self._give_back(connection)
        return result

    def _lost(self, exc: BaseException) -> BackendUnavailable:
        message = f"the LDAP directory stopped answering: {_describe(exc)}"
        log.warning("%s", message)
        return BackendUnavailable(message)

    # -- operations -----------------------------------------------------------------------------
    def search(
        self,
        base: str,
        search_filter: str,
        *,
        scope: str = "sub",
        attributes: Sequence[str] = (),
        size_limit: int = 0,
        missing_ok: bool = False,
    ) -> list[Entry]:
        """Entries under ``base`` matching ``search_filter`` (values in it already escaped).

        A ``base`` that does not exist is BackendUnavailable (a wrong base DN must not look
        like "no such user"), or no entries with ``missing_ok``.
        """

        def operation(connection: Any) -> list[Entry]:
            connection.search(
                base,
                search_filter,
                search_scope=_SCOPES[scope],
                dereference_aliases=ldap3.DEREF_NEVER,
                attributes=list(attributes) or ldap3.NO_ATTRIBUTES,
                size_limit=size_limit,
                time_limit=self._config.receive_timeout,
            )
            result = connection.result or {}
            code = result.get("result")
            if code == _NO_SUCH_OBJECT and missing_ok:
                return []
            if code not in _PARTIAL_OK:
                raise BackendUnavailable(
                    f"the LDAP search under {base!r} failed: {result.get('description')} "
                    f"({code}) {result.get('message', '')}".rstrip()
                )
            entries = (_entry(item) for item in connection.response or ())
            return [entry for entry in entries if entry is not None]

        return self._run(operation)

    def check_password(self, dn: str, password: str) -> bool:
        """Bind as ``dn`` on a short-lived connection: True if the directory accepts it."""

        def attempt(endpoint: _Endpoint) -> bool:
            connection = self._connect(endpoint, dn, password.encode())
            try:
                arm(connection.socket, self._config.receive_timeout)
                bound = bool(connection.bind())
                code = (connection.result or {}).get("result")
            except (LDAPException, OSError) as exc:
                raise _Unavailable(f"{endpoint.url}: {_describe(exc)}") from exc
            finally:
                _close(connection)
            if bound:
                return True
            if code in _REFUSED:
                return False
            raise _Unavailable(f"{endpoint.url}: the bind could not be completed (result {code})")

        return self._each_server(attempt)

    def ping(self) -> None:
        """Raise BackendUnavailable unless a service connection answers a trivial search."""
        self.search(self._config.user_search.base_dn, "(objectClass=*)", scope="base")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            mine = self._pid == os.getpid()
        if mine:
            for connection in idle:
                _close(connection)


def _entry(item: Mapping[str, Any]) -> Entry | None:
    if item.get("type") != "searchResEntry":
        return None  # a referral: not followed
    attributes: dict[str, tuple[str, ...]] = {}
    for name, raw_values in (item.get("raw_attributes") or {}).items():
        decoded = []
        for raw in raw_values:
            try:
                decoded.append(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
            except UnicodeDecodeError:
                continue  # binary values (photos, certificates) are of no use here
        attributes[str(name).lower()] = tuple(decoded)
    return Entry(dn=str(item.get("dn", "")), attributes=attributes)
