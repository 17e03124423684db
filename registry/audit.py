"""The tamper-evident audit trail: every mutation, with its actor, time, operation, input digest and outcome.

Rows are appended, never changed (a trigger refuses UPDATE, DELETE and TRUNCATE), and hash-chained: each row holds
the SHA-256 of the canonical bytes (RFC 8785 JSON) of the row before it, and of its own. `verify` walks the chain
and names every row that was edited, deleted or moved. Someone who can disable the trigger and rewrite the chain
from a row onwards, hashes included, is caught only against a head kept elsewhere: `verify` prints the head
(seq and hash) to be written down, and checks a head given back (`anchor`).

When: a mutation that commits writes its row IN ITS OWN TRANSACTION (a `before_commit` hook, armed by the API for
the mutation it runs): the change and its audit row commit together or not at all, so no crash can leave a
change unaudited. A mutation that is refused (userErrors) or fails changed nothing; its row is written afterwards
in a transaction of its own, and a crash between the two loses only the record of that refusal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, CheckConstraint, SmallInteger, String, Text, event, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import clock
from registry.auth import Actor
from registry.canonical import canonical
from registry.db import Base, Database, EnumText, one_of

GENESIS = "0" * 64  # the "previous hash" of the first row
PAGE = 5_000  # rows read at a time by verify
MAX_MOVES = 200  # damaged rows among which verify looks for moved ones


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # userErrors; nothing changed
    ERROR = "error"  # a GraphQL error or a bug; nothing changed


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (one_of("outcome", Outcome),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    input_digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(EnumText(Outcome, 16))
    error_codes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last row, in one row: appends lock it (one at a time), and verify sees a deleted tail."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


@dataclass
class Entry:
    """What one mutation leaves in the trail."""

    actor: Actor
    operation: str
    input_digest: str
    outcome: Outcome = Outcome.OK
    error_codes: list[str] = field(default_factory=list)
    written: bool = False


def digest(value: Any) -> str:
    """SHA-256 (hex) of the RFC 8785 canonical JSON of a JSON value."""
    return hashlib.sha256(canonical(value)).hexdigest()


def _content(row: dict[str, Any]) -> dict[str, Any]:
    """A row's hashed content: every column but its own hash."""
    return {
        "seq": row["seq"],
        "at": row["at"].astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "token_id": row["token_id"],
        "operation": row["operation"],
        "input_digest": row["input_digest"],
        "outcome": str(row["outcome"]),
        "error_codes": list(row["error_codes"]),
        "prev_hash": row["prev_hash"],
    }


def row_hash(row: dict[str, Any]) -> str:
    return digest(_content(row))


def append(session: Session, entry: Entry) -> int:
    """Add the entry at the end of the chain, in the session's transaction (which holds the head until it ends)."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).one()
    row: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": clock.now(),
        "actor": entry.actor.subject,
        "token_id": entry.actor.token_id,
        "operation": entry.operation,
        "input_digest": entry.input_digest,
        "outcome": entry.outcome,
        "error_codes": entry.error_codes,
        "prev_hash": head.hash,
    }
    row["hash"] = row_hash(row)
    session.execute(insert(AuditRow).values(row))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=row["seq"], hash=row["hash"]))
    return int(row["seq"])


# --- in the mutation's own transaction --------------------------------------------------------------------------

_armed: ContextVar[tuple[Entry, list[Session]] | None] = ContextVar("registry_audit_entry", default=None)


@contextmanager
def recording(entry: Entry) -> Iterator[None]:
    """While the block runs (one mutation), the first transaction to commit carries the entry's row."""
    token = _armed.set((entry, []))
    try:
        yield
    finally:
        _armed.reset(token)


@event.listens_for(Session, "before_commit")
def _append_before_commit(session: Session) -> None:
    armed = _armed.get()
    if armed is None or armed[0].written or armed[1]:
        return
    session.flush()  # the mutation's own rows first: the head is the last lock its transaction takes
    append(session, armed[0])
    armed[1].append(session)


@event.listens_for(Session, "after_commit")
def _written(session: Session) -> None:
    armed = _armed.get()
    if armed is not None and session in armed[1]:
        armed[0].written = True


