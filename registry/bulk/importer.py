"""`registry import`: a CSV file into the node's tables and its feed, all or nothing.

A reader thread parses the file and turns each row into the fact the API would record, checked by the API's own
command (codes, the resident ID's checksum, dates, the institutions the node holds, the node's region) and with the
resident ID hashed as registration hashes it; it catches duplicates within the file too. It hands the facts over
in chunks. For each chunk, in one transaction for the whole file, the database side `COPY`s it into a temporary
staging table, checks it set-wise against what the node held (people and institutions already there), and, while
nothing is wrong so far, logs the facts (`eventlog.append_many`: each takes its origin seq), writes the rows the
store functions would write for them set-wise from the staging table, and has the database's before-commit hook
(the federation sealer) seal and store them in the feed. So PostgreSQL writes one chunk while Python reads the
next, and the facts are never all held at once.

Any bad row, found by either side, rolls everything back; the first ones are reported by line number with the
API's codes, and all are counted.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import eventlog
from registry.bulk.rows import (
    INSTITUTION_COLUMNS,
    PRACTITIONER_COLUMNS,
    PRACTITIONER_EXPORT_COLUMNS,
    InstitutionChecks,
    PractitionerChecks,
    header,
    read_rows,
)
from registry.db import Database
from registry.errors import Code, Problem
from registry.facts import Fact
from registry.node import Node
from registry.practitioners.facts import InstitutionRegistered, PractitionerRegistered

# Recorded as who wrote the rows and facts: the node's operator, on the command line.
ACTOR = "import"
# Rows per chunk: large enough for set-wise statements to pay off, small enough to keep memory flat. A multiple
# of the sealer's checkpoint interval, so the feed has a checkpoint every 500 events as one big seal would give.
CHUNK = 20_000

Connection = psycopg.AsyncConnection[Any]


class Progress(Protocol):
    def read(self, done: int, total: int) -> None: ...

    def phase(self, name: str) -> None: ...


class _Silent:
    def read(self, done: int, total: int) -> None:
        pass

    def phase(self, name: str) -> None:
        pass


@dataclass(frozen=True, order=True)
class LineError:
    line: int
    code: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"line {self.line}: {self.code}{where}: {self.message}"


class RowsRejected(Exception):
    """Some rows are bad; nothing was written. `errors` holds the first ones by line, `count` all of them."""

    def __init__(self, errors: list[LineError], count: int) -> None:
        super().__init__(f"{count} problems")
        self.errors = errors
        self.count = count


@dataclass(frozen=True)
class Imported:
    rows: int  # rows written
    unchanged: int  # rows already there as given (institutions only), skipped
    seconds: float
    seqs: tuple[int, int] | None  # the first and last origin seq the facts took


@dataclass
class _Errors:
    limit: int
    first: list[LineError] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, problems: Sequence[Problem]) -> None:
        for p in problems:
            self.count += 1
            if len(self.first) < self.limit:
                column = str(p.field[0]) if p.field else None  # the domain field is the file's column
                self.first.append(LineError(line, str(p.code), column, p.message))

    def add_sql(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows of (line, code, field, message, total) from a check query, the first `limit` by line."""
        if rows:
            self.count += rows[0][4]
            self.first = sorted(self.first + [LineError(*r[:4]) for r in rows])[: self.limit]

    def merge(self, other: _Errors) -> None:
        self.count += other.count
        self.first = sorted(self.first + other.first)[: self.limit]


# COPY's text format: only these characters need a backslash escape.
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


@dataclass(frozen=True)
class _Chunk:
    text: str  # staging rows in COPY text format: line, n (the fact's place in the chunk), columns
    lines: list[int]
    facts: list[Fact]


