"""The real ``dockit api-server`` (gunicorn, SQLite in a temp dir) and a small client for it.

:class:`DockitServer` runs the installed console script (or ``python -m dockit_server.cli``
with this interpreter) in a minimal environment on a free loopback port, waits until
``/readyz`` answers 200 and stops it by PID. Each start writes its own pair of logs
(``run-N.stdout.log``, ``run-N.stderr.log``), so a test can tell what one start printed and on
which stream. The client methods speak the Admin API and ``/v2/token`` over ``urllib`` with
proxies disabled; every response is read and closed, and every call has a timeout.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from tests.support.procs import LOOPBACK, ManagedProcess, free_port

DEFAULT_SERVICES = ("registry.test",)
DEFAULT_ISSUER = "dockit-test"
DEFAULT_ADMIN = "admin"
DEFAULT_ADMIN_PASSWORD = "admin-pw"
DEFAULT_REALM = "dockit-e2e"
HTTP_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0
API = "/api/v1"

Creds = tuple[str, str]

# Never let an HTTP(S)_PROXY of the machine route loopback test traffic elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def dockit_command() -> list[str]:
    """The installed ``dockit`` script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "dockit"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "dockit_server.cli"]


def base_env(home: Path) -> dict[str, str]:
    """A minimal environment: PATH from the machine, HOME in the test's directory."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }


def run_dockit(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """``dockit ARGS`` to completion; a non-zero exit is returned, not raised."""
    return subprocess.run(
        [*dockit_command(), *args],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def basic_auth(creds: Creds) -> str:
    username, password = creds
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error_codes(self) -> list[str]:
        """The ``code`` of every entry of a distribution-style ``{"errors": [...]}`` body."""
        data = self.json()
        return [str(entry.get("code")) for entry in data.get("errors", [])]

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body[:2000]!r}"


def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> Response:
    """One HTTP request; any status is returned (never raised), the response always closed."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.headers, exc.read())


class AdminApiError(AssertionError):
    """The Admin API did not answer as a helper expected."""


class TokenAnswer(NamedTuple):
    """What ``GET /v2/token`` answered; unpacks as ``status, json, headers``.

    ``json`` is None when the body is not JSON; :attr:`token` is the JWT of a 200 answer.
    """

    status: int
    json: Any
    headers: Message

    @classmethod
    def of(cls, response: Response) -> TokenAnswer:
        try:
            data: Any = json.loads(response.body)
        except ValueError:
            data = None
        return cls(response.status, data, response.headers)

    @property
    def token(self) -> str:
        if self.status != 200 or not isinstance(self.json, dict):
            raise AssertionError(f"no token: HTTP {self.status}: {self.json!r}")
        return str(self.json["token"])

    def error_codes(self) -> list[str]:
        if not isinstance(self.json, dict):
            return []
        return [str(entry.get("code")) for entry in self.json.get("errors", [])]