@event.listens_for(Session, "after_rollback")
def _not_written(session: Session) -> None:
    armed = _armed.get()
    if armed is not None and session in armed[1]:
        armed[1].remove(session)  # the row went with the transaction; the API writes it on its own


async def write(db: Database, entry: Entry) -> None:
    """The entry's row in a transaction of its own (a refused or failed mutation)."""
    async with db.transaction() as session:
        await session.run_sync(append, entry)
    entry.written = True


# --- verification -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.what}"


@dataclass
class Report:
    rows: int = 0
    head: tuple[int, str] = (0, GENESIS)
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


_COLUMNS = list(AuditRow.__table__.columns)


async def verify(db: Database, *, anchor: tuple[int, str] | None = None) -> Report:
    """Walk the whole chain, in seq order, and name every row that is not as it was appended."""
    report = Report()
    damaged: dict[int, dict[str, Any]] = {}  # rows whose content does not match their own hash, by position
    previous: dict[str, Any] | None = None
    anchored: str | None = None
    async with db.reader() as conn:
        head = (await conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1))).one()
        after = 0
        while True:
            page = await conn.execute(select(*_COLUMNS).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(PAGE))
            rows = [dict(r._mapping) for r in page]
            if not rows:
                break
            for row in rows:
                _check(row, previous, damaged, report)
                if anchor is not None and row["seq"] == anchor[0]:
                    anchored = row["hash"]
                previous = row
                report.rows += 1
            after = rows[-1]["seq"]
    _classify(damaged, report)
    last = previous["seq"] if previous else 0
    if last < head.seq:
        report.findings.append(Finding(last + 1, _deleted(last + 1, head.seq) + " (the head records it)"))
    elif last > head.seq:
        report.findings.append(Finding(head.seq + 1, f"added outside the node (the head says {head.seq})"))
    elif previous is not None and previous["hash"] != head.hash:
        report.findings.append(Finding(last, "rewritten (the head holds another hash)"))
    if anchor is not None and anchored != anchor[1]:
        what = "missing" if anchored is None else "rewritten since the anchor was taken (another hash)"
        report.findings.append(Finding(anchor[0], what))
    report.findings.sort(key=lambda f: f.seq)
    report.head = (last, previous["hash"] if previous else GENESIS)
    return report


def _check(row: dict[str, Any], previous: dict[str, Any] | None, damaged: dict[int, Any], report: Report) -> None:
    expected = previous["seq"] + 1 if previous else 1
    if row["seq"] > expected:
        report.findings.append(Finding(expected, _deleted(expected, row["seq"] - 1)))
    if row_hash(row) != row["hash"]:
        damaged[row["seq"]] = row
        return
    if row["seq"] != expected or (previous is not None and previous["seq"] in damaged):
        return  # already named
    if row["prev_hash"] != (previous["hash"] if previous else GENESIS):
        # Both rows match their own hashes, yet do not chain: one of them was rewritten, hashes included.
        named = previous["seq"] if previous else row["seq"]
        report.findings.append(Finding(named, f"rewritten (row {row['seq']} was chained to another version of it)"))


def _deleted(first: int, last: int) -> str:
    return "deleted" if first == last else f"deleted, and every row after it up to {last}"


def _classify(damaged: dict[int, dict[str, Any]], report: Report) -> None:
    """A damaged row that matches its hash under another damaged row's number was moved there; else edited.
    (Tried among the first MAX_MOVES damaged rows only: the search grows with the square of their number.)"""
    candidates = list(damaged)[:MAX_MOVES]
    for position, row in damaged.items():
        tries = candidates if position in candidates else []
        origin = next((s for s in tries if s != position and row_hash({**row, "seq": s}) == row["hash"]), None)
        if origin is not None:
            report.findings.append(Finding(position, f"reordered (it is row {origin}, moved here)"))
        else:
            report.findings.append(Finding(position, "edited (its content does not match its hash)"))


async def recent(db: Database, last: int) -> list[AuditRow]:
    """The newest rows, oldest first."""
    async with db.transaction() as session:
        rows = (await session.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(last))).all()
    return list(reversed(rows))
