"""Credentials that ``docker login HOST`` stored: the docker config and credential helpers.

The config is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``. As the docker
CLI does, a ``credHelpers`` entry for the registry wins, then ``credsStore``; only without
either is the ``auths`` entry itself used. Registry keys are matched by host, whatever their
scheme or path (``HOST``, ``https://HOST``, ``http://HOST``, ``HOST/v2/`` ...).

An ``auths`` entry gives ``auth`` (base64 of ``user:password``), or ``username`` and
``password``, or an ``identitytoken`` (the refresh token ``docker login`` keeps when the token
server gives one). An identity token is sent as the password, with the user name of the entry
when it has one, else ``<token>`` as credential helpers report it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from libdockit.secret import Secret

from .credential_helper import CredentialHelper
from .credential_record import TOKEN_USERNAME, Credentials
from .errors import CredentialsNotFound, UsageError


def config_path(environ: Mapping[str, str]) -> Path:
    directory = environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker" / "config.json"


def registry_host(raw: str) -> str:
    """``HOST[:PORT]`` of a registry key or argument: scheme and path removed."""
    text = raw.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("/", 1)[0].lower()


def key_variants(host: str) -> list[str]:
    """The spellings of a registry key tried first (any key with the same host matches)."""
    return [host, f"https://{host}", f"http://{host}", f"{host}/v2/", f"https://{host}/v2/"]


def matching_keys(mapping: Mapping[str, Any], host: str) -> list[str]:
    """Keys of ``mapping`` naming ``host``: the usual spellings first, then any other."""
    exact = [key for key in key_variants(host) if key in mapping]
    others = sorted(k for k in mapping if k not in exact and registry_host(k) == host)
    return exact + others


def find_credentials(registry: str, environ: Mapping[str, str], *, timeout: float) -> Credentials:
    host = registry_host(registry)
    if not host:
        raise UsageError(f"--registry must name a registry host, not {registry!r}")
    path = config_path(environ)
    config = _load(path, environ)
    helpers = _mapping(config, "credHelpers", path)
    auths = _mapping(config, "auths", path)
    helper_keys = matching_keys(helpers, host)
    if helper_keys:
        where = f"credHelpers[{helper_keys[0]!r}] in {path}"
        return _from_helper(
            str(helpers[helper_keys[0]]),
            where=where,
            host=host,
            auths=auths,
            environ=environ,
            timeout=timeout,
        )
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _from_helper(
            store,
            where=f"credsStore in {path}",
            host=host,
            auths=auths,
            environ=environ,
            timeout=timeout,
        )
    keys = matching_keys(auths, host)
    for key in keys:
        found = _from_entry(auths[key], f"{path} auths[{key!r}]")
        if found is not None:
            return found
    known = ", ".join(sorted(auths)) or "none"
    tried = ", ".join(key_variants(host))
    if keys:
        problem = f"its entry auths[{keys[0]!r}] has no password or identity token"
    else:
        problem = (
            f"no auths entry for {host} (tried {tried} and any key with that host; it has: {known})"
        )
    raise CredentialsNotFound(
        f"no credentials for registry {host} in {path}: {problem}. Run `docker login {host}`, "
        "or pass --username (or set DOCKIT_USERNAME and DOCKIT_PASSWORD)"
    )


def _load(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        why = (
            "$DOCKER_CONFIG"
            if environ.get("DOCKER_CONFIG")
            else "~/.docker (DOCKER_CONFIG is not set)"
        )
        raise CredentialsNotFound(
            f"no docker config at {path} (from {why}): run `docker login HOST` first, or pass "
            "--username (or set DOCKIT_USERNAME and DOCKIT_PASSWORD)"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read the docker config {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the docker config {path} is not valid JSON: {exc.args[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"the docker config {path} is not a JSON object")
    return data


def _mapping(config: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = config.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{name} in the docker config {path} is not a JSON object")
    return value


def _entry_username(entry: object) -> str | None:
    """The user name an ``auths`` entry records, if any (never its password)."""
    if not isinstance(entry, dict):
        return None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user = base64.b64decode(auth, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return user
    username = entry.get("username")
    return username if isinstance(username, str) and username else None


def _from_entry(entry: object, source: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise UsageError(f"{source} is not a JSON object")
    username = _entry_username(entry)
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(username or TOKEN_USERNAME, Secret(token), source, identity_token=True)
    password = ""
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise UsageError(f"{source}: 'auth' is not base64 of user:password") from None
        if ":" not in decoded:
            raise UsageError(f"{source}: 'auth' is not base64 of user:password")
        password = decoded.partition(":")[2]
    elif isinstance(entry.get("password"), str):
        password = entry["password"]
    if username and password:
        return Credentials(username, Secret(password), source)
    return None


def _from_helper(
    name: str,
    *,
    where: str,
    host: str,
    auths: Mapping[str, Any],
    environ: Mapping[str, str],
    timeout: float,
) -> Credentials:
    helper = CredentialHelper(name, environ, timeout=timeout, where=where)
    found = helper.find(key_variants(host)[:3], lambda key: registry_host(key) == host)
    if found is None:
        raise CredentialsNotFound(
            f"no credentials for registry {host} in {helper.program} ({where}; asked for "
            f"{', '.join(key_variants(host)[:3])} and any listed key with that host). Run "
            f"`docker login {host}`, or pass --username (or set DOCKIT_USERNAME and "
            "DOCKIT_PASSWORD)"
        )
    server_url, username, secret = found
    source = f"{helper.program} ({where}, server {server_url!r})"
    if username == TOKEN_USERNAME:
        entry_keys = matching_keys(auths, host)
        known = _entry_username(auths[entry_keys[0]]) if entry_keys else None
        return Credentials(known or TOKEN_USERNAME, secret, source, identity_token=True)
    return Credentials(username, secret, source)
