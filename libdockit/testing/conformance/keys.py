"""Signing keys and their states."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from ...errors import Conflict, NotFound
from .support import T0, ConformingBackend, make_key


class KeyConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_add_and_list_keys_round_trip(self, backend: ConformingBackend) -> None:
        assert backend.list_keys() == []
        plus_two = timezone(timedelta(hours=2))
        key = make_key(
            "kid-a",
            "retired",
            created_at=datetime(2029, 5, 6, 9, 8, 7, 654321, tzinfo=plus_two),
            activated_at=T0,
            retired_at=T0 + timedelta(days=30, microseconds=1),
        )
        backend.add_key(key)
        (stored,) = backend.list_keys()
        assert stored == key
        assert isinstance(stored.private_key_pem, bytes)
        assert stored.created_at.utcoffset() is not None

    def test_list_keys_oldest_first(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k-new", created_at=T0 + timedelta(days=2)))
        backend.add_key(make_key("k-old", created_at=T0))
        backend.add_key(make_key("k-mid-b", created_at=T0 + timedelta(days=1)))
        backend.add_key(make_key("k-mid-a", created_at=T0 + timedelta(days=1)))
        assert [k.kid for k in backend.list_keys()] == ["k-old", "k-mid-a", "k-mid-b", "k-new"]

    def test_duplicate_kid_is_conflict(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("kid-a"))
        with pytest.raises(Conflict):
            backend.add_key(make_key("kid-a", created_at=T0 + timedelta(days=1)))
        assert [k.created_at for k in backend.list_keys()] == [T0]

    def test_second_active_key_is_conflict(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("kid-a", "active", activated_at=T0))
        with pytest.raises(Conflict):
            backend.add_key(make_key("kid-b", "active", activated_at=T0))
        backend.add_key(make_key("kid-c", "pending"))
        backend.add_key(make_key("kid-d", "retired", retired_at=T0))
        assert [(k.kid, k.state) for k in backend.list_keys()] == [
            ("kid-a", "active"),
            ("kid-c", "pending"),
            ("kid-d", "retired"),
        ]

    def test_activation_retires_the_active_key(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("old", "active", activated_at=T0))
        backend.add_key(make_key("new", created_at=T0 + timedelta(hours=1)))
        backend.add_key(make_key("spare", created_at=T0 + timedelta(hours=2)))
        at = T0 + timedelta(days=3)
        activated = backend.set_key_state("new", "active", at)
        assert (activated.kid, activated.state, activated.activated_at) == ("new", "active", at)
        assert activated.retired_at is None
        keys = {k.kid: k for k in backend.list_keys()}
        assert keys["new"] == activated
        assert (keys["old"].state, keys["old"].retired_at) == ("retired", at)
        assert keys["old"].activated_at == T0
        assert keys["spare"] == make_key("spare", created_at=T0 + timedelta(hours=2))
        assert [k.kid for k in backend.list_keys() if k.state == "active"] == ["new"]

    def test_activating_the_active_key_keeps_it_active(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("only", "active", activated_at=T0))
        again = backend.set_key_state("only", "active", T0 + timedelta(days=1))
        assert again.state == "active"
        assert again.retired_at is None
        assert [k.state for k in backend.list_keys()] == ["active"]

    def test_retire_and_pending_transitions(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k", "active", activated_at=T0))
        at = T0 + timedelta(days=10)
        retired = backend.set_key_state("k", "retired", at)
        assert (retired.state, retired.retired_at, retired.activated_at) == ("retired", at, T0)
        assert backend.list_keys() == [retired]
        backend.add_key(make_key("p", created_at=T0 + timedelta(days=1)))
        pending = backend.set_key_state("p", "pending", at)
        assert pending == make_key("p", created_at=T0 + timedelta(days=1))
        assert backend.set_key_state("p", "active", at).state == "active"

    def test_set_state_of_missing_key_is_not_found(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k", "active", activated_at=T0))
        with pytest.raises(NotFound):
            backend.set_key_state("nope", "active", T0)
        assert [k.state for k in backend.list_keys()] == ["active"]

    def test_replace_private_key_pem_keeps_the_rest(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k", "active", activated_at=T0))
        backend.add_key(make_key("other", created_at=T0 + timedelta(hours=1)))
        sealed = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n\x00\xffk\n"
        replaced = backend.replace_private_key_pem("k", sealed)
        assert replaced == replace(make_key("k", "active", activated_at=T0), private_key_pem=sealed)
        assert backend.list_keys()[0] == replaced
        assert backend.list_keys()[1] == make_key("other", created_at=T0 + timedelta(hours=1))
        with pytest.raises(NotFound):
            backend.replace_private_key_pem("nope", sealed)
