"""Run the Falcon app under gunicorn, configured from Settings (no gunicorn.conf needed)."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Settings


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


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class DockitGunicorn(BaseApplication):  # type: ignore[misc]
    """Each worker builds its own app (no preload), so no database handle crosses a fork;
    what the workers must share is made here, in the master, before they fork."""

    def __init__(self, settings: Settings, when_ready: Callable[[], None] | None = None) -> None:
        self._settings = settings
        self._when_ready = when_ready
        self._instance_key = secrets.token_bytes(32)  # see bootstrap.login_secret_key
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", [self._settings.server_bind])
        self.cfg.set("workers", self._settings.server_workers)
        self.cfg.set("worker_class", "sync")
        self.cfg.set("loglevel", self._settings.server_log_level)
        self.cfg.set("timeout", 30)
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
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 27 opens a control socket at one fixed path per user by default;
            # two Dockit instances on one machine would fight over it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from .app import create_app
        from .bootstrap import build_components

        configure_logging(
            self._settings.server_log_level, json_logs=self._settings.server_json_logs
        )
        return create_app(build_components(self._settings, instance_key=self._instance_key))


def serve(settings: Settings, *, when_ready: Callable[[], None] | None = None) -> None:
    """Serve until stopped. Call :func:`~.multiproc.use_fresh_metrics_dir` before importing
    anything that imports prometheus_client, so the workers' metrics add up. ``when_ready``
    runs in the master once it listens."""
    DockitGunicorn(settings, when_ready).run()
