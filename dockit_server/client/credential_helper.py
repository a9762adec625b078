"""Run a docker credential helper, ``docker-credential-NAME``, as the docker CLI does.

``get`` reads a server URL on stdin and prints ``{"ServerURL", "Username", "Secret"}``; a
``Username`` of ``<token>`` means ``Secret`` is an identity token. When it has nothing it
exits non-zero and prints ``credentials not found in native keychain``. ``list`` prints
``{server URL: user name}``. Every run is bounded by a timeout; a helper's output is never
shown when it succeeded (it holds the secret), only the first line of its error output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping

from libdockit.secret import Secret

from .errors import CredentialsNotFound, UsageError

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_FOUND = "credentials not found"
_MAX_MESSAGE = 200


class CredentialHelper:
    def __init__(
        self, name: str, environ: Mapping[str, str], *, timeout: float, where: str
    ) -> None:
        if _NAME_RE.fullmatch(name) is None:
            raise UsageError(f"{where}: {name!r} is not a credential helper name")
        self.program = f"docker-credential-{name}"
        self._environ = dict(environ)
        self._timeout = timeout
        self._where = where

    def _run(self, action: str, stdin: str) -> subprocess.CompletedProcess[str]:
        path = shutil.which(self.program, path=self._environ.get("PATH"))
        if path is None:
            raise CredentialsNotFound(f"{self._where} names {self.program}, which is not on PATH")
        try:
            return subprocess.run(  # noqa: S603 - a helper the docker config names, as docker runs it
                [path, action],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                env=self._environ,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CredentialsNotFound(
                f"{self.program} {action} did not answer within {self._timeout:g}s"
            ) from None
        except OSError as exc:
            raise CredentialsNotFound(f"cannot run {self.program}: {exc.strerror}") from None

    def get(self, server_url: str) -> tuple[str, Secret] | None:
        """The user name and secret stored for exactly ``server_url``, or None."""
        result = self._run("get", server_url)
        if result.returncode != 0:
            message = (result.stdout.strip() or result.stderr.strip()).splitlines()
            first = message[0][:_MAX_MESSAGE] if message else ""
            if _NOT_FOUND in first.lower():
                return None
            raise CredentialsNotFound(
                f"{self.program} get failed (exit {result.returncode})"
                + (f": {first}" if first else "")
            )
        try:
            data = json.loads(result.stdout)
            username, secret = data["Username"], data["Secret"]
        except (ValueError, KeyError, TypeError):
            raise CredentialsNotFound(
                f"{self.program} get did not answer a JSON object with Username and Secret"
            ) from None
        if not isinstance(username, str) or not isinstance(secret, str) or not secret:
            return None
        return username, Secret(secret)

    def list(self) -> dict[str, str]:
        """Server URL → user name of everything the helper stores; {} when it cannot tell."""
        try:
            result = self._run("list", "")
        except CredentialsNotFound:
            return {}
        if result.returncode != 0:
            return {}
        try:
            data = json.loads(result.stdout)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(key): str(value) for key, value in data.items()}

    def find(
        self, candidates: Iterable[str], matches: Callable[[str], bool]
    ) -> tuple[str, str, Secret] | None:
        """``(server URL, user name, secret)`` for the first of ``candidates`` the helper
        has, else for any listed server URL that ``matches``; None when it has none."""
        tried: list[str] = []
        for server_url in candidates:
            tried.append(server_url)
            found = self.get(server_url)
            if found is not None:
                return (server_url, *found)
        for server_url in sorted(self.list()):
            if server_url not in tried and matches(server_url):
                found = self.get(server_url)
                if found is not None:
                    return (server_url, *found)
        return None
