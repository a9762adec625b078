"""No password, refresh token or private key anywhere a representative flow leaves a trace.

One real server (SQLite, key file from the operator, key encryption on) goes through logins,
failed logins, ``docker login``-style refresh tokens (GET with ``offline_token=true``, then
POST ``grant_type=refresh_token``), a wrong refresh token, an admin password change, a
second start and key creation. Then everything that flow produced is searched: the server's
stdout and stderr of both starts, every HTTP response (headers and body), the audit log read
through the API, and the bytes of the SQLite database with its WAL. Password hashes and
encrypted keys may be there; the raw values may not. Files Dockit creates for the database
must be mode 0600.
"""

from __future__ import annotations

import base64
import stat
import urllib.parse
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from libdockit.backends.sql.backend import SqlBackend
from libdockit.keys.crypt import KeyProtector
from libdockit.secret import Secret
from libdockit.testing.pki import make_chain
from tests.support.dockit import DockitServer, Response, http_request

SERVICE = "registry.test"
ADMIN_PASSWORD = "Adm1n-pass-NEVER-logged"
ENCRYPTION_SECRET = "key-encryption-secret-0123456789-NEVER-logged"
ALICE_PASSWORD = "alice-first-pass-NEVER-logged"
ALICE_NEW_PASSWORD = "alice-second-pass-NEVER-logged"
BOB_PASSWORD = "bob-pass-NEVER-logged"
WRONG_PASSWORDS = ("wrong-guess-NEVER-logged-1", "alice-first-pass-NEVER-loggeX")
WRONG_REFRESH_TOKEN = "bogus-refresh-token-NEVER-logged-0123456789abcdef"


def pem_body_pieces(pem: bytes) -> list[str]:
    """The base64 body of a PEM as one string, and each of its lines (32+ characters)."""
    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return ["".join(lines), *[line for line in lines if len(line) >= 32]]


