"""`registry import`: a CSV file into the node's tables and event log, all or nothing.

A reader thread parses the file and applies the per-row checks (codes, the resident ID's checksum, dates,
duplicates within the file, institutions the node holds) and hashes the resident ID as registration does. It hands
the rows that pass over in chunks. For each chunk, in one transaction for the whole file, the database side
`COPY`s it into a temporary staging table, checks it set-wise against what the node held (people and institutions
already there), and, while nothing is wrong so far, inserts it set-wise with one event per row. So PostgreSQL
writes one chunk while Python reads the next: on two cores, both are busy.

Any bad row, found by either side, rolls everything back; the first ones are reported by line number with the
API's codes, and all are counted.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Hashable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg

from registry.bulk import facts
from registry.bulk.rows import (
    INSTITUTION_COLUMNS,
    PRACTITIONER_COLUMNS,
    PRACTITIONER_EXPORT_COLUMNS,
    InstitutionRow,
    PractitionerChecks,
    PractitionerRow,
    check_institution,
    header,
    read_rows,
)
from registry.errors import Code, Problem

# Recorded as who wrote the rows and events: the node's operator, on the command line.
ACTOR = "import"
# Rows per chunk: large enough for set-wise statements to pay off, small enough to keep memory flat.
CHUNK = 20_000


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
    events: tuple[int, int] | None  # first and last sequence number appended


@dataclass
class _Errors:
    limit: int
    first: list[LineError] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, problems: Sequence[Problem]) -> None:
        for p in problems:
            self.count += 1
            if len(self.first) < self.limit:
                self.first.append(LineError(line, str(p.code), ".".join(p.field) if p.field else None, p.message))

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
    text: str  # rows in COPY text format
    rows: int


@dataclass(frozen=True)
class _Kind:
    """What differs between importing institutions and practitioners."""

    name: str
    accepted: Sequence[Sequence[str]]  # the header's accepted column sets
    # Gives the row check (fields -> a row, or problems), once the import holds its locks.
    checker: Callable[[psycopg.Connection], Callable[[dict[str, str]], Any]]
    # What must be unique within the file: (key, column, what it is), keys kept compact (a million of them).
    keys: Callable[[Any], Sequence[tuple[Hashable, str, str]]]
    staged: Callable[[int, Any], Sequence[str]]  # line, row -> staging columns, fact last
    staging: str  # CREATE TEMPORARY TABLE bulk (...)
    # Set-wise checks of a chunk against the rows the node held before the import (skipped when it held none: the
    # file's own rows are unique already). Each gives (line, code, field, message, total), the first %(limit)s.
    checks: Sequence[str]
    writes: Sequence[str]  # set-wise inserts from the staging table
    event: str
    locks: Sequence[str]  # LOCK TABLE: what must not change under the import until it commits
    analyze: str  # the tables to ANALYZE afterwards
    referencing: Sequence[str]  # tables written whose foreign keys the checks already guarantee
    unchanged: str | None = None  # deletes staged rows that are already there as given; they are skipped


def _read_chunks(
    path: Path,
    kind: _Kind,
    check: Callable[[dict[str, str]], Any],
    errors: _Errors,
    progress: Progress,
    chunk_rows: int,
) -> Iterator[_Chunk]:
    """Check each row, keep the good ones as COPY text; yield them in chunks."""
    first_line: dict[str, dict[Hashable, int]] = {}
    lines: list[str] = []
    for line, fields in read_rows(path, kind.accepted, lambda done, total: progress.read(done, total)):
        row = [Problem(Code.INVALID_INPUT, fields[""])] if "" in fields else check(fields)
        if isinstance(row, list):
            errors.add(line, row)
            continue
        duplicates = []
        for key, column, what in kind.keys(row):
            seen = first_line.setdefault(column, {}).setdefault(key, line)
            if seen != line:
                duplicates.append(Problem(Code.ALREADY_REGISTERED, f"{what} is also on line {seen}", (column,)))
        if duplicates:
            errors.add(line, duplicates)
            continue
        lines.append("\t".join(kind.staged(line, row)))
        if len(lines) == chunk_rows:
            yield _Chunk("\n".join(lines) + "\n", len(lines))
            lines = []
    if lines:
        yield _Chunk("\n".join(lines) + "\n", len(lines))


def _in_background(chunks: Iterator[_Chunk]) -> Generator[_Chunk]:
    """Run the reader in a thread, one chunk ahead, so that Python reads while PostgreSQL writes."""
    handoff: queue.Queue[_Chunk | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: _Chunk | BaseException | None) -> bool:
        """Wait until the consumer takes it, unless it has stopped listening."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for chunk in chunks:
                if not hand(chunk):
                    return
            hand(None)
        except BaseException as exc:  # raised again in the consumer
            hand(exc)

    thread = threading.Thread(target=work, name="import-reader", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _may_skip_reference_checks(conn: psycopg.Connection, tables: Sequence[str]) -> bool:
    """Whether the writes may skip PostgreSQL's row-by-row foreign-key checks (a lookup and a row lock for each
    of millions of references, half the import's time in PostgreSQL).

    The import has checked every reference set-wise already (unknown institutions are refused; the practitioners
    are inserted first, in the same transaction), and holds locks so that none disappears. Skipping is done with
    `session_replication_role = replica`, which silences every trigger: so only when the tables have no trigger
    but PostgreSQL's own foreign-key ones, and only for a role allowed to set it.
    """
    if not tables:
        return False
    may_set = conn.execute("SELECT current_setting('is_superuser') = 'on'").fetchone()[0]  # type: ignore[index]
    others = conn.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal", (list(tables),)
    ).fetchone()[0]  # type: ignore[index]
    return bool(may_set) and others == 0


