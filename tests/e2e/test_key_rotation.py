"""Signing keys rotate while a registry keeps serving pulls: the real ``dockit api-server``
(2 workers, keys encrypted at rest), docker-registry 2.8.2, skopeo and ``dockit init-container``.

Rotation: pulls run in two bounded background loops (``skopeo inspect`` with credentials,
and token + ``GET /v2/REPO/tags/list`` over HTTP) while a pending key is created through the
Admin API, ``init-container`` rewrites the bundle, the registry restarts on it and the new
key is activated. No pull may be refused because of the key; connection errors while the
registry restarts are counted and retried. Then the old key leaves the bundle and a token it
signed before the rotation (still unexpired: tokens live an hour here) is refused by the
restarted registry while a fresh one works.

The retired-key grace is shortened to 10 s with ``keys.retired_grace_seconds`` (a real,
documented setting; its safe default, token lifetime + 60 s, would be an hour here). Nothing
is faked: clocks, processes and files are real.

Renewal: a key brought in files (leaf under an issuing CA) is renewed in place, as
cert-manager does; Dockit takes it within its refresh interval and the registry, which never
restarts, accepts the new leaf because the bundle carries the CA.

Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from libdockit.keys.bundle import parse_bundle
from libdockit.testing.pki import issue_leaf, make_ca
from tests.e2e.conftest import OciImage, write_bundle
from tests.support import skopeo
from tests.support.dockit import DockitServer, http_request
from tests.support.pullloop import Outcome, PullLoop, Tally, classify
from tests.support.registry import Registry

pytestmark = pytest.mark.registry

SERVICE = "registry.test"
ISSUER = "dockit-rotation"
LIFETIME = 3600
GRACE = 10
REPO = "rotation/app"
USER = ("rotator", "rotator-pw-1")
SCOPE = f"repository:{REPO}:pull"
PHASE_TIMEOUT = 60.0
#: Seconds the loops go on after the activation: past the workers' 5 s refresh interval.
AFTER_ACTIVATION = 8.0


def _segment(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def token_header(token: str) -> dict[str, Any]:
    return _segment(token, 0)


def token_claims(token: str) -> dict[str, Any]:
    return _segment(token, 1)


def registry_read(registry: Registry, token: str) -> tuple[int, str]:
    """``GET /v2/REPO/tags/list`` with a bearer token: the status and the challenge/body."""
    response = http_request(
        f"{registry.url}/v2/{REPO}/tags/list",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    detail = str(response.headers.get("WWW-Authenticate", "")) + " " + response.body.decode()
    return response.status, detail


def fresh_token(dockit: DockitServer) -> str:
    return dockit.token(SERVICE, [SCOPE], USER).token


@pytest.fixture
def dockit(tmp_path: Path) -> Iterator[DockitServer]:
    server = DockitServer(
        tmp_path / "dockit",
        services=(SERVICE,),
        issuer=ISSUER,
        token_lifetime=LIFETIME,
        workers=2,
        extra_env={
            "DOCKIT_KEY_RETIRED_GRACE_SECONDS": str(GRACE),
            "DOCKIT_KEY_ENCRYPTION_SECRET": "rotation-test-key-encryption-secret",
        },
    )
    with server:
        yield server
    log = server.all_logs()
    assert "Traceback" not in log, log[-6000:]
    assert "PRIVATE KEY" not in log


@pytest.fixture
def registry(dockit: DockitServer, tmp_path: Path, oci_image: OciImage) -> Iterator[Registry]:
    (tmp_path / "bundle").mkdir()
    bundle = write_bundle(dockit, tmp_path / "bundle" / "certs.pem")
    reg = Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=ISSUER,
        workdir=tmp_path / "registry",
    )
    with reg:
        dockit.create_user(*USER)
        dockit.grant(f"user:{USER[0]}", f"repository:{REPO}:pull,push")
        pushed = skopeo.push(oci_image.layout, oci_image.tag, reg.host, REPO, creds=USER)
        assert pushed.ok, pushed
        yield reg


def skopeo_loop(registry: Registry, tag: str) -> PullLoop:
    def attempt() -> Outcome:
        result = skopeo.inspect(registry.host, REPO, tag, creds=USER, raw=True, timeout=30)
        if result.ok:
            return Outcome("ok")
        return Outcome(classify(result.stderr, registry.host), result.stderr)

    return PullLoop("skopeo", attempt, max_attempts=400, max_seconds=180)


def http_loop(dockit: DockitServer, registry: Registry) -> PullLoop:
    def attempt() -> Outcome:
        answer = dockit.token(SERVICE, [SCOPE], USER)
        if answer.status != 200:
            return Outcome("other", f"dockit answered {answer.status}: {answer.json}")
        kid = str(token_header(answer.token)["kid"])
        try:
            status, detail = registry_read(registry, answer.token)
        except OSError as exc:  # URLError, ConnectionResetError, RemoteDisconnected
            return Outcome(classify(f"{registry.host}: {exc}", registry.host), str(exc), kid)
        if status == 200:
            return Outcome("ok", kid=kid)
        kind = "auth" if status == 401 else "other"
        return Outcome(kind, f"HTTP {status} for a token of {kid}: {detail}", kid)

    return PullLoop("http", attempt, max_attempts=5000, max_seconds=180, pause=0.02)


def wait_until(check: Any, what: str, timeout: float = PHASE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def jwks_kids(dockit: DockitServer) -> set[str]:
    return {str(jwk["kid"]) for jwk in dockit.get("/v2/certs/jwks").json()["keys"]}


def report(title: str, tallies: dict[str, Tally], **numbers: object) -> None:
    print(f"\n== {title}")
    for name, tally in tallies.items():
        print(f"   {name}: {tally.summary()}; ok by kid {dict(tally.ok_by_kid)}")
        for failure in tally.failures[:10]:
            print(f"      {failure[:300]}")
    for name, value in numbers.items():
        print(f"   {name}: {value}")


def test_rotation_refuses_no_pull(
    dockit: DockitServer, registry: Registry, oci_image: OciImage, tmp_path: Path
) -> None:
    bundle_path = registry.rootcertbundle
    (old,) = dockit.admin("GET", "/keys", expect=200).json()["items"]
    old_token = fresh_token(dockit)
    assert token_header(old_token)["kid"] == old["kid"]
    assert token_claims(old_token)["exp"] > time.time() + LIFETIME - 120

    loops = [skopeo_loop(registry, oci_image.tag).start(), http_loop(dockit, registry).start()]
    try:
        for loop in loops:
            loop.wait_for("ok", 3, timeout=PHASE_TIMEOUT)
        # 1. A pending key: published, not signing.
        new = dockit.admin("POST", "/keys", {}, expect=201).json()
        assert new["state"] == "pending"
        wait_until(lambda: {old["kid"], new["kid"]} <= jwks_kids(dockit), "both keys in the JWKS")
        # 2. The init step rewrites the bundle; 3. the registry restarts on it.
        write_bundle(dockit, bundle_path)
        assert len(parse_bundle(bundle_path.read_bytes())) == 2
        registry.restart()
        for loop in loops:
            loop.wait_for("ok", loop.count("ok") + 3, timeout=PHASE_TIMEOUT)
        # 4. Activate: the new key signs, the old one is retired (still published).
        activated = dockit.admin("POST", f"/keys/{new['kid']}/activate", expect=200).json()
        assert activated["state"] == "active"
        activated_at = time.monotonic()
        at_activation = {loop.name: loop.snapshot() for loop in loops}
        wait_until(
            lambda: all(token_header(fresh_token(dockit))["kid"] == new["kid"] for _ in range(6)),
            "both workers signing with the new key",
        )
        # 5. Let the loops go on past the workers' refresh interval.
        for loop in loops:
            loop.wait_for("ok", loop.count("ok") + 5, timeout=PHASE_TIMEOUT)
        time.sleep(max(0.0, AFTER_ACTIVATION - (time.monotonic() - activated_at)))
    finally:
        tallies = {loop.name: loop.stop() for loop in loops}
    http_after = tallies["http"].ok_by_kid - at_activation["http"].ok_by_kid
    report(
        "rotation under load",
        tallies,
        registry_restarts=1,
        old_kid=old["kid"],
        new_kid=new["kid"],
        http_ok_after_activation_by_kid=dict(http_after),
    )
    for name, tally in tallies.items():
        assert tally.counts["auth"] == 0, (name, tally.failures)
        assert tally.counts["other"] == 0, (name, tally.failures)
        assert tally.counts["ok"] >= 10, (name, tally.summary())
    assert tallies["http"].ok_by_kid[old["kid"]] > 0
    assert tallies["http"].ok_by_kid[new["kid"]] > 0

    # The old token is unexpired and its certificate still in the registry's bundle: accepted.
    assert registry_read(registry, old_token)[0] == 200

    # Retire the old key (activation did; retiring again is a no-op) and wait for the grace.
    retired = dockit.admin("POST", f"/keys/{old['kid']}/retire", expect=200).json()
    assert retired["state"] == "retired"
    wait_until(
        lambda: all(old["kid"] not in jwks_kids(dockit) for _ in range(6)),
        "the old key to leave the bundle",
        timeout=GRACE + 30,
    )
    write_bundle(dockit, bundle_path)
    bundle = parse_bundle(bundle_path.read_bytes())
    assert len(bundle) == 1
    registry.restart()

    status, detail = registry_read(registry, old_token)
    assert status == 401, detail
    assert "invalid_token" in detail or "invalid token" in detail, detail
    refused = skopeo.inspect(registry.host, REPO, oci_image.tag, creds=None, token=old_token)
    assert not refused.ok
    assert classify(refused.stderr, registry.host) == "auth", refused
    new_token = fresh_token(dockit)
    assert token_header(new_token)["kid"] == new["kid"]
    assert registry_read(registry, new_token)[0] == 200
    assert skopeo.inspect(registry.host, REPO, oci_image.tag, creds=USER).ok
    report(
        "after the old key left the bundle",
        {},
        old_token_seconds_left=int(token_claims(old_token)["exp"] - time.time()),
        old_token_status=status,
        fresh_token_status=200,
    )


def test_renewed_key_files_are_taken_without_a_registry_restart(
    tmp_path: Path, oci_image: OciImage
) -> None:
    issuing = make_ca("Rotation Issuing CA", issuer=make_ca("Rotation Root CA"))
    first = issue_leaf(issuing, common_name="dockit-signer")
    key_file, cert_file = tmp_path / "tls.key", tmp_path / "tls.crt"

    def install(leaf: Any) -> None:  # like a secret volume: write aside, then rename
        for path, data in (
            (key_file, leaf.key_pem()),
            (cert_file, leaf.chain_pem(include_root=False)),
        ):
            temporary = path.with_suffix(".new")
            temporary.write_bytes(data)
            os.replace(temporary, path)

    install(first)
    server = DockitServer(
        tmp_path / "dockit",
        services=(SERVICE,),
        issuer=ISSUER,
        token_lifetime=LIFETIME,
        workers=2,
        extra_env={"DOCKIT_KEY_FILE": str(key_file), "DOCKIT_CERT_FILE": str(cert_file)},
    )
    with server:
        (tmp_path / "bundle").mkdir()
        bundle_path = write_bundle(server, tmp_path / "bundle" / "certs.pem")
        assert issuing.certificate in parse_bundle(bundle_path.read_bytes())
        with Registry(
            realm=server.token_realm,
            rootcertbundle=bundle_path,
            service=SERVICE,
            issuer=ISSUER,
            workdir=tmp_path / "registry",
        ) as reg:
            server.create_user(*USER)
            server.grant(f"user:{USER[0]}", f"repository:{REPO}:pull,push")
            assert skopeo.push(oci_image.layout, oci_image.tag, reg.host, REPO, creds=USER).ok
            before = fresh_token(server)
            header = token_header(before)
            assert len(header["x5c"]) == 2  # leaf + issuing CA
            registry_pid = reg.pid

            renewed = issue_leaf(issuing, common_name="dockit-signer")
            install(renewed)
            new_kid = renewed.signing_key().kid
            wait_until(
                lambda: all(token_header(fresh_token(server))["kid"] == new_kid for _ in range(6)),
                "both workers signing with the renewed key",
                timeout=30,
            )
            after = fresh_token(server)
            assert token_header(after)["x5c"][1] == header["x5c"][1]  # same CA
            assert registry_read(reg, after)[0] == 200
            assert skopeo.inspect(reg.host, REPO, oci_image.tag, creds=USER).ok
            assert registry_read(reg, before)[0] == 200  # same CA: still trusted until exp
            assert reg.pid == registry_pid  # never restarted
            states = {k["kid"]: k["state"] for k in server.admin("GET", "/keys").json()["items"]}
            assert states == {header["kid"]: "retired", new_kid: "active"}
        log = server.all_logs()
        assert "Traceback" not in log, log[-6000:]
        assert "PRIVATE KEY" not in log
