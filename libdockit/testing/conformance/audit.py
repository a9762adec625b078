"""The audit log: recording, newest-first queries with filters and paging, pruning.

Only :class:`~libdockit.backends.base.AuditStore` methods are used, so a store that is just
an audit log can run these tests on their own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import Any

import pytest

from ...backends.base import AuditStore
from ...errors import ValidationError
from ...model import AuditEvent, Page
from .support import T0, in_threads, make_event, recently

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PLUS_TWO = timezone(timedelta(hours=2))


def actions(backend: AuditStore, **filters: Any) -> list[str]:
    return [event.action for event in backend.query_events(limit=1000, **filters).items]


class AuditConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    # -- recording ------------------------------------------------------------------------
    def test_record_events_keeps_order_times_and_content(self, backend: AuditStore) -> None:
        backend.record_event(make_event("before.batch", at=T0))
        batch = [
            make_event("token.issue", kind="token", at=T0 + MINUTE, detail={"n": 1}),
            make_event("token.refuse", kind="token", at=None, detail={"n": 2}),
            make_event("user.create", at=T0 + MINUTE, after={"username": "bob"}),
        ]
        assert backend.record_events(batch) == 3
        assert backend.record_events([]) == 0
        events = backend.query_events(limit=10).items
        assert sorted(e.action for e in events) == [
            "before.batch",
            "token.issue",
            "token.refuse",
            "user.create",
        ]
        same_time = [e.action for e in events if e.at == T0 + MINUTE]
        assert same_time == ["user.create", "token.issue"]  # newest (last recorded) first
        by_action = {e.action: e for e in events}
        assert by_action["token.issue"].at == T0 + MINUTE
        assert recently(by_action["token.refuse"].at)
        assert by_action["token.refuse"].detail == {"n": 2}
        assert by_action["user.create"].after == {"username": "bob"}
        order = ("before.batch", "token.issue", "token.refuse", "user.create")
        ids = [by_action[action].id or 0 for action in order]
        assert ids == sorted(ids)  # ids grow in recording order
        assert len(set(ids)) == 4

    def test_record_events_is_all_or_nothing(self, backend: AuditStore) -> None:
        batch = [make_event("good.one"), make_event("bad.one", detail={"x": float("nan")})]
        with pytest.raises(ValidationError):
            backend.record_events(batch)
        assert backend.query_events().total == 0

    def test_record_event_sets_id_and_time(self, backend: AuditStore) -> None:
        event = make_event("user.create", target="user:bob", after={"username": "bob"})
        recorded = backend.record_event(event)
        assert isinstance(recorded.id, int)
        assert recently(recorded.at)
        assert replace(recorded, id=None, at=None) == event
        assert backend.query_events() == Page([recorded], 1)

    def test_a_given_time_is_kept_as_utc(self, backend: AuditStore) -> None:
        local = datetime(2030, 1, 2, 5, 4, 5, 654321, tzinfo=PLUS_TWO)
        aware = backend.record_event(make_event(at=local))
        naive = backend.record_event(make_event(at=datetime(2030, 1, 3, 0, 0, 0, 1)))
        assert aware.at == local
        assert naive.at == datetime(2030, 1, 3, 0, 0, 0, 1, tzinfo=UTC)
        stored = backend.query_events().items
        assert stored == [naive, aware]
        for event in (aware, naive, *stored):
            assert event.at is not None
            assert event.at.utcoffset() == timedelta(0)

    def test_every_field_round_trips(self, backend: AuditStore) -> None:
        event = AuditEvent(
            kind="token",
            actor="anonymous",
            action="token.refuse",
            target="registry.example.com:5000",
            detail={"service": "registry.example.com:5000", "requested": [], "granted": []},
            client_address="2001:db8::1",
            request_id="req-ü-0001",
            at=T0,
        )
        recorded = backend.record_event(event)
        assert recorded == replace(event, id=recorded.id)
        assert backend.query_events().items == [recorded]
        bare = backend.record_event(AuditEvent("admin", "user:root", "grant.delete", at=T0))
        assert backend.query_events(limit=1).items == [bare]  # same time: the later id first

    def test_ids_grow_and_are_never_reused(self, backend: AuditStore) -> None:
        first = backend.record_event(make_event(at=T0))
        second = backend.record_event(make_event(at=T0 - DAY))
        assert first.id is not None
        assert second.id is not None
        assert second.id > first.id
        assert backend.prune_events(keep_last=0) == 2
        third = backend.record_event(make_event(at=T0))
        assert third.id is not None
        assert third.id > second.id

    def test_json_fields_round_trip(self, backend: AuditStore) -> None:
        before: dict[str, Any] = {
            "username": "bob",
            "groups": ["devs", "ops"],
            "enabled": True,
            "nested": {"deep": [{"k": None}, 1, 2.5, -3, [[]]], "empty": {}},
            "big": 2**53 + 1,
        }
        after: dict[str, Any] = {
            "z": 0,
            "a": "ünïcödé ✓ 日本語 🐳 e\u0301 \u0000 \t",
            "quote": 'say "hi"\\n',
            "é-key": "a non-ASCII key",
            "lone": "\ud800",  # a lone surrogate (e.g. from a malformed request) survives
        }
        detail: dict[str, Any] = {
            "service": "registry",
            "requested": ["repository:a/b:pull,push"],
            "granted": [],
            "reason": "denied 🚫",
        }
        recorded = backend.record_event(
            make_event(before=before, after=after, detail=detail, at=T0)
        )
        (found,) = backend.query_events().items
        assert (found.before, found.after, found.detail) == (before, after, detail)
        assert found == recorded
        # What is stored is JSON: a tuple comes back as a list.
        backend.record_event(make_event(after={"groups": ("a", "b")}, at=T0 + MINUTE))
        assert backend.query_events(limit=1).items[0].after == {"groups": ["a", "b"]}
        # Changing what a query returned does not change the log.
        assert found.before is not None
        found.before["username"] = "mallory"
        (again,) = backend.query_events(since=T0, until=T0 + MINUTE).items
        assert again.before == before

    @pytest.mark.parametrize("field", ["before", "after", "detail"])
    def test_json_that_cannot_be_stored_is_a_validation_error(
        self, backend: AuditStore, field: str
    ) -> None:
        for bad in ({"when": T0}, {"set": {1, 2}}, {"nan": float("nan")}, {"o": object()}):
            change: dict[str, Any] = {field: bad}
            with pytest.raises(ValidationError) as caught:
                backend.record_event(replace(make_event(), **change))
            assert caught.value.field == field
        assert backend.query_events() == Page([], 0)

    # -- querying -------------------------------------------------------------------------
    def test_newest_first_by_time_then_id(self, backend: AuditStore) -> None:
        a = backend.record_event(make_event("a.x", at=T0 + HOUR))
        b = backend.record_event(make_event("b.x", at=T0))
        c = backend.record_event(make_event("c.x", at=T0 + 2 * HOUR))
        d = backend.record_event(make_event("d.x", at=T0 + HOUR))
        assert backend.query_events().items == [c, d, a, b]

    def test_filters(self, backend: AuditStore) -> None:
        for minute, event in enumerate(
            [
                make_event("user.create", actor="user:root", target="user:bob"),
                make_event("user.delete", actor="user:admin", target="user:bob"),
                make_event("group.create", actor="user:root", target="group:devs"),
                make_event("token.issue", kind="token", actor="user:bob", target="registry"),
                make_event("token.refuse", kind="token", actor="anonymous", target="registry"),
                make_event("grant.create", actor="user:root", target=None),
            ]
        ):
            backend.record_event(replace(event, at=T0 + minute * MINUTE))
        assert actions(backend, kind="token") == ["token.refuse", "token.issue"]
        assert actions(backend, kind="admin") == [
            "grant.create",
            "group.create",
            "user.delete",
            "user.create",
        ]
        assert actions(backend, actor="user:root") == [
            "grant.create",
            "group.create",
            "user.create",
        ]
        assert actions(backend, target="user:bob") == ["user.delete", "user.create"]
        assert actions(backend, target="registry", actor="anonymous") == ["token.refuse"]
        assert actions(backend, action="token.issue") == ["token.issue"]
        assert actions(backend, kind="admin", actor="user:root", target="group:devs") == [
            "group.create"
        ]
        assert actions(backend, kind="token", actor="user:root") == []
        assert backend.query_events(actor="user:nobody") == Page([], 0)
        assert backend.query_events(actor="user:root", limit=1).total == 3
        assert backend.query_events(kind="Admin").total == 0  # exact, case and all

    def test_an_unknown_filter_is_refused(self, backend: AuditStore) -> None:
        """A misspelt filter would otherwise match everything: a TypeError, as a wrong
        keyword argument is."""
        with pytest.raises(TypeError, match="actr"):
            backend.query_events(**{"actr": "user:root"})  # type: ignore[arg-type]

    def test_action_prefix_filter(self, backend: AuditStore) -> None:
        recorded = [
            "user.create",
            "user.password",
            "user",
            "username.check",
            "users.list",
            "User.create",
            "group.create",
            "group.member.add",
            "group.member.remove",
            "a_b.x",
            "axb.x",
            "%.x",
            "zz.x",
        ]
        for second, action in enumerate(recorded):
            backend.record_event(make_event(action, at=T0 + timedelta(seconds=second)))

        def found(action: str) -> list[str]:
            return sorted(actions(backend, action=action))

        assert found("user.*") == ["user.create", "user.password"]
        assert found("group.*") == ["group.create", "group.member.add", "group.member.remove"]
        assert found("group.member.*") == ["group.member.add", "group.member.remove"]
        assert found("User.*") == ["User.create"]  # case-sensitive
        assert found("a_b.*") == ["a_b.x"]  # no LIKE wildcards
        assert found("%.*") == ["%.x"]
        assert found("user") == ["user"]  # no ".*": exact
        assert found("user.create") == ["user.create"]
        assert found("nothing.*") == []
        assert backend.query_events(action="group.*", limit=2).total == 3
        assert actions(backend, action="group.*", actor="user:root") == [
            "group.member.remove",
            "group.member.add",
            "group.create",
        ]

    def test_time_range(self, backend: AuditStore) -> None:
        for hour in range(6):
            backend.record_event(make_event(f"e.{hour}", at=T0 + hour * HOUR))

        def hours(**filters: Any) -> list[int]:
            return [int(action.split(".")[1]) for action in actions(backend, **filters)]

        assert hours(since=T0 + 2 * HOUR) == [5, 4, 3, 2]  # since is inclusive
        assert hours(until=T0 + 2 * HOUR) == [1, 0]  # until is exclusive
        assert hours(since=T0 + HOUR, until=T0 + 4 * HOUR) == [3, 2, 1]
        micro = timedelta(microseconds=1)
        assert hours(since=T0 + HOUR + micro, until=T0 + 4 * HOUR + micro) == [4, 3, 2]
        assert hours(since=T0 + 3 * HOUR, until=T0 + 3 * HOUR) == []
        assert hours(since=T0 + 4 * HOUR, until=T0 + HOUR) == []
        assert hours(since=(T0 + 5 * HOUR).astimezone(PLUS_TWO)) == [5]
        assert hours(until=(T0 + HOUR).replace(tzinfo=None)) == [0]  # naive is UTC
        assert backend.query_events(since=T0 + 2 * HOUR, limit=1).total == 4

    def test_paging_and_total(self, backend: AuditStore) -> None:
        # Times out of recording order (7 steps around 25), so pages follow time, not ids.
        recorded = [
            backend.record_event(
                make_event(
                    f"user.e{n:02d}",
                    actor="user:root" if n % 2 else "user:ops",
                    at=T0 + ((n * 7) % 25) * MINUTE,
                )
            )
            for n in range(25)
        ]
        newest_first = sorted(recorded, key=lambda e: e.at or T0, reverse=True)
        assert backend.query_events().items == newest_first
        collected: list[AuditEvent] = []
        for offset in range(0, 25, 10):
            page = backend.query_events(offset=offset, limit=10)
            assert page.total == 25
            assert len(page.items) == min(10, 25 - offset)
            collected += page.items
        assert collected == newest_first
        assert backend.query_events(offset=25) == Page([], 25)
        assert backend.query_events(limit=0) == Page([], 25)
        root = [e for e in newest_first if e.actor == "user:root"]
        assert backend.query_events(actor="user:root", offset=2, limit=3) == Page(root[2:5], 12)

    # -- pruning --------------------------------------------------------------------------
    def test_prune_before(self, backend: AuditStore) -> None:
        recorded = [backend.record_event(make_event(f"e.{d}", at=T0 + d * DAY)) for d in range(5)]
        assert backend.prune_events(before=T0 + 2 * DAY) == 2  # strictly older
        assert backend.query_events().items == recorded[:1:-1]
        assert backend.prune_events(before=T0 + 2 * DAY) == 0
        assert backend.prune_events(before=(T0 + 3 * DAY).astimezone(PLUS_TWO)) == 1
        assert backend.prune_events(before=T0 - DAY) == 0
        assert backend.prune_events(before=T0 + 10 * DAY) == 2
        assert backend.query_events() == Page([], 0)

    def test_prune_keep_last(self, backend: AuditStore) -> None:
        times = [T0, T0 + HOUR, T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]
        recorded = [backend.record_event(make_event(f"e.{n}", at=at)) for n, at in enumerate(times)]
        newest_first = [recorded[n] for n in (4, 3, 2, 1, 0)]
        assert backend.prune_events(keep_last=10) == 0
        assert backend.prune_events(keep_last=5) == 0
        assert backend.prune_events(keep_last=3) == 2  # the cut falls inside a tie: ids decide
        assert backend.query_events().items == newest_first[:3]
        assert backend.prune_events(keep_last=1) == 2
        assert backend.query_events().items == newest_first[:1]
        assert backend.prune_events(keep_last=0) == 1
        assert backend.query_events() == Page([], 0)
        assert backend.prune_events(keep_last=0) == 0

    def test_prune_by_time_and_count_together(self, backend: AuditStore) -> None:
        for day in range(6):
            backend.record_event(make_event(f"e.{day}", at=T0 + day * DAY))
        # Older than day 2 are 0 and 1; beyond the newest three are 0, 1 and 2: either goes.
        assert backend.prune_events(before=T0 + 2 * DAY, keep_last=3) == 3
        assert actions(backend) == ["e.5", "e.4", "e.3"]
        assert backend.prune_events(before=T0 + 5 * DAY, keep_last=10) == 2
        assert actions(backend) == ["e.5"]

    def test_prune_one_kind_leaves_the_other(self, backend: AuditStore) -> None:
        for n in range(3):
            backend.record_event(make_event(f"a.{n}", kind="admin", at=T0 + n * MINUTE))
        for n in range(5):
            backend.record_event(make_event(f"t.{n}", kind="token", at=T0 + (10 + n) * MINUTE))
        assert backend.prune_events(keep_last=2, kind="token") == 3
        assert actions(backend) == ["t.4", "t.3", "a.2", "a.1", "a.0"]
        assert backend.prune_events(before=T0 + 20 * MINUTE, kind="admin") == 3
        assert backend.prune_events(before=T0 + DAY, kind="admin") == 0
        assert actions(backend) == ["t.4", "t.3"]

    def test_prune_past_the_bound_again_and_again(self, backend: AuditStore) -> None:
        """As retention does on a busy log: every prune past a kind's bound keeps its newest
        events by time, ties by recording order, however they were recorded (batches out of
        time order, single events, a prune by age in between) and whatever the other kind
        holds."""
        recorded: dict[str, list[tuple[datetime, int, str]]] = {"token": [], "admin": []}
        order = count()  # recording order decides ties in time

        def expect(kind: str, keep: int) -> list[str]:
            newest = sorted(recorded[kind], reverse=True)[:keep]
            gone = len(recorded[kind]) - len(newest)
            recorded[kind] = newest
            assert backend.prune_events(keep_last=keep, kind=kind) == gone
            return [action for _, _, action in newest]

        for r in range(6):
            batch = [(T0 + ((r * 7 + i) * 5 % 11) * MINUTE, f"t.{r}.{i}") for i in range(7)]
            backend.record_events([make_event(a, kind="token", at=at) for at, a in batch])
            backend.record_event(make_event(f"t.{r}.single", kind="token", at=T0 + 3 * MINUTE))
            backend.record_event(make_event(f"a.{r}", kind="admin", at=T0 + r * MINUTE))
            for at, action in [*batch, (T0 + 3 * MINUTE, f"t.{r}.single")]:
                recorded["token"].append((at, next(order), action))
            recorded["admin"].append((T0 + r * MINUTE, next(order), f"a.{r}"))
            if r == 3:  # by age: everything older than 2 minutes goes
                old = [e for e in recorded["token"] if e[0] < T0 + 2 * MINUTE]
                assert backend.prune_events(before=T0 + 2 * MINUTE, kind="token") == len(old)
                recorded["token"] = [e for e in recorded["token"] if e not in old]
            for kind, keep in (("token", 10), ("admin", 4)):
                kept = expect(kind, keep)
                assert actions(backend, kind=kind) == kept
        both = sorted([*recorded["token"], *recorded["admin"]], reverse=True)
        assert backend.prune_events(keep_last=3) == 11  # both kinds together: by time alone
        assert actions(backend) == [action for _, _, action in both[:3]]
        assert backend.prune_events(keep_last=2, kind="admin") == 0  # the counts held up
        tokens = len(actions(backend, kind="token"))
        assert backend.prune_events(keep_last=0, kind="token") == tokens
        assert actions(backend) == actions(backend, kind="admin")

    def test_prune_without_rules_deletes_nothing(self, backend: AuditStore) -> None:
        for n in range(3):
            backend.record_event(make_event(at=T0 + n * MINUTE))
        assert backend.prune_events() == 0
        with pytest.raises(ValidationError) as caught:
            backend.prune_events(keep_last=-1)
        assert caught.value.field == "keep_last"
        assert backend.query_events().total == 3

    # -- concurrency ----------------------------------------------------------------------
    def test_concurrent_recording(self, backend: AuditStore) -> None:
        recorded = in_threads(
            lambda n: backend.record_event(make_event(f"e.{n}", detail={"n": n})), 60
        )
        assert len({event.id for event in recorded}) == 60
        page = backend.query_events(limit=1000)
        assert page.total == 60
        assert sorted(page.items, key=lambda e: e.id or 0) == sorted(
            recorded, key=lambda e: e.id or 0
        )
        assert all(e.detail == {"n": int(e.action[2:])} for e in page.items)
