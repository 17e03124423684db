"""Webhook notifications of sanction changes: durable rows written with the change, delivered by the leader.

Written: `enqueue` runs in the transaction that stores the sanction change (the before-commit hook), so a change
and its notifications commit or vanish together.

Delivered: `deliver_due` is one pass of the worker. It claims due rows in a short transaction (`FOR UPDATE SKIP
LOCKED`) and moves their `next_attempt_at` forward by a lease, commits, POSTs them concurrently outside any
transaction, then records each outcome in its own short transaction, guarded by the lease value it claimed with.
No lock is held across a POST; a process that dies mid-POST leaves a row that is due again when the lease ends,
and the receiver drops the second copy by its `webhook-id`. All state is in the table, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import floor
from typing import Any

import httpx
from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from standardwebhooks import Webhook

from registry.canonical import canonical
from registry.db import Base, Database
from registry.federation.regulators import Regulator, signing_key
from registry.points.changes import SanctionChange
from registry.practitioners.models import Practitioner

# The contract: retried for at least 3 days, the delay doubling from the base up to one hour; 10 s to answer.
HORIZON = timedelta(days=3)
MAX_DELAY_SECONDS = 3600.0
TIMEOUT_SECONDS = 10.0
# Longer than a POST can take (the timeout bounds it), so a live worker always records its outcome first.
LEASE = timedelta(seconds=60)
BATCH = 20
MAX_WAIT_SECONDS = 5.0

_PENDING = "delivered_at IS NULL AND failed_at IS NULL"


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("regulator_id", "webhook_id", name="uq_webhook_deliveries_message"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text(_PENDING)),
        Index("ix_webhook_deliveries_failed", "regulator_id", postgresql_where=text("failed_at IS NOT NULL")),
        Index("ix_webhook_deliveries_delivered", "regulator_id", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    regulator_id: Mapped[int] = mapped_column(ForeignKey("regulators.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(String(36))
    # The exact bytes signed and sent on every attempt (UTF-8), fixed when the change was derived.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Due time; while a worker holds a row it is that worker's lease end (see the module's docstring).
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


def message_id(change: SanctionChange) -> str:
    """The `webhook-id`: a function of the change alone, so every node sends the same id for the same change."""
    identity = {
        "practitioner_code": change.practitioner_code,
        "kind": str(change.kind),
        "region_code": change.region_code,
        "case_number": change.case_number,
        "change": str(change.change),
        "state": str(change.state),
        "starts_on": change.starts_on.isoformat(),
        "ends_on": _iso(change.ends_on),
        "reregistration_allowed_from": _iso(change.reregistration_allowed_from),
    }
    return "msg_" + hashlib.sha256(canonical(identity)).hexdigest()[:32]


def message_body(change: SanctionChange, at: datetime) -> str:
    """The JSON a regulator receives: the contract's `Sanction` fields plus practitionerCode and category."""
    return json.dumps(
        {
            "type": f"sanction.{change.change}",
            "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": {
                "practitionerCode": change.practitioner_code,
                "category": None if change.category is None else str(change.category),
                "kind": str(change.kind),
                "state": str(change.state),
                "startsOn": change.starts_on.isoformat(),
                "endsOn": _iso(change.ends_on),
                "reregistrationAllowedFrom": _iso(change.reregistration_allowed_from),
                "caseNumber": change.case_number,
                "regionCode": change.region_code,
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _iso(day: Any) -> str | None:
    return None if day is None else str(day.isoformat())


async def enqueue(session: AsyncSession, changes: Sequence[SanctionChange], *, at: datetime | None = None) -> int:
    """Write one delivery per change and matching regulator in the caller's transaction; return how many are new.

    `at` is the body's timestamp; by default the transaction's start, the moment every row it writes carries.
    A change that a regulator already has (same `webhook-id`) is not written again. With no change, no query runs.
    """
    if not changes:
        return 0
    regulators = list(await session.scalars(select(Regulator).order_by(Regulator.id)))
    if not regulators:
        return 0
    changes = await _with_person(session, changes)
    if at is None:
        at = (await session.execute(select(func.now()))).scalar_one()
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for change in changes:
        wanted_by = [r.id for r in regulators if r.wants(change.category, change.practitioner_region)]
        if not wanted_by:
            continue
        webhook_id, body = message_id(change), message_body(change, at)
        for regulator_id in wanted_by:
            rows.setdefault(
                (regulator_id, webhook_id), {"regulator_id": regulator_id, "webhook_id": webhook_id, "body": body}
            )
    if not rows:
        return 0
    written = await session.execute(
        insert(WebhookDelivery)
        .values(list(rows.values()))
        .on_conflict_do_nothing(index_elements=["regulator_id", "webhook_id"])
        .returning(WebhookDelivery.id)
    )
    return len(written.all())


async def _with_person(session: AsyncSession, changes: Sequence[SanctionChange]) -> list[SanctionChange]:
    """Fill in a category or region the caller did not know from the practitioner row, when there is one."""
    missing = {c.practitioner_code for c in changes if c.category is None or c.practitioner_region is None}
    if not missing:
        return list(changes)
    found = {
        code: (category, region)
        for code, category, region in await session.execute(
            select(Practitioner.code, Practitioner.category, Practitioner.region_code).where(
                Practitioner.code.in_(sorted(missing))
            )
        )
    }
    filled = []
    for change in changes:
        known = found.get(change.practitioner_code)
        if known is not None and (change.category is None or change.practitioner_region is None):
            change = dataclasses.replace(
                change,
                category=change.category or known[0],
                practitioner_region=change.practitioner_region or known[1],
            )
        filled.append(change)
    return filled


@dataclass(frozen=True)
class _Claimed:
    id: int
    webhook_id: str
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret: str


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def deliver_due(
    db: Database,
    http: httpx.AsyncClient,
    now: datetime,
    retry_base: float,
    *,
    answer_within: float = TIMEOUT_SECONDS,
    batch: int = BATCH,
    lease: timedelta = LEASE,
    max_wait: float = MAX_WAIT_SECONDS,
) -> float:
    """One pass of the worker: deliver up to `batch` due rows; return the seconds until the next one is due.

    `now` (timezone-aware) is the pass's moment: it decides what is due, the retry times, the 3-day horizon and
    the `webhook-timestamp` the rows are signed with; the caller passes the clock, tests drive it.
    The result is at most `max_wait` (so a row enqueued meanwhile waits no longer than that), and 0 when the
    batch was full and more may be due now.
    """
    lease_until = now + lease
    claimed = await _claim(db, now, lease_until, batch)
    if claimed:

        async def attempt(row: _Claimed) -> None:
            # Recorded as soon as it is known, so a crash later in the batch re-sends as little as possible.
            await _record(db, row, await _post(http, row, now, answer_within), now, lease_until, retry_base)

        await asyncio.gather(*(attempt(row) for row in claimed))
        if len(claimed) == batch:
            return 0.0
    async with db.reader() as conn:
        due = (
            await conn.execute(text(f"SELECT min(next_attempt_at) FROM webhook_deliveries WHERE {_PENDING}"))
        ).scalar()
    if due is None:
        return max_wait
    return max(0.0, min((due - now).total_seconds(), max_wait))


async def _claim(db: Database, now: datetime, lease_until: datetime, batch: int) -> list[_Claimed]:
    async with db.transaction() as session:
        result = await session.execute(
            text(
                f"""
                WITH due AS (
                    SELECT id FROM webhook_deliveries
                    WHERE {_PENDING} AND next_attempt_at <= :now
                    ORDER BY next_attempt_at, id
                    LIMIT :batch
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE webhook_deliveries AS d SET next_attempt_at = :lease_until
                FROM due, regulators AS r
                WHERE d.id = due.id AND r.id = d.regulator_id
                RETURNING d.id, d.webhook_id, d.body, d.attempts, d.created_at, r.url, r.secret
                """
            ),
            {"now": now, "lease_until": lease_until, "batch": batch},
        )
        return [_Claimed(*row) for row in result]


async def _post(http: httpx.AsyncClient, row: _Claimed, now: datetime, answer_within: float) -> _Outcome:
    moment = now.astimezone(UTC)
    try:
        # Webhook.sign reads the moment as UTC (it replaces the zone), hence the conversion above.
        signature = Webhook(signing_key(row.secret)).sign(row.webhook_id, moment, row.body)
    except Exception as exc:  # a secret that cannot be used: kept as the row's error, retried after a fix
        return _Outcome(None, f"cannot sign with the regulator's secret: {exc}")
    headers = {
        "content-type": "application/json",
        "webhook-id": row.webhook_id,
        "webhook-timestamp": str(floor(moment.timestamp())),
        "webhook-signature": signature,
    }
    try:
        async with asyncio.timeout(answer_within):
            async with http.stream("POST", row.url, content=row.body.encode(), headers=headers) as response:
                status = response.status_code
    except TimeoutError:
        return _Outcome(None, f"no answer within {answer_within:g} s")
    except httpx.HTTPError as exc:
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    return _Outcome(status, None if 200 <= status < 300 else f"answered HTTP {status}")


async def _record(
    db: Database, row: _Claimed, outcome: _Outcome, now: datetime, lease_until: datetime, retry_base: float
) -> None:
    async with db.transaction() as session:
        if outcome.accepted:
            # Delivered is the truth even if our lease ran out and another worker tried it meanwhile.
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET delivered_at = :now, failed_at = NULL, attempts = attempts + 1,"
                    " last_status = :status, last_error = NULL WHERE id = :id AND delivered_at IS NULL"
                ),
                {"now": now, "status": outcome.status, "id": row.id},
            )
            return
        attempts = row.attempts + 1
        delay = min(retry_base * 2.0 ** min(attempts - 1, 60), MAX_DELAY_SECONDS)
        # Only while the lease is ours: after it ran out another worker owns the row and records its own outcome.
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET attempts = :attempts, last_status = :status, last_error = :error,"
                " next_attempt_at = :next, failed_at = :failed"
                " WHERE id = :id AND next_attempt_at = :lease_until AND delivered_at IS NULL"
            ),
            {
                "attempts": attempts,
                "status": outcome.status,
                "error": outcome.error,
                "next": now + timedelta(seconds=delay),
                "failed": now if now - row.created_at >= HORIZON else None,
                "id": row.id,
                "lease_until": lease_until,
            },
        )


@dataclass(frozen=True)
class RegulatorStatus:
    """One regulator's backlog, as `federationStatus.regulators` shows it."""

    name: str
    url: str
    pending: int  # neither delivered nor given up
    failed: int  # given up after the 3-day horizon
    last_delivered_at: datetime | None


async def regulator_status(db: Database) -> list[RegulatorStatus]:
    async with db.reader() as conn:
        result = await conn.execute(
            text(
                f"""
                SELECT r.name, r.url,
                    (SELECT count(*) FROM webhook_deliveries d WHERE d.regulator_id = r.id AND {_PENDING}),
                    (SELECT count(*) FROM webhook_deliveries d WHERE d.regulator_id = r.id AND failed_at IS NOT NULL),
                    (SELECT max(delivered_at) FROM webhook_deliveries d WHERE d.regulator_id = r.id)
                FROM regulators AS r ORDER BY r.name
                """
            )
        )
        return [RegulatorStatus(*row) for row in result]