def _append_events(conn: psycopg.Connection, node_region: str, kind: str, actor: str) -> tuple[int, int] | None:
    """One event per staged row, in line order, numbered from the node's counter row.

    The counter row stays locked until the import commits, so the numbers of all its chunks follow each other
    with no gap, and a rollback gives them all back.
    """
    n = conn.execute("SELECT count(*) FROM bulk").fetchone()[0]  # type: ignore[index]
    if not n:
        return None
    conn.execute(
        "INSERT INTO event_counters (node_region, last_seq) VALUES (%s, 0) ON CONFLICT DO NOTHING", (node_region,)
    )
    last = conn.execute(
        "UPDATE event_counters SET last_seq = last_seq + %s WHERE node_region = %s RETURNING last_seq",
        (n, node_region),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        """INSERT INTO events (node_region, seq, kind, subject, payload, actor)
           SELECT %(node)s, %(last)s - %(n)s + row_number() OVER (ORDER BY line), %(kind)s, code, fact::jsonb, %(actor)s
           FROM bulk""",
        {"node": node_region, "last": last, "n": n, "kind": kind, "actor": actor},
    )
    return last - n + 1, last


def _run(
    conn: psycopg.Connection,
    path: Path,
    kind: _Kind,
    *,
    node_region: str,
    actor: str,
    progress: Progress,
    max_errors: int,
    chunk_rows: int,
) -> Imported:
    start = time.perf_counter()
    read_errors, sql_errors = _Errors(max_errors), _Errors(max_errors)  # one per thread
    written = unchanged = 0
    first_event: int | None = None
    last_event = 0
    columns = header(path, kind.accepted)
    params = {"limit": max_errors, "actor": actor, "id_field": "id_digest" if "id_digest" in columns else "id_number"}
    with conn.transaction():
        # Set-wise checks and inserts over tens of thousands of rows: give the sorts and hashes room.
        conn.execute("SET LOCAL work_mem = '64MB'")
        conn.execute(kind.staging)
        for lock in kind.locks:
            conn.execute(lock)
        trusted = _may_skip_reference_checks(conn, kind.referencing)
        held = conn.execute(f"SELECT EXISTS (SELECT FROM {kind.name})").fetchone()[0]  # type: ignore[index]
        checks = kind.checks if held else []
        check = kind.checker(conn)
        # Closing the chunks stops the reader thread, whatever happens here.
        with closing(_in_background(_read_chunks(path, kind, check, read_errors, progress, chunk_rows))) as chunks:
            for chunk in chunks:
                conn.execute("TRUNCATE bulk")
                with conn.cursor().copy("COPY bulk FROM STDIN") as copy:
                    copy.write(chunk.text)
                for query in checks:
                    sql_errors.add_sql(conn.execute(query, params).fetchall())
                if read_errors.count or sql_errors.count:
                    continue  # keep reading and checking, to report every bad row; nothing will be kept
                if kind.unchanged and held:
                    unchanged += conn.execute(kind.unchanged).rowcount
                if trusted:
                    conn.execute("SET LOCAL session_replication_role = replica")
                for query in kind.writes:
                    conn.execute(query, params)
                if trusted:
                    conn.execute("SET LOCAL session_replication_role = origin")
                events = _append_events(conn, node_region, kind.event, actor)
                if events:
                    first_event = first_event or events[0]
                    last_event = events[1]
                    written += events[1] - events[0] + 1
        read_errors.merge(sql_errors)
        if read_errors.count:
            raise RowsRejected(read_errors.first, read_errors.count)  # rolls the transaction back
        progress.phase("committing")
    progress.phase("analyzing")
    conn.execute(f"ANALYZE {kind.analyze}")
    events = (first_event, last_event) if first_event else None
    return Imported(written, unchanged, time.perf_counter() - start, events)


