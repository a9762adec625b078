"""``dockit init-container PATH``: write the certificate bundle a registry reads at start.

Waits for the server (bounded, with exponential backoff), fetches ``/v2/certs/pem``, checks
it, and replaces PATH atomically (temporary file in the same directory, fsync, rename; mode
0644). On any failure PATH is left as it was and the exit status is non-zero.

The checks, since a registry that reads a bad bundle refuses tokens or does not start:

* the body is as long as its ``Content-Length`` says (a connection that drops early is a
  failure, not a shorter bundle);
* it is nothing but complete PEM ``CERTIFICATE`` blocks, each of which parses, with at least
  one (a last certificate cut off, or any other block, is refused);
* a redirect from ``https://`` to ``http://`` is refused (the bundle decides which tokens
  the registry trusts: it must not come over a downgraded connection); a plain ``http://``
  URL to another host than this one is warned about.

With ``--jwks`` it writes the JWK Set of ``/v2/certs/jwks`` instead (registry 3.x's
``auth.token.jwks``), checked to hold at least one key, each with a ``kid`` and a ``kty``;
the length, redirect and plain-http rules are the same.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import urllib.response
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPMessage
from pathlib import Path
from typing import IO

from libdockit.errors import KeyMaterialError
from libdockit.keys.bundle import parse_bundle

from .connection_hints import certificate_hint, strip_api_suffix, wrong_scheme_hint

BUNDLE_PATH = "/v2/certs/pem"
JWKS_PATH = "/v2/certs/jwks"
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]*?-----END \1-----")


class InitContainerError(Exception):
    """The bundle could not be fetched, verified or written; the message says why."""


class InitContainerUsageError(InitContainerError):
    """The command line cannot work (e.g. a URL without http:// or https://): exit 2."""


@dataclass(frozen=True, slots=True)
class Backoff:
    timeout: float = 60.0
    first_delay: float = 0.25
    max_delay: float = 5.0
    attempt_timeout: float = 5.0


def bundle_url(base_url: str, path: str = BUNDLE_PATH) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(path) else base + path


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to anything else."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new_scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if urllib.parse.urlsplit(req.full_url).scheme.lower() == "https" and new_scheme != "https":
            raise InitContainerError(
                f"{req.full_url} redirected to {newurl}: refusing to fetch the bundle over a "
                "connection without TLS"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(context: ssl.SSLContext | None) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoDowngrade())


def _read_whole(response: urllib.response.addinfourl, url: str) -> bytes:
    """The body, checked against its Content-Length; InitContainerError if it is short."""
    body: bytes = response.read(MAX_BUNDLE_BYTES + 1)
    if len(body) > MAX_BUNDLE_BYTES:
        raise InitContainerError(f"{url} answered more than {MAX_BUNDLE_BYTES} bytes")
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) != len(body):
        raise InitContainerError(
            f"{url} sent {len(body)} of the {int(declared)} bytes it announced: the "
            "connection dropped early"
        )
    return body


