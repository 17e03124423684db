"""Decisions, objections, reviews, restorations, bureau listings and the policy in force."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from registry import clock
from registry.errors import Code
from registry.points import service
from registry.points.models import Decision as DecisionRow
from registry.points.models import PointRecord as PointRecordRow

from .common import UserError, answer, attempt
from .context import Info
from .eligibility import Sanction, SanctionKind
from .practitioners import PointRecord, Responsibility, sanction_of


@strawberry.enum
class DecisionBasis(Enum):
    ADMINISTRATIVE_PENALTY = "ADMINISTRATIVE_PENALTY"
    AGREEMENT_HANDLING = "AGREEMENT_HANDLING"


@strawberry.enum
class ReviewOutcome(Enum):
    UPHELD = "UPHELD"
    AMENDED = "AMENDED"
    REVOKED = "REVOKED"


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
    def of(cls, row: DecisionRow, entries: list[PointRecordRow]) -> Decision:
        return cls(
            case_number=row.case_number,
            region_code=row.region_code,
            institution_code=row.institution_code,
            basis=DecisionBasis(row.basis),
            decided_on=row.decided_on,
            conduct_from=row.conduct_from,
            conduct_to=row.conduct_to,
            behaviour=row.behaviour,
            amount_involved=row.amount_involved,
            entries=[
                DecisionEntry(
                    practitioner_code=e.practitioner_code,
                    points=e.points,
                    responsibility=Responsibility(e.responsibility),
                    suspension_months=e.suspension_months,
                )
                for e in entries
            ],
        )


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
    amount_involved: Decimal | None = None


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
    decision: Decision | None
    sanctions: list[Sanction] = strawberry.field(description="Every sanction this decision imposed or changed.")
    user_errors: list[UserError]


@strawberry.type
class PointRecordPayload:
    point_record: PointRecord | None
    user_errors: list[UserError]


@strawberry.type
class ReviewPointsPayload:
    point_record: PointRecord | None
    sanctions: list[Sanction] = strawberry.field(description="Every sanction the review imposed, changed or lifted.")
    user_errors: list[UserError]


@strawberry.type
class RecordRestorationPayload:
    points: int | None = strawberry.field(description="The year's total after the restoration.")
    sanctions: list[Sanction]
    user_errors: list[UserError]


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


def _cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(str(row_id).encode()).decode()


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except ValueError:
        raise GraphQLError(
            "`after` is not a cursor from this list", extensions={"code": str(Code.INVALID_INPUT)}
        ) from None


def _criteria(info: Info, where: ListFilter | None, first: int, after: str | None) -> service.ListCriteria:
    where = where or ListFilter()
    return service.ListCriteria(
        actor=info.context.actor,
        region_code=where.region_code,
        institution_code=where.institution_code,
        from_date=where.from_date,
        to_date=where.to_date,
        kind=where.kind.value if where.kind else None,
        first=max(1, min(first, 500)),
        after=_after(after),
    )


@strawberry.type
class PointsQuery:
    @strawberry.field(description="The policy in force for a region on a day.")
    def policy(self, info: Info, region_code: str, on: date | None = None) -> Policy:
        p = info.context.services.policies.policy_for(region_code, on or clock.today())
        return Policy(
            jurisdiction=p.jurisdiction, version=p.version, effective_from=p.effective_from, rules=JSON(p.to_dict())
        )

    @strawberry.field(description="Decisions, newest first, within the caller's jurisdiction.")
    async def decisions(
        self, info: Info, filter: ListFilter | None = None, first: int = 50, after: str | None = None
    ) -> DecisionConnection:
        criteria = _criteria(info, filter, first, after)
        page = await answer(lambda: service.list_decisions(info.context.services.db, criteria))
        return DecisionConnection(
            edges=[DecisionEdge(cursor=_cursor(d.id), node=Decision.of(d, entries)) for d, entries in page.items],
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=(page.items and _cursor(page.items[-1][0].id)) or None
            ),
        )

    @strawberry.field(description="Sanctions, newest first, within the caller's jurisdiction.")
    async def sanctions(
        self, info: Info, filter: ListFilter | None = None, first: int = 50, after: str | None = None
    ) -> SanctionConnection:
        criteria = _criteria(info, filter, first, after)
        page = await answer(lambda: service.list_sanctions(info.context.services.db, criteria))
        return SanctionConnection(
            edges=[SanctionEdge(cursor=_cursor(s.id), node=sanction_of(s)) for s in page.items],
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=(page.items and _cursor(page.items[-1].id)) or None
            ),
        )


@strawberry.type
class PointsMutation:
    @strawberry.mutation(description="Record a case decision: points for each responsible person.")
    async def record_decision(self, info: Info, input: RecordDecisionInput) -> RecordDecisionPayload:
        s = info.context.services
        result, errors = await attempt(
            lambda: service.record_decision(
                s.db,
                node=s.node,
                actor=info.context.actor,
                policies=s.policies,
                today=clock.today(),
                case_number=input.case_number,
                region_code=input.region_code,
                institution_code=input.institution_code,
                basis=input.basis.value,
                decided_on=input.decided_on,
                behaviour=input.behaviour,
                conduct_from=input.conduct_from,
                conduct_to=input.conduct_to,
                amount_involved=input.amount_involved,
                entries=[
                    service.EntryInput(e.practitioner_code, e.points, e.responsibility.value, e.suspension_months)
                    for e in input.entries
                ],
            )
        )
        if result is None:
            return RecordDecisionPayload(decision=None, sanctions=[], user_errors=errors)
        return RecordDecisionPayload(
            decision=Decision.of(result.decision, result.entries),
            sanctions=[sanction_of(x) for x in result.sanctions],
            user_errors=[],
        )

    @strawberry.mutation(description="The practitioner contests a point record (异议申诉).")
    async def file_objection(self, info: Info, input: FileObjectionInput) -> PointRecordPayload:
        s = info.context.services
        view, errors = await attempt(
            lambda: service.file_objection(
                s.db,
                node=s.node,
                actor=info.context.actor,
                case_number=input.case_number,
                region_code=input.region_code,
                practitioner_code=input.practitioner_code,
                statement=input.statement,
            )
        )
        return PointRecordPayload(point_record=None if view is None else PointRecord.of(view), user_errors=errors)

    @strawberry.mutation(description="The bureau reviews a point record (复核): upheld, amended or revoked.")
    async def review_points(self, info: Info, input: ReviewPointsInput) -> ReviewPointsPayload:
        s = info.context.services
        result, errors = await attempt(
            lambda: service.review_points(
                s.db,
                node=s.node,
                actor=info.context.actor,
                policies=s.policies,
                today=clock.today(),
                case_number=input.case_number,
                region_code=input.region_code,
                practitioner_code=input.practitioner_code,
                outcome=input.outcome.value,
                reviewed_on=input.reviewed_on,
                reason=input.reason,
                points=input.points,
                suspension_months=input.suspension_months,
            )
        )
        if result is None:
            return ReviewPointsPayload(point_record=None, sanctions=[], user_errors=errors)
        return ReviewPointsPayload(
            point_record=PointRecord.of(result.record),
            sanctions=[sanction_of(x) for x in result.sanctions],
            user_errors=[],
        )

    @strawberry.mutation(description="Remove points for a qualifying activity (记分修复), where the policy allows it.")
    async def record_restoration(self, info: Info, input: RecordRestorationInput) -> RecordRestorationPayload:
        s = info.context.services
        result, errors = await attempt(
            lambda: service.record_restoration(
                s.db,
                node=s.node,
                actor=info.context.actor,
                policies=s.policies,
                today=clock.today(),
                practitioner_code=input.practitioner_code,
                region_code=input.region_code,
                activity=input.activity,
                restored_on=input.restored_on,
            )
        )
        if result is None:
            return RecordRestorationPayload(points=None, sanctions=[], user_errors=errors)
        return RecordRestorationPayload(
            points=result.points, sanctions=[sanction_of(x) for x in result.sanctions], user_errors=[]
        )
