"""containerd's ``ctr`` pushing and pulling through docker-registry 2.8 with Dockit's tokens.

What containerd 1.6 does, as these tests pin down: with ``--user`` it POSTs the OAuth2
password grant (``client_id=containerd-client``) and falls back to GET only when the POST
is refused with 400, 401, 404 or 405; with ``--refresh`` it POSTs the refresh-token grant.
So a wrong password reaches Dockit twice; with failed logins limited (the default) it
counts once (``logins.repeat_seconds``), which a Dockit of its own with a limit of two
failures shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import write_bundle
from tests.support.containerd import Containerd
from tests.support.dockit import DockitServer
from tests.support.registry import Registry

from .conftest import (
    ISSUER,
    SERVICE,
    Account,
    failure,
    image_tar,
    make_account,
    token_requests,
    vias,
)

pytestmark = [pytest.mark.registry, pytest.mark.engines]


def _refresh_token(dockit: DockitServer, account: Account) -> str:
    answer = dockit.token(
        SERVICE, (), account.creds, params={"offline_token": "true", "client_id": "ctr-test"}
    )
    assert answer.status == 200, answer
    token: str = answer.json["refresh_token"]
    return token


def _import(containerd: Containerd, tmp_path: Path, base_name: str) -> str:
    """A new image of its own content, imported as ``BASE_NAME:v1``."""
    [reference] = containerd.import_layout(image_tar(tmp_path, base_name), base_name)
    return reference


def test_push_and_pull_with_a_password(
    containerd: Containerd,
    registry: Registry,
    dockit: DockitServer,
    account: Account,
    tmp_path: Path,
) -> None:
    reference = _import(containerd, tmp_path, f"{registry.host}/{account.name}/hello")
    pushed = containerd.registry_command("push", reference, user=account.creds)
    assert pushed.returncode == 0, failure(pushed)
    containerd.forget(reference)
    pulled = containerd.registry_command("pull", reference, user=account.creds)
    assert pulled.returncode == 0, failure(pulled)
    assert reference in containerd.images()
    requests = token_requests(dockit, account.name, at_least=2)
    # Every token came from the password grant at the first try: no fallback to GET.
    assert vias(requests) == {"POST password"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_push_and_pull_with_a_refresh_token(
    containerd: Containerd,
    registry: Registry,
    dockit: DockitServer,
    account: Account,
    tmp_path: Path,
) -> None:
    refresh_token = _refresh_token(dockit, account)
    reference = _import(containerd, tmp_path, f"{registry.host}/{account.name}/refreshed")
    pushed = containerd.registry_command("push", reference, refresh_token=refresh_token)
    assert pushed.returncode == 0, failure(pushed)
    containerd.forget(reference)
    pulled = containerd.registry_command("pull", reference, refresh_token=refresh_token)
    assert pulled.returncode == 0, failure(pulled)
    requests = token_requests(dockit, account.name, at_least=3)
    # The first request is the GET that handed out the refresh token (offline_token=true).
    assert requests[0].via == "GET", requests
    assert vias(requests[1:]) == {"POST refresh_token"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_push_elsewhere_is_denied(
    containerd: Containerd,
    registry: Registry,
    dockit: DockitServer,
    account: Account,
    tmp_path: Path,
) -> None:
    reference = _import(containerd, tmp_path, f"{registry.host}/not-{account.name}/hello")
    result = containerd.registry_command("push", reference, user=account.creds)
    assert result.returncode != 0
    assert "insufficient_scope" in result.stderr, failure(result)
    requests = token_requests(dockit, account.name)
    # The token is issued (without push on that repository); the registry refuses the push.
    assert {request.action for request in requests} == {"token.issue"}


#: Failed logins a user or client may have before it is blocked, in the Dockit of
#: :func:`limited`: a wrong password counted twice would block at once.
LIMITED_FAILURES = 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DockitServer, Registry]]:
    """A Dockit that limits failed logins (the package's does not: its tests share one client
    address), and a docker-registry 2.8 sending clients to it."""
    server = DockitServer(
        tmp_path_factory.mktemp("dockit-limited"),
        services=(SERVICE,),
        issuer=ISSUER,
        extra_env={
            "DOCKIT_LOGIN_MAX_FAILURES": str(LIMITED_FAILURES),
            "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS": "600",  # outlasts the test on a slow machine
            "DOCKIT_AUDIT_FLUSH_SECONDS": "0",
        },
    )
    with server:
        bundle = write_bundle(server, tmp_path_factory.mktemp("bundle-limited") / "certs.pem")
        with Registry(
            realm=server.token_realm,
            rootcertbundle=bundle,
            service=SERVICE,
            issuer=ISSUER,
            workdir=tmp_path_factory.mktemp("registry-limited"),
        ) as registry:
            yield server, registry


def test_wrong_password_is_refused_and_counts_once(
    containerd: Containerd,
    limited: tuple[DockitServer, Registry],
    tmp_path: Path,
) -> None:
    dockit, registry = limited
    account = make_account(dockit)
    reference = _import(containerd, tmp_path, f"{registry.host}/{account.name}/hello")
    result = containerd.registry_command("push", reference, user=(account.name, "wrong-pw"))
    assert result.returncode != 0
    assert "401" in result.stderr or "unauthorized" in result.stderr.lower(), failure(result)
    requests = token_requests(dockit, account.name, at_least=2)
    assert {request.action for request in requests} == {"token.refuse"}
    # containerd tries the password grant first and falls back to GET after the 401.
    assert [request.via for request in requests][:2] == ["POST password", "GET"], requests
    # Both carried the same wrong password: one failure, not the two that block her (and
    # this client) here. So her password still works at once, and nobody was locked out.
    pushed = containerd.registry_command("push", reference, user=account.creds)
    assert pushed.returncode == 0, failure(pushed)
    assert dockit.audit_events("action=login.blocked", at_least=0) == []
