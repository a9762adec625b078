"""An independent OIDC issuer on loopback for the federation tests.

It is the npm package oauth2-mock-server (pinned in ``oidc_issuer_js/package-lock.json``):
it serves ``/.well-known/openid-configuration`` and ``/jwks`` and signs every token with
its own keys, so Dockit's verifier is tested against code that is not Dockit's. A small
driver (``oidc_issuer_js/issuer.mjs``) starts it and adds a control port where tests mint
tokens with the claims they want and rotate keys.

The package is installed once with ``npm ci`` into a cache directory named after the
lockfile's hash. Node or npm missing skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from .procs import LOOPBACK, ManagedProcess, free_port, port_open, require_binary

SOURCE = Path(__file__).resolve().parent / "oidc_issuer_js"
_FILES = ("package.json", "package-lock.json", "issuer.mjs")


def _install_dir() -> Path:
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update((SOURCE / name).read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dockit-tests" / f"oidc-issuer-{digest.hexdigest()[:16]}"


def installed_issuer() -> Path:
    """The directory holding issuer.mjs and its node_modules, installing it if needed."""
    require_binary("node", hint="apt-get install nodejs (hack/test.sh does)")
    npm = require_binary("npm", hint="apt-get install npm (hack/test.sh does)")
    target = _install_dir()
    if (target / "node_modules" / "oauth2-mock-server").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        for name in _FILES:
            shutil.copy2(SOURCE / name, staging / name)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            check=True,
            timeout=300,
            capture_output=True,
        )
        try:
            staging.rename(target)
        except OSError:  # another run installed it meanwhile
            if not (target / "node_modules").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class OidcIssuer:
    """A running issuer: ``url`` is its ``iss``; :meth:`mint` and :meth:`rotate` drive it."""

    def __init__(self, directory: Path, log_path: Path) -> None:
        self.port, self.control_port = free_port(), free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._process = ManagedProcess(
            [
                require_binary("node"),
                "issuer.mjs",
                str(self.port),
                str(self.control_port),
            ],
            log_path=log_path,
            cwd=directory,
        )
        self._process.wait_ready(
            lambda: port_open(self.port) and port_open(self.control_port), timeout=30
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def mint(self, claims: dict[str, Any], *, expires_in: int = 300, kid: str | None = None) -> str:
        """A token signed by the issuer: its ``iss``, ``iat``, ``nbf``, ``exp`` plus ``claims``
        (which may override them)."""
        body: dict[str, Any] = {"claims": claims, "expiresIn": expires_in}
        if kid is not None:
            body["kid"] = kid
        return str(self._control("/mint", body)["token"])

    def rotate(self, alg: str = "RS256") -> str:
        """Add a new key to the issuer's JWKS; its kid (mint with it to use it)."""
        return str(self._control("/rotate", {"alg": alg})["kid"])

    def jwks(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/jwks", timeout=10) as response:
            document: dict[str, Any] = json.load(response)
        return document

    def _control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.control_port}{path}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def stop(self) -> None:
        self._process.stop()

    def log(self) -> str:
        return self._process.log()


# -- tokens a relying party must refuse, made from one the issuer signed ------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "==")
    )
    return header


def unsigned(token: str) -> str:
    """``token`` with ``alg: none`` and no signature."""
    _header_part, payload, _signature = token.split(".")
    header = {**_header(token), "alg": "none"}
    return f"{_b64(json.dumps(header).encode())}.{payload}."


def with_kid(token: str, kid: str) -> str:
    """``token`` whose header names another key (its signature left as it was)."""
    _header_part, payload, signature = token.split(".")
    header = {**_header(token), "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{payload}.{signature}"


def hs256_with_public_key(issuer: OidcIssuer, token: str) -> str:
    """``token``'s claims, HS256-signed with the issuer's public RSA key (PEM) as the
    secret: the algorithm-confusion attack."""
    jwk = issuer.jwks()["keys"][0]
    pem = RSAAlgorithm.from_jwk(jwk).public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}).encode())
    payload = token.split(".")[1]
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"
