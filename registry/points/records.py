"""Point records as they stand, and a person's year replayed from them: the read side every use case shares.

A record's objections and reviews are folded in order by the pure rules; a person-year is replayed by the pure
engine from its records and restorations, under the policy of the person's region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import Code, fail
from registry.node import Node
from registry.points import rules
from registry.points.commands import PointRecordKey
from registry.points.enums import RecordState, Responsibility
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review
from registry.points.policy import Policy, PolicyBook

NATIONAL_REGION = "000000"


@dataclass(frozen=True)
class RecordView:
    """A point record as it stands after its objections and reviews."""

    id: int
    case_number: str
    region_code: str
    practitioner_code: str
    points: int
    responsibility: Responsibility
    decided_on: date
    state: RecordState
    suspension_months: int | None
    origin: str  # the node that issued the decision, and its place in that node's log
    origin_seq: int
    decided_points: int  # as the decision gave them, before any review
    decided_months: int | None

    def entry(self, policies: PolicyBook, *, as_decided: bool = False) -> rules.PointEntry:
        """This record for the engine, under the policy of the deciding bureau's region on the decision date."""
        return rules.PointEntry(
            key=str(self.id),
            decided_on=self.decided_on,
            sequence=self.origin_seq,
            origin=self.origin,
            points=self.decided_points if as_decided else self.points,
            state=RecordState.VALID if as_decided else self.state,
            suspension_months=self.decided_months if as_decided else self.suspension_months,
            policy=policies.policy_for(self.region_code, self.decided_on),
        )


@dataclass(frozen=True)
class PersonYear:
    """One person's calendar year: the point records as they stand, what the engine derives from them, and what it
    would derive from the decisions as made (before any review): the sanctions reviews took away are LIFTED."""

    records: list[RecordView]
    outcome: rules.YearOutcome
    as_decided: rules.YearOutcome


async def point_record(session: AsyncSession, key: PointRecordKey) -> tuple[PointRecord, Decision] | None:
    """The point record a case gave a person, named as the contract names it, with its decision."""
    row = (
        await session.execute(
            select(PointRecord, Decision)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(
                Decision.region_code == key.region_code,
                Decision.case_number == key.case_number,
                PointRecord.practitioner_code == key.practitioner_code,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def find_record(session: AsyncSession, key: PointRecordKey, node: Node) -> tuple[PointRecord, Decision]:
    """The point record a case gave a person, or UNKNOWN_POINT_RECORD; WRONG_NODE when another node issued the
    decision: only that node takes its objections and reviews, so that they reach every node in one order."""
    row = await point_record(session, key)
    if row is None:
        message = f"no points for {key.practitioner_code} in case {key.case_number} of {key.region_code}"
        raise fail(Code.UNKNOWN_POINT_RECORD, message, "case_number")
    record, decision = row[0], row[1]
    if decision.origin != node.region:
        message = f"case {key.case_number} was decided at node {decision.origin}: file and review it there"
        raise fail(Code.WRONG_NODE, message, "case_number")
    return record, decision


async def view(session: AsyncSession, record_id: int) -> RecordView:
    (found,) = await views(session, [record_id])
    return found


async def views(session: AsyncSession, record_ids: Sequence[int]) -> list[RecordView]:
    """Point records as they stand: the original facts folded with their objections and reviews, in order."""
    rows = (
        await session.execute(
            select(PointRecord, Decision.case_number, Decision.region_code, Decision.origin, Decision.origin_seq)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(PointRecord.id.in_(record_ids))
            .order_by(PointRecord.decided_on, Decision.origin, Decision.origin_seq, PointRecord.practitioner_code)
        )
    ).all()
    # Only the node that issued a decision issues its objections and reviews: their place in its log orders them.
    history: dict[int, list[Objection | Review]] = {rid: [] for rid in record_ids}
    for o in await session.scalars(select(Objection).where(Objection.point_record_id.in_(record_ids))):
        history[o.point_record_id].append(o)
    for r in await session.scalars(select(Review).where(Review.point_record_id.in_(record_ids))):
        history[r.point_record_id].append(r)
    found = []
    for record, case_number, region_code, origin, origin_seq in rows:
        facts = sorted(history[record.id], key=lambda fact: (fact.origin, fact.origin_seq))
        ordered = [_record_event(i, fact) for i, fact in enumerate(facts)]
        state, points, months = rules.current_record(record.points, record.suspension_months, ordered)
        found.append(
            RecordView(
                id=record.id,
                case_number=case_number,
                region_code=region_code,
                practitioner_code=record.practitioner_code,
                points=points,
                responsibility=record.responsibility,
                decided_on=record.decided_on,
                state=state,
                suspension_months=months,
                origin=origin,
                origin_seq=origin_seq,
                decided_points=record.points,
                decided_months=record.suspension_months,
            )
        )
    return found


def _record_event(sequence: int, fact: Objection | Review) -> rules.RecordEvent:
    if isinstance(fact, Objection):
        return rules.ObjectionFiled(sequence=sequence)
    return rules.Reviewed(
        sequence=sequence, outcome=fact.outcome, points=fact.points, suspension_months=fact.suspension_months
    )


def _year(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


async def person_year(
    session: AsyncSession, policies: PolicyBook, code: str, year: int, home_region: str | None
) -> PersonYear:
    """Read the year's records and restorations once, and replay them (as they stand, and as decided).

    Each decision is judged under its own bureau's policy; `home_region` (the person's, None when not yet known here)
    decides the interview flag.
    """
    ids = list(
        await session.scalars(
            select(PointRecord.id).where(
                PointRecord.practitioner_code == code, PointRecord.decided_on.between(*_year(year))
            )
        )
    )
    records = await views(session, ids) if ids else []
    restorations = [
        rules.Restoration(restored_on=r.restored_on, points=r.points)
        for r in await session.scalars(
            select(Restoration).where(
                Restoration.practitioner_code == code, Restoration.restored_on.between(*_year(year))
            )
        )
    ]

    def home(on: date) -> Policy:
        return policies.policy_for(home_region or NATIONAL_REGION, on)

    return PersonYear(
        records,
        rules.derive_year([r.entry(policies) for r in records], restorations, home, year=year),
        rules.derive_year([r.entry(policies, as_decided=True) for r in records], restorations, home, year=year),
    )
