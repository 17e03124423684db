"""Point records as they stand, and a person's year replayed from them: the read side every use case shares.

A record's objections and reviews are folded in order by the pure rules; a person-year is replayed by the pure
engine from its records and restorations, under the policy of the person's region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import Code, fail
from registry.points import rules
from registry.points.commands import PointRecordKey
from registry.points.enums import RecordState, Responsibility
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review
from registry.points.policy import PolicyBook
from registry.practitioners.models import Practitioner


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


@dataclass(frozen=True)
class PersonYear:
    """One person's calendar year: the point records as they stand, and what the engine derives from them."""

    records: list[RecordView]
    outcome: rules.YearOutcome


async def find_record(session: AsyncSession, key: PointRecordKey) -> tuple[PointRecord, Decision]:
    """The point record a case gave a person, or UNKNOWN_POINT_RECORD."""
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
    if row is None:
        message = f"no points for {key.practitioner_code} in case {key.case_number} of {key.region_code}"
        raise fail(Code.UNKNOWN_POINT_RECORD, message, "case_number")
    return row[0], row[1]


async def view(session: AsyncSession, record_id: int) -> RecordView:
    (found,) = await views(session, [record_id])
    return found


async def views(session: AsyncSession, record_ids: Sequence[int]) -> list[RecordView]:
    """Point records as they stand: the original facts folded with their objections and reviews, in order."""
    rows = (
        await session.execute(
            select(PointRecord, Decision.case_number, Decision.region_code)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(PointRecord.id.in_(record_ids))
            .order_by(PointRecord.decided_on, PointRecord.id)
        )
    ).all()
    # Objections and reviews of one record are separate mutations, each serialised by the person's row lock,
    # so their commit times order them.
    history: dict[int, list[tuple[datetime, int, Objection | Review]]] = {rid: [] for rid in record_ids}
    for o in await session.scalars(select(Objection).where(Objection.point_record_id.in_(record_ids))):
        history[o.point_record_id].append((o.filed_at, 0, o))
    for r in await session.scalars(select(Review).where(Review.point_record_id.in_(record_ids))):
        history[r.point_record_id].append((r.recorded_at, 1, r))
    found = []
    for record, case_number, region_code in rows:
        ordered = [_record_event(i, fact) for i, (_, _, fact) in enumerate(sorted(history[record.id], key=_when))]
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
            )
        )
    return found


def _when(item: tuple[datetime, int, Objection | Review]) -> tuple[datetime, int, int]:
    return item[0], item[1], item[2].id


def _record_event(sequence: int, fact: Objection | Review) -> rules.RecordEvent:
    if isinstance(fact, Objection):
        return rules.ObjectionFiled(sequence=sequence)
    return rules.Reviewed(
        sequence=sequence, outcome=fact.outcome, points=fact.points, suspension_months=fact.suspension_months
    )


def _year(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


async def person_year(session: AsyncSession, policies: PolicyBook, person: Practitioner, year: int) -> PersonYear:
    """Read the year's records and restorations once, and replay them."""
    ids = list(
        await session.scalars(
            select(PointRecord.id).where(
                PointRecord.practitioner_code == person.code, PointRecord.decided_on.between(*_year(year))
            )
        )
    )
    records = await views(session, ids) if ids else []
    restorations = await session.scalars(
        select(Restoration).where(
            Restoration.practitioner_code == person.code, Restoration.restored_on.between(*_year(year))
        )
    )
    outcome = rules.derive_year(
        [
            rules.PointEntry(
                key=str(r.id),
                decided_on=r.decided_on,
                sequence=r.id,
                points=r.points,
                state=r.state,
                suspension_months=r.suspension_months,
            )
            for r in records
        ],
        [rules.Restoration(restored_on=r.restored_on, points=r.points) for r in restorations],
        lambda on: policies.policy_for(person.region_code, on),
    )
    return PersonYear(records, outcome)