# ---- institutions ------------------------------------------------------------------------------------------


def _institution_staged(line: int, row: InstitutionRow) -> Sequence[str]:
    fact = facts.institution_registered(code=row.code, name=row.name, kind=row.kind, region_code=row.region_code)
    return (str(line), row.code, _text(row.name), row.kind, row.region_code, _text(orjson.dumps(fact).decode()))


INSTITUTIONS = _Kind(
    name="institutions",
    accepted=[INSTITUTION_COLUMNS],
    checker=lambda conn: check_institution,
    keys=lambda row: [(row.code, "code", f"institution {row.code}")],
    staged=_institution_staged,
    staging="""CREATE TEMPORARY TABLE bulk (
        line integer NOT NULL, code text NOT NULL, name text NOT NULL, kind text NOT NULL,
        region_code text NOT NULL, fact text NOT NULL) ON COMMIT DROP""",
    checks=[
        # As in the API: registering an institution again exactly as it is changes nothing; any difference is
        # refused.
        """SELECT s.line, 'ALREADY_REGISTERED', 'code', 'institution ' || s.code || ' is already registered',
                  count(*) OVER ()
           FROM bulk s JOIN institutions i USING (code)
           WHERE (i.name, i.kind, i.region_code) IS DISTINCT FROM (s.name, s.kind, s.region_code)
           ORDER BY s.line LIMIT %(limit)s""",
    ],
    unchanged="DELETE FROM bulk s USING institutions i WHERE i.code = s.code",
    writes=[
        """INSERT INTO institutions (code, name, kind, region_code, registered_by)
           SELECT code, name, kind, region_code, %(actor)s FROM bulk ORDER BY code""",
    ],
    event="institution.registered",
    # Nobody registers an institution while the import checks and writes them.
    locks=["LOCK TABLE institutions IN SHARE ROW EXCLUSIVE MODE"],
    referencing=[],
    analyze="institutions",
)


def import_institutions(
    conn: psycopg.Connection,
    path: Path,
    *,
    node_region: str,
    actor: str = ACTOR,
    progress: Progress | None = None,
    max_errors: int = 20,
    chunk_rows: int = CHUNK,
) -> Imported:
    """Import institutions from CSV; `conn` must be in autocommit mode (the import is its own transaction)."""
    return _run(
        conn,
        path,
        INSTITUTIONS,
        node_region=node_region,
        actor=actor,
        progress=progress or _Silent(),
        max_errors=max_errors,
        chunk_rows=chunk_rows,
    )


