"""A review (复核) of a point record by the deciding bureau: upheld, amended or revoked, and the sanctions follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.points import records, sanctions, store
from registry.points.commands import ReviewPoints
from registry.points.enums import RecordState
from registry.points.facts import PointsReviewed
from registry.points.models import Sanction
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
        await lookups.lock_codes(session, [cmd.practitioner_code])
        record, decision = await records.find_record(session, cmd, node)
        if cmd.reviewed_on < decision.decided_on:
            raise fail(Code.INVALID_INPUT, "the review predates the decision", "reviewed_on")
        if (await records.view(session, record.id)).state is RecordState.REVOKED:
            raise fail(Code.POINT_RECORD_REVOKED, "this point record was already revoked", "case_number")
        fact = PointsReviewed.of(cmd)
        touched = await store.review(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        changed = await sanctions.recompute(session, policies, touched)
        return ReviewResult(await records.view(session, record.id), changed)
