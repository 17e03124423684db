"""Decisions, objections, reviews, restorations, bureau listings and the policy in force."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from registry import access, checks, clock
from registry.points import commands, decisions, objections, queries, restorations, reviews
from registry.points import models as rows

from . import mapping
from .common import UserError, allow, answer, attempt, refuse
from .context import Info
from .eligibility import Sanction
from .enums import DecisionBasis, Responsibility, ReviewOutcome, SanctionKind
from .mapping import command, output
from .practitioners import PointRecord

First = Annotated[
    int, strawberry.argument(description=f"Page size: 1 to {mapping.MAX_PAGE}; any other value is INVALID_INPUT.")
]
After = Annotated[
    str | None,
    strawberry.argument(description="The `endCursor` of the previous page; any other string is INVALID_INPUT."),
]


@strawberry.type
class DecisionEntry:
    practitioner_code: str
    points: int
    responsibility: Responsibility
    suspension_months: int | None


@strawberry.type(description="A bureau's case decision (行政处罚 or 协议处理) and the points it gave.")
class Decision:
    case_number: str
    region_code: str
    institution_code: str
    basis: DecisionBasis
    decided_on: date
    conduct_from: date | None
    conduct_to: date | None
    behaviour: str
    amount_involved: Decimal | None
    entries: list[DecisionEntry]

    @classmethod
    def of(cls, row: rows.Decision, entries: list[rows.PointRecord]) -> Decision:
        return output(cls, row, entries=[output(DecisionEntry, e) for e in entries])


@strawberry.input
class DecisionEntryInput:
    practitioner_code: str
    points: int = strawberry.field(description="1 to 12.")
    responsibility: Responsibility
    suspension_months: int | None = strawberry.field(
        default=None,
        description="1 to 6, used when this decision brings a suspension; policy default when absent.",
    )


@strawberry.input
class RecordDecisionInput:
    case_number: str
    region_code: str = strawberry.field(description="The deciding bureau.")
    institution_code: str
    basis: DecisionBasis
    decided_on: date
    behaviour: str
    entries: list[DecisionEntryInput]
    conduct_from: date | None = None
    conduct_to: date | None = None
    amount_involved: Decimal | None = strawberry.field(
        default=None,
        description='Yuan, 0 to 99999999999999.99 with at most 2 decimals; send it as a string ("12345.60").',
    )


@strawberry.input
class FileObjectionInput:
    case_number: str
    region_code: str
    practitioner_code: str
    statement: str


@strawberry.input
class ReviewPointsInput:
    case_number: str
    region_code: str
    practitioner_code: str
    outcome: ReviewOutcome
    reviewed_on: date
    reason: str
    points: int | None = strawberry.field(default=None, description="Required for AMENDED.")
    suspension_months: int | None = None


@strawberry.input
class RecordRestorationInput:
    practitioner_code: str
    region_code: str = strawberry.field(description="The bureau that accepts the activity.")
    activity: str
    restored_on: date


@strawberry.type
class RecordDecisionPayload:
    decision: Decision | None = None
    sanctions: list[Sanction] = strawberry.field(
        default_factory=list, description="Every sanction this decision imposed or changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PointRecordPayload:
    point_record: PointRecord | None
    user_errors: list[UserError]


@strawberry.type
class ReviewPointsPayload:
    point_record: PointRecord | None = None
    sanctions: list[Sanction] = strawberry.field(
        default_factory=list, description="Every sanction the review imposed, changed or lifted."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordRestorationPayload:
    points: int | None = strawberry.field(default=None, description="The year's total after the restoration.")
    sanctions: list[Sanction] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Policy:
    jurisdiction: str
    version: str
    effective_from: date
    rules: JSON = strawberry.field(description="Every value of the policy, as its file states it.")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, has_next: bool, last_id: int | None) -> PageInfo:
        return cls(has_next_page=has_next, end_cursor=None if last_id is None else mapping.cursor(last_id))


@strawberry.type
class DecisionEdge:
    cursor: str
    node: Decision


@strawberry.type
class DecisionConnection:
    edges: list[DecisionEdge]
    page_info: PageInfo


@strawberry.type
class SanctionEdge:
    cursor: str
    node: Sanction


@strawberry.type
class SanctionConnection:
    edges: list[SanctionEdge]
    page_info: PageInfo


@strawberry.input
class ListFilter:
    region_code: str | None = strawberry.field(default=None, description="A bureau's region; 520000 covers 52xxxx.")
    institution_code: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    kind: SanctionKind | None = strawberry.field(default=None, description="Sanctions only.")


def _criteria(where: ListFilter | None, first: int, after: str | None) -> commands.ListCriteria:
    criteria = command(commands.ListCriteria, where or ListFilter(), first=first, after=mapping.cursor_id(after))
    refuse(
        mapping.page_size(first, "first"),
        mapping.after(after, "after"),
        *(replace(p, field=("filter", *(p.field or ()))) for p in criteria.problems()),
    )
    return criteria


@strawberry.type
class PointsQuery:
    @strawberry.field(
        description="The policy in force for a region (6 digits of GB/T 2260) on a day (default: today); a region "
        "that is not a GB/T 2260 code is INVALID_CODE."
    )
    def policy(self, info: Info, region_code: str, on: date | None = None) -> Policy:
        refuse(checks.region(region_code, "region_code"), checks.day(on, "on"))
        allow(access.read_policy(info.context.actor, region_code=region_code))
        p = info.context.policies.policy_for(region_code, on or clock.today())
        return output(Policy, p, rules=JSON(p.to_dict()))

    @strawberry.field(description="Decisions, newest first, within the caller's jurisdiction.")
    async def decisions(
        self, info: Info, filter: ListFilter | None = None, first: First = 50, after: After = None
    ) -> DecisionConnection:
        c = info.context
        page = await answer(queries.list_decisions(c.db, _criteria(filter, first, after), actor=c.actor))
        edges = [DecisionEdge(cursor=mapping.cursor(d.id), node=Decision.of(d, entries)) for d, entries in page.items]
        last = page.items[-1][0].id if page.items else None
        return DecisionConnection(edges=edges, page_info=PageInfo.of(page.has_next, last))

    @strawberry.field(description="Sanctions, newest first, within the caller's jurisdiction.")
    async def sanctions(
        self, info: Info, filter: ListFilter | None = None, first: First = 50, after: After = None
    ) -> SanctionConnection:
        c = info.context
        page = await answer(queries.list_sanctions(c.db, _criteria(filter, first, after), actor=c.actor))
        edges = [SanctionEdge(cursor=mapping.cursor(s.id), node=Sanction.of(s)) for s in page.items]
        last = page.items[-1].id if page.items else None
        return SanctionConnection(edges=edges, page_info=PageInfo.of(page.has_next, last))


@strawberry.type
class PointsMutation:
    @strawberry.mutation(description="Record a case decision: points for each responsible person.")
    async def record_decision(self, info: Info, input: RecordDecisionInput) -> RecordDecisionPayload:
        c = info.context
        cmd = command(commands.RecordDecision, input)
        result, errors = await attempt(
            decisions.record_decision(c.db, cmd, actor=c.actor, node=c.node, policies=c.policies, today=clock.today())
        )
        if result is None:
            return RecordDecisionPayload(user_errors=errors)
        decision = Decision.of(result.decision, result.entries)
        return RecordDecisionPayload(decision=decision, sanctions=_sanctions(result.sanctions))

    @strawberry.mutation(description="The practitioner contests a point record (异议申诉).")
    async def file_objection(self, info: Info, input: FileObjectionInput) -> PointRecordPayload:
        c = info.context
        cmd = command(commands.FileObjection, input)
        view, errors = await attempt(objections.file_objection(c.db, cmd, actor=c.actor, node=c.node))
        return PointRecordPayload(point_record=None if view is None else output(PointRecord, view), user_errors=errors)

    @strawberry.mutation(description="The bureau reviews a point record (复核): upheld, amended or revoked.")
    async def review_points(self, info: Info, input: ReviewPointsInput) -> ReviewPointsPayload:
        c = info.context
        cmd = command(commands.ReviewPoints, input)
        result, errors = await attempt(
            reviews.review_points(c.db, cmd, actor=c.actor, node=c.node, policies=c.policies, today=clock.today())
        )
        if result is None:
            return ReviewPointsPayload(user_errors=errors)
        record = output(PointRecord, result.record)
        return ReviewPointsPayload(point_record=record, sanctions=_sanctions(result.sanctions))

    @strawberry.mutation(description="Remove points for a qualifying activity (记分修复), where the policy allows it.")
    async def record_restoration(self, info: Info, input: RecordRestorationInput) -> RecordRestorationPayload:
        c = info.context
        cmd = command(commands.RecordRestoration, input)
        result, errors = await attempt(
            restorations.record_restoration(
                c.db, cmd, actor=c.actor, node=c.node, policies=c.policies, today=clock.today()
            )
        )
        if result is None:
            return RecordRestorationPayload(user_errors=errors)
        return RecordRestorationPayload(points=result.points, sanctions=_sanctions(result.sanctions))


def _sanctions(changed: list[rows.Sanction]) -> list[Sanction]:
    return [Sanction.of(s) for s in changed]
