"""Write a small, valid OCI image layout without Docker, for skopeo to push.

The layer is a deterministic gzip tar (fixed mtime, owner and mode, sorted entries), so the
same ``files`` and ``marker`` always give the same manifest digest, and a different
``marker`` always gives a different one. Several tags can share one layout directory: each
call adds (or replaces) its tag in ``index.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

OCI_LAYOUT_VERSION = "1.0.0"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
MARKER_PATH = "dockit-test-marker"
DEFAULT_FILES: dict[str, bytes] = {"hello.txt": b"hello from the dockit tests\n"}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _tar_info(name: str, *, directory: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.mode = 0o644
        info.size = size
    return info


def build_layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed, reproducible tar of ``files`` (relative POSIX paths -> content)."""
    directories: set[str] = set()
    clean: dict[str, bytes] = {}
    for raw_name, content in files.items():
        path = PurePosixPath(raw_name.lstrip("/"))
        if not path.parts or ".." in path.parts:
            raise ValueError(f"bad layer path: {raw_name!r}")
        clean[str(path)] = content
        directories.update(str(parent) for parent in path.parents if str(parent) != ".")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(directories):
            tar.addfile(_tar_info(directory + "/", directory=True))
        for name in sorted(clean):
            content = clean[name]
            tar.addfile(_tar_info(name, directory=False, size=len(content)), io.BytesIO(content))
    return buffer.getvalue()


def _write_blob(blobs: Path, data: bytes) -> dict[str, Any]:
    digest = sha256_digest(data)
    (blobs / digest.removeprefix("sha256:")).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_oci_layout(
    directory: Path | str,
    *,
    tag: str = "latest",
    files: dict[str, bytes] | None = None,
    marker: str | None = None,
) -> str:
    """Write (or add ``tag`` to) an OCI image layout in ``directory``; return the manifest digest.

    The image has one gzip tar layer holding ``files`` (default: a hello.txt) plus, when
    ``marker`` is given, a ``dockit-test-marker`` file with that text, so images built with
    different markers differ. ``skopeo copy oci:DIRECTORY:TAG docker://...`` reads it.
    """
    root = Path(directory)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    content = dict(DEFAULT_FILES if files is None else files)
    if marker is not None:
        content[MARKER_PATH] = marker.encode()
    layer_tar = build_layer_tar(content)
    layer_gz = gzip.compress(layer_tar, mtime=0)
    layer = _write_blob(blobs, layer_gz)

    config_json = _canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
            "history": [{"created_by": "tests.support.oci.write_oci_layout"}],
        }
    )
    config = _write_blob(blobs, config_json)

    manifest_json = _canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, **config},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, **layer}],
        }
    )
    manifest = _write_blob(blobs, manifest_json)

    (root / "oci-layout").write_bytes(_canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION}))

    index_path = root / "index.json"
    manifests: list[dict[str, Any]] = []
    if index_path.exists():
        existing = json.loads(index_path.read_text())
        manifests = [
            entry
            for entry in existing.get("manifests", [])
            if entry.get("annotations", {}).get(REF_NAME) != tag
        ]
    manifests.append({"mediaType": MANIFEST_MEDIA_TYPE, **manifest, "annotations": {REF_NAME: tag}})
    index_path.write_bytes(
        _canonical_json({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests})
    )
    return str(manifest["digest"])
