"""Helpers for the admin CLI's tests: run it in this process or as a subprocess, a fake
HTTP server that records what the CLI sends, and a test docker credential helper."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dockit_server.cli import main
from tests.support.procs import LOOPBACK

#: Environment variables that would let the machine's settings leak into a test run.
_FOREIGN_PREFIXES = ("DOCKIT_", "DOCKER_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
HELPER_NAME = "dockittest"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class FakeTty(io.StringIO):
    """stdin that says it is a terminal (answers to confirmations come from its text)."""

    def isatty(self) -> bool:
        return True


@dataclass
class Cli:
    """``dockit ARGS`` in this process, with a clean environment and captured streams.

    ``env`` is applied before every run (``DOCKIT_*`` and ``DOCKER_*`` from the machine are
    removed first). ``prompts`` answers ``getpass`` in order when ``tty=True``.
    """

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        stdin: str = "",
        tty: bool = False,
        prompts: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Result:
        with self.monkeypatch.context() as patch:
            for name in list(os.environ):
                if name.startswith(_FOREIGN_PREFIXES):
                    patch.delenv(name)
            patch.setenv("HOME", str(self.home))
            for name, value in {**self.env, **(env or {})}.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", FakeTty(stdin) if tty else io.StringIO(stdin))
            answers = list(prompts)
            asked: list[str] = []

            def getpass(prompt: str = "Password: ", stream: object = None) -> str:
                asked.append(prompt)
                if not answers:
                    raise AssertionError(f"unexpected prompt {prompt!r}")
                return answers.pop(0)

            patch.setattr("getpass.getpass", getpass)
            self.capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            captured = self.capsys.readouterr()
            assert not answers, f"prompts not asked: {answers} (asked {asked})"
        return Result(code, captured.out, captured.err)


def run_cli(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, stdin: str = "", timeout: float = 60
) -> Result:
    """``python -m dockit_server.cli ARGS`` as a subprocess with exactly ``env``."""
    done = subprocess.run(
        [sys.executable, "-m", "dockit_server.cli", *args],
        input=stdin,
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **extra,
    }


# -- a docker credential helper ---------------------------------------------------------------

_HELPER = """\
import json, os, sys

store_path = os.environ["DOCKITTEST_STORE"]
action = sys.argv[1]
data = sys.stdin.read()
with open(os.environ["DOCKITTEST_LOG"], "a") as log:
    shown = "<hidden>" if action == "store" else data
    log.write(json.dumps({"action": action, "input": shown}) + "\\n")
store = {}
if os.path.exists(store_path):
    with open(store_path) as f:
        store = json.load(f)
if action == "get":
    entry = store.get(data)
    if entry is None:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({"ServerURL": data, "Username": entry["Username"], "Secret": entry["Secret"]}))
elif action == "list":
    print(json.dumps({url: entry["Username"] for url, entry in store.items()}))
elif action in ("store", "erase"):
    if action == "store":
        item = json.loads(data)
        store[item["ServerURL"]] = {"Username": item["Username"], "Secret": item["Secret"]}
    else:
        store.pop(data.strip(), None)
    with open(store_path, "w") as f:
        json.dump(store, f)
else:
    print("unknown action " + action)
    sys.exit(1)
"""


@dataclass(frozen=True)
class CredentialHelper:
    """``docker-credential-dockittest`` in :attr:`bin_dir`, storing in a JSON file."""

    bin_dir: Path
    store: Path
    log: Path

    @classmethod
    def install(cls, directory: Path) -> CredentialHelper:
        bin_dir = directory / "bin"
        bin_dir.mkdir(parents=True)
        script = bin_dir / f"docker-credential-{HELPER_NAME}"
        script.write_text(f"#!{sys.executable}\n{_HELPER}")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return cls(bin_dir, directory / "helper-store.json", directory / "helper-log.jsonl")

    def env(self) -> dict[str, str]:
        """What to add to a subprocess environment so the helper is found and works."""
        return {
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "DOCKITTEST_STORE": str(self.store),
            "DOCKITTEST_LOG": str(self.log),
        }

    def put(self, server_url: str, username: str, secret: str) -> None:
        data = json.loads(self.store.read_text()) if self.store.exists() else {}
        data[server_url] = {"Username": username, "Secret": secret}
        self.store.write_text(json.dumps(data))

    def calls(self) -> list[dict[str, str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


# -- a fake HTTP server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


EMPTY_LISTING = Canned(200, b'{"items": [], "total": 0, "offset": 0, "limit": 1000}')


@dataclass
class Recorder:
    """What the fake server received; :attr:`answer` is what it sends to every request."""

    answer: Canned = EMPTY_LISTING
    requests: list[dict[str, Any]] = field(default_factory=list)


def send_canned(handler: BaseHTTPRequestHandler, canned: Canned) -> None:
    """Answer the request ``handler`` is serving with ``canned``."""
    handler.send_response(canned.status)
    for name, value in canned.headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(canned.body)))
    handler.end_headers()
    handler.wfile.write(canned.body)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yields its base URL, stops on exit."""
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps http.server's request log off stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fake_http(answer: Canned = EMPTY_LISTING) -> Iterator[tuple[str, Recorder]]:
    """A loopback HTTP server answering ``answer`` to everything; yields its URL."""
    recorder = Recorder(answer)

    class Handler(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            send_canned(self, recorder.answer)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server names

    with serving(Handler) as url:
        yield url, recorder
