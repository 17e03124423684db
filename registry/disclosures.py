"""Disclosure accounting: who read which practitioner's record or eligibility, and when.

Every read of a practitioner's record (`practitioner`) or eligibility (`eligibility`, `eligibilities`) becomes ONE
row: the caller (role, scope, token id), the moment, what was read, and the codes concerned as an array, so that a
batch of 10,000 checks is one row; a GIN index on the array answers "who looked me up" (`myDisclosures`).

Resolvers, and any path that answers without strawberry, call `DisclosureLog.record`. On the hot path it only
appends to this process's buffer; a background task (`run`) writes the buffer every 200 ms in one INSERT. What a
crash may lose: the reads of the last flush interval, at most (SIGKILL, power loss; a normal stop writes the
buffer first). A flush that fails (the database is away) is tried again on the next tick, holding at most
MAX_PENDING reads; older ones are then dropped, and said in the log. `flush_ms=0` writes each read before the
answer instead (nothing lost, one more transaction per request); see the README for what each costs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
import structlog
from sqlalchemy import Index, String, Text, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry import clock
from registry.auth import Actor
from registry.db import Base, Database, EnumText, is_unavailable, one_of

MAX_PENDING = 100_000
MAX_CODE = 20  # characters of a practitioner code; a longer string names nobody
log = structlog.get_logger("registry")


class DisclosureKind(StrEnum):
    PRACTITIONER = "PRACTITIONER"  # the record: name, masked ID, points, sanctions
    ELIGIBILITY = "ELIGIBILITY"  # one check
    ELIGIBILITIES = "ELIGIBILITIES"  # a batch of checks


class Disclosure(Base):
    __tablename__ = "disclosures"
    __table_args__ = (
        Index("ix_disclosures_practitioner_codes", "practitioner_codes", postgresql_using="gin"),
        one_of("kind", DisclosureKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[DisclosureKind] = mapped_column(EnumText(DisclosureKind, 16))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str | None] = mapped_column(String(32))
    token_id: Mapped[str | None] = mapped_column(String(64))
    practitioner_codes: Mapped[list[str]] = mapped_column(ARRAY(Text))


_Read = tuple[float, Actor, DisclosureKind, Sequence[str]]  # (POSIX time, reader, what, codes)
COLUMNS = "at, kind, role, scope, token_id, practitioner_codes"


class DisclosureLog:
    """This process's writer of disclosures (one per app; see the module's notes)."""

    def __init__(self, db: Database, *, flush_ms: int = 200) -> None:
        self.db = db
        self.flush_seconds = flush_ms / 1000
        self._pending: list[_Read] = []
        self._flushing = asyncio.Lock()

    async def record(self, actor: Actor, kind: DisclosureKind, codes: Sequence[str]) -> None:
        """Account for one read of these practitioners' data by `actor`; `codes` may repeat, and is not copied."""
        read = (time.time(), actor, kind, codes)  # the clock's datetime is made at flush time, off the hot path
        if self.flush_seconds:
            self._pending.append(read)
        else:
            await self._write([read])

    async def flush(self) -> None:
        """Write what is buffered (a request that reads the log first calls this, to see its own process's reads)."""
        async with self._flushing:
            reads, self._pending = self._pending, []
            if not reads:
                return
            try:
                await self._write(reads)
            except Exception:
                self._pending[:0] = reads
                if (excess := len(self._pending) - MAX_PENDING) > 0:
                    del self._pending[:excess]
                    log.error("disclosures dropped: the database refused them for too long", dropped=excess)
                raise

    async def run(self) -> None:
        """Flush every interval, for the life of the process (the app's lifespan starts and cancels it)."""
        while True:
            await asyncio.sleep(self.flush_seconds or 1)
            try:
                await self.flush()
            except Exception as exc:  # a database that is down is said in one line; anything else with its traceback
                pending = len(self._pending)
                log.warning(
                    "disclosures: writing failed; trying again", pending=pending, exc_info=not is_unavailable(exc)
                )

    async def _write(self, reads: list[_Read]) -> None:
        """One COPY for all of them: a tenth of the CPU of a many-row INSERT through the ORM."""
        async with self.db.transaction() as session:
            raw = await (await session.connection()).get_raw_connection()
            driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            async with driver.cursor() as cursor, cursor.copy(f"COPY disclosures ({COLUMNS}) FROM STDIN") as copy:
                for at, actor, kind, codes in reads:
                    moment = datetime.fromtimestamp(at, clock.CST)
                    await copy.write_row(
                        (moment, kind.value, actor.role.value, actor.scope, actor.token_id, _codes(codes))
                    )


def _codes(codes: Sequence[str]) -> str:
    """Each code once, in the order asked, as an array literal for COPY (psycopg would adapt a list element by
    element: a batch's thousand codes). Strings that cannot be a practitioner code name nobody and are left out
    (they would only make the row longer, or unstorable: a NUL byte); what is left needs no quoting."""
    kept = [c for c in dict.fromkeys(codes) if len(c) <= MAX_CODE and c.isascii() and c.isalnum()]
    return "{" + ",".join(kept) + "}"


@dataclass(frozen=True)
class Page:
    items: list[Disclosure]
    has_next: bool


async def disclosures_of(db: Database, practitioner_code: str, *, first: int, before: int | None) -> Page:
    """The reads that concerned one practitioner, newest first (by when they were written), `first` at a time."""
    query = select(Disclosure).where(Disclosure.practitioner_codes.contains([practitioner_code]))
    if before is not None:
        query = query.where(Disclosure.id < before)
    async with db.transaction() as session:
        rows = list((await session.scalars(query.order_by(Disclosure.id.desc()).limit(first + 1))).all())
    return Page(rows[:first], len(rows) > first)
