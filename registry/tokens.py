"""Signing keys and issued tokens, kept in the database; each server process reads them through a `Keyring`.

Why the database and not the data directory: a province runs several node processes on several machines against
one PostgreSQL. Keys in a data directory would differ from machine to machine (a token made on one would be
refused by another) and would have to be copied by hand at every rotation. In the database there is one set, a
rotation is one row that every process sees, and `registry token` works from any machine that reaches the
database. The price: whoever can read the `signing_keys` table can make tokens; it is as secret as the data.

Each process keeps a read-only copy (the keys in use and the ids of revoked tokens that have not expired yet) so
that checking a token costs no query. The copy is refreshed when PostgreSQL notifies the channel `registry_tokens`
(every change here sends it, at commit), every few seconds in case a notification was missed, and when a token
names a key the copy does not know (at most once a second).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import suppress
from datetime import datetime, timedelta

import psycopg
import structlog
from sqlalchemy import Index, LargeBinary, String, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from registry.auth import Actor, Issued, SigningKey, UnknownKey, issue_token, read_token
from registry.clock import now
from registry.db import Base, Database, is_unavailable, libpq_url

CHANNEL = "registry_tokens"
REFRESH_SECONDS = 5.0
VERIFIED_CACHE = 10_000  # tokens whose signature this process has checked (a check costs 30-60 us of CPU)
log = structlog.get_logger("registry")


class KeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Wiped when the key is retired: a retired key can sign nothing again.
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    retired_at: Mapped[datetime | None]


class IssuedToken(Base):
    """Every token `registry token` made: what `revoke` looks up. The token itself is never stored."""

    __tablename__ = "issued_tokens"
    __table_args__ = (Index("ix_issued_tokens_revoked", "expires_at", postgresql_where=text("revoked_at IS NOT NULL")),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    kid: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Refused(Exception):
    """A key or token command that cannot be done, said in one line."""


# --- changes (the `registry token` commands) --------------------------------------------------------------------


async def _notify(session: AsyncSession) -> None:
    """Tell every process to reload (delivered when the transaction commits)."""
    await session.execute(text(f"NOTIFY {CHANNEL}"))


async def _new_key(session: AsyncSession) -> SigningKey:
    made = now()  # the clock, not the transaction's start: keys made in one transaction are still ordered
    key = SigningKey(f"{made:%Y%m%d}-{secrets.token_hex(4)}", secrets.token_bytes(32))
    session.add(KeyRow(kid=key.kid, secret=key.secret, created_at=made))
    await _notify(session)
    return key


async def rotate_key(db: Database) -> SigningKey:
    """A new signing key, used for every token made from now on; the older keys still verify their tokens."""
    async with db.transaction() as session:
        return await _new_key(session)


async def ensure_key(db: Database) -> SigningKey | None:
    """The first signing key of a node being set up; None when it has one already."""
    async with db.transaction() as session:
        await session.execute(text("LOCK TABLE signing_keys IN EXCLUSIVE MODE"))  # two machines starting at once
        if await _current(session) is not None:
            return None
        return await _new_key(session)


async def _current(session: AsyncSession) -> SigningKey | None:
    row = (
        await session.execute(
            select(KeyRow.kid, KeyRow.secret)
            .where(KeyRow.retired_at.is_(None))
            .order_by(KeyRow.created_at.desc(), KeyRow.kid.desc())
            .limit(1)
        )
    ).first()
    return None if row is None or row.secret is None else SigningKey(row.kid, row.secret)


async def issue(db: Database, actor: Actor, *, ttl: timedelta) -> Issued:
    """A token signed with the newest key, recorded so that it can be revoked by its id."""
    async with db.transaction() as session:
        key = await _current(session)
        if key is None:
            raise Refused("this database has no signing key: no node was set up on it (run `registry migrate`)")
        issued = issue_token(key, actor, ttl=ttl)
        session.add(
            IssuedToken(
                jti=issued.jti,
                kid=key.kid,
                subject=actor.subject,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
            )
        )
        return issued


async def revoke(db: Database, jti: str) -> IssuedToken:
    """Refuse the token from now on, in every process; revoking it again changes nothing."""
    async with db.transaction() as session:
        row = await session.get(IssuedToken, jti, with_for_update=True)
        if row is None:
            raise Refused(f"no token with the id {jti!r} was made on this database")
        if row.revoked_at is None:
            row.revoked_at = now()
            await _notify(session)
        return row


async def retire_key(db: Database, kid: str) -> KeyRow:
    """Refuse every token the key signed, from now on; its secret is erased. The newest key cannot be retired."""
    async with db.transaction() as session:
        await session.execute(text("LOCK TABLE signing_keys IN EXCLUSIVE MODE"))
        row = await session.get(KeyRow, kid)
        if row is None:
            raise Refused(f"no signing key {kid!r}")
        if row.retired_at is not None:
            raise Refused(f"the signing key {kid} was retired at {row.retired_at:%Y-%m-%d %H:%M:%S %Z}")
        current = await _current(session)
        if current is not None and current.kid == kid:
            raise Refused(f"{kid} signs new tokens; make another first with `registry token rotate-key`")
        await session.execute(update(KeyRow).where(KeyRow.kid == kid).values(retired_at=now(), secret=None))
        await _notify(session)
        await session.refresh(row)
        return row


async def list_keys(db: Database) -> list[tuple[KeyRow, int]]:
    """Every key, oldest first, with the number of its issued tokens that have not expired."""
    live = (
        select(func.count())
        .where(IssuedToken.kid == KeyRow.kid, IssuedToken.expires_at > func.now(), IssuedToken.revoked_at.is_(None))
        .scalar_subquery()
    )
    async with db.transaction() as session:
        rows = await session.execute(select(KeyRow, live).order_by(KeyRow.created_at, KeyRow.kid))
        return [(key, count) for key, count in rows]


# --- each process's copy ----------------------------------------------------------------------------------------


class Keyring:
    """This process's read-only copy of the keys in use and of the revoked token ids; see the module's notes."""

    def __init__(self, db: Database, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.keys: dict[str, bytes] = {}
        self.revoked: frozenset[str] = frozenset()
        # Emptied on every reload, so that a retired key or a revocation also ends what was checked before.
        self._verified: dict[str, Actor] = {}
        self._loaded_at: float | None = None
        self._reloaded_for_unknown_key = float("-inf")
        self._lock = asyncio.Lock()

    async def authenticate(self, token: str) -> Actor:
        """The token's actor, or InvalidToken. No query, unless the copy was never loaded or the key is new; a
        token seen before is not checked again until it expires (or the copy is reloaded)."""
        actor = self._verified.get(token)
        if actor is not None and time.time() < (actor.token_expires or 0) and actor.token_id not in self.revoked:
            return actor
        if self._loaded_at is None:
            await self.refresh()
        try:
            actor = read_token(token, self.keys, self.revoked)
        except UnknownKey:
            if not await self._refresh_for_unknown_key():
                raise
            actor = read_token(token, self.keys, self.revoked)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified = {}
        self._verified[token] = actor
        return actor

    async def refresh(self) -> None:
        async with self._lock:
            await self._load()

    async def _refresh_for_unknown_key(self) -> bool:
        """Reload at most once a second for this: made-up key ids cost one query a second, however many arrive."""
        async with self._lock:
            if time.monotonic() - self._reloaded_for_unknown_key < 1.0:
                return False
            self._reloaded_for_unknown_key = time.monotonic()
            await self._load()
            return True

    async def _load(self) -> None:
        async with self.db.reader() as conn:
            keys = await conn.execute(select(KeyRow.kid, KeyRow.secret).where(KeyRow.retired_at.is_(None)))
            revoked = await conn.execute(
                select(IssuedToken.jti).where(IssuedToken.revoked_at.is_not(None), IssuedToken.expires_at > func.now())
            )
            self.keys = {kid: secret for kid, secret in keys if secret is not None}
            self.revoked = frozenset(revoked.scalars())
            self._verified = {}
        self._loaded_at = time.monotonic()

    async def watch(self) -> None:
        """Keep the copy fresh for the life of the process: on every notification, and every few seconds."""
        url = libpq_url(self.db.engine.url.render_as_string(hide_password=False))
        while True:
            try:
                await self._listen(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database that is down is said in one line; anything else with its traceback
                message = "token keys: listening for changes failed; refreshing every few seconds"
                log.warning(message, exc_info=not is_unavailable(exc))
            await asyncio.sleep(self.refresh_seconds)
            with suppress(Exception):
                await self.refresh()

    async def _listen(self, url: str) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            await self.refresh()  # after LISTEN: a change made before it is read now, one made after is notified
            while True:
                async for _ in conn.notifies(timeout=self.refresh_seconds, stop_after=1):
                    pass
                await self.refresh()
