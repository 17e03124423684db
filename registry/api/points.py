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
from .common import INSTITUTION_CODE, REGION_CODE, USER_ERRORS, UserError, allow, answer, attempt, refuse
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

# A point record is named the same way on every node: the deciding bureau's case, and the person scored.
CASE = "The decision's case number: 1 to 64 characters, unique within the deciding bureau's `regionCode`."
DECIDING_REGION = (
    f"The deciding bureau's region ({REGION_CODE}); with `caseNumber` it names the decision. A decision that gave "
    "this person no points is UNKNOWN_POINT_RECORD."
)
SCORED = "The person scored."
JURISDICTION = (
    "national and regulators list everything, a bureau its own region, an institution its own cases; practitioners "
    "get FORBIDDEN"
)


@strawberry.type(description="One person's points as the decision gave them (reviews show on their `pointRecords`).")
class DecisionEntry:
    practitioner_code: str = strawberry.field(description=SCORED)
    points: int = strawberry.field(description="1 to 12, as decided.")
    responsibility: Responsibility = strawberry.field(description="The person's degree of responsibility.")
    suspension_months: int | None = strawberry.field(
        description="The months (1 to 6) the bureau chose for a suspension these points bring; null: the policy's "
        "default."
    )


@strawberry.type(description="A bureau's case decision (行政处罚 or 协议处理) and the points it gave.")
class Decision:
    case_number: str = strawberry.field(
        description="The bureau's case number (黔医保罚〔2025〕1号), unique within `regionCode`."
    )
    region_code: str = strawberry.field(description=f"The deciding bureau's region ({REGION_CODE}).")
    institution_code: str = strawberry.field(description="The institution sanctioned for the conduct.")
    basis: DecisionBasis = strawberry.field(description="How the institution was sanctioned.")
    decided_on: date = strawberry.field(
        description="The decision date: its points count in that calendar year, and the sanctions it brings start "
        "on it."
    )
    conduct_from: date | None = strawberry.field(description="The first day of the conduct; null when not stated.")
    conduct_to: date | None = strawberry.field(description="The last day of the conduct; null when not stated.")
    behaviour: str = strawberry.field(description="What was done, as the decision states it.")
    amount_involved: Decimal | None = strawberry.field(
        description="The amount involved, in yuan; null when not stated."
    )
    entries: list[DecisionEntry] = strawberry.field(description="One per person scored.")

    @classmethod
    def of(cls, row: rows.Decision, entries: list[rows.PointRecord]) -> Decision:
        return output(cls, row, entries=[output(DecisionEntry, e) for e in entries])


@strawberry.input(description="One person scored by the decision.")
class DecisionEntryInput:
    practitioner_code: str = strawberry.field(
        description="A known practitioner (else UNKNOWN_PRACTITIONER), registered anywhere (多点执业); once per "
        "decision (else INVALID_INPUT)."
    )
    points: int = strawberry.field(description="1 to 12, else POINTS_OUT_OF_RANGE.")
    responsibility: Responsibility = strawberry.field(description="The person's degree of responsibility.")
    suspension_months: int | None = strawberry.field(
        default=None,
        description="1 to 6, used when this decision brings a suspension; policy default when absent. Else "
        "SUSPENSION_MONTHS_OUT_OF_RANGE.",
    )


