"""Who the CLI is: flags and environment, then what ``docker login`` stored in the docker
config (``auths`` entries, ``credsStore``, ``credHelpers``, ``identitytoken``).

Every test runs ``python -m dockit_server.cli`` as a subprocess with exactly the environment
it sets up (its own HOME and DOCKER_CONFIG), against the module's real server, or against a
fake server on 127.0.0.1 that records the ``Authorization`` header it got.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockit_server.client.errors import EXIT_DENIED, EXIT_OK, EXIT_USAGE
from tests.client.conftest import ADMIN, ADMIN_PASSWORD
from tests.client.helpers import (
    HELPER_NAME,
    CredentialHelper,
    Result,
    fake_http,
    run_cli,
    subprocess_env,
)
from tests.support.dockit import DockitServer

HOST = "registry.example:5000"

Run = Callable[..., Result]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def basic(username: str, password: str) -> str:
    return "Basic " + b64(f"{username}:{password}")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "docker"
    path.mkdir()
    return path


def write_config(config_dir: Path, data: dict[str, Any]) -> Path:
    path = config_dir / "config.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def helper(tmp_path: Path) -> CredentialHelper:
    return CredentialHelper.install(tmp_path / "helper")


@pytest.fixture
def run(tmp_path: Path, config_dir: Path, helper: CredentialHelper, dockit: DockitServer) -> Run:
    """``dockit ARGS --url URL`` with DOCKER_CONFIG=config_dir and the test helper on PATH."""
    home = tmp_path / "home"
    home.mkdir()

    def run(*args: str, url: str | None = None, **env: str) -> Result:
        full_env = subprocess_env(home, DOCKER_CONFIG=str(config_dir), **helper.env())
        full_env.update(env)
        full_env = {name: value for name, value in full_env.items() if value != "<unset>"}
        return run_cli([*args, "--url", url or dockit.url], env=full_env, cwd=tmp_path)

    return run


def assert_lists_users(result: Result) -> None:
    assert result.code == EXIT_OK, result
    assert ADMIN in {user["username"] for user in result.json()}
    assert ADMIN_PASSWORD not in result.stderr


# -- auths entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", [HOST, f"https://{HOST}", f"http://{HOST}", f"{HOST}/v2/", f"https://{HOST}/v1/"]
)
def test_auth_entry(run: Run, config_dir: Path, key: str) -> None:
    write_config(config_dir, {"auths": {key: {"auth": b64(f"{ADMIN}:{ADMIN_PASSWORD}")}}})
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST))


def test_registry_argument_may_carry_a_scheme(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {HOST: {"auth": b64(f"{ADMIN}:{ADMIN_PASSWORD}")}}})
    assert_lists_users(run("user", "list", "-o", "json", "--registry", f"https://{HOST}/v2/"))


def test_username_and_password_fields(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {HOST: {"username": ADMIN, "password": ADMIN_PASSWORD}}})
    assert_lists_users(run("user", "list", "-o", "json", DOCKIT_REGISTRY=HOST))


def test_default_config_in_home(run: Run, tmp_path: Path) -> None:
    (tmp_path / "home" / ".docker").mkdir()
    write_config(
        tmp_path / "home" / ".docker", {"auths": {HOST: {"auth": b64(f"{ADMIN}:{ADMIN_PASSWORD}")}}}
    )
    assert_lists_users(
        run("user", "list", "-o", "json", "--registry", HOST, DOCKER_CONFIG="<unset>")
    )


def test_environment_wins_over_the_docker_config(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {HOST: {"auth": b64(f"{ADMIN}:wrong-one")}}})
    env = {"DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST, **env))
    refused = run("user", "list", "--registry", HOST)
    assert refused.code == EXIT_DENIED, refused
    path = config_dir / "config.json"
    assert f"refused the credentials of '{ADMIN}' from {path} auths['{HOST}']" in refused.stderr
    assert "wrong-one" not in refused.stderr + refused.stdout


def test_username_flag_wins_over_the_docker_config(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {HOST: {"auth": b64(f"{ADMIN}:{ADMIN_PASSWORD}")}}})
    result = run("user", "list", "--registry", HOST, "--username", "someone", DOCKIT_PASSWORD="x")
    assert result.code == EXIT_DENIED, result
    assert "from --username and DOCKIT_PASSWORD" in result.stderr


# -- credential helpers -----------------------------------------------------------------------


def test_creds_store(run: Run, config_dir: Path, helper: CredentialHelper) -> None:
    write_config(config_dir, {"auths": {HOST: {}}, "credsStore": HELPER_NAME})
    helper.put(HOST, ADMIN, ADMIN_PASSWORD)
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST))
    assert helper.calls() == [{"action": "get", "input": HOST}]


def test_creds_store_with_a_scheme_in_the_key(
    run: Run, config_dir: Path, helper: CredentialHelper
) -> None:
    write_config(config_dir, {"credsStore": HELPER_NAME})
    helper.put(f"https://{HOST}", ADMIN, ADMIN_PASSWORD)
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST))
    assert [call["input"] for call in helper.calls()] == [HOST, f"https://{HOST}"]


def test_creds_store_found_through_list(
    run: Run, config_dir: Path, helper: CredentialHelper
) -> None:
    write_config(config_dir, {"credsStore": HELPER_NAME})
    helper.put("other.example", "someone", "not-this-one")
    helper.put(f"{HOST}/v2/", ADMIN, ADMIN_PASSWORD)
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST))
    calls = helper.calls()
    assert {"action": "list", "input": ""} in calls
    assert calls[-1] == {"action": "get", "input": f"{HOST}/v2/"}


def test_cred_helpers_win(run: Run, config_dir: Path, helper: CredentialHelper) -> None:
    write_config(
        config_dir,
        {
            "auths": {HOST: {"auth": b64(f"{ADMIN}:wrong-one")}},
            "credsStore": "not-installed",
            "credHelpers": {"other.example": "not-installed", HOST: HELPER_NAME},
        },
    )
    helper.put(HOST, ADMIN, ADMIN_PASSWORD)
    assert_lists_users(run("user", "list", "-o", "json", "--registry", HOST))


def test_helper_without_the_registry(run: Run, config_dir: Path, helper: CredentialHelper) -> None:
    write_config(config_dir, {"credsStore": HELPER_NAME})
    helper.put("other.example", "someone", "not-this-one")
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_DENIED, result
    assert f"no credentials for registry {HOST} in docker-credential-{HELPER_NAME}" in result.stderr
    assert f"credsStore in {config_dir / 'config.json'}" in result.stderr
    assert f"{HOST}, https://{HOST}, http://{HOST}" in result.stderr
    assert f"docker login {HOST}" in result.stderr
    assert "not-this-one" not in result.stderr


def test_helper_not_installed(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"credHelpers": {HOST: "not-installed"}})
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_DENIED, result
    assert "names docker-credential-not-installed, which is not on PATH" in result.stderr
    assert f"credHelpers['{HOST}']" in result.stderr


# -- identity tokens --------------------------------------------------------------------------


def test_identity_token_entry_is_sent_as_the_password(run: Run, config_dir: Path) -> None:
    token = "identity-token-123"
    write_config(config_dir, {"auths": {HOST: {"auth": b64(f"{ADMIN}:"), "identitytoken": token}}})
    with fake_http() as (url, recorder):
        result = run("user", "list", "--registry", HOST, url=url)
    assert result.code == EXIT_OK, result
    assert recorder.requests[0]["headers"]["Authorization"] == basic(ADMIN, token)


def identity_token(dockit: DockitServer) -> str:
    """What ``docker login`` gets from Dockit: a refresh token from GET offline_token=true."""
    answer = dockit.token(
        dockit.services[0],
        creds=(ADMIN, ADMIN_PASSWORD),
        params={"client_id": "docker", "offline_token": "true"},
    )
    assert answer.status == 200, answer
    token = answer.json["refresh_token"]
    assert isinstance(token, str)
    return token


@pytest.mark.parametrize("username", [ADMIN, "<token>"])
def test_identity_token_against_the_real_server(
    run: Run, config_dir: Path, dockit: DockitServer, username: str
) -> None:
    token = identity_token(dockit)
    entry = {"auth": b64(f"{username}:"), "identitytoken": token}
    write_config(config_dir, {"auths": {HOST: entry}})
    result = run("user", "list", "-o", "json", "--registry", HOST)
    assert_lists_users(result)
    assert token not in result.stderr + result.stdout


def test_unknown_identity_token_against_the_real_server(run: Run, config_dir: Path) -> None:
    for token in ("identity-token-456", "dkr_" + "0" * 43):
        entry = {"auth": b64(f"{ADMIN}:"), "identitytoken": token}
        write_config(config_dir, {"auths": {HOST: entry}})
        result = run("user", "list", "--registry", HOST)
        # An identity token Dockit does not know is refused like a bad password.
        assert result.code == EXIT_DENIED, result
        assert f"refused the credentials of '{ADMIN}'" in result.stderr
        assert token not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("entry", "username"), [({}, "<token>"), ({"auth": b64("admin:")}, "admin")]
)
def test_identity_token_from_a_helper(
    run: Run, config_dir: Path, helper: CredentialHelper, entry: dict[str, str], username: str
) -> None:
    write_config(config_dir, {"auths": {HOST: entry}, "credsStore": HELPER_NAME})
    helper.put(HOST, "<token>", "helper-token-789")
    with fake_http() as (url, recorder):
        result = run("group", "list", "--registry", HOST, url=url)
    assert result.code == EXIT_OK, result
    assert recorder.requests[0]["headers"]["Authorization"] == basic(username, "helper-token-789")


# -- nothing found ----------------------------------------------------------------------------


def test_no_docker_config(run: Run, config_dir: Path, tmp_path: Path) -> None:
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_DENIED, result
    assert (
        f"no docker config at {config_dir / 'config.json'} (from $DOCKER_CONFIG)" in result.stderr
    )
    home_default = run("user", "list", "--registry", HOST, DOCKER_CONFIG="<unset>")
    assert home_default.code == EXIT_DENIED, home_default
    expected = tmp_path / "home" / ".docker" / "config.json"
    assert f"no docker config at {expected} (from ~/.docker (DOCKER_CONFIG is not set))" in (
        home_default.stderr
    )


def test_no_entry_for_the_registry(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"other.example": {"auth": b64("a:b")}}})
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_DENIED, result
    assert f"no auths entry for {HOST}" in result.stderr
    assert f"tried {HOST}, https://{HOST}, http://{HOST}, {HOST}/v2/" in result.stderr
    assert "it has: other.example" in result.stderr


def test_entry_without_a_password(run: Run, config_dir: Path) -> None:
    write_config(config_dir, {"auths": {HOST: {"auth": b64(f"{ADMIN}:")}}})
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_DENIED, result
    assert "has no password or identity token" in result.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{not json", "is not valid JSON"),
        ('["a"]', "is not a JSON object"),
        (json.dumps({"auths": {HOST: {"auth": "!!!"}}}), "'auth' is not base64 of user:password"),
        (json.dumps({"auths": []}), "auths in the docker config"),
    ],
)
def test_unreadable_docker_config(run: Run, config_dir: Path, text: str, said: str) -> None:
    (config_dir / "config.json").write_text(text)
    result = run("user", "list", "--registry", HOST)
    assert result.code == EXIT_USAGE, result
    assert said in result.stderr
