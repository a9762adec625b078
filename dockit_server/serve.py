"""Run the Falcon app under gunicorn, configured from Settings (no gunicorn.conf needed).

Workers are :class:`~.worker.DockitWorker` (gevent, with a read deadline on every
connection; why in that module): many connections per worker, kept alive between requests,
each cut after ``server.read_timeout`` seconds without a request.
"""

from __future__ import annotations

import logging
import resource
import secrets
import sys
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Settings
from .worker import WORKER_CLASS, lazy_handshake


def configure_logging(level: str, *, json_logs: bool) -> None:
    """Plain lines on stderr; with JSON logs, access lines are bare JSON objects."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if json_logs:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access = logging.getLogger("dockit.access")
        access.handlers = [handler]
        access.propagate = False
        access.setLevel(logging.INFO)


#: Connections each worker holds at once (gevent greenlets); idle ones are cut after
#: ``server.read_timeout``, so this is room for many slow clients, not a rate.
WORKER_CONNECTIONS = 4096
#: gunicorn kills a worker whose heartbeat stops this long; no wait on a client, the
#: directory or the database is allowed to come near it (see README, timeouts).
WORKER_TIMEOUT = 30


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class DockitGunicorn(BaseApplication):  # type: ignore[misc]
    """Each worker builds its own app (no preload), so no database handle crosses a fork;
    what the workers must share is made here, in the master, before they fork."""

    def __init__(
        self,
        settings: Settings,
        when_ready: Callable[[], None] | None = None,
        *,
        worker_class: str = WORKER_CLASS,
        options: Mapping[str, object] | None = None,
    ) -> None:
        self._settings = settings
        self._when_ready = when_ready
        self._instance_key = secrets.token_bytes(32)  # see bootstrap.login_secret_key
        self._worker_class = worker_class
        self._options = dict(options or {})
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", [self._settings.server_bind])
        self.cfg.set("workers", self._settings.server_workers)
        self.cfg.set("worker_class", self._worker_class)
        self.cfg.set("worker_connections", WORKER_CONNECTIONS)
        # The read deadline of every connection (see .read_deadline); gunicorn calls it
        # keepalive, and keeps connections alive while it is not 0.
        self.cfg.set("keepalive", self._settings.server_read_timeout)
        self.cfg.set("loglevel", self._settings.server_log_level)
        self.cfg.set("timeout", WORKER_TIMEOUT)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("proc_name", "dockit")
        self.cfg.set("child_exit", _child_exit)
        if self._when_ready is not None:
            # In the master, once, when it listens (see dockit_server.startup).
            when_ready = self._when_ready
            self.cfg.set("when_ready", lambda arbiter: when_ready())
        # Room for many scopes in one GET /v2/token (gunicorn's default is 4094 bytes).
        self.cfg.set("limit_request_line", 8190)
        if self._settings.server_tls_cert_file is not None:
            # HTTPS without a proxy: gunicorn wraps each accepted socket (TLS 1.2+).
            self.cfg.set("certfile", str(self._settings.server_tls_cert_file))
            self.cfg.set("keyfile", str(self._settings.server_tls_key_file))
            if self._worker_class == WORKER_CLASS:
                self.cfg.set("do_handshake_on_connect", False)
                self.cfg.set("ssl_context", lazy_handshake)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 27 opens a control socket at one fixed path per user by default;
            # two Dockit instances on one machine would fight over it.
            self.cfg.set("control_socket_disable", True)
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from .app import create_app
        from .bootstrap import build_components

        configure_logging(
            self._settings.server_log_level, json_logs=self._settings.server_json_logs
        )
        return create_app(build_components(self._settings, instance_key=self._instance_key))


def raise_open_files_limit(wanted: int) -> None:
    """Lift the soft limit on open files towards ``wanted`` (at most the hard limit): each
    connection is a file, and many systems start processes with a soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def serve(
    settings: Settings,
    *,
    when_ready: Callable[[], None] | None = None,
    worker_class: str = WORKER_CLASS,
    options: Mapping[str, object] | None = None,
) -> None:
    """Serve until stopped. Call :func:`~.multiproc.use_fresh_metrics_dir` before importing
    anything that imports prometheus_client, so the workers' metrics add up. ``when_ready``
    runs in the master once it listens.

    ``worker_class`` and ``options`` (gunicorn settings set last) are for comparisons
    (bench/): a worker class other than Dockit's has no read deadline."""
    raise_open_files_limit(WORKER_CONNECTIONS + 256)
    DockitGunicorn(settings, when_ready, worker_class=worker_class, options=options).run()