@strawberry.input(
    description="A bureau's case decision: the institution was sanctioned (行政处罚 or 协议处理), and each responsible "
    "person gets points."
)
class RecordDecisionInput:
    case_number: str = strawberry.field(
        description=f"{CASE} The same decision sent again returns the stored one; other content under its case "
        "number is DUPLICATE_CASE_NUMBER."
    )
    region_code: str = strawberry.field(
        description=f"The deciding bureau's region ({REGION_CODE}). The caller must act for it, and it must cover the "
        "institution's region (else FORBIDDEN)."
    )
    institution_code: str = strawberry.field(
        description=f"The institution sanctioned for the conduct ({INSTITUTION_CODE}); registered, else "
        "UNKNOWN_INSTITUTION."
    )
    basis: DecisionBasis = strawberry.field(description="How the institution was sanctioned.")
    decided_on: date = strawberry.field(
        description="The decision date; not after today (DATE_IN_FUTURE). Its points count in that calendar year, "
        "and the sanctions they bring start on it."
    )
    behaviour: str = strawberry.field(description="What was done: 1 to 4000 characters, line breaks allowed.")
    entries: list[DecisionEntryInput] = strawberry.field(
        description="The people scored: at least one, each once (else INVALID_INPUT)."
    )
    conduct_from: date | None = strawberry.field(
        default=None,
        description="The first day of the conduct, if known: not after `conductTo` (INVALID_INPUT) or today "
        "(DATE_IN_FUTURE).",
    )
    conduct_to: date | None = strawberry.field(
        default=None,
        description="The last day of the conduct, if known: not after `decidedOn` (INVALID_INPUT) or today "
        "(DATE_IN_FUTURE).",
    )
    amount_involved: Decimal | None = strawberry.field(
        default=None,
        description='Yuan, 0 to 99999999999999.99 with at most 2 decimals; send it as a string ("12345.60").',
    )


@strawberry.input(description="An objection (异议申诉) to one point record.")
class FileObjectionInput:
    case_number: str = strawberry.field(description=CASE)
    region_code: str = strawberry.field(description=DECIDING_REGION)
    practitioner_code: str = strawberry.field(description=SCORED)
    statement: str = strawberry.field(description="The objection: 1 to 4000 characters, line breaks allowed.")


@strawberry.input(description="A review (复核) of one point record by the deciding bureau.")
class ReviewPointsInput:
    case_number: str = strawberry.field(description=CASE)
    region_code: str = strawberry.field(description=DECIDING_REGION)
    practitioner_code: str = strawberry.field(description=SCORED)
    outcome: ReviewOutcome = strawberry.field(description="Upheld, amended or revoked.")
    reviewed_on: date = strawberry.field(
        description="The review date: not before the decision (INVALID_INPUT), not after today (DATE_IN_FUTURE)."
    )
    reason: str = strawberry.field(description="Why: 1 to 4000 characters, line breaks allowed.")
    points: int | None = strawberry.field(
        default=None,
        description="Required for AMENDED: the new points, 1 to 12 (else POINTS_OUT_OF_RANGE). Given with another "
        "outcome: INVALID_INPUT.",
    )
    suspension_months: int | None = strawberry.field(
        default=None,
        description="AMENDED only: the new choice of months, 1 to 6 (else SUSPENSION_MONTHS_OUT_OF_RANGE); null "
        "keeps the decided choice.",
    )


@strawberry.input(
    description="A qualifying activity (training, policy publicity, inspections) that removes points (记分修复)."
)
class RecordRestorationInput:
    practitioner_code: str = strawberry.field(
        description="A known practitioner (else UNKNOWN_PRACTITIONER) of the bureau's jurisdiction (else FORBIDDEN)."
    )
    region_code: str = strawberry.field(
        description=f"The bureau that accepts the activity ({REGION_CODE}). Its policy on `restoredOn` decides the "
        "points removed (1 per activity in Tianjin), the yearly cap (4 in Tianjin) and whether a terminated person "
        "may restore."
    )
    activity: str = strawberry.field(
        description="What the person took part in: 1 to 2000 characters, line breaks allowed."
    )
    restored_on: date = strawberry.field(
        description="The day; not after today (DATE_IN_FUTURE). The points leave that calendar year's total."
    )