def test_a_representative_flow_leaves_no_secret_anywhere(tmp_path: Path) -> None:
    leaf = make_chain(1)
    key_pem = leaf.key_pem()
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "signer.key").write_bytes(key_pem)
    (keys_dir / "signer.crt").write_bytes(leaf.chain_pem())
    server = DockitServer(
        tmp_path / "dockit",
        admin_password=ADMIN_PASSWORD,
        extra_env={
            "DOCKIT_KEY_FILE": str(keys_dir / "signer.key"),
            "DOCKIT_CERT_FILE": str(keys_dir / "signer.crt"),
            "DOCKIT_KEY_ENCRYPTION_SECRET": ENCRYPTION_SECRET,
            # Failed logins are still recorded (and scanned), but never block this flow.
            "DOCKIT_LOGIN_MAX_FAILURES": "50",
        },
    )
    responses: list[Response] = []
    refresh_tokens: list[str] = []

    def keep(response: Response) -> Response:
        responses.append(response)
        return response

    def form(fields: dict[str, str]) -> Response:
        body = urllib.parse.urlencode(sorted(fields.items())).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return keep(http_request(server.token_realm, method="POST", headers=headers, body=body))

    def token(creds: tuple[str, str], **params: str) -> Response:
        query = urllib.parse.urlencode(
            {"service": SERVICE, "scope": "repository:alice/app:pull,push", **params}
        )
        return keep(server.request("GET", f"/v2/token?{query}", creds=creds))

    with server:
        keep(server.admin("POST", "/users", {"username": "alice", "password": ALICE_PASSWORD}))
        keep(server.admin("POST", "/users", {"username": "bob", "password": BOB_PASSWORD}))
        keep(
            server.admin(
                "POST", "/grants", {"subject": "user:alice", "scope": "repository:alice/*:*"}
            )
        )
        assert token(("alice", ALICE_PASSWORD)).status == 200
        for wrong in WRONG_PASSWORDS:
            assert token(("alice", wrong)).status == 401
        assert token(("nobody", WRONG_PASSWORDS[0])).status == 401
        # docker login: GET with offline_token, then the daemon's POST refresh.
        login = token(
            ("alice", ALICE_PASSWORD), offline_token="true", client_id="docker", account="alice"
        )
        assert login.status == 200, login
        refresh_tokens.append(login.json()["refresh_token"])
        refreshed = form(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_tokens[0],
                "client_id": "docker",
                "service": SERVICE,
                "scope": "repository:alice/app:pull",
            }
        )
        assert refreshed.status == 200, refreshed
        if "refresh_token" in refreshed.json():
            refresh_tokens.append(refreshed.json()["refresh_token"])
        # The OAuth2 password grant with access_type=offline.
        password_grant = form(
            {
                "grant_type": "password",
                "username": "alice",
                "password": ALICE_PASSWORD,
                "access_type": "offline",
                "client_id": "dockit-test",
                "service": SERVICE,
            }
        )
        assert password_grant.status == 200, password_grant
        refresh_tokens.append(password_grant.json()["refresh_token"])
        bad_refresh = form(
            {
                "grant_type": "refresh_token",
                "refresh_token": WRONG_REFRESH_TOKEN,
                "client_id": "docker",
                "service": SERVICE,
            }
        )
        assert bad_refresh.status in (400, 401), bad_refresh
        keep(server.admin("GET", "/users/alice/refresh-tokens", expect=200))
        # The admin changes alice's password: her refresh tokens stop working.
        keep(
            server.admin(
                "PUT", "/users/alice/password", {"password": ALICE_NEW_PASSWORD}, expect=204
            )
        )
        stale = form(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_tokens[0],
                "client_id": "docker",
                "service": SERVICE,
            }
        )
        assert stale.status in (400, 401), stale
        assert token(("alice", ALICE_PASSWORD)).status == 401
        assert token(("alice", ALICE_NEW_PASSWORD)).status == 200
        assert (
            keep(server.request("GET", "/api/v1/users", creds=("admin", WRONG_PASSWORDS[0]))).status
            == 401
        )
        # Keys: a generated one, the bundle, the list.
        created = keep(server.admin("POST", "/keys", {"algorithm": "ES256"}, expect=201))
        keep(server.admin("GET", "/keys", expect=200))
        keep(server.get("/v2/certs/pem"))
        keep(server.get("/v2/certs/jwks"))
        keep(server.get("/readyz"))
        # A second start reads the stored keys again.
        server.restart()
        assert token(("alice", ALICE_NEW_PASSWORD)).status == 200
        audit = keep(server.admin("GET", "/audit?limit=1000", expect=200))
        assert len(audit.json()["items"]) >= 10
        kid = created.json()["kid"]
        # While it runs: the database with its WAL and shared-memory files.
        live = sorted(server.database_path.parent.glob(server.database_path.name + "*"))
        live_bytes = {f"{path.name} (running)": path.read_bytes() for path in live}
        live_modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in live}

    # The generated keys' private PEMs, unsealed with the secret, are secrets too.
    store = SqlBackend(f"sqlite:///{server.database_path}")
    try:
        stored = store.list_keys()
    finally:
        store.close()
    protector = KeyProtector(Secret(ENCRYPTION_SECRET))
    generated_pems = []
    for key in stored:
        assert KeyProtector.is_sealed(key.private_key_pem), f"key {key.kid} stored unencrypted"
        plain = protector.unseal(key.private_key_pem).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        generated_pems.append(plain)
    assert kid in {key.kid for key in stored}

    secrets: dict[str, str] = {
        "admin password": ADMIN_PASSWORD,
        "key encryption secret": ENCRYPTION_SECRET,
        "alice's first password": ALICE_PASSWORD,
        "alice's new password": ALICE_NEW_PASSWORD,
        "bob's password": BOB_PASSWORD,
        "wrong refresh token": WRONG_REFRESH_TOKEN,
    }
    secrets.update({f"wrong password {i}": p for i, p in enumerate(WRONG_PASSWORDS)})
    secrets.update({f"refresh token {i}": t for i, t in enumerate(refresh_tokens)})
    # Where each refresh token was handed out: the one place it belongs.
    issued_in = {
        f"refresh token {i}": "response "
        + str(next(n for n, r in enumerate(responses) if t.encode() in r.body))
        for i, t in enumerate(refresh_tokens)
    }
    for i, pem in enumerate([key_pem, *generated_pems]):
        secrets.update(
            {f"private key {i} PEM piece {j}": p for j, p in enumerate(pem_body_pieces(pem))}
        )
    # Basic credentials as the client sent them (base64) must not be echoed either.
    secrets["admin Basic credentials"] = base64.b64encode(
        f"admin:{ADMIN_PASSWORD}".encode()
    ).decode()

    haystacks: dict[str, bytes] = {}
    for run in range(1, server.runs + 1):
        haystacks[f"stdout of start {run}"] = server.stdout(run).encode()
        haystacks[f"stderr of start {run}"] = server.stderr(run).encode()
    for i, response in enumerate(responses):
        haystacks[f"response {i}"] = str(response.headers).encode() + response.body
    haystacks["audit log"] = audit.body
    database_files = sorted(server.database_path.parent.glob(server.database_path.name + "*"))
    for path in database_files:
        haystacks[path.name] = path.read_bytes()
    haystacks.update(live_bytes)
    assert sum(len(h) for h in haystacks.values()) > 10_000

    found = [
        f"{name} in {where}"
        for name, value in secrets.items()
        for where, haystack in haystacks.items()
        if value.encode() in haystack and issued_in.get(name) != where
    ]
    assert found == []
    print(
        f"\nsecrets scan: {len(secrets)} secret values in {len(haystacks)} sources "
        f"({sum(len(h) for h in haystacks.values())} bytes: {server.runs * 2} logs, "
        f"{len(responses)} responses, the audit log, {len(live_bytes) + len(database_files)} "
        "database files while running and after)"
    )

    # The database (it holds the sealed keys and the password hashes) is the owner's only.
    modes = live_modes | {path.name: stat.S_IMODE(path.stat().st_mode) for path in database_files}
    assert {name: f"{mode:04o}" for name, mode in modes.items()} == dict.fromkeys(modes, "0600")
