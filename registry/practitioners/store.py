"""Storing each registration fact: the same way for this node's own facts and for the replicas of its peers.

The rows that several facts shape are settled by fixed rules, never by the order the facts arrived in: an
institution code registered by two nodes keeps the registration with the lowest (origin, seq); a person's name,
category, region and identity come from their latest registration by (registered_on, origin, seq); registration
periods and affiliation ends are derived from all the facts at once (`recompute_periods`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import insert_many
from registry.facts import Issued
from registry.practitioners.facts import (
    AffiliationAdded,
    AffiliationEnded,
    InstitutionRegistered,
    PractitionerDeregistered,
    PractitionerRegistered,
)
from registry.practitioners.models import Affiliation, Deregistration, Institution, Practitioner, Registration


async def institution(session: AsyncSession, fact: InstitutionRegistered, at: Issued) -> None:
    await institutions(session, [(fact, at)])


async def institutions(session: AsyncSession, items: Sequence[tuple[InstitutionRegistered, Issued]]) -> None:
    """Many institutions in one statement; a code registered twice keeps the lowest (origin, seq)."""
    first: dict[str, tuple[InstitutionRegistered, Issued]] = {}
    for fact, at in items:
        if fact.code not in first or (at.origin, at.seq) < (first[fact.code][1].origin, first[fact.code][1].seq):
            first[fact.code] = (fact, at)
    columns = ("name", "kind", "region_code", "origin", "origin_seq")

    def lowest_wins(stmt: Insert) -> Insert:
        return stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={name: getattr(stmt.excluded, name) for name in columns},
            where=tuple_(stmt.excluded.origin, stmt.excluded.origin_seq)
            < tuple_(Institution.origin, Institution.origin_seq),
        )

    rows = [
        {
            "code": fact.code,
            "name": fact.name,
            "kind": fact.kind,
            "region_code": fact.region_code,
            "registered_by": at.by,
            "origin": at.origin,
            "origin_seq": at.seq,
        }
        for fact, at in first.values()
    ]
    await insert_many(session, Institution, rows, lowest_wins)


async def registration(session: AsyncSession, fact: PractitionerRegistered, at: Issued) -> None:
    """A registration period, with an affiliation from its first day at each institution named."""
    await registrations(session, [(fact, at)])


async def registrations(session: AsyncSession, items: Sequence[tuple[PractitionerRegistered, Issued]]) -> None:
    """Many registrations in a few statements (a page of replicas, an import); periods are derived again only for
    the people who had registrations before, or come twice."""
    codes = [fact.code for fact, _ in items]
    known = select(Registration.practitioner_code).where(Registration.practitioner_code.in_(codes))
    seen_before = set(await session.scalars(known))
    twice = {code for code in codes if codes.count(code) > 1} if len(set(codes)) < len(codes) else set()
    for fact, at in items:
        if fact.code in twice:  # one statement cannot touch a row twice: these go one by one
            await _upsert_people(session, [(fact, at)])
    await _upsert_people(session, [(fact, at) for fact, at in items if fact.code not in twice])
    periods = [{"practitioner_code": fact.code, "starts_on": fact.registered_on, **at.columns()} for fact, at in items]
    await insert_many(session, Registration, periods)
    affiliations = [
        {"practitioner_code": fact.code, "institution_code": code, "starts_on": fact.registered_on, **at.columns()}
        for fact, at in items
        for code in fact.institution_codes
    ]
    if affiliations:
        await insert_many(session, Affiliation, affiliations)
    for code in sorted(seen_before | twice):
        await recompute_periods(session, code)


async def _upsert_people(session: AsyncSession, items: Sequence[tuple[PractitionerRegistered, Issued]]) -> None:
    """The person's fields from their latest registration by (registered_on, origin, seq)."""
    if not items:
        return
    columns = ("name", "category", "region_code", "id_hash", "id_masked", "registered_on", "origin", "origin_seq")

    def latest_wins(stmt: Insert) -> Insert:
        newer = tuple_(stmt.excluded.registered_on, stmt.excluded.origin, stmt.excluded.origin_seq) > tuple_(
            Practitioner.registered_on, Practitioner.origin, Practitioner.origin_seq
        )
        set_ = {name: getattr(stmt.excluded, name) for name in columns}
        return stmt.on_conflict_do_update(index_elements=["code"], set_=set_, where=newer)

    rows = [
        {
            "code": fact.code,
            "name": fact.name,
            "category": fact.category,
            "region_code": fact.region_code,
            "id_hash": fact.id_digest,
            "id_masked": fact.id_masked,
            "registered_on": fact.registered_on,
            "origin": at.origin,
            "origin_seq": at.seq,
        }
        for fact, at in items
    ]
    await insert_many(session, Practitioner, rows, latest_wins)


