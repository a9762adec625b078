"""Making, judging and scoping robot and personal-access-token credentials (no store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from libdockit.access_credentials import (
    DISABLED,
    EXPIRED,
    actions_within_scopes,
    credential_refusal,
    new_access_credential,
    normalize_credential_scopes,
    parse_credential_scope,
)
from libdockit.access_secrets import credential_secret_hash, looks_like_credential_secret
from libdockit.errors import ValidationError

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_new_credential_holds_the_hash_of_its_secret_only() -> None:
    later = (NOW + timedelta(days=30)).astimezone(timezone(timedelta(hours=-5)))
    credential, secret = new_access_credential(
        "pat",
        "laptop",
        "user:alice",
        now=NOW,
        expires_at=later,
        scopes=["repository:alice/**:push,pull"],
        access_token_lifetime=timedelta(hours=2),
    )
    assert looks_like_credential_secret(secret)
    assert credential.secret_hash == credential_secret_hash(secret)
    assert secret.reveal() not in repr(credential)
    assert (credential.kind, credential.name, credential.owner) == ("pat", "laptop", "user:alice")
    assert credential.scopes == ("repository:alice/**:pull,push",)
    assert credential.expires_at == later
    assert credential.expires_at is not None
    assert credential.expires_at.utcoffset() == timedelta(0)
    assert (credential.enabled, credential.owner_source) == (True, "local")
    other, other_secret = new_access_credential(
        "robot", "ci", "group:devs", now=NOW, expires_at=None
    )
    assert other.id != credential.id
    assert other_secret != secret


def test_robot_names_are_login_names_and_token_names_labels() -> None:
    later = NOW + timedelta(days=1)
    robot, _ = new_access_credential("robot", "CI-Bot", "user:alice", now=NOW, expires_at=later)
    assert robot.name == "ci-bot"  # normalised like a user name
    for bad in ("robot$ci", "ci bot", "ci;rm", "-ci", ""):
        with pytest.raises(ValidationError):
            new_access_credential("robot", bad, "user:alice", now=NOW, expires_at=later)
    pat, _ = new_access_credential("pat", "  My laptop  ", "user:alice", now=NOW, expires_at=later)
    assert pat.name == "My laptop"
    for bad in ("", "   ", "x" * 65, "tab\there"):
        with pytest.raises(ValidationError):
            new_access_credential("pat", bad, "user:alice", now=NOW, expires_at=later)


@pytest.mark.parametrize(
    ("expires_at", "lifetime"),
    [(NOW, None), (NOW - timedelta(seconds=1), None), (None, timedelta(milliseconds=500))],
)
def test_a_credential_must_expire_later_and_live_a_second(
    expires_at: datetime | None, lifetime: timedelta | None
) -> None:
    with pytest.raises(ValidationError):
        new_access_credential(
            "pat", "x", "user:alice", now=NOW, expires_at=expires_at, access_token_lifetime=lifetime
        )


def test_disabled_or_expired_credentials_are_refused() -> None:
    credential, _ = new_access_credential(
        "robot", "ci", "user:alice", now=NOW, expires_at=NOW + timedelta(days=1)
    )
    assert credential_refusal(credential, NOW) is None
    assert credential_refusal(credential, NOW + timedelta(days=1, microseconds=-1)) is None
    assert credential_refusal(credential, NOW + timedelta(days=1)) == EXPIRED
    assert credential_refusal(replace(credential, enabled=False), NOW) == DISABLED
    assert (
        credential_refusal(replace(credential, expires_at=None), NOW + timedelta(days=9999)) is None
    )


def test_scopes_are_checked_and_made_canonical() -> None:
    assert parse_credential_scope("repository:host:5000/team/*:push,pull") == (
        "repository",
        "host:5000/team/*",
        ("pull", "push"),
    )
    assert normalize_credential_scopes(
        ["repository:a/*:push,pull", "repository:a/*:pull,push", "registry:catalog:*"]
    ) == ("repository:a/*:pull,push", "registry:catalog:*")
    for bad in (
        "repository:a",  # no actions part
        ":a/*:pull",  # no type
        "Repository:a/*:pull",  # not lowercase
        "repository:a/*:",  # no actions
        "repository:a/*:fly",  # unknown action
        "repository::pull",  # empty pattern
        "repository:a/***:pull",  # ambiguous pattern
    ):
        with pytest.raises(ValidationError) as caught:
            normalize_credential_scopes(["repository:ok:pull", bad])
        assert caught.value.field == "scopes"
        assert repr(bad) in str(caught.value)


def test_scopes_allow_actions_by_pattern_type_and_owner() -> None:
    scopes = ("repository:${user}/**:push", "repository:shared/*:pull", "registry:catalog:*")
    assert actions_within_scopes(scopes, "repository", "alice/app/x", "alice") == frozenset(
        {"pull", "push"}
    )
    assert actions_within_scopes(scopes, "repository", "bob/app", "alice") == frozenset()
    assert actions_within_scopes(scopes, "repository", "bob/app", "bob") == frozenset(
        {"pull", "push"}
    )
    assert actions_within_scopes(scopes, "repository", "shared/base", "alice") == frozenset(
        {"pull"}
    )
    assert actions_within_scopes(scopes, "repository", "shared/a/b", "alice") == frozenset()
    assert actions_within_scopes(scopes, "registry", "catalog", "alice") == frozenset(
        {"pull", "push", "delete", "*"}
    )
    assert actions_within_scopes((), "repository", "alice/app", "alice") is None  # unscoped