class DockitServer:
    """``dockit api-server --bind 127.0.0.1:PORT`` over SQLite in ``workdir``.

    ``admin_password=None`` leaves ``DOCKIT_ADMIN_PASSWORD`` unset (the first start then
    prints a generated one); set :attr:`admin_password` afterwards to use the client.
    ``extra_env`` is added last and wins; a value of ``None`` there removes a variable.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        services: Sequence[str] = DEFAULT_SERVICES,
        issuer: str = DEFAULT_ISSUER,
        admin_password: str | None = DEFAULT_ADMIN_PASSWORD,
        admin_username: str = DEFAULT_ADMIN,
        realm: str = DEFAULT_REALM,
        token_lifetime: int = 300,
        extra_env: Mapping[str, str | None] | None = None,
        workers: int = 2,
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.services = tuple(services)
        self.issuer = issuer
        self.admin_username = admin_username
        self.admin_password = admin_password
        self.realm = realm
        self.token_lifetime = token_lifetime
        self.extra_env: dict[str, str | None] = dict(extra_env or {})
        self.workers = workers
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.database_path = self.workdir / "dockit.db"
        self.runs = 0
        self._process: ManagedProcess | None = None

    # -- process ------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def token_realm(self) -> str:
        return self.url + "/v2/token"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def environment(self) -> dict[str, str]:
        env = base_env(self.workdir)
        env.update(
            {
                "DOCKIT_DATABASE_URL": f"sqlite:///{self.database_path}",
                "DOCKIT_SERVICES": ",".join(self.services),
                "DOCKIT_ISSUER": self.issuer,
                "DOCKIT_REALM": self.realm,
                "DOCKIT_TOKEN_LIFETIME": str(self.token_lifetime),
                "DOCKIT_ADMIN_USERNAME": self.admin_username,
                "DOCKIT_LOG_LEVEL": "info",
            }
        )
        if self.admin_password is not None:
            env["DOCKIT_ADMIN_PASSWORD"] = self.admin_password
        for name, value in self.extra_env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def command(self) -> list[str]:
        return [
            *dockit_command(),
            "api-server",
            "--bind",
            self.host,
            "--workers",
            str(self.workers),
        ]

    def _log_paths(self, run: int) -> tuple[Path, Path]:
        return self.workdir / f"run-{run}.stdout.log", self.workdir / f"run-{run}.stderr.log"

    def _ready(self) -> bool:
        try:
            return self.get("/readyz", timeout=1.0).status == 200
        except OSError:
            return False

    def start(self) -> DockitServer:
        if self.running():
            raise RuntimeError(f"dockit already running as PID {self.pid}")
        self.runs += 1
        stdout_path, stderr_path = self._log_paths(self.runs)
        stderr_path.touch()
        # sh execs dockit with stderr in its own file (the PID stays dockit's), so tests can
        # tell what went to stderr; stdout goes to ManagedProcess's log.
        wrapped = ["/bin/sh", "-c", 'exec "$@" 2>>"$0"', str(stderr_path), *self.command()]
        self._process = ManagedProcess(
            wrapped, log_path=stdout_path, env=self.environment(), cwd=self.workdir
        )
        try:
            self._process.wait_ready(self._ready, timeout=self.startup_timeout)
        except Exception as exc:
            self._process.stop()
            raise RuntimeError(f"dockit did not become ready: {exc}\n{self.log()[-6000:]}") from exc
        except BaseException:
            self._process.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            # SIGTERM to gunicorn's master only, as an init system sends it.
            self._process.stop(group=False)

    def restart(self, *, extra_env: Mapping[str, str | None] | None = None) -> DockitServer:
        """Stop, then start on the same port and database (``extra_env`` is merged in)."""
        self.stop()
        self._process = None
        if extra_env:
            self.extra_env.update(extra_env)
        return self.start()

    def stdout(self, run: int | None = None) -> str:
        path = self._log_paths(run or self.runs)[0]
        return path.read_text(errors="replace") if path.exists() else ""

    def stderr(self, run: int | None = None) -> str:
        path = self._log_paths(run or self.runs)[1]
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self, run: int | None = None) -> str:
        """What one start (default: the latest) wrote, stdout then stderr."""
        return self.stdout(run) + self.stderr(run)

    def all_logs(self) -> str:
        return "".join(self.log(run) for run in range(1, self.runs + 1))

    def __enter__(self) -> DockitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- HTTP -----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        creds: Creds | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> Response:
        all_headers = dict(headers or {})
        if creds is not None:
            all_headers["Authorization"] = basic_auth(creds)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return http_request(
            self.url + path, method=method, headers=all_headers, body=body, timeout=timeout
        )

    def get(self, path: str, *, timeout: float = HTTP_TIMEOUT) -> Response:
        return self.request("GET", path, timeout=timeout)

    def certs_pem(self) -> bytes:
        response = self.get("/v2/certs/pem")
        if response.status != 200:
            raise AssertionError(f"GET /v2/certs/pem: {response}")
        return response.body

    # -- /v2/token ------------------------------------------------------------------------
    def token(
        self,
        service: str | None,
        scopes: Iterable[str] = (),
        creds: Creds | None = None,
        *,
        account: str | None = None,
        params: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> TokenAnswer:
        """``GET /v2/token`` like a registry client: one ``scope`` parameter per scope.

        Unpacks as ``status, json, headers``; ``.token`` is the JWT of a 200 answer.
        """
        query: list[tuple[str, str]] = []
        if service is not None:
            query.append(("service", service))
        query.extend(("scope", scope) for scope in scopes)
        if account is not None:
            query.append(("account", account))
        query.extend((params or {}).items())
        path = "/v2/token" + ("?" + urllib.parse.urlencode(query) if query else "")
        return TokenAnswer.of(self.request(method, path, creds=creds))

    # -- Admin API ------------------------------------------------------------------------
    @property
    def admin_creds(self) -> Creds:
        if self.admin_password is None:
            raise RuntimeError("the admin password is not known yet")
        return (self.admin_username, self.admin_password)

    def admin(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        expect: int | None = None,
        creds: Creds | None = None,
    ) -> Response:
        """One Admin API call as the admin; with ``expect``, any other status raises."""
        response = self.request(
            method, API + path, creds=creds or self.admin_creds, json_body=json_body
        )
        if expect is not None and response.status != expect:
            raise AdminApiError(f"{method} {API}{path}: expected {expect}, got {response}")
        return response

    def audit_events(
        self, query: str, *, at_least: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The events ``GET /audit?{query}`` lists once at least ``at_least`` match.

        Token decisions reach the log up to ``audit.flush_seconds`` after their request (each
        worker writes its own batch), so this asks again until they are all there or
        ``timeout`` has passed (then it returns what there is, for the caller's assert).
        """
        deadline = time.monotonic() + timeout
        while True:
            items: list[dict[str, Any]] = self.admin("GET", f"/audit?{query}", expect=200).json()[
                "items"
            ]
            if len(items) >= at_least or time.monotonic() > deadline:
                return items
            time.sleep(0.1)

    def _quote(self, name: str) -> str:
        return urllib.parse.quote(name, safe="")

    def create_user(
        self, name: str, password: str, admin: bool = False, *, enabled: bool = True
    ) -> dict[str, Any]:
        body = {"username": name, "password": password, "admin": admin, "enabled": enabled}
        result: dict[str, Any] = self.admin("POST", "/users", body, expect=201).json()
        return result

    def get_user(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", f"/users/{self._quote(name)}", expect=200).json()
        return result

    def list_users(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin("GET", "/users?limit=1000", expect=200).json()[
            "items"
        ]
        return items

    def set_user(
        self, name: str, *, enabled: bool | None = None, admin: bool | None = None
    ) -> dict[str, Any]:
        body: dict[str, bool] = {}
        if enabled is not None:
            body["enabled"] = enabled
        if admin is not None:
            body["admin"] = admin
        result: dict[str, Any] = self.admin(
            "PATCH", f"/users/{self._quote(name)}", body, expect=200
        ).json()
        return result

    def create_group(self, name: str, *, enabled: bool = True) -> dict[str, Any]:
        body = {"name": name, "enabled": enabled}
        result: dict[str, Any] = self.admin("POST", "/groups", body, expect=201).json()
        return result

    def set_group(self, name: str, *, enabled: bool) -> dict[str, Any]:
        result: dict[str, Any] = self.admin(
            "PATCH", f"/groups/{self._quote(name)}", {"enabled": enabled}, expect=200
        ).json()
        return result

    def add_member(self, group: str, username: str) -> dict[str, Any]:
        path = f"/groups/{self._quote(group)}/members/{self._quote(username)}"
        result: dict[str, Any] = self.admin("PUT", path, expect=200).json()
        return result

    def remove_member(self, group: str, username: str) -> dict[str, Any]:
        path = f"/groups/{self._quote(group)}/members/{self._quote(username)}"
        result: dict[str, Any] = self.admin("DELETE", path, expect=200).json()
        return result

    def grant(self, subject: str, scope: str) -> int:
        """Add a grant from a scope-like string; returns its id."""
        body = {"subject": subject, "scope": scope}
        created = self.admin("POST", "/grants", body, expect=201).json()
        grant_id = created["id"]
        if not isinstance(grant_id, int) or isinstance(grant_id, bool):
            raise AdminApiError(f"POST {API}/grants answered a non-integer id: {created!r}")
        return grant_id

    def revoke(self, grant_id: int) -> None:
        self.admin("DELETE", f"/grants/{grant_id}", expect=204)


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def post_token_form(
    server: DockitServer, fields: Mapping[str, str], content_type: str = FORM_CONTENT_TYPE
) -> Response:
    """``POST /v2/token`` with ``fields`` as a form, in Go's ``url.Values`` (sorted) order."""
    body = urllib.parse.urlencode(sorted(fields.items())).encode()
    headers = {"Content-Type": content_type}
    return http_request(server.token_realm, method="POST", headers=headers, body=body)


def moby_refresh(server: DockitServer, token: str, scope: str, service: str) -> Response:
    """The token request the docker daemon sends with a stored identity token."""
    fields = {
        "client_id": "docker",
        "grant_type": "refresh_token",
        "refresh_token": token,
        "scope": scope,
        "service": service,
    }
    return post_token_form(server, fields)
