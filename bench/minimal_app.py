"""``python -m bench.minimal_app --bind HOST:PORT --workers N``: the limit of this stack.

A Falcon app with one route, ``GET /token``, that signs a fixed token (the claims of a
Dockit token for one repository) with ES256 on every request and answers it as JSON, served
exactly as ``dockit api-server`` serves Dockit (:class:`~dockit_server.serve.DockitGunicorn`:
the same worker class, worker count, read deadline and gunicorn settings). Whatever a
Dockit token costs beyond this is Dockit's own work: users, grants, policy, audit, metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import falcon
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from dockit_server.config import Settings
from dockit_server.serve import DockitGunicorn

ACCESS = [{"type": "repository", "name": "bench/app", "actions": ["pull"]}]


class _SignFixedToken:
    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        now = int(time.time())
        claims = {
            "iss": "bench",
            "sub": "bench",
            "aud": "registry.test",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "access": ACCESS,
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": "bench"})
        resp.data = json.dumps({"token": token, "access_token": token}).encode()
        resp.content_type = falcon.MEDIA_JSON


def create_app() -> falcon.App[falcon.Request, falcon.Response]:
    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    app.add_route("/token", _SignFixedToken())
    return app


class MinimalGunicorn(DockitGunicorn):
    """Dockit's gunicorn set-up, serving the minimal app instead of Dockit."""

    def load(self) -> Any:
        return create_app()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.minimal_app")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings.load(
        environ={}, overrides={"server.bind": args.bind, "server.workers": args.workers}
    )
    MinimalGunicorn(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