@dataclass(frozen=True)
class _Kind:
    """What differs between importing institutions and practitioners."""

    name: str
    accepted: Sequence[Sequence[str]]  # the header's accepted column sets
    # Gives the row check (fields -> a fact, or problems), once the import holds its locks.
    checker: Callable[[Connection], Awaitable[Callable[[dict[str, str]], Any]]]
    # What must be unique within the file: (key, column, what it is), keys kept compact (a million of them).
    keys: Callable[[Any], Sequence[tuple[Hashable, str, str]]]
    staged: Callable[[Any], Sequence[str]]  # a fact -> its staging columns after line and n
    staging: str  # CREATE TEMPORARY TABLE bulk (line, n, ...)
    # Set-wise checks of a chunk against the rows the node held before the import (skipped when it held none: the
    # file's own rows are unique already). Each gives (line, code, field, message, total), the first %(limit)s.
    checks: Sequence[str]
    # Set-wise inserts from the staging table: the rows the store functions write for these facts (origin_seq is
    # %(first)s + n).
    writes: Sequence[str]
    locks: Sequence[str]  # LOCK TABLE: what must not change under the import until it commits
    analyze: str  # the tables to ANALYZE afterwards
    referencing: Sequence[str]  # tables written whose foreign keys the import guarantees itself
    unchanged: str | None = None  # deletes staged rows already there as given, returning their lines: skipped


def _read_chunks(
    path: Path,
    kind: _Kind,
    check: Callable[[dict[str, str]], Any],
    errors: _Errors,
    progress: Progress,
    chunk_rows: int,
) -> Iterator[_Chunk]:
    """Check each row, keep the good ones as facts and COPY text; yield them in chunks."""
    first_line: dict[str, dict[Hashable, int]] = {}
    rows: list[str] = []
    lines: list[int] = []
    facts: list[Fact] = []
    for line, fields in read_rows(path, kind.accepted, lambda done, total: progress.read(done, total)):
        fact = [Problem(Code.INVALID_INPUT, fields[""])] if "" in fields else check(fields)
        if isinstance(fact, list):
            errors.add(line, fact)
            continue
        duplicates = []
        for key, column, what in kind.keys(fact):
            seen = first_line.setdefault(column, {}).setdefault(key, line)
            if seen != line:
                duplicates.append(Problem(Code.ALREADY_REGISTERED, f"{what} is also on line {seen}", (column,)))
        if duplicates:
            errors.add(line, duplicates)
            continue
        rows.append("\t".join((str(line), str(len(facts)), *kind.staged(fact))))
        lines.append(line)
        facts.append(fact)
        if len(facts) == chunk_rows:
            yield _Chunk("\n".join(rows) + "\n", lines, facts)
            rows, lines, facts = [], [], []
    if facts:
        yield _Chunk("\n".join(rows) + "\n", lines, facts)


async def _in_background(chunks: Iterator[_Chunk]) -> AsyncGenerator[_Chunk]:
    """Run the reader in a thread, a chunk ahead, so that Python reads while PostgreSQL writes."""
    loop = asyncio.get_running_loop()
    handoff: asyncio.Queue[_Chunk | BaseException | None] = asyncio.Queue()
    room = threading.Semaphore(1)  # chunks read ahead of the one being written
    stop = threading.Event()

    def hand(item: _Chunk | BaseException | None) -> bool:
        """Wait for room, unless the consumer has stopped listening."""
        while not room.acquire(timeout=0.1):
            if stop.is_set():
                return False
        loop.call_soon_threadsafe(handoff.put_nowait, item)
        return True

    def work() -> None:
        try:
            for chunk in chunks:
                if stop.is_set() or not hand(chunk):
                    return
            hand(None)
        except BaseException as exc:  # raised again in the consumer
            hand(exc)

    thread = threading.Thread(target=work, name="import-reader", daemon=True)
    thread.start()
    try:
        while (item := await handoff.get()) is not None:
            room.release()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)


