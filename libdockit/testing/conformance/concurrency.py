"""Health, and several threads writing at once."""

from __future__ import annotations

from datetime import timedelta

from ...errors import Conflict
from .support import T0, ConformingBackend, in_threads, make_grant, make_key


class HealthAndConcurrencyConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    # -- health ---------------------------------------------------------------------------
    def test_ping(self, backend: ConformingBackend) -> None:
        backend.ping()  # answers: returns, rather than raising BackendUnavailable
        backend.create_user("alice", "h")
        backend.ping()
        assert backend.get_user("alice").username == "alice"

    # -- concurrency ----------------------------------------------------------------------
    def test_concurrent_writes_all_land(self, backend: ConformingBackend) -> None:
        backend.create_group("crowd")

        def work(n: int) -> int:
            name = f"user{n:03d}"
            backend.create_user(name, f"hash{n}")
            backend.add_member("crowd", name)
            stored = backend.add_grant(make_grant(f"user:{name}", f"{name}/*"))
            return stored.id or 0

        ids = in_threads(work, 40)
        assert len(set(ids)) == 40
        assert backend.list_users(limit=1000).total == 40
        assert len(backend.get_group("crowd").members) == 40
        assert backend.list_grants(limit=1000).total == 40

    def test_concurrent_duplicate_writes_conflict_once(self, backend: ConformingBackend) -> None:
        def create(_: int) -> bool:
            try:
                backend.create_user("alice", "h")
            except Conflict:
                return False
            return True

        assert sorted(in_threads(create, 8)) == [False] * 7 + [True]
        assert backend.list_users().total == 1

    def test_concurrent_activations_leave_one_active_key(self, backend: ConformingBackend) -> None:
        for n in range(8):
            backend.add_key(make_key(f"k{n}", created_at=T0 + timedelta(minutes=n)))
        in_threads(lambda n: backend.set_key_state(f"k{n}", "active", T0 + timedelta(days=1)), 8)
        states = [k.state for k in backend.list_keys()]
        assert states.count("active") == 1
        assert states.count("retired") == 7