def fetch_bundle(
    url: str,
    backoff: Backoff = Backoff(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    context: ssl.SSLContext | None = None,
    on_retry: Callable[[str, float], None] | None = None,
) -> bytes:
    """GET the bundle, retrying connection failures and 5xx until ``backoff.timeout``.

    ``context`` verifies an https URL (default: the system's trusted CAs). ``on_retry`` is
    told the last error and the seconds left before each wait. Errors that no wait can
    fix (https to a plain-HTTP port, an untrusted certificate) end it at once, and so do a
    body shorter than its Content-Length and a redirect away from https."""
    deadline = monotonic() + backoff.timeout
    delay = backoff.first_delay
    last_error = "no attempt made"
    opener = _opener(context)
    while True:
        try:
            with opener.open(url, timeout=backoff.attempt_timeout) as response:
                return _read_whole(response, url)
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise InitContainerError(f"{url} answered HTTP {exc.code}") from None
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last_error = connection_failure(url, exc)
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise InitContainerError(gave_up(url, backoff.timeout, last_error))
        if on_retry is not None:
            on_retry(last_error, remaining)
        sleep(min(delay, remaining))  # the last attempt comes at the deadline
        delay = min(delay * 2, backoff.max_delay)


def check_base_url(raw: str) -> str:
    """Dockit's base URL as given, refused at once unless http(s)://HOST[:PORT][/path];
    a trailing ``/api/v1`` (the Admin API's prefix) is dropped."""
    parts = urllib.parse.urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InitContainerUsageError(
            f"--url must be Dockit's base URL with http:// or https://, e.g. "
            f"http://127.0.0.1:4315 (DOCKIT_URL); not {raw!r}"
        )
    path = strip_api_suffix(parts.path)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def connection_failure(url: str, error: BaseException) -> str:
    """What went wrong, in words; raises InitContainerError when waiting cannot help."""
    fatal = wrong_scheme_hint(url, error) if url.startswith("https:") else None
    fatal = fatal or certificate_hint(error)
    if fatal is not None:
        raise InitContainerError(f"cannot fetch {url}: {fatal}") from None
    hint = wrong_scheme_hint(url, error)
    if hint is not None:
        return hint
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve the host name ({reason.strerror})"
    return str(reason) or type(reason).__name__


def gave_up(url: str, timeout: float, last_error: str) -> str:
    return (
        f"gave up on {url} after {timeout:g}s; last error: {last_error}. Is Dockit running "
        "there, and is --url (DOCKIT_URL) the address this machine reaches it at? "
        "(--timeout waits longer)"
    )


class RetryReport:
    """Progress lines while init-container waits: the first failure, then one every
    ``every`` seconds at most, so a Dockit that is still starting is seen waiting for."""

    def __init__(
        self,
        url: str,
        write: Callable[[str], None],
        *,
        every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._write = write
        self._every = every
        self._monotonic = monotonic
        self._last: float | None = None

    def __call__(self, error: str, seconds_left: float) -> None:
        now = self._monotonic()
        if self._last is not None and now - self._last < self._every:
            return
        self._last = now
        self._write(
            f"waiting for Dockit at {self._url}: {error}; retrying for up to "
            f"{max(0, round(seconds_left))}s more (it may still be starting)"
        )


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    directory = path.parent
    if not directory.is_dir():
        raise InitContainerError(f"directory {directory} does not exist")
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise InitContainerError(f"cannot write {path}: {exc.strerror}") from None


def tls_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """A context trusting ``ca_file`` (PEM) for an https URL; None: the system's CAs."""
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise InitContainerError(f"cannot use --ca-file {ca_file}: {exc}") from None


def check_pem(body: bytes) -> None:
    """InitContainerError unless ``body`` is only complete CERTIFICATE blocks (and white
    space): a block cut off, another kind of block or stray text means a broken bundle."""
    blocks = list(_PEM_BLOCK.finditer(body))
    rest = _PEM_BLOCK.sub(b"", body)
    if body.count(b"-----BEGIN ") != len(blocks) or rest.strip():
        raise InitContainerError("the bundle is cut off or holds something that is not PEM")
    for index, block in enumerate(blocks, start=1):
        if block.group(1) != b"CERTIFICATE":
            label = block.group(1).decode("ascii")
            raise InitContainerError(f"PEM block {index} of the bundle is a {label}")


def plain_http_warning(url: str) -> str | None:
    """A warning for an ``http://`` URL that leaves this machine; None otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").lower()
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"warning: {url} is plain http: anyone on the way can change the certificates the "
        "registry will trust; use https:// (with --ca-file for a private CA)"
    )


def count_jwks_keys(body: bytes) -> int:
    """The number of keys of a JWK Set; InitContainerError unless every one has a string
    ``kid`` and ``kty`` and there is at least one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InitContainerError("not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InitContainerError("not a JWK Set with at least one key")
    for index, key in enumerate(keys, start=1):
        if not isinstance(key, dict) or not all(
            isinstance(key.get(name), str) and key[name] for name in ("kid", "kty")
        ):
            raise InitContainerError(f"key {index} has no kid or no kty")
    return len(keys)


def run(
    path: Path,
    base_url: str,
    backoff: Backoff = Backoff(),
    *,
    ca_file: Path | None = None,
    on_retry: Callable[[str, float], None] | None = None,
    warn: Callable[[str], None] = lambda message: None,
    jwks: bool = False,
) -> int:
    """Fetch, verify and write the bundle (or, with ``jwks``, the JWK Set); returns the
    number of certificates (keys) written."""
    url = bundle_url(check_base_url(base_url), JWKS_PATH if jwks else BUNDLE_PATH)
    warning = plain_http_warning(url)
    if warning is not None:
        warn(warning)
    body = fetch_bundle(url, backoff, context=tls_context(ca_file), on_retry=on_retry)
    what = "JWK Set" if jwks else "bundle"
    try:
        if jwks:
            count = count_jwks_keys(body)
        else:
            check_pem(body)
            count = len(parse_bundle(body))
    except KeyMaterialError as exc:
        raise InitContainerError(f"{url} did not answer a usable bundle: {exc.message}") from None
    except InitContainerError as exc:
        raise InitContainerError(f"{url} did not answer a usable {what}: {exc}") from None
    write_atomically(path, body)
    return count
