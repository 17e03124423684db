"""Points use cases: decisions, objections, reviews, restorations, and the recomputation of a person's year.

Every use case is one transaction. Whenever a fact changes a person's year, the whole year is recomputed by the
pure rules engine and the stored sanctions are brought in line with it; each difference is an event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import eventlog
from registry.auth import Actor, Role
from registry.db import Database
from registry.errors import Code, Problem, check_not_future, check_region, check_text, fail, raise_if
from registry.points import rules
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review, Sanction
from registry.points.policy import PolicyBook
from registry.practitioners.models import Institution, Practitioner
from registry.practitioners.service import Node
from registry.validation import is_institution_code, is_practitioner_code, region_prefix

T = TypeVar("T")
BASES = ("ADMINISTRATIVE_PENALTY", "AGREEMENT_HANDLING")
RESPONSIBILITIES = ("MAIN", "IMPORTANT", "GENERAL")


@dataclass(frozen=True)
class EntryInput:
    practitioner_code: str
    points: int
    responsibility: str
    suspension_months: int | None = None


@dataclass(frozen=True)
class RecordView:
    """A point record as it stands after its objections and reviews."""

    id: int
    case_number: str
    region_code: str
    practitioner_code: str
    points: int
    responsibility: str
    decided_on: date
    state: rules.RecordState
    suspension_months: int | None


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    entries: list[PointRecord]
    sanctions: list[Sanction]


@dataclass(frozen=True)
class ReviewResult:
    record: RecordView
    sanctions: list[Sanction]


@dataclass(frozen=True)
class RestorationResult:
    restoration: Restoration
    points: int
    sanctions: list[Sanction]


def _months_problem(problems: list[Problem], months: int | None, *field: str) -> None:
    if months is not None and not 1 <= months <= 6:
        problems.append(Problem(Code.SUSPENSION_MONTHS_OUT_OF_RANGE, "suspension months are 1 to 6", field))


def _points_problem(problems: list[Problem], points: int | None, *field: str) -> None:
    if points is not None and not 1 <= points <= 12:
        problems.append(Problem(Code.POINTS_OUT_OF_RANGE, "one decision gives 1 to 12 points", field))


def _content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


async def _lock_people(session: AsyncSession, codes: Sequence[str]) -> dict[str, Practitioner]:
    """Lock the people in a fixed order: concurrent decisions for one person then recompute one after the other."""
    rows = await session.scalars(
        select(Practitioner).where(Practitioner.code.in_(codes)).order_by(Practitioner.code).with_for_update()
    )
    return {row.code: row for row in rows}


async def record_decision(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    policies: PolicyBook,
    today: date,
    case_number: str,
    region_code: str,
    institution_code: str,
    basis: str,
    decided_on: date,
    behaviour: str,
    entries: Sequence[EntryInput],
    conduct_from: date | None = None,
    conduct_to: date | None = None,
    amount_involved: Decimal | None = None,
) -> DecisionResult:
    problems: list[Problem] = []
    check_text(problems, case_number, 64, "input", "caseNumber")
    check_region(problems, region_code, "input", "regionCode")
    if not is_institution_code(institution_code):
        problems.append(Problem(Code.INVALID_CODE, "not an institution code", ("input", "institutionCode")))
    if basis not in BASES:
        problems.append(Problem(Code.INVALID_INPUT, f"unknown basis {basis}", ("input", "basis")))
    check_text(problems, behaviour, 4000, "input", "behaviour")
    for name, value in (("decidedOn", decided_on), ("conductFrom", conduct_from), ("conductTo", conduct_to)):
        check_not_future(problems, value, today, "input", name)
    if conduct_from and conduct_to and conduct_from > conduct_to:
        problems.append(Problem(Code.INVALID_INPUT, "conductFrom is after conductTo", ("input", "conductFrom")))
    if conduct_to and conduct_to > decided_on:
        problems.append(Problem(Code.INVALID_INPUT, "the conduct ends after the decision", ("input", "conductTo")))
    if amount_involved is not None and amount_involved < 0:
        problems.append(Problem(Code.INVALID_INPUT, "amountInvolved is negative", ("input", "amountInvolved")))
    if not entries:
        problems.append(Problem(Code.INVALID_INPUT, "a decision scores at least one person", ("input", "entries")))
    codes = [e.practitioner_code for e in entries]
    if len(set(codes)) != len(codes):
        problems.append(Problem(Code.INVALID_INPUT, "a person appears twice in one decision", ("input", "entries")))
    for i, e in enumerate(entries):
        at = ("input", "entries", str(i))
        if not is_practitioner_code(e.practitioner_code):
            problems.append(Problem(Code.INVALID_CODE, "not a practitioner code", (*at, "practitionerCode")))
        _points_problem(problems, e.points, *at, "points")
        _months_problem(problems, e.suspension_months, *at, "suspensionMonths")
        if e.responsibility not in RESPONSIBILITIES:
            problems.append(Problem(Code.INVALID_INPUT, "unknown responsibility", (*at, "responsibility")))
    raise_if(problems)
    if not actor.covers_region(region_code):
        raise fail(Code.FORBIDDEN, f"{actor.subject} may not decide cases for region {region_code}")

    content = {
        "caseNumber": case_number,
        "regionCode": region_code,
        "institutionCode": institution_code,
        "basis": basis,
        "decidedOn": decided_on,
        "conductFrom": conduct_from,
        "conductTo": conduct_to,
        "behaviour": behaviour,
        "amountInvolved": None if amount_involved is None else f"{amount_involved:.2f}",
        # Sorted: the same entries sent in another order are the same decision.
        "entries": sorted((e.__dict__ for e in entries), key=lambda e: e["practitioner_code"]),
    }
    digest = _content_hash(content)
    async with db.transaction() as session:
        if await session.get(Institution, institution_code) is None:
            raise fail(
                Code.UNKNOWN_INSTITUTION,
                f"institution {institution_code} is not registered",
                "input",
                "institutionCode",
            )
        people = await _lock_people(session, codes)
        for i, code in enumerate(codes):
            if code not in people:
                raise fail(
                    Code.UNKNOWN_PRACTITIONER,
                    f"practitioner {code} is not known",
                    "input",
                    "entries",
                    str(i),
                    "practitionerCode",
                )
        # One case number is checked and written by one transaction at a time, so that two sends of it at the same
        # moment give one decision (or DUPLICATE_CASE_NUMBER), never a constraint error.
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{region_code}/{case_number}", 0)))
        )
        stored = await session.scalar(
            select(Decision).where(Decision.region_code == region_code, Decision.case_number == case_number)
        )
        if stored is not None:
            if stored.content_hash != digest:
                raise fail(
                    Code.DUPLICATE_CASE_NUMBER,
                    f"case {case_number} of {region_code} was recorded with other content",
                    "input",
                    "caseNumber",
                )
            stored_records = await session.scalars(
                select(PointRecord).where(PointRecord.decision_id == stored.id).order_by(PointRecord.id)
            )
            return DecisionResult(stored, list(stored_records), [])
        decision = Decision(
            region_code=region_code,
            case_number=case_number,
            institution_code=institution_code,
            basis=basis,
            decided_on=decided_on,
            conduct_from=conduct_from,
            conduct_to=conduct_to,
            behaviour=behaviour,
            amount_involved=amount_involved,
            content_hash=digest,
            recorded_by=actor.subject,
        )
        session.add(decision)
        await session.flush()
        records = [
            PointRecord(
                decision_id=decision.id,
                practitioner_code=e.practitioner_code,
                decided_on=decided_on,
                points=e.points,
                responsibility=e.responsibility,
                suspension_months=e.suspension_months,
            )
            for e in entries
        ]
        session.add_all(records)
        await session.flush()
        await eventlog.append(
            session,
            node=node.region,
            kind="decision.recorded",
            subject=f"{region_code}/{case_number}",
            payload={**json.loads(json.dumps(content, default=str)), "contentHash": digest},
            actor=actor.subject,
        )
        changed: list[Sanction] = []
        for code in sorted(codes):
            changed += await recompute_year(
                session, node=node, actor=actor, policies=policies, person=people[code], year=decided_on.year
            )
        return DecisionResult(decision, records, changed)


async def _find_record(
    session: AsyncSession, case_number: str, region_code: str, practitioner_code: str
) -> tuple[PointRecord, Decision]:
    row = (
        await session.execute(
            select(PointRecord, Decision)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(
                Decision.region_code == region_code,
                Decision.case_number == case_number,
                PointRecord.practitioner_code == practitioner_code,
            )
        )
    ).first()
    if row is None:
        raise fail(
            Code.UNKNOWN_POINT_RECORD,
            f"no points for {practitioner_code} in case {case_number} of {region_code}",
            "input",
            "caseNumber",
        )
    return row[0], row[1]


async def file_objection(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    case_number: str,
    region_code: str,
    practitioner_code: str,
    statement: str,
) -> RecordView:
    problems: list[Problem] = []
    check_text(problems, statement, 4000, "input", "statement")
    raise_if(problems)
    allowed = actor.covers_region(region_code) or (
        actor.role is Role.PRACTITIONER and actor.practitioner == practitioner_code
    )
    if not allowed:
        raise fail(Code.FORBIDDEN, f"{actor.subject} may not object for {practitioner_code}")
    async with db.transaction() as session:
        await _lock_people(session, [practitioner_code])
        record, _ = await _find_record(session, case_number, region_code, practitioner_code)
        if (await _views(session, [record.id]))[0].state is rules.RecordState.REVOKED:
            raise fail(Code.POINT_RECORD_REVOKED, "this point record was revoked", "input", "caseNumber")
        session.add(Objection(point_record_id=record.id, statement=statement, filed_by=actor.subject))
        await session.flush()
        await eventlog.append(
            session,
            node=node.region,
            kind="objection.filed",
            subject=f"{region_code}/{case_number}",
            payload={
                "caseNumber": case_number,
                "regionCode": region_code,
                "practitionerCode": practitioner_code,
            },
            actor=actor.subject,
        )
        return (await _views(session, [record.id]))[0]


async def review_points(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    policies: PolicyBook,
    today: date,
    case_number: str,
    region_code: str,
    practitioner_code: str,
    outcome: str,
    reviewed_on: date,
    reason: str,
    points: int | None = None,
    suspension_months: int | None = None,
) -> ReviewResult:
    problems: list[Problem] = []
    if outcome not in rules.ReviewOutcome.__members__:
        problems.append(Problem(Code.INVALID_INPUT, f"unknown outcome {outcome}", ("input", "outcome")))
    if outcome == "AMENDED" and points is None:
        problems.append(Problem(Code.INVALID_INPUT, "an amendment gives the new points", ("input", "points")))
    if outcome != "AMENDED" and (points is not None or suspension_months is not None):
        problems.append(Problem(Code.INVALID_INPUT, "only an amendment changes points or months", ("input", "points")))
    _points_problem(problems, points, "input", "points")
    _months_problem(problems, suspension_months, "input", "suspensionMonths")
    check_text(problems, reason, 4000, "input", "reason")
    check_not_future(problems, reviewed_on, today, "input", "reviewedOn")
    raise_if(problems)
    if not actor.covers_region(region_code):
        raise fail(Code.FORBIDDEN, f"{actor.subject} may not review cases of region {region_code}")
    async with db.transaction() as session:
        people = await _lock_people(session, [practitioner_code])
        record, decision = await _find_record(session, case_number, region_code, practitioner_code)
        if reviewed_on < decision.decided_on:
            raise fail(Code.INVALID_INPUT, "the review predates the decision", "input", "reviewedOn")
        if (await _views(session, [record.id]))[0].state is rules.RecordState.REVOKED:
            raise fail(Code.POINT_RECORD_REVOKED, "this point record was already revoked", "input", "caseNumber")
        session.add(
            Review(
                point_record_id=record.id,
                outcome=outcome,
                points=points,
                suspension_months=suspension_months,
                reviewed_on=reviewed_on,
                reason=reason,
                recorded_by=actor.subject,
            )
        )
        await session.flush()
        await eventlog.append(
            session,
            node=node.region,
            kind="points.reviewed",
            subject=f"{region_code}/{case_number}",
            payload={
                "caseNumber": case_number,
                "regionCode": region_code,
                "practitionerCode": practitioner_code,
                "outcome": outcome,
                "points": points,
                "suspensionMonths": suspension_months,
                "reviewedOn": reviewed_on.isoformat(),
                "reason": reason,
            },
            actor=actor.subject,
        )
        changed = await recompute_year(
            session,
            node=node,
            actor=actor,
            policies=policies,
            person=people[practitioner_code],
            year=decision.decided_on.year,
        )
        return ReviewResult((await _views(session, [record.id]))[0], changed)


async def record_restoration(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    policies: PolicyBook,
    today: date,
    practitioner_code: str,
    region_code: str,
    activity: str,
    restored_on: date,
) -> RestorationResult:
    problems: list[Problem] = []
    check_text(problems, activity, 2000, "input", "activity")
    check_region(problems, region_code, "input", "regionCode")
    check_not_future(problems, restored_on, today, "input", "restoredOn")
    raise_if(problems)
    if not actor.covers_region(region_code):
        raise fail(Code.FORBIDDEN, f"{actor.subject} may not record restorations in {region_code}")
    async with db.transaction() as session:
        people = await _lock_people(session, [practitioner_code])
        if practitioner_code not in people:
            raise fail(
                Code.UNKNOWN_PRACTITIONER,
                f"practitioner {practitioner_code} is not known",
                "input",
                "practitionerCode",
            )
        person = people[practitioner_code]
        policy = policies.policy_for(person.region_code, restored_on)
        year = restored_on.year
        already = await session.scalar(
            select(func.coalesce(func.sum(Restoration.points), 0)).where(
                Restoration.practitioner_code == practitioner_code,
                Restoration.restored_on.between(date(year, 1, 1), date(year, 12, 31)),
            )
        )
        terminated = await session.scalar(
            select(Sanction.id).where(
                Sanction.practitioner_code == practitioner_code,
                Sanction.kind == "TERMINATION",
                Sanction.state == "VALID",
                Sanction.starts_on <= restored_on,
            )
        )
        points = policy.restoration_points_per_activity
        refusal = rules.restoration_refusal(policy, int(already or 0), points, terminated is not None)
        if refusal is not None:
            raise fail(Code(refusal), _REFUSALS[refusal].format(policy=policy), "input", "practitionerCode")
        restoration = Restoration(
            practitioner_code=practitioner_code,
            region_code=region_code,
            activity=activity,
            restored_on=restored_on,
            points=points,
            recorded_by=actor.subject,
        )
        session.add(restoration)
        await session.flush()
        await eventlog.append(
            session,
            node=node.region,
            kind="restoration.recorded",
            subject=practitioner_code,
            payload={
                "practitionerCode": practitioner_code,
                "regionCode": region_code,
                "activity": activity,
                "restoredOn": restored_on.isoformat(),
                "points": points,
            },
            actor=actor.subject,
        )
        changed = await recompute_year(session, node=node, actor=actor, policies=policies, person=person, year=year)
        outcome = await _outcome(session, policies, person, year)
        return RestorationResult(restoration, outcome.total, changed)


_REFUSALS = {
    "RESTORATION_NOT_ALLOWED": "the policy in force ({policy.version}) allows no points restoration",
    "RESTORATION_AFTER_TERMINATION": "points cannot be restored after a termination",
    "RESTORATION_CAP_EXCEEDED": "at most {policy.restoration_cap_per_year} points may be restored in a year",
}


async def _views(session: AsyncSession, record_ids: Sequence[int]) -> list[RecordView]:
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
    history: dict[int, list[tuple[Any, int, Objection | Review]]] = {rid: [] for rid in record_ids}
    for o in await session.scalars(select(Objection).where(Objection.point_record_id.in_(record_ids))):
        history[o.point_record_id].append((o.filed_at, 0, o))
    for r in await session.scalars(select(Review).where(Review.point_record_id.in_(record_ids))):
        history[r.point_record_id].append((r.recorded_at, 1, r))
    views = []
    for record, case_number, region_code in rows:
        ordered = [_record_event(i, fact) for i, (_, _, fact) in enumerate(sorted(history[record.id], key=_when))]
        state, points, months = rules.current_record(record.points, record.suspension_months, ordered)
        views.append(
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
    return views


def _when(item: tuple[Any, int, Objection | Review]) -> tuple[Any, int, int]:
    return item[0], item[1], item[2].id


def _record_event(sequence: int, fact: Objection | Review) -> rules.RecordEvent:
    if isinstance(fact, Objection):
        return rules.ObjectionFiled(sequence=sequence)
    return rules.Reviewed(
        sequence=sequence,
        outcome=rules.ReviewOutcome(fact.outcome),
        points=fact.points,
        suspension_months=fact.suspension_months,
    )


def _year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


async def _year_views(session: AsyncSession, code: str, year: int) -> list[RecordView]:
    ids = list(
        await session.scalars(
            select(PointRecord.id).where(
                PointRecord.practitioner_code == code, PointRecord.decided_on.between(*_year_range(year))
            )
        )
    )
    return await _views(session, ids) if ids else []


async def _outcome(session: AsyncSession, policies: PolicyBook, person: Practitioner, year: int) -> rules.YearOutcome:
    views = await _year_views(session, person.code, year)
    restorations = await session.scalars(
        select(Restoration).where(
            Restoration.practitioner_code == person.code, Restoration.restored_on.between(*_year_range(year))
        )
    )
    return rules.derive_year(
        [
            rules.PointEntry(
                key=str(v.id),
                decided_on=v.decided_on,
                sequence=v.id,
                points=v.points,
                state=v.state,
                suspension_months=v.suspension_months,
            )
            for v in views
        ],
        [rules.Restoration(restored_on=r.restored_on, points=r.points) for r in restorations],
        lambda on: policies.policy_for(person.region_code, on),
    )


SANCTION_FIELDS = (
    "state",
    "starts_on",
    "ends_on",
    "in_force_to",
    "months",
    "reregistration_allowed_from",
    "single_decision",
    "policy_version",
)


async def recompute_year(
    session: AsyncSession, *, node: Node, actor: Actor, policies: PolicyBook, person: Practitioner, year: int
) -> list[Sanction]:
    """Bring the stored sanctions of one person-year in line with the rules; return those that changed."""
    outcome = await _outcome(session, policies, person, year)
    stored = {
        (s.cause_point_record_id, s.kind): s
        for s in await session.scalars(
            select(Sanction).where(Sanction.practitioner_code == person.code, Sanction.year == year)
        )
    }
    causes = {v.id: v for v in await _year_views(session, person.code, year)}
    changed: list[tuple[str, Sanction]] = []
    seen = set()
    for derived in outcome.sanctions:
        cause = causes[int(derived.cause)]
        key = (cause.id, str(derived.kind))
        seen.add(key)
        values = {
            "state": str(derived.state),
            "starts_on": derived.starts_on,
            "ends_on": derived.ends_on,
            "in_force_to": derived.in_force_to,
            "months": derived.months,
            "reregistration_allowed_from": derived.reregistration_allowed_from,
            "single_decision": derived.single_decision,
            "policy_version": policies.policy_for(person.region_code, derived.starts_on).version,
        }
        row = stored.get(key)
        if row is None:
            row = Sanction(
                practitioner_code=person.code,
                year=year,
                kind=str(derived.kind),
                cause_point_record_id=cause.id,
                case_number=cause.case_number,
                region_code=cause.region_code,
                **values,
            )
            session.add(row)
            changed.append(("sanction.imposed", row))
        elif any(getattr(row, f) != values[f] for f in SANCTION_FIELDS):
            change = _change_kind(row, values)
            for f in SANCTION_FIELDS:
                setattr(row, f, values[f])
            row.updated_at = func.now()
            changed.append((change, row))
    for key, row in stored.items():
        if key not in seen and row.state != "LIFTED":
            row.state = "LIFTED"
            row.updated_at = func.now()
            changed.append(("sanction.lifted", row))
    await session.flush()
    for kind, row in changed:
        await session.refresh(row)
        await eventlog.append(
            session,
            node=node.region,
            kind=kind,
            subject=person.code,
            payload=sanction_payload(row),
            actor=actor.subject,
        )
    return [row for _, row in changed]


def _change_kind(row: Sanction, values: dict[str, Any]) -> str:
    if values["state"] != row.state:
        return {"SUPERSEDED": "sanction.superseded", "VALID": "sanction.reinstated"}.get(
            values["state"], "sanction.changed"
        )
    if row.ends_on and values["ends_on"]:
        return "sanction.lengthened" if values["ends_on"] > row.ends_on else "sanction.shortened"
    return "sanction.changed"


def sanction_payload(s: Sanction) -> dict[str, Any]:
    return {
        "practitionerCode": s.practitioner_code,
        "kind": s.kind,
        "state": s.state,
        "startsOn": s.starts_on.isoformat(),
        "endsOn": s.ends_on.isoformat() if s.ends_on else None,
        "reregistrationAllowedFrom": s.reregistration_allowed_from.isoformat()
        if s.reregistration_allowed_from
        else None,
        "caseNumber": s.case_number,
        "regionCode": s.region_code,
        "year": s.year,
    }


# ---- reads -------------------------------------------------------------------------------------------------


async def year_outcome(db: Database, policies: PolicyBook, code: str, year: int) -> rules.YearOutcome | None:
    async with db.transaction() as session:
        person = await session.get(Practitioner, code)
        return None if person is None else await _outcome(session, policies, person, year)


async def year_points(db: Database, policies: PolicyBook, code: str, year: int) -> int:
    outcome = await year_outcome(db, policies, code, year)
    return 0 if outcome is None else outcome.total


async def point_records(db: Database, code: str, year: int) -> list[RecordView]:
    async with db.transaction() as session:
        return await _year_views(session, code, year)


async def sanctions_of(db: Database, code: str) -> list[Sanction]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Sanction).where(Sanction.practitioner_code == code).order_by(Sanction.starts_on, Sanction.id)
        )
        return list(rows)


# ---- bureau listings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCriteria:
    actor: Actor
    region_code: str | None = None
    institution_code: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    kind: str | None = None
    first: int = 50
    after: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool


def _scope(c: ListCriteria) -> tuple[str | None, str | None]:
    """The region prefix and institution a caller may list, narrowed by the filter. Raises FORBIDDEN outside it."""
    actor, region = c.actor, c.region_code
    institution = c.institution_code
    if actor.role is Role.BUREAU:
        if region is None:
            region = actor.region
        elif not actor.covers_region(region):
            raise fail(Code.FORBIDDEN, f"{actor.subject} may not list {region}")
    elif actor.role is Role.INSTITUTION:
        if institution not in (None, actor.institution):
            raise fail(Code.FORBIDDEN, f"{actor.subject} may only list its own decisions")
        institution = actor.institution
    elif actor.role is Role.PRACTITIONER:
        raise fail(Code.FORBIDDEN, "practitioners read their own record with `practitioner`")
    return (region_prefix(region) if region else None), institution


async def list_decisions(db: Database, c: ListCriteria) -> Page[tuple[Decision, list[PointRecord]]]:
    prefix, institution = _scope(c)
    query = select(Decision).order_by(Decision.id.desc()).limit(c.first + 1)
    if prefix:
        query = query.where(Decision.region_code.startswith(prefix))
    if institution:
        query = query.where(Decision.institution_code == institution)
    if c.from_date:
        query = query.where(Decision.decided_on >= c.from_date)
    if c.to_date:
        query = query.where(Decision.decided_on <= c.to_date)
    if c.after is not None:
        query = query.where(Decision.id < c.after)
    async with db.transaction() as session:
        decisions = list(await session.scalars(query))
        page = decisions[: c.first]
        entries: dict[int, list[PointRecord]] = {d.id: [] for d in page}
        if page:
            for e in await session.scalars(
                select(PointRecord).where(PointRecord.decision_id.in_(entries)).order_by(PointRecord.id)
            ):
                entries[e.decision_id].append(e)
    return Page([(d, entries[d.id]) for d in page], len(decisions) > c.first)


async def list_sanctions(db: Database, c: ListCriteria) -> Page[Sanction]:
    prefix, institution = _scope(c)
    query = select(Sanction).order_by(Sanction.id.desc()).limit(c.first + 1)
    if prefix:
        query = query.where(Sanction.region_code.startswith(prefix))
    if institution:
        query = (
            query.join(PointRecord, PointRecord.id == Sanction.cause_point_record_id)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(Decision.institution_code == institution)
        )
    if c.kind:
        query = query.where(Sanction.kind == c.kind)
    if c.from_date:
        query = query.where(Sanction.starts_on >= c.from_date)
    if c.to_date:
        query = query.where(Sanction.starts_on <= c.to_date)
    if c.after is not None:
        query = query.where(Sanction.id < c.after)
    async with db.transaction() as session:
        rows = list(await session.scalars(query))
    return Page(rows[: c.first], len(rows) > c.first)
