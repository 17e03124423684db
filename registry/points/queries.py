"""Reads of the points domain: a person's record, years and sanctions, and the bureaus' listings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from registry import access
from registry.auth import Actor
from registry.db import Database
from registry.points import records, rules
from registry.points.commands import ListCriteria
from registry.points.models import Decision, PointRecord, Sanction
from registry.points.policy import PolicyBook
from registry.practitioners.models import Affiliation, Practitioner
from registry.validation import region_prefix

T = TypeVar("T")
NO_POINTS = rules.YearOutcome(year=0, total=0, interview_required=False, sanctions=())


async def practitioner(db: Database, code: str, *, actor: Actor, today: date) -> Practitioner | None:
    """A person's record, for a caller who may read it (None: no such code, told only to who may read anyone)."""
    async with db.transaction() as session:
        person = await session.get(Practitioner, code)
        scored_by = await session.scalars(
            select(Decision.region_code)
            .distinct()
            .join(PointRecord, PointRecord.decision_id == Decision.id)
            .where(PointRecord.practitioner_code == code)
        )
        employers = await session.scalars(
            select(Affiliation.institution_code).where(
                Affiliation.practitioner_code == code,
                Affiliation.starts_on <= today,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= today),
            )
        )
        verdict = access.read_practitioner(
            actor,
            practitioner_code=code,
            practitioner_region=None if person is None else person.region_code,
            scored_by=set(scored_by),
            employers=set(employers),
        )
    access.enforce(verdict)
    return person


async def person_years(db: Database, policies: PolicyBook, keys: Sequence[tuple[str, int]]) -> list[records.PersonYear]:
    """Each (practitioner code, year) replayed, in order; an unknown person has an empty year."""
    async with db.transaction() as session:
        found = []
        for code, year in keys:
            person = await session.get(Practitioner, code)
            found.append(
                records.PersonYear([], NO_POINTS, NO_POINTS)
                if person is None
                else await records.person_year(session, policies, code, year, person.region_code)
            )
        return found


async def sanctions_of(db: Database, codes: Sequence[str]) -> list[list[Sanction]]:
    """Every sanction of each person, in every state, in order, in one read."""
    found: dict[str, list[Sanction]] = {code: [] for code in codes}
    async with db.transaction() as session:
        for row in await session.scalars(
            select(Sanction).where(Sanction.practitioner_code.in_(codes)).order_by(Sanction.starts_on, Sanction.id)
        ):
            found[row.practitioner_code].append(row)
    return [found[code] for code in codes]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool


async def list_decisions(db: Database, c: ListCriteria, *, actor: Actor) -> Page[tuple[Decision, list[PointRecord]]]:
    """Decisions with their entries, newest first, within what the actor may list."""
    access.enforce(access.list_decisions(actor, region_code=c.region_code, institution_code=c.institution_code))
    region, institution = access.listing_scope(actor, c.region_code, c.institution_code)
    query = _listing(select(Decision), c, region, Decision.id, Decision.region_code, Decision.decided_on)
    if institution:
        query = query.where(Decision.institution_code == institution)
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


async def list_sanctions(db: Database, c: ListCriteria, *, actor: Actor) -> Page[Sanction]:
    """Sanctions, newest first, within what the actor may list; an institution's are those its cases brought."""
    access.enforce(access.list_sanctions(actor, region_code=c.region_code, institution_code=c.institution_code))
    region, institution = access.listing_scope(actor, c.region_code, c.institution_code)
    query = _listing(select(Sanction), c, region, Sanction.id, Sanction.region_code, Sanction.starts_on)
    if institution:
        query = (
            query.join(PointRecord, PointRecord.id == Sanction.cause_point_record_id)
            .join(Decision, Decision.id == PointRecord.decision_id)
            .where(Decision.institution_code == institution)
        )
    if c.kind:
        query = query.where(Sanction.kind == c.kind)
    async with db.transaction() as session:
        rows = list(await session.scalars(query))
    return Page(rows[: c.first], len(rows) > c.first)


def _listing(
    query: Select[T],
    c: ListCriteria,
    region: str | None,
    id_column: InstrumentedAttribute[int],
    region_column: InstrumentedAttribute[str],
    date_column: InstrumentedAttribute[date],
) -> Select[T]:
    """One page, newest first (one row more, to learn whether another page follows), within the region and dates."""
    query = query.order_by(id_column.desc()).limit(c.first + 1)
    if c.after is not None:
        query = query.where(id_column < c.after)
    if region:
        query = query.where(region_column.startswith(region_prefix(region)))
    if c.from_date:
        query = query.where(date_column >= c.from_date)
    if c.to_date:
        query = query.where(date_column <= c.to_date)
    return query
