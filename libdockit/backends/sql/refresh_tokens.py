"""Refresh tokens over SQL: the RefreshTokenStore of :class:`~libdockit.backends.sql.SqlBackend`.

``refresh_tokens.username`` refers to ``users.username`` with ON DELETE CASCADE, so reading a
token needs no join and deleting a user takes their tokens along. Looking a token up by its
hash (the refresh path) uses the unique index on ``token_hash``.
"""

from __future__ import annotations

from datetime import datetime

import peewee as pw

from ...errors import Conflict, NotFound
from ...model import LOCAL_SOURCE, Page, RefreshToken
from .models import RefreshTokenRow, UserRow
from .records import refresh_token_record, refresh_token_values, time_from_column, to_db
from .session import SqlSession

_FIND_BY_HASH = (
    'SELECT "id", "token_hash", "username", "service", "client_id", "created_at", '
    '"last_used_at", "expires_at", "source" FROM "refresh_tokens" WHERE "token_hash" = ?'
)


class SqlRefreshTokens(SqlSession):
    """RefreshTokenStore."""

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self._session(write=True) as db:
            if token.source == LOCAL_SOURCE:
                user = UserRow.select(UserRow.id).where(UserRow.username == token.username)
                if self._postgres:  # a concurrent delete_user waits for this transaction
                    user = user.for_update("FOR KEY SHARE")  # type: ignore[arg-type]  # str works
                if not user.exists(db):  # not get_or_none: its miss message fails on a lock
                    raise NotFound(f"user {token.username!r} not found")
            clash = (
                RefreshTokenRow.select(RefreshTokenRow.id)
                .where(
                    (RefreshTokenRow.id == token.id)
                    | (RefreshTokenRow.token_hash == token.token_hash)
                )
                .get_or_none(db)
            )
            if clash is not None:
                what = "id" if clash.id == token.id else "hash"
                raise Conflict(f"a refresh token with this {what} exists already")
            RefreshTokenRow.insert(**refresh_token_values(token)).execute(db)

    def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        rows = self._read(_FIND_BY_HASH, (token_hash,))  # every refresh-token request
        if not rows:
            return None
        token_id, found_hash, username, service, client_id, created, last_used, expires, source = (
            rows[0]
        )
        created_at = time_from_column(created)
        assert created_at is not None  # NOT NULL
        return RefreshToken(
            id=token_id,
            token_hash=found_hash,
            username=username,
            service=service,
            client_id=client_id,
            created_at=created_at,
            last_used_at=time_from_column(last_used),
            expires_at=time_from_column(expires),
            source=source,
        )

    def touch_refresh_token(self, token_id: str, at: datetime) -> None:
        with self._session() as db:  # one UPDATE, committed on its own
            query = RefreshTokenRow.update(last_used_at=to_db(at))
            if not query.where(RefreshTokenRow.id == token_id).execute(db):
                raise NotFound(f"refresh token {token_id!r} not found")

    def list_refresh_tokens(
        self, *, username: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[RefreshToken]:
        with self._session() as db:
            query = RefreshTokenRow.select()
            if username is not None:
                query = query.where(RefreshTokenRow.username == username)
            total = query.count(db)
            newest_first = query.order_by(
                RefreshTokenRow.created_at.desc(),
                self._by_name(RefreshTokenRow.id, descending=True),
            )
            rows = newest_first.offset(max(offset, 0)).limit(max(limit, 0)).bind(db)
            return Page([refresh_token_record(r) for r in rows], total)

    def revoke_refresh_token(self, token_id: str) -> RefreshToken:
        with self._session(write=True) as db:
            row = RefreshTokenRow.select().where(RefreshTokenRow.id == token_id).get_or_none(db)
            # Deleted by this call, not by a concurrent revoke that got there first.
            if row is None or not RefreshTokenRow.delete().where(
                RefreshTokenRow.id == token_id
            ).execute(db):
                raise NotFound(f"refresh token {token_id!r} not found")
            return refresh_token_record(row)

    def revoke_user_refresh_tokens(self, username: str, *, source: str | None = None) -> int:
        with self._session() as db:  # one DELETE, committed on its own
            return _delete_tokens_of(db, username, source)


def _delete_tokens_of(db: pw.Database, username: str, source: str | None) -> int:
    """Delete ``username``'s refresh tokens (of ``source`` only, if given)."""
    condition = RefreshTokenRow.username == username
    if source is not None:
        condition &= RefreshTokenRow.source == source
    return int(RefreshTokenRow.delete().where(condition).execute(db))
