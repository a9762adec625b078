"""Fill a fresh SQLite store for the scale scenario (7); also a command of its own::

    python3 -m bench.generate_store /tmp/big.db --users 100000

For N users it writes, after ``SqlBackend(url).migrate()``:

* N users (the first is ``bench``), all with one precomputed argon2id hash of the same
  password (hashing N passwords would take about N x 50 ms);
* max(10, N/10) groups, and 10 memberships per user (``bench`` is in the first ten groups,
  everyone else in ten random ones): 10 x N memberships, about 100 members per group;
* 2 x N grants: 10 per group (exact names, ``*``, ``**`` and ``${user}`` patterns), 20 for
  ``authenticated``, 5 for ``anonymous``, and the rest one per user (``home/NAME/**``).

So the ``bench`` user's token request reads the same number of grants (its own, ten
groups' and the ``authenticated``/``anonymous`` ones) at every N; only the store grows.
``--users 0`` is the "empty" store: just ``bench``, its groups and their grants.

Rows go in with peewee ``insert_many`` in chunks, one transaction per table, with
``synchronous=off`` (a generation that fails is thrown away anyway).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee as pw

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.models import GrantRow, GroupRow, MembershipRow, UserRow
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret

BENCH_USER = "bench"
BENCH_PASSWORD = "bench-pw-0123456789"
GROUPS_PER_USER = 10
_GROUP_PATTERNS = (
    ("proj{j}/**", "pull"),
    ("proj{j}/*", "pull,push"),
    ("proj{j}/app0", "pull,push,delete"),
    ("proj{j}/app1", "pull,push"),
    ("proj{j}/app2", "pull,push"),
    ("proj{j}/*/cache", "pull,push"),
    ("proj{j}/${{user}}/**", "pull,push"),
    ("shared{j}/*", "pull"),
    ("mirror{j}/**", "pull"),
    ("release{j}/*/stable", "pull"),
)
_AUTHENTICATED = [
    ("${user}/**", "pull,push,delete"),
    ("library/*", "pull"),
    ("mirror/**", "pull"),
    ("tools/*/stable", "pull"),
]
_AUTHENTICATED += [(f"common{k}/*", "pull") for k in range(16)]
_ANONYMOUS = [
    ("public/*", "pull"),
    ("docs/**", "pull"),
    ("examples/*", "pull"),
    ("oss0/*", "pull"),
    ("oss1/*", "pull"),
]
_MAX_SQL_VARIABLES = 32_000  # SQLite >= 3.32 allows 32766 parameters per statement


@dataclass(frozen=True, slots=True)
class Generated:
    users: int
    groups: int
    memberships: int
    grants: int
    seconds: float
    #: Seconds per table, in insertion order.
    tables: dict[str, float]

    def summary(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.tables.items())
        return (
            f"{self.users:,} users, {self.groups:,} groups, {self.memberships:,} memberships, "
            f"{self.grants:,} grants in {self.seconds:.1f} s ({parts})"
        )


def group_name(j: int) -> str:
    return f"g{j:05d}"


def user_name(i: int) -> str:
    return BENCH_USER if i == 0 else f"u{i:06d}"


def bench_groups() -> list[str]:
    return [group_name(j) for j in range(GROUPS_PER_USER)]


def group_count(users: int) -> int:
    return max(GROUPS_PER_USER, users // 10)


def _memberships(users: int, groups: int, rng: random.Random) -> Iterator[tuple[int, int]]:
    for i in range(users):
        chosen = range(GROUPS_PER_USER) if i == 0 else rng.sample(range(groups), GROUPS_PER_USER)
        for j in chosen:
            yield (i + 1, j + 1)


def _grants(
    users: int, groups: int, now: datetime
) -> Iterator[tuple[str, str, str, str, datetime]]:
    for j in range(groups):
        for pattern, actions in _GROUP_PATTERNS:
            yield (f"group:{group_name(j)}", "repository", pattern.format(j=j), actions, now)
    for pattern, actions in _AUTHENTICATED:
        yield ("authenticated", "repository", pattern, actions, now)
    for pattern, actions in _ANONYMOUS:
        yield ("anonymous", "repository", pattern, actions, now)
    own = max(1, 2 * users - groups * len(_GROUP_PATTERNS) - len(_AUTHENTICATED) - len(_ANONYMOUS))
    for i in range(min(own, users)):
        yield (f"user:{user_name(i)}", "repository", f"home/{user_name(i)}/**", "pull,push", now)


def _insert(
    db: pw.Database, model: Any, fields: Sequence[Any], rows: Iterable[tuple[Any, ...]]
) -> int:
    size = _MAX_SQL_VARIABLES // len(fields)
    count = 0
    with db.atomic():
        for batch in pw.chunked(rows, size):
            model.insert_many(batch, fields=fields).execute(db)
            count += len(batch)
    return count


def generate(
    path: Path,
    users: int,
    *,
    password: str = BENCH_PASSWORD,
    seed: int = 1,
    password_hash: str | None = None,
) -> Generated:
    """Create the store at ``path`` (which must not exist) with ``users`` users (0: only
    ``bench``); ``password_hash`` saves hashing the password again."""
    if path.exists():
        raise FileExistsError(f"{path} exists: the generator only fills a fresh store")
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    with SqlBackend(url) as backend:
        backend.migrate()
    hashed = password_hash or PasswordHasher().hash(Secret(password))
    total = max(users, 1)
    groups = group_count(users)
    now = datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
    rng = random.Random(seed)
    db = pw.SqliteDatabase(
        str(path), pragmas={"journal_mode": "wal", "synchronous": "off", "foreign_keys": 1}
    )
    tables: dict[str, float] = {}
    counts: dict[str, int] = {}
    plan: list[tuple[str, Any, Sequence[Any], Iterable[tuple[Any, ...]]]] = [
        (
            "users",
            UserRow,
            (
                UserRow.id,
                UserRow.username,
                UserRow.password_hash,
                UserRow.created_at,
                UserRow.updated_at,
            ),
            ((i + 1, user_name(i), hashed, now, now) for i in range(total)),
        ),
        (
            "groups",
            GroupRow,
            (GroupRow.id, GroupRow.name, GroupRow.created_at),
            ((j + 1, group_name(j), now) for j in range(groups)),
        ),
        (
            "memberships",
            MembershipRow,
            (MembershipRow.user, MembershipRow.group),
            _memberships(total, groups, rng),
        ),
        (
            "grants",
            GrantRow,
            (
                GrantRow.subject,
                GrantRow.resource_type,
                GrantRow.pattern,
                GrantRow.actions,
                GrantRow.created_at,
            ),
            _grants(users, groups, now),
        ),
    ]
    try:
        db.connect()
        for name, model, fields, rows in plan:
            table_started = time.perf_counter()
            counts[name] = _insert(db, model, fields, rows)
            tables[name] = time.perf_counter() - table_started
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[no-untyped-call]
    finally:
        db.close()
    return Generated(
        counts["users"],
        counts["groups"],
        counts["memberships"],
        counts["grants"],
        time.perf_counter() - started,
        tables,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m bench.generate_store",
        description="Fill a fresh SQLite Dockit store with N users, N/10 groups, 10N "
        "memberships and 2N grants (patterns included), for scale benchmarks.",
    )
    parser.add_argument("path", type=Path, help="the SQLite file to create (must not exist)")
    parser.add_argument("--users", type=int, default=100_000, help="N (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for memberships")
    args = parser.parse_args(argv)
    if args.users < 0:
        parser.error("--users must be 0 or more")
    try:
        generated = generate(args.path, args.users, seed=args.seed)
    except FileExistsError as exc:
        print(f"generate_store: {exc}", file=sys.stderr)
        return 2
    print(f"generated {args.path}: {generated.summary()}")
    print(f"every user's password: {BENCH_PASSWORD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