# ---- practitioners -----------------------------------------------------------------------------------------


def _practitioner_staged(line: int, row: PractitionerRow) -> Sequence[str]:
    fact = facts.practitioner_registered(
        code=row.code,
        name=row.name,
        category=row.category,
        region_code=row.region_code,
        id_digest=row.id_digest,
        id_masked=row.id_masked,
        institution_codes=row.institution_codes,
        registered_on=row.registered_on,
    )
    return (
        str(line),
        row.code,
        _text(row.name),
        row.category,
        row.region_code,
        row.id_digest,
        row.id_masked,
        "{" + ",".join(row.institution_codes) + "}",  # checked codes: nothing to quote
        row.registered_on.isoformat(),
        _text(orjson.dumps(fact).decode()),
    )


def _practitioner_keys(row: PractitionerRow) -> Sequence[tuple[Hashable, str, str]]:
    # One person, one code (as registration insists). The digest as a number takes half the memory of its text.
    return [(row.code, "code", f"practitioner {row.code}"), (int(row.id_digest, 16), row.id_field, "the same person")]


def _unset(conn: psycopg.Connection) -> Any:
    raise NotImplementedError("the checks need the node's id secret: see import_practitioners")


PRACTITIONERS = _Kind(
    name="practitioners",
    checker=_unset,
    accepted=[PRACTITIONER_COLUMNS, PRACTITIONER_EXPORT_COLUMNS],
    keys=_practitioner_keys,
    staged=_practitioner_staged,
    staging="""CREATE TEMPORARY TABLE bulk (
        line integer NOT NULL, code text NOT NULL, name text NOT NULL, category text NOT NULL,
        region_code text NOT NULL, id_hash text NOT NULL, id_masked text NOT NULL, institution_codes text[] NOT NULL,
        registered_on date NOT NULL, fact text NOT NULL) ON COMMIT DROP""",
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
    writes=[
        """INSERT INTO practitioners (code, name, category, region_code, id_hash, id_masked)
           SELECT code, name, category, region_code, id_hash, id_masked FROM bulk ORDER BY code""",
        """INSERT INTO registrations (practitioner_code, starts_on, recorded_by)
           SELECT code, registered_on, %(actor)s FROM bulk ORDER BY line""",
        # In the order given, so that the export lists them as they came.
        """INSERT INTO affiliations (practitioner_code, institution_code, starts_on, recorded_by)
           SELECT s.code, c.code, s.registered_on, %(actor)s
           FROM bulk s CROSS JOIN LATERAL unnest(s.institution_codes) WITH ORDINALITY AS c(code, n)
           ORDER BY s.line, c.n""",
    ],
    event="practitioner.registered",
    # Nobody registers a practitioner while the import checks and writes them, and no institution changes.
    locks=[
        "LOCK TABLE practitioners IN SHARE ROW EXCLUSIVE MODE",
        "LOCK TABLE institutions IN SHARE MODE",
    ],
    referencing=["registrations", "affiliations"],
    analyze="practitioners, registrations, affiliations",
)


def import_practitioners(
    conn: psycopg.Connection,
    path: Path,
    *,
    node_region: str,
    id_secret: bytes,
    today: date,
    actor: str = ACTOR,
    progress: Progress | None = None,
    max_errors: int = 20,
    chunk_rows: int = CHUNK,
) -> Imported:
    """Import practitioners, their registrations and affiliations from CSV; `conn` must be in autocommit mode."""

    def checker(conn: psycopg.Connection) -> PractitionerChecks:
        codes = frozenset(code for (code,) in conn.execute("SELECT code FROM institutions"))
        return PractitionerChecks(id_secret, today, codes)

    kind = dataclasses.replace(PRACTITIONERS, checker=checker)
    return _run(
        conn,
        path,
        kind,
        node_region=node_region,
        actor=actor,
        progress=progress or _Silent(),
        max_errors=max_errors,
        chunk_rows=chunk_rows,
    )