@strawberry.type(description="What `recordDecision` did.")
class RecordDecisionPayload:
    decision: Decision | None = strawberry.field(
        default=None,
        description="The decision as stored (a resend's too); null when `userErrors` is not empty.",
    )
    sanctions: list[Sanction] = strawberry.field(
        default_factory=list,
        description="Every sanction this decision imposed or changed; empty for a resend.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="What `fileObjection` did.")
class PointRecordPayload:
    point_record: PointRecord | None = strawberry.field(
        description="The point record, now DISPUTED; null when `userErrors` is not empty."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What `reviewPoints` did.")
class ReviewPointsPayload:
    point_record: PointRecord | None = strawberry.field(
        default=None, description="The point record as the review left it; null when `userErrors` is not empty."
    )
    sanctions: list[Sanction] = strawberry.field(
        default_factory=list, description="Every sanction the review imposed, changed or lifted."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="What `recordRestoration` did.")
class RecordRestorationPayload:
    points: int | None = strawberry.field(
        default=None,
        description="The year's total after the restoration; null when `userErrors` is not empty.",
    )
    sanctions: list[Sanction] = strawberry.field(
        default_factory=list, description="Every sanction the restoration changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(
    description="A jurisdiction's rules for points and sanctions, in force from a day: the national policy laid "
    "under a province's own values. Public."
)
class Policy:
    jurisdiction: str = strawberry.field(
        description='"national", or the 2-digit code of the province whose file states it ("12" for Tianjin).'
    )
    version: str = strawberry.field(
        description="The version's label (tianjin-2025.1); each sanction names the one it was derived under."
    )
    effective_from: date = strawberry.field(description="The first day this version is in force.")
    rules: JSON = strawberry.field(
        description="Every value of the policy, as its file states it (snake_case keys): thresholds "
        "(interview_threshold, null for none; suspension_threshold; termination_threshold), suspension months "
        "(min/max, default tables by points), re-registration bars in years, restoration (points per activity, 0 for "
        "none; yearly cap; after termination), the emergency exceptions, and statement and objection days."
    )


@strawberry.type(description="Where a page of a listing ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows: ask for it with `after`.")
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor, to send as `after`; null for an empty page."
    )

    @classmethod
    def of(cls, has_next: bool, last_id: int | None) -> PageInfo:
        return cls(has_next_page=has_next, end_cursor=None if last_id is None else mapping.cursor(last_id))


CURSOR = "This item's place in the listing: send it as `after` to read on from here."


@strawberry.type(description="A decision and its place in the listing.")
class DecisionEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Decision = strawberry.field(description="The decision.")


@strawberry.type(description="A page of decisions, newest first.")
class DecisionConnection:
    edges: list[DecisionEdge] = strawberry.field(description="The page's decisions.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows, and from where.")


@strawberry.type(description="A sanction and its place in the listing.")
class SanctionEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Sanction = strawberry.field(description="The sanction.")


@strawberry.type(description="A page of sanctions, newest first.")
class SanctionConnection:
    edges: list[SanctionEdge] = strawberry.field(description="The page's sanctions.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows, and from where.")


@strawberry.input(description="What a listing shows; every field given must match. Bad codes are INVALID_CODE.")
class ListFilter:
    region_code: str | None = strawberry.field(
        default=None,
        description="A bureau's region; 520000 covers 52xxxx. A bureau lists its own region when none is given, and "
        "gets FORBIDDEN outside it.",
    )
    institution_code: str | None = strawberry.field(
        default=None,
        description="Cases about this institution. An institution always lists its own (another's: FORBIDDEN).",
    )
    from_date: date | None = strawberry.field(
        default=None, description="The first day (inclusive) of `decidedOn` for decisions, of `startsOn` for sanctions."
    )
    to_date: date | None = strawberry.field(
        default=None, description="The last day (inclusive) of `decidedOn` for decisions, of `startsOn` for sanctions."
    )
    kind: SanctionKind | None = strawberry.field(default=None, description="Sanctions only.")


Filter = Annotated[
    ListFilter | None, strawberry.argument(description="Narrows the listing; null: everything the caller may list.")
]


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
        "that is not a GB/T 2260 code is INVALID_CODE. Any caller: policies are published rules."
    )
    def policy(
        self,
        info: Info,
        region_code: Annotated[
            str,
            strawberry.argument(
                description="The region; its province's policy, or the national one where the province has none."
            ),
        ],
        on: Annotated[
            date | None,
            strawberry.argument(
                description="The day (default: today in China); outside 1900-01-01 to 2100-12-31, INVALID_INPUT."
            ),
        ] = None,
    ) -> Policy:
        refuse(checks.region(region_code, "region_code"), checks.day(on, "on"))
        allow(access.read_policy(info.context.actor, region_code=region_code))
        p = info.context.policies.policy_for(region_code, on or clock.today())
        return output(Policy, p, rules=JSON(p.to_dict()))

    @strawberry.field(description=f"Decisions, newest first, within the caller's jurisdiction: {JURISDICTION}.")
    async def decisions(
        self, info: Info, filter: Filter = None, first: First = 50, after: After = None
    ) -> DecisionConnection:
        c = info.context
        page = await answer(queries.list_decisions(c.db, _criteria(filter, first, after), actor=c.actor))
        edges = [DecisionEdge(cursor=mapping.cursor(d.id), node=Decision.of(d, entries)) for d, entries in page.items]
        last = page.items[-1][0].id if page.items else None
        return DecisionConnection(edges=edges, page_info=PageInfo.of(page.has_next, last))

    @strawberry.field(
        description=f"Sanctions, newest first, within the caller's jurisdiction: {JURISDICTION}. An institution's are "
        "those its cases brought."
    )
    async def sanctions(
        self, info: Info, filter: Filter = None, first: First = 50, after: After = None
    ) -> SanctionConnection:
        c = info.context
        page = await answer(queries.list_sanctions(c.db, _criteria(filter, first, after), actor=c.actor))
        edges = [SanctionEdge(cursor=mapping.cursor(s.id), node=Sanction.of(s)) for s in page.items]
        last = page.items[-1].id if page.items else None
        return SanctionConnection(edges=edges, page_info=PageInfo.of(page.has_next, last))


