"""Recording a bureau's case decision: points for each responsible person, and the sanctions they bring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.facts import digest
from registry.node import Node
from registry.points import sanctions, store
from registry.points.commands import RecordDecision
from registry.points.facts import DecisionRecorded
from registry.points.models import Decision, PointRecord, Sanction
from registry.points.policy import PolicyBook
from registry.practitioners import lookups
from registry.practitioners.models import Institution


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    entries: list[PointRecord]
    sanctions: list[Sanction]  # imposed or changed by this decision; none when it was a resend


async def record_decision(
    db: Database, cmd: RecordDecision, *, actor: Actor, node: Node, policies: PolicyBook, today: date
) -> DecisionResult:
    """Record the decision and recompute each scored person's year. A resend of the same content returns the
    stored decision and changes nothing; the same case number with other content is DUPLICATE_CASE_NUMBER."""
    raise_if(cmd.problems(today))
    fact = DecisionRecorded.of(cmd)
    content_hash = digest(fact)
    async with db.transaction() as session:
        institution = await session.get(Institution, cmd.institution_code)
        region = None if institution is None else institution.region_code
        access.enforce(access.record_decision(actor, region_code=cmd.region_code, institution_region=region))
        if institution is None:
            raise lookups.unknown_institution(cmd.institution_code, "institution_code")
        codes = [e.practitioner_code for e in cmd.entries]
        people = await lookups.lock_people(session, codes)
        for i, code in enumerate(codes):
            if code not in people:
                raise lookups.unknown_practitioner(code, "entries", i, "practitioner_code")
        stored = await _stored_case(session, cmd, content_hash)
        if stored is not None:
            return stored
        touched = await store.decision(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        changed = await sanctions.recompute(session, policies, touched)
        decision = await session.scalar(
            select(Decision).where(Decision.region_code == cmd.region_code, Decision.case_number == cmd.case_number)
        )
        assert decision is not None
        return DecisionResult(decision, await _entries(session, decision), changed)


async def _stored_case(session: AsyncSession, cmd: RecordDecision, content_hash: str) -> DecisionResult | None:
    """The decision already stored under this case number, when it has the same content.

    One case number is checked and written by one transaction at a time, so that two sends of it at the same moment
    give one decision (or DUPLICATE_CASE_NUMBER), never a constraint error.
    """
    case = f"{cmd.region_code}/{cmd.case_number}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(case, 0))))
    stored = await session.scalar(
        select(Decision).where(Decision.region_code == cmd.region_code, Decision.case_number == cmd.case_number)
    )
    if stored is None:
        return None
    if stored.content_hash != content_hash:
        message = f"case {cmd.case_number} of {cmd.region_code} was recorded with other content"
        raise fail(Code.DUPLICATE_CASE_NUMBER, message, "case_number")
    return DecisionResult(stored, await _entries(session, stored), [])


async def _entries(session: AsyncSession, decision: Decision) -> list[PointRecord]:
    rows = await session.scalars(
        select(PointRecord).where(PointRecord.decision_id == decision.id).order_by(PointRecord.id)
    )
    return list(rows)
