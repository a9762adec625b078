"""Signing keys from Settings: encryption at rest, key files, the retired-key grace.

Used by :mod:`.bootstrap`: :func:`secure_stored_keys` in ``prepare`` (the gunicorn master,
before workers fork), the rest in each worker.

* ``keys.encryption_secret`` set: every stored key must open with it, and keys stored
  unencrypted before it was set are encrypted now, once (start-up is the migration step:
  there is no separate command to forget). A key it cannot open stops start-up with a
  ConfigError naming ``keys.encryption_secret``; so does an encrypted store with no secret.
  Removing the secret again is not supported: keys stay encrypted.
* The SQLite database holds the private keys: a new database file is created with mode 0600
  (SQLite gives its -wal and -shm files the same mode); an existing one readable by others
  is reported, not changed.
* ``keys.retired_grace_seconds`` shortens (or lengthens) how long a retired key stays
  published. The safe value, and the default, is the longest token lifetime
  (``token.lifetime``, or ``token.max_credential_lifetime`` when longer) + 60 s (the registry's
  leeway): shorter means tokens the old key signed are refused before they expire once the
  registries restart without it (what you want for a compromised key, and for tests).
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from libdockit.backends.base import KeyMaterialStore
from libdockit.backends.sql.database import create_private_file
from libdockit.errors import ConfigError
from libdockit.keys.crypt import KeyDecryptionError, KeyProtector, seal_stored_keys
from libdockit.keys.files import KeyFiles

from .config import Settings

log = logging.getLogger("dockit.server")

ENCRYPTION_SETTING = "keys.encryption_secret"
#: The registry accepts a token up to 60 s after its ``exp``.
REGISTRY_LEEWAY = 60


def key_protector(settings: Settings) -> KeyProtector:
    return KeyProtector(settings.keys_encryption_secret)


def secure_stored_keys(store: KeyMaterialStore, protector: KeyProtector) -> None:
    """Check the secret opens every stored key; encrypt the unencrypted ones (see above)."""
    try:
        sealed = seal_stored_keys(store, protector)
    except KeyDecryptionError as exc:
        hint = (
            "set it (DOCKIT_KEY_ENCRYPTION_SECRET or DOCKIT_KEY_ENCRYPTION_SECRET_FILE) to the "
            "secret the keys were encrypted with"
            if not protector.encrypts
            else "it is not the secret the stored keys were encrypted with"
        )
        raise ConfigError(ENCRYPTION_SETTING, f"{exc.message}: {hint}") from None
    if sealed:
        log.info("encrypted %d stored private key(s) with %s", len(sealed), ENCRYPTION_SETTING)


def longest_token_lifetime(settings: Settings) -> int:
    """The longest an access token may live: the service's lifetime, or a robot's or
    personal token's own lifetime up to its cap (seconds)."""
    return max(settings.token_lifetime, settings.token_max_credential_lifetime)


def retired_grace(settings: Settings) -> timedelta:
    safe = longest_token_lifetime(settings) + REGISTRY_LEEWAY
    chosen = settings.keys_retired_grace_seconds
    if chosen is None:
        return timedelta(seconds=safe)
    if chosen < safe:
        log.warning(
            "keys.retired_grace_seconds=%d is shorter than the longest token lifetime "
            "(token.lifetime, token.max_credential_lifetime) + %d s (%d s): "
            "tokens signed by a retired key are refused before they expire once the "
            "registries restart without it",
            chosen,
            REGISTRY_LEEWAY,
            safe,
        )
    return timedelta(seconds=chosen)


def key_files(
    settings: Settings, store: KeyMaterialStore, protector: KeyProtector
) -> KeyFiles | None:
    """The watcher of ``keys.key_file``/``keys.cert_file``, or None when they are not set."""
    if settings.keys_key_file is None or settings.keys_cert_file is None:
        return None
    return KeyFiles(
        settings.keys_key_file, settings.keys_cert_file, store=store, protector=protector
    )


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file of ``database.url``; None for PostgreSQL or ``:memory:``."""
    parts = urlsplit(settings.database_url.reveal())
    if parts.scheme != "sqlite":
        return None
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return None if not path or path == ":memory:" else Path(path)


def secure_database_file(settings: Settings) -> None:
    """Create a new SQLite database file with mode 0600, and repair an existing one (with its
    ``-wal`` and ``-shm`` files) that others may read: it holds password hashes and private
    keys. A file Dockit cannot make private stops start-up (ConfigError naming
    ``database.url``)."""
    path = sqlite_path(settings)
    if path is None:
        return
    create_private_file(str(path))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except OSError:
            continue  # not there (yet): SQLite makes it with the database's mode
        if not mode & 0o077:
            continue
        try:
            os.chmod(file, 0o600)
        except OSError as exc:
            raise ConfigError(
                "database.url",
                f"{file} may be read by others (mode {mode:04o}) and cannot be made private "
                f"({exc.strerror}): chmod 600 it as its owner",
            ) from None
        log.warning("%s could be read by others (mode %04o); made it 0600", file, mode)