@strawberry.type
class PointsMutation:
    @strawberry.mutation(
        description="Record a case decision: points for each responsible person, and the suspensions and "
        "terminations they bring. National, or a bureau covering `regionCode` and the institution's region. Sending "
        "the same decision again returns the stored one and changes nothing."
    )
    async def record_decision(
        self, info: Info, input: Annotated[RecordDecisionInput, strawberry.argument(description="The decision.")]
    ) -> RecordDecisionPayload:
        c = info.context
        cmd = command(commands.RecordDecision, input)
        result, errors = await attempt(
            decisions.record_decision(c.db, cmd, actor=c.actor, node=c.node, policies=c.policies, today=clock.today())
        )
        if result is None:
            return RecordDecisionPayload(user_errors=errors)
        decision = Decision.of(result.decision, result.entries)
        return RecordDecisionPayload(decision=decision, sanctions=_sanctions(result.sanctions))

    @strawberry.mutation(
        description="The practitioner contests a point record (异议申诉): it becomes DISPUTED, and its points still "
        "count until the review. The person scored, national, or a bureau covering the deciding region (an objection "
        "received on paper); at the node that recorded the decision (else WRONG_NODE)."
    )
    async def file_objection(
        self, info: Info, input: Annotated[FileObjectionInput, strawberry.argument(description="The objection.")]
    ) -> PointRecordPayload:
        c = info.context
        cmd = command(commands.FileObjection, input)
        view, errors = await attempt(objections.file_objection(c.db, cmd, actor=c.actor, node=c.node))
        return PointRecordPayload(point_record=None if view is None else output(PointRecord, view), user_errors=errors)

    @strawberry.mutation(
        description="The bureau reviews a point record (复核): upheld, amended or revoked; the sanctions derived from "
        "it follow at once. National or a bureau covering the deciding region; at the node that recorded the "
        "decision (else WRONG_NODE)."
    )
    async def review_points(
        self, info: Info, input: Annotated[ReviewPointsInput, strawberry.argument(description="The review.")]
    ) -> ReviewPointsPayload:
        c = info.context
        cmd = command(commands.ReviewPoints, input)
        result, errors = await attempt(
            reviews.review_points(c.db, cmd, actor=c.actor, node=c.node, policies=c.policies, today=clock.today())
        )
        if result is None:
            return ReviewPointsPayload(user_errors=errors)
        record = output(PointRecord, result.record)
        return ReviewPointsPayload(point_record=record, sanctions=_sanctions(result.sanctions))

    @strawberry.mutation(
        description="Remove points for a qualifying activity (记分修复), where the policy allows it: national or a "
        "bureau covering the person's region. The granting bureau's policy may refuse it: RESTORATION_NOT_ALLOWED, "
        "RESTORATION_AFTER_TERMINATION, RESTORATION_CAP_EXCEEDED."
    )
    async def record_restoration(
        self, info: Info, input: Annotated[RecordRestorationInput, strawberry.argument(description="The activity.")]
    ) -> RecordRestorationPayload:
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