async def deregistration(session: AsyncSession, fact: PractitionerDeregistered, at: Issued) -> None:
    session.add(
        Deregistration(
            practitioner_code=fact.practitioner_code, ends_on=fact.ends_on, reason=fact.reason, **at.columns()
        )
    )
    await recompute_periods(session, fact.practitioner_code)


async def affiliation_added(session: AsyncSession, fact: AffiliationAdded, at: Issued) -> Affiliation:
    row = Affiliation(
        practitioner_code=fact.practitioner_code,
        institution_code=fact.institution_code,
        starts_on=fact.starts_on,
        **at.columns(),
    )
    session.add(row)
    await recompute_periods(session, fact.practitioner_code)
    return row


async def affiliation_ended(session: AsyncSession, fact: AffiliationEnded, at: Issued) -> Affiliation | None:
    """The affiliation with that institution that started last on or before the end day now ends then."""
    row = await session.scalar(
        select(Affiliation)
        .where(
            Affiliation.practitioner_code == fact.practitioner_code,
            Affiliation.institution_code == fact.institution_code,
            Affiliation.starts_on <= fact.ends_on,
        )
        .order_by(Affiliation.starts_on.desc(), Affiliation.origin, Affiliation.origin_seq.desc())
        .limit(1)
    )
    if row is not None:
        row.ended_on = fact.ends_on if row.ended_on is None else min(row.ended_on, fact.ends_on)
        await recompute_periods(session, fact.practitioner_code)
    return row


async def recompute_periods(session: AsyncSession, code: str) -> None:
    """Derive the end of each registration period and affiliation of a person from all their facts.

    A period ends at the first deregistration on or after its start (before the next registration), or the day
    before the next registration. An affiliation ends when its fact says so, or with the period it started in.
    """
    await session.flush()
    periods = list(
        await session.scalars(
            select(Registration)
            .where(Registration.practitioner_code == code)
            .order_by(Registration.starts_on, Registration.origin, Registration.origin_seq)
        )
    )
    ends = sorted(await session.scalars(select(Deregistration.ends_on).where(Deregistration.practitioner_code == code)))
    for i, period in enumerate(periods):
        following = periods[i + 1].starts_on if i + 1 < len(periods) else None
        closing = [e for e in ends if e >= period.starts_on and (following is None or e < following)]
        end = closing[0] if closing else (following - timedelta(days=1) if following else None)
        if period.ends_on != end:
            period.ends_on = end
    for affiliation in await session.scalars(select(Affiliation).where(Affiliation.practitioner_code == code)):
        end = _affiliation_end(affiliation, periods)
        if affiliation.ends_on != end:
            affiliation.ends_on = end


def _affiliation_end(affiliation: Affiliation, periods: list[Registration]) -> date | None:
    started_in = [p for p in periods if p.starts_on <= affiliation.starts_on]
    period_end = started_in[-1].ends_on if started_in else None
    candidates = [d for d in (affiliation.ended_on, period_end) if d is not None]
    return max(min(candidates), affiliation.starts_on) if candidates else None
