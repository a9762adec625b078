"""What a failed connection to Dockit means, in words that name the fix.

Shared by the admin commands and ``init-container``, which both reach Dockit with urllib:
raw OpenSSL text (``[SSL: WRONG_VERSION_NUMBER] wrong version number``) becomes "this port
speaks plain HTTP; use http://...", and a connection closed without an answer on an
``http://`` URL suggests ``https://``.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse

#: What some users append to Dockit's base URL; accepted and dropped.
API_SUFFIX = "/api/v1"


def strip_api_suffix(path: str) -> str:
    """``/api/v1`` (and a trailing ``/``) at the end of a base URL's path, removed."""
    trimmed = path.rstrip("/")
    return trimmed.removesuffix(API_SUFFIX).rstrip("/")


#: init-container's path below the base URL, left out of the suggested URL.
_BUNDLE_PATH = "/v2/certs/pem"


def _with_scheme(url: str, scheme: str) -> str:
    """The base URL to use instead: ``url`` with the other scheme."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.removesuffix(_BUNDLE_PATH)
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


def _root(error: BaseException) -> BaseException:
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        return error.reason
    return error


def wrong_scheme_hint(url: str, error: BaseException) -> str | None:
    """A sentence when ``error`` looks like https to a plain-HTTP port or the reverse."""
    cause = _root(error)
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "https" and isinstance(cause, ssl.SSLError):
        reason = (cause.reason or "").upper()
        if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"):
            return (
                f"this port speaks plain HTTP, not HTTPS; use {_with_scheme(url, 'http')} "
                "(or serve HTTPS with server.tls_cert_file and server.tls_key_file)"
            )
    if scheme == "http" and isinstance(
        cause, http.client.RemoteDisconnected | ConnectionResetError | http.client.BadStatusLine
    ):
        return (
            "the connection closed without an HTTP answer: if this port speaks HTTPS "
            f"(server.tls_cert_file), use {_with_scheme(url, 'https')}"
        )
    return None


def certificate_hint(error: BaseException) -> str | None:
    """A sentence when the server's certificate was not trusted."""
    cause = _root(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        detail = cause.verify_message or str(cause)
        return (
            f"its certificate is not trusted (CERTIFICATE_VERIFY_FAILED: {detail}); "
            "trust the CA that signed it (init-container: --ca-file CA.pem; elsewhere "
            "SSL_CERT_FILE=CA.pem)"
        )
    return None
