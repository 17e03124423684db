"""Storing each points fact: the same way for this node's own facts and for the replicas of its peers.

Each function returns the person-years the fact touches, which the caller recomputes (once per transaction).
Objections and reviews name their point record as the contract does (the deciding bureau's region, the case number,
the practitioner), and only the node that issued the decision issues them.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import columns_of
from registry.facts import Issued, digest
from registry.points import records, sanctions
from registry.points.commands import DecisionEntry, PointRecordKey
from registry.points.facts import DecisionRecorded, ObjectionFiled, PointsReviewed, RestorationRecorded
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review
from registry.practitioners import lookups

log = logging.getLogger("registry.points")

PersonYear = tuple[str, int]  # (practitioner code, calendar year)


async def decision(session: AsyncSession, fact: DecisionRecorded, at: Issued) -> list[PersonYear]:
    """The decision and a point record per person scored.

    One case number of a region recorded by two nodes (the national node and the province, each before it heard
    of the other's) keeps, on every node, the decision with the lowest (origin, seq), whichever arrived first.
    """
    stored = await session.scalar(
        select(Decision)
        .where(Decision.region_code == fact.region_code, Decision.case_number == fact.case_number)
        .with_for_update()
    )
    if stored is not None:
        case = f"case {fact.region_code}/{fact.case_number}"
        if (stored.origin, stored.origin_seq) <= (at.origin, at.seq):
            log.warning("%s from %s#%s: %s#%s's stands", case, at.origin, at.seq, stored.origin, stored.origin_seq)
            return []
        log.warning("%s from %s#%s replaces %s#%s's", case, at.origin, at.seq, stored.origin, stored.origin_seq)
        return await _replace(session, stored, fact, at)
    decision_id = (
        await session.execute(insert(Decision).values(_columns(fact, at)).returning(Decision.id))
    ).scalar_one()
    session.add_all(_record(decision_id, fact.decided_on, e) for e in fact.entries)
    await session.flush()
    return [(e.practitioner_code, fact.decided_on.year) for e in fact.entries]


async def _replace(session: AsyncSession, stored: Decision, fact: DecisionRecorded, at: Issued) -> list[PersonYear]:
    """Make the stored decision the outranking one, in place. Each person both score keeps their point record, so
    that the sanctions it brought are compared with what follows now (the same decision entered at two nodes
    changes nothing a regulator hears of), not lifted and imposed again; the objections and reviews of the decision
    that gave way go with it, and a person only it scored loses the record and its sanctions (told as LIFTED)."""
    scored = {
        r.practitioner_code: r
        for r in await session.scalars(select(PointRecord).where(PointRecord.decision_id == stored.id))
    }
    await lookups.lock_codes(session, scored)
    touched = [(r.practitioner_code, r.decided_on.year) for r in scored.values()]
    ids = [r.id for r in scored.values()]
    await session.execute(delete(Review).where(Review.point_record_id.in_(ids)))
    await session.execute(delete(Objection).where(Objection.point_record_id.in_(ids)))
    for name, value in _columns(fact, at).items():
        setattr(stored, name, value)
    for e in fact.entries:
        record = scored.pop(e.practitioner_code, None)
        if record is None:
            session.add(_record(stored.id, fact.decided_on, e))
            continue
        record.decided_on, record.points = fact.decided_on, e.points
        record.responsibility, record.suspension_months = e.responsibility, e.suspension_months
    gone = [r.id for r in scored.values()]
    if gone:
        await sanctions.withdraw(session, gone)
        await session.execute(delete(PointRecord).where(PointRecord.id.in_(gone)))
    await session.flush()
    return touched + [(e.practitioner_code, fact.decided_on.year) for e in fact.entries]


def _columns(fact: DecisionRecorded, at: Issued) -> dict[str, Any]:
    return {**columns_of(Decision, fact), "content_hash": digest(fact), **at.columns()}


def _record(decision_id: int, decided_on: date, entry: DecisionEntry) -> PointRecord:
    return PointRecord(
        decision_id=decision_id,
        practitioner_code=entry.practitioner_code,
        decided_on=decided_on,
        points=entry.points,
        responsibility=entry.responsibility,
        suspension_months=entry.suspension_months,
    )


async def record_of(session: AsyncSession, key: PointRecordKey, origin: str) -> tuple[PointRecord, Decision] | None:
    """The point record a case of `origin` gave a person (a case number of another node's is not this one)."""
    found = await records.point_record(session, key)
    return found if found is not None and found[1].origin == origin else None


async def objection(session: AsyncSession, fact: ObjectionFiled, at: Issued) -> list[PersonYear]:
    """A disputed record still counts: nothing to recompute."""
    found = await record_of(session, fact, at.origin)
    if found is None:
        log.warning("objection %s#%s names no record of its origin", at.origin, at.seq)
        return []
    session.add(Objection(point_record_id=found[0].id, statement=fact.statement, **at.columns()))
    await session.flush()
    return []


async def review(session: AsyncSession, fact: PointsReviewed, at: Issued) -> list[PersonYear]:
    found = await record_of(session, fact, at.origin)
    if found is None:
        log.warning("review %s#%s names no record of its origin", at.origin, at.seq)
        return []
    record, decided = found
    session.add(Review(**columns_of(Review, fact), point_record_id=record.id, **at.columns()))
    await session.flush()
    return [(fact.practitioner_code, decided.decided_on.year)]


async def restoration(session: AsyncSession, fact: RestorationRecorded, at: Issued) -> list[PersonYear]:
    session.add(Restoration(**columns_of(Restoration, fact), **at.columns()))
    await session.flush()
    return [(fact.practitioner_code, fact.restored_on.year)]
