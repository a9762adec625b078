"""Serve Dockit's token endpoint and bundle from your own Falcon app, beside your routes.

Dockit's resources are plain Falcon resources built from a TokenService (here assembled
over the in-memory store with :func:`libdockit.assemble`), so an existing Falcon app can
mount them under the paths a registry expects. Run it:
``python examples/falcon_mount.py [PORT [DATABASE_URL]]`` and try
``curl -u alice:alice-pw 'http://127.0.0.1:PORT/v2/token?service=registry.local&scope=repository:alice/app:push'``.

The store is in memory, or a database (``sqlite:///PATH`` or ``postgresql://...``) when one
is named. The user and her grant are made through the assembled AdminService, which records
each change in the store's audit log with who made it (``system:falcon-mount-example``), as
the Admin API does.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from wsgiref.simple_server import make_server

import falcon

from dockit_server.errors import ErrorHandlers
from dockit_server.resources.certs import CertsResource
from dockit_server.resources.token import TokenResource
from libdockit import (
    Actor,
    MemoryBackend,
    Options,
    Secret,
    assemble,
    ensure_active_key,
)
from libdockit.backends.sql.backend import SqlBackend

#: Who makes this app's changes, in the audit log.
SETUP = Actor.system("falcon-mount-example")


class Hello:
    """One of your own routes."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hello": "from your app"}


def open_store(database_url: str | None) -> MemoryBackend | SqlBackend:
    if database_url is None:
        return MemoryBackend()
    store = SqlBackend(database_url)
    store.migrate()
    return store


def build_app(database_url: str | None = None) -> falcon.App[falcon.Request, falcon.Response]:
    store = open_store(database_url)
    ensure_active_key(store, now=datetime.now(UTC))
    dockit = assemble(store, Options(issuer="dockit"))
    dockit.admin.create_user("alice", Secret("alice-pw"), actor=SETUP)
    dockit.admin.add_grant_from_scope("user:alice", "repository:${user}/**:*", actor=SETUP)
    tokens = dockit.tokens
    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    ErrorHandlers(realm="my-app").install(app)  # distribution-style error bodies, 401 challenge
    app.add_route("/hello", Hello())
    app.add_route("/v2/token", TokenResource(tokens))
    app.add_route("/v2/certs/pem", CertsResource(tokens.keys))
    return app


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    database_url = sys.argv[2] if len(sys.argv) > 2 else None
    with make_server("127.0.0.1", port, build_app(database_url)) as server:
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()
