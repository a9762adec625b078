"""``token.jwks_services``: tokens a registry 3.x trusting Dockit through a JWKS alone accepts.

Registry 3.x cannot be installed here; :mod:`tests.support.verifier_v3` is written to its
rules and is the check. The real ``dockit api-server`` issues the tokens and
``dockit init-container --jwks`` writes the JWKS file 3.x reads. Debian's docker-registry
2.8 is run too: it accepts the same kid-only tokens by their libtrust ``kid`` when the key's
certificate is in its bundle, so a service can move from 2.8 to 3.x without a change here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import OciImage, unique, write_bundle
from tests.support import skopeo
from tests.support.dockit import DockitServer, base_env, run_dockit
from tests.support.jwt_parts import jwt_header
from tests.support.registry import Registry
from tests.support.verifier import verify_token
from tests.support.verifier_v3 import TokenRejected, verify_token_v3

pytestmark = pytest.mark.registry

SERVICE_V2 = "registry.test"
SERVICE_V3 = "registry3.test"
ISSUER = "dockit-v3"
PASSWORD = "v3-user-pw-1"


@pytest.fixture(scope="module")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"),
        services=(SERVICE_V2, SERVICE_V3),
        issuer=ISSUER,
        extra_env={"DOCKIT_JWKS_SERVICES": SERVICE_V3, "DOCKIT_LOGIN_MAX_FAILURES": "0"},
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def user(dockit: DockitServer) -> str:
    name = unique("v3")
    dockit.create_user(name, PASSWORD)
    dockit.grant(f"user:{name}", f"repository:{name}/**:pull,push")
    return name


def _jwks_file(dockit: DockitServer, path: Path) -> dict[str, Any]:
    """``dockit init-container --jwks PATH``, as a registry 3.x's init step runs it."""
    result = run_dockit(
        ["init-container", "--jwks", str(path), "--url", dockit.url, "--timeout", "20"],
        env=base_env(path.parent),
        cwd=path.parent,
    )
    assert result.returncode == 0, result.stderr
    assert f"key(s) to {path}" in result.stdout
    jwks: dict[str, Any] = json.loads(path.read_text())
    return jwks


def test_a_jwks_service_gets_kid_only_tokens_a_jwks_only_3x_accepts(
    dockit: DockitServer, user: str, tmp_path: Path
) -> None:
    jwks = _jwks_file(dockit, tmp_path / "jwks.json")
    scope = f"repository:{user}/app:pull,push"
    token = dockit.token(SERVICE_V3, [scope], (user, PASSWORD)).token
    header = jwt_header(token)
    assert "x5c" not in header
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = verify_token_v3(token, issuer=ISSUER, service=SERVICE_V3, jwks=jwks)
    assert claims["access"] == [
        {"type": "repository", "name": f"{user}/app", "actions": ["pull", "push"]}
    ]
    # Given the bundle as well, 3.x still finds the key in its JWKS.
    bundle = dockit.certs_pem()
    verify_token_v3(token, issuer=ISSUER, service=SERVICE_V3, jwks=jwks, bundle_pem=bundle)
    # Given the bundle alone it does not (it keys certificates by their thumbprint).
    with pytest.raises(TokenRejected, match="untrusted key"):
        verify_token_v3(token, issuer=ISSUER, service=SERVICE_V3, bundle_pem=bundle)


def test_other_services_keep_x5c_which_a_jwks_only_3x_refuses(
    dockit: DockitServer, user: str, tmp_path: Path
) -> None:
    """Why the setting exists: 3.x checks x5c first and stops at the unknown chain."""
    jwks = _jwks_file(dockit, tmp_path / "jwks.json")
    token = dockit.token(SERVICE_V2, [f"repository:{user}/app:pull"], (user, PASSWORD)).token
    assert jwt_header(token)["x5c"]
    bundle = dockit.certs_pem()
    verify_token(token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE_V2)
    verify_token_v3(token, issuer=ISSUER, service=SERVICE_V2, bundle_pem=bundle)
    verify_token_v3(token, issuer=ISSUER, service=SERVICE_V2, bundle_pem=bundle, jwks=jwks)
    with pytest.raises(TokenRejected, match="bundle"):
        verify_token_v3(token, issuer=ISSUER, service=SERVICE_V2, jwks=jwks)


def test_registry_28_accepts_kid_only_tokens_from_its_bundle(
    dockit: DockitServer,
    user: str,
    oci_image: OciImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    bundle = write_bundle(dockit, tmp_path_factory.mktemp("bundle") / "certs.pem")
    with Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=SERVICE_V3,
        issuer=ISSUER,
        workdir=tmp_path_factory.mktemp("registry"),
    ) as registry:
        creds = (user, PASSWORD)
        pushed = skopeo.push(
            oci_image.layout, oci_image.tag, registry.host, f"{user}/app", creds=creds
        )
        assert pushed.ok, pushed
        inspected = skopeo.inspect(registry.host, f"{user}/app", oci_image.tag, creds=creds)
        assert inspected.ok, inspected
        denied = skopeo.push(
            oci_image.layout, oci_image.tag, registry.host, f"not-{user}/app", creds=creds
        )
        assert not denied.ok
        assert "denied" in denied.stderr, denied
