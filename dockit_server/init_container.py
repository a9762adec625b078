"""``dockit init-container PATH``: write the certificate bundle a registry reads at start.

Waits for the server (bounded, with exponential backoff), fetches ``/v2/certs/pem``, checks
that it holds at least one parseable certificate, and replaces PATH atomically (temporary
file in the same directory, fsync, rename; mode 0644). On any failure PATH is left as it was
and the exit status is non-zero.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from libdockit.errors import KeyMaterialError
from libdockit.keys import parse_bundle

BUNDLE_PATH = "/v2/certs/pem"
MAX_BUNDLE_BYTES = 4 * 1024 * 1024


class InitContainerError(Exception):
    """The bundle could not be fetched, verified or written; the message says why."""


@dataclass(frozen=True, slots=True)
class Backoff:
    timeout: float = 60.0
    first_delay: float = 0.25
    max_delay: float = 5.0
    attempt_timeout: float = 5.0


def bundle_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(BUNDLE_PATH) else base + BUNDLE_PATH


def fetch_bundle(
    url: str,
    backoff: Backoff = Backoff(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    context: ssl.SSLContext | None = None,
) -> bytes:
    """GET the bundle, retrying connection failures and 5xx until ``backoff.timeout``.

    ``context`` verifies an https URL (default: the system's trusted CAs)."""
    deadline = monotonic() + backoff.timeout
    delay = backoff.first_delay
    last_error = "no attempt made"
    while True:
        try:
            with urllib.request.urlopen(  # noqa: S310
                url, timeout=backoff.attempt_timeout, context=context
            ) as response:
                body: bytes = response.read(MAX_BUNDLE_BYTES + 1)
            if len(body) > MAX_BUNDLE_BYTES:
                raise InitContainerError(f"{url} answered more than {MAX_BUNDLE_BYTES} bytes")
            return body
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise InitContainerError(f"{url} answered HTTP {exc.code}") from None
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last_error = str(reason)
        if monotonic() + delay > deadline:
            raise InitContainerError(
                f"gave up on {url} after {backoff.timeout:g}s; last error: {last_error}"
            )
        sleep(delay)
        delay = min(delay * 2, backoff.max_delay)


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


def run(
    path: Path, base_url: str, backoff: Backoff = Backoff(), *, ca_file: Path | None = None
) -> int:
    """Fetch, verify and write the bundle; returns the number of certificates written."""
    url = bundle_url(base_url)
    body = fetch_bundle(url, backoff, context=tls_context(ca_file))
    try:
        certificates = parse_bundle(body)
    except KeyMaterialError as exc:
        raise InitContainerError(f"{url} did not answer a usable bundle: {exc.message}") from None
    write_atomically(path, body)
    return len(certificates)
