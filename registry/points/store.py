"""Storing each points fact: the same way for this node's own facts and for the replicas of its peers.

Each function returns the person-years the fact touches, which the caller recomputes (once per transaction).
Objections and reviews name their point record as the contract does (the deciding bureau's region, the case number,
the practitioner), and only the node that issued the decision issues them.
"""

from __future__ import annotations

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import columns_of
from registry.facts import Issued, digest
from registry.points import records
from registry.points.commands import PointRecordKey
from registry.points.facts import DecisionRecorded, ObjectionFiled, PointsReviewed, RestorationRecorded
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review

log = logging.getLogger("registry.points")

PersonYear = tuple[str, int]  # (practitioner code, calendar year)


async def decision(session: AsyncSession, fact: DecisionRecorded, at: Issued) -> list[PersonYear]:
    """The decision and a point record per person scored. A case number of the region already taken by another
    node's decision (the national node and a province recording the same case) keeps the first one stored."""
    decision_id = await session.scalar(
        insert(Decision)
        .values(
            region_code=fact.region_code,
            case_number=fact.case_number,
            institution_code=fact.institution_code,
            basis=fact.basis,
            decided_on=fact.decided_on,
            conduct_from=fact.conduct_from,
            conduct_to=fact.conduct_to,
            behaviour=fact.behaviour,
            amount_involved=fact.amount_involved,
            content_hash=digest(fact),
            **at.columns(),
        )
        .on_conflict_do_nothing(index_elements=["region_code", "case_number"])
        .returning(Decision.id)
    )
    if decision_id is None:
        log.warning(
            "case %s/%s from %s#%s is already recorded by another node",
            fact.region_code,
            fact.case_number,
            at.origin,
            at.seq,
        )
        return []
    session.add_all(
        PointRecord(
            decision_id=decision_id,
            practitioner_code=e.practitioner_code,
            decided_on=fact.decided_on,
            points=e.points,
            responsibility=e.responsibility,
            suspension_months=e.suspension_months,
        )
        for e in fact.entries
    )
    await session.flush()
    return [(e.practitioner_code, fact.decided_on.year) for e in fact.entries]


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
