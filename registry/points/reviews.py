"""A review (复核) of a point record by the deciding bureau: upheld, amended or revoked, and the sanctions follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database, columns_of
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.points import records, sanctions
from registry.points.commands import ReviewPoints
from registry.points.enums import RecordState
from registry.points.facts import PointsReviewed
from registry.points.models import Review, Sanction
from registry.points.policy import PolicyBook
from registry.practitioners import lookups


@dataclass(frozen=True)
class ReviewResult:
    record: records.RecordView
    sanctions: list[Sanction]  # imposed, changed or lifted by the review


async def review_points(
    db: Database, cmd: ReviewPoints, *, actor: Actor, node: Node, policies: PolicyBook, today: date
) -> ReviewResult:
    raise_if(cmd.problems(today))
    access.enforce(access.review_points(actor, region_code=cmd.region_code))
    async with db.transaction() as session:
        people = await lookups.lock_people(session, [cmd.practitioner_code])
        record, decision = await records.find_record(session, cmd)
        if cmd.reviewed_on < decision.decided_on:
            raise fail(Code.INVALID_INPUT, "the review predates the decision", "reviewed_on")
        if (await records.view(session, record.id)).state is RecordState.REVOKED:
            raise fail(Code.POINT_RECORD_REVOKED, "this point record was already revoked", "case_number")
        session.add(Review(**columns_of(Review, cmd), point_record_id=record.id, recorded_by=actor.subject))
        await session.flush()
        await eventlog.append(session, PointsReviewed.of(cmd), node=node.region, actor=actor.subject)
        person = people[cmd.practitioner_code]
        recomputed = await sanctions.recompute_year(
            session, node=node, actor=actor, policies=policies, person=person, year=decision.decided_on.year
        )
        return ReviewResult(await records.view(session, record.id), recomputed.changed)
