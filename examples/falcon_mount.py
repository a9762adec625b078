"""Serve Dockit's token endpoint and bundle from your own Falcon app, beside your routes.

Dockit's resources are plain Falcon resources built from a TokenService (here assembled
over the in-memory store with :func:`libdockit.assemble`), so an existing Falcon app can
mount them under the paths a registry expects. Run it:
``python examples/falcon_mount.py [PORT]`` and try
``curl -u alice:alice-pw 'http://127.0.0.1:PORT/v2/token?service=registry.local&scope=repository:alice/app:push'``.
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
    Grant,
    MemoryBackend,
    Options,
    PasswordHasher,
    Secret,
    assemble,
    ensure_active_key,
)


class Hello:
    """One of your own routes."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hello": "from your app"}


def build_app() -> falcon.App[falcon.Request, falcon.Response]:
    store = MemoryBackend()
    hasher = PasswordHasher()
    store.create_user("alice", hasher.hash(Secret("alice-pw")))
    store.add_grant(Grant("user:alice", "repository", "${user}/**", ("*",)))
    ensure_active_key(store, now=datetime.now(UTC))
    tokens = assemble(store, Options(issuer="dockit"), hasher=hasher).tokens
    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    ErrorHandlers(realm="my-app").install(app)  # distribution-style error bodies, 401 challenge
    app.add_route("/hello", Hello())
    app.add_route("/v2/token", TokenResource(tokens))
    app.add_route("/v2/certs/pem", CertsResource(tokens.keys))
    return app


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    with make_server("127.0.0.1", port, build_app()) as server:
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()