async def _raw(connection: AsyncConnection) -> Connection:
    """The psycopg connection under SQLAlchemy's, in its transaction: for COPY and the set-wise statements."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return raw


async def _may_skip_reference_checks(conn: Connection, tables: Sequence[str]) -> bool:
    """Whether the writes may skip PostgreSQL's row-by-row foreign-key check of each registration (a lookup of its
    person and a lock on the row: a quarter of PostgreSQL's time for a million).

    The import guarantees the references itself: the people are inserted first, in the same transaction, under a
    lock. Skipping is done with `session_replication_role = replica`, which silences every trigger: so only when
    the tables have no trigger but PostgreSQL's own foreign-key ones, and only for a role allowed to set it.
    """
    if not tables:
        return False
    may_set = await _one(conn, "SELECT current_setting('is_superuser') = 'on'")
    others = await _one(
        conn,
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal",
        (list(tables),),
    )
    return bool(may_set) and others == 0


async def _one(conn: Connection, query: str, params: Any = None) -> Any:
    row = await (await conn.execute(query, params)).fetchone()
    assert row is not None
    return row[0]


async def _run(
    db: Database,
    path: Path,
    kind: _Kind,
    *,
    node: str,
    actor: str,
    progress: Progress,
    max_errors: int,
    chunk_rows: int,
) -> Imported:
    start = time.perf_counter()
    read_errors, sql_errors = _Errors(max_errors), _Errors(max_errors)  # one per thread
    written = unchanged = 0
    seqs: tuple[int, int] | None = None
    columns = header(path, kind.accepted)
    params = {
        "limit": max_errors,
        "actor": actor,
        "origin": node,
        "id_field": "id_digest" if "id_digest" in columns else "id_number",
    }
    async with db.transaction() as session:
        conn = await _raw(await session.connection())
        # Set-wise checks and inserts over tens of thousands of rows: give the sorts and hashes room.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        await conn.execute(kind.staging)
        for lock in kind.locks:
            await conn.execute(lock)
        trusted = await _may_skip_reference_checks(conn, kind.referencing)
        held = await _one(conn, f"SELECT EXISTS (SELECT FROM {kind.name})")
        checks = kind.checks if held else []
        check = await kind.checker(conn)
        reader = _read_chunks(path, kind, check, read_errors, progress, chunk_rows)
        async with aclosing(_in_background(reader)) as chunks:  # closing stops the reader thread
            async for chunk in chunks:
                await conn.execute("TRUNCATE bulk")
                async with conn.cursor().copy("COPY bulk FROM STDIN") as copy:
                    await copy.write(chunk.text)
                for query in checks:
                    sql_errors.add_sql(await (await conn.execute(query, params)).fetchall())
                if read_errors.count or sql_errors.count:
                    continue  # keep reading and checking, to report every bad row; nothing will be kept
                facts = chunk.facts
                if kind.unchanged and held:
                    skipped = {line for (line,) in await (await conn.execute(kind.unchanged)).fetchall()}
                    if skipped:
                        unchanged += len(skipped)
                        facts = [f for line, f in zip(chunk.lines, facts, strict=True) if line not in skipped]
                        await conn.execute(_RENUMBER)
                if not facts:
                    continue
                issued = await eventlog.append_many(session, facts, node=node, actor=actor)
                seqs = (seqs[0] if seqs else issued[0].seq, issued[-1].seq)
                if trusted:
                    await conn.execute("SET LOCAL session_replication_role = replica")
                for query in kind.writes:
                    await conn.execute(query, {**params, "first": issued[0].seq})
                if trusted:
                    await conn.execute("SET LOCAL session_replication_role = origin")
                await db.seal_staged(session)  # sealed and in the feed now, while the reader goes on
                written += len(facts)
        read_errors.merge(sql_errors)
        if read_errors.count:
            raise RowsRejected(read_errors.first, read_errors.count)  # rolls the transaction back
        progress.phase("committing")
    progress.phase("analyzing")
    async with db.reader() as connection:
        await (await _raw(connection)).execute(f"ANALYZE {kind.analyze}")
    return Imported(written, unchanged, time.perf_counter() - start, seqs)


# After skipping rows, the facts' places in the chunk close up again.
_RENUMBER = """UPDATE bulk SET n = r.n
               FROM (SELECT line, row_number() OVER (ORDER BY line) - 1 AS n FROM bulk) r
               WHERE bulk.line = r.line AND bulk.n <> r.n"""


# ---- institutions ------------------------------------------------------------------------------------------


def _institution_staged(fact: InstitutionRegistered) -> Sequence[str]:
    return (fact.code, _text(fact.name), fact.kind.value, fact.region_code)


def _institution_checker(node: str) -> Callable[[Connection], Awaitable[InstitutionChecks]]:
    async def checker(conn: Connection) -> InstitutionChecks:
        return InstitutionChecks(node)

    return checker


INSTITUTIONS = _Kind(
    name="institutions",
    accepted=[INSTITUTION_COLUMNS],
    checker=_institution_checker("000000"),
    keys=lambda fact: [(fact.code, "code", f"institution {fact.code}")],
    staged=_institution_staged,
    staging="""CREATE TEMPORARY TABLE bulk (
        line integer NOT NULL, n integer NOT NULL, code text NOT NULL, name text NOT NULL, kind text NOT NULL,
        region_code text NOT NULL) ON COMMIT DROP""",
    checks=[
        # As in the API: registering an institution again exactly as it is changes nothing; any difference is
        # refused.
        """SELECT s.line, 'ALREADY_REGISTERED', 'code', 'institution ' || s.code || ' is already registered',
                  count(*) OVER ()
           FROM bulk s JOIN institutions i USING (code)
           WHERE (i.name, i.kind, i.region_code) IS DISTINCT FROM (s.name, s.kind, s.region_code)
           ORDER BY s.line LIMIT %(limit)s""",
    ],
    unchanged="DELETE FROM bulk s USING institutions i WHERE i.code = s.code RETURNING s.line",
    # What store.institutions writes for a new code.
    writes=[
        """INSERT INTO institutions (code, name, kind, region_code, registered_by, origin, origin_seq)
           SELECT code, name, kind, region_code, %(actor)s, %(origin)s, %(first)s + n FROM bulk ORDER BY code""",
    ],
    # Nobody registers an institution while the import checks and writes them.
    locks=["LOCK TABLE institutions IN SHARE ROW EXCLUSIVE MODE"],
    analyze="institutions",
    referencing=[],
)


async def import_institutions(
    db: Database,
    path: Path,
    *,
    node: str,
    actor: str = ACTOR,
    progress: Progress | None = None,
    max_errors: int = 20,
    chunk_rows: int = CHUNK,
) -> Imported:
    """Import institutions from CSV as the node of region `node`, in one transaction of `db` (whose before-commit
    hook seals the facts)."""
    return await _run(
        db,
        path,
        replace(INSTITUTIONS, checker=_institution_checker(node)),
        node=node,
        actor=actor,
        progress=progress or _Silent(),
        max_errors=max_errors,
        chunk_rows=chunk_rows,
    )


# ---- practitioners -----------------------------------------------------------------------------------------


def _practitioner_staged(fact: PractitionerRegistered) -> Sequence[str]:
    return (
        fact.code,
        _text(fact.name),
        fact.category.value,
        fact.region_code,
        fact.id_digest,
        fact.id_masked,
        "{" + ",".join(fact.institution_codes) + "}",  # checked codes: nothing to quote
        fact.registered_on.isoformat(),
    )


def _practitioner_keys(id_column: str) -> Callable[[PractitionerRegistered], Sequence[tuple[Hashable, str, str]]]:
    """One person, one code (as registration insists); `id_column` is where the file gives the person's identity.
    The digest as a number takes half the memory of its text."""

    def keys(fact: PractitionerRegistered) -> Sequence[tuple[Hashable, str, str]]:
        return [
            (fact.code, "code", f"practitioner {fact.code}"),
            (int(fact.id_digest, 16), id_column, "the same person"),
        ]

    return keys


async def _unset(conn: Connection) -> Any:
    raise NotImplementedError("the checks need the node's identity key: see import_practitioners")


PRACTITIONERS = _Kind(
    name="practitioners",
    checker=_unset,
    accepted=[PRACTITIONER_COLUMNS, PRACTITIONER_EXPORT_COLUMNS],
    keys=_practitioner_keys("id_number"),
    staged=_practitioner_staged,
    staging="""CREATE TEMPORARY TABLE bulk (
        line integer NOT NULL, n integer NOT NULL, code text NOT NULL, name text NOT NULL, category text NOT NULL,
        region_code text NOT NULL, id_hash text NOT NULL, id_masked text NOT NULL, institution_codes text[] NOT NULL,
        registered_on date NOT NULL) ON COMMIT DROP""",
    # Index probes (LATERAL) for a chunk's rows: a hash join would read the node's table whole for every chunk.
    checks=[
        # The import brings people new to the node; registering a known person again goes through the API,
        # which weighs their earlier registrations, deregistration and any re-registration bar. The file's own
        # rows cannot match: the reader lets no code or person through twice.
        """SELECT s.line, 'ALREADY_REGISTERED', 'code', 'practitioner ' || s.code || ' is already known to the node',
                  count(*) OVER ()
           FROM bulk s CROSS JOIN LATERAL (SELECT FROM practitioners p WHERE p.code = s.code LIMIT 1) p
           ORDER BY s.line LIMIT %(limit)s""",
        """SELECT s.line, 'ALREADY_REGISTERED', %(id_field)s, 'this person is registered as ' || p.code,
                  count(*) OVER ()
           FROM bulk s
           CROSS JOIN LATERAL (SELECT p.code FROM practitioners p WHERE p.id_hash = s.id_hash AND p.code <> s.code
                               LIMIT 1) p
           ORDER BY s.line LIMIT %(limit)s""",
    ],
    # What store.registrations writes for people new to the node: the person, a registration period and an
    # affiliation with each institution, in the order given; all of them carry the fact's origin and seq.
    writes=[
        """INSERT INTO practitioners (code, name, category, region_code, id_hash, id_masked, registered_on, origin,
                                      origin_seq)
           SELECT code, name, category, region_code, id_hash, id_masked, registered_on, %(origin)s, %(first)s + n
           FROM bulk ORDER BY code""",
        """INSERT INTO registrations (practitioner_code, starts_on, recorded_by, origin, origin_seq)
           SELECT code, registered_on, %(actor)s, %(origin)s, %(first)s + n FROM bulk ORDER BY line""",
        """INSERT INTO affiliations (practitioner_code, institution_code, starts_on, recorded_by, origin, origin_seq)
           SELECT s.code, c.code, s.registered_on, %(actor)s, %(origin)s, %(first)s + s.n
           FROM bulk s CROSS JOIN LATERAL unnest(s.institution_codes) WITH ORDINALITY AS c(code, n)
           ORDER BY s.line, c.n""",
    ],
    # Nobody registers a practitioner while the import checks and writes them, and no institution changes.
    locks=[
        "LOCK TABLE practitioners IN SHARE ROW EXCLUSIVE MODE",
        "LOCK TABLE institutions IN SHARE MODE",
    ],
    analyze="practitioners, registrations, affiliations",
    referencing=["registrations"],
)


async def import_practitioners(
    db: Database,
    path: Path,
    *,
    node: Node,
    today: date,
    actor: str = ACTOR,
    progress: Progress | None = None,
    max_errors: int = 20,
    chunk_rows: int = CHUNK,
) -> Imported:
    """Import practitioners, their registrations and affiliations from CSV as `node`, in one transaction of `db`
    (whose before-commit hook seals the facts)."""

    async def checker(conn: Connection) -> PractitionerChecks:
        codes = frozenset(code for (code,) in await (await conn.execute("SELECT code FROM institutions")).fetchall())
        return PractitionerChecks(node.region, node.id_secret, today, codes)

    id_column = "id_number" if "id_number" in header(path, PRACTITIONERS.accepted) else "id_digest"
    return await _run(
        db,
        path,
        replace(PRACTITIONERS, checker=checker, keys=_practitioner_keys(id_column)),
        node=node.region,
        actor=actor,
        progress=progress or _Silent(),
        max_errors=max_errors,
        chunk_rows=chunk_rows,
    )
