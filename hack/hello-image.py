#!/usr/bin/env python3
"""Write a tiny OCI image layout (one file in one layer) for a first push without Docker.

    python3 hack/hello-image.py DIR [TAG]
    skopeo copy --dest-tls-verify=false --dest-creds alice:PW oci:DIR:TAG docker://HOST/alice/hello:TAG

Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def blob(blobs: Path, data: bytes, media_type: str) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def layer() -> bytes:
    content = b"hello from dockit\n"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def main(directory: Path, tag: str) -> None:
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    compressed = layer()
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(compressed)).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(
            blobs, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"
        ),
        "layers": [blob(blobs, compressed, "application/vnd.oci.image.layer.v1.tar+gzip")],
    }
    entry = blob(blobs, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "manifests": [entry]}
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: hello-image.py DIR [TAG]")
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) == 3 else "latest")
