"""Run the Falcon app under gunicorn, configured from Settings (no gunicorn.conf needed)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Settings


class DockitGunicorn(BaseApplication):  # type: ignore[misc]
    """Each worker builds its own app (no preload), so no database handle crosses a fork."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", [self._settings.server_bind])
        self.cfg.set("workers", self._settings.server_workers)
        self.cfg.set("worker_class", "sync")
        self.cfg.set("loglevel", self._settings.server_log_level)
        self.cfg.set("timeout", 30)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("proc_name", "dockit")
        # Room for many scopes in one GET /v2/token (gunicorn's default is 4094 bytes).
        self.cfg.set("limit_request_line", 8190)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 27 opens a control socket at one fixed path per user by default;
            # two Dockit instances on one machine would fight over it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from .app import create_app
        from .bootstrap import build_components

        logging.basicConfig(
            level=self._settings.server_log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return create_app(build_components(self._settings))


def serve(settings: Settings) -> None:
    DockitGunicorn(settings).run()
