"""Reads of the registry: a practitioner, an institution, a person's affiliations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select

from registry import access
from registry.auth import Actor
from registry.db import Database
from registry.practitioners.models import Affiliation, Institution, Practitioner


async def practitioner(
    db: Database, code: str, *, actor: Actor, load: Callable[[str], Awaitable[Practitioner | None]] | None = None
) -> Practitioner | None:
    """The person, if the actor may read them; `load` fetches the row (a request's loader), else one read."""
    access.enforce(access.read_practitioner(actor, practitioner_code=code))
    return await load(code) if load is not None else (await practitioners(db, [code]))[0]


async def practitioners(db: Database, codes: Sequence[str]) -> list[Practitioner | None]:
    """People by code, in order, in one read (the caller has checked that the actor may read them)."""
    async with db.transaction() as session:
        found = {p.code: p for p in await session.scalars(select(Practitioner).where(Practitioner.code.in_(codes)))}
    return [found.get(code) for code in codes]


async def institution(db: Database, code: str, *, actor: Actor) -> Institution | None:
    access.enforce(access.read_institution(actor, institution_code=code))
    async with db.transaction() as session:
        return await session.get(Institution, code)


async def affiliations_of(db: Database, codes: Sequence[str]) -> list[list[Affiliation]]:
    """Every affiliation of each person, in order, in one read (part of their record, which the caller may read)."""
    found: dict[str, list[Affiliation]] = {code: [] for code in codes}
    async with db.transaction() as session:
        for row in await session.scalars(
            select(Affiliation)
            .where(Affiliation.practitioner_code.in_(codes))
            .order_by(Affiliation.starts_on, Affiliation.id)
        ):
            found[row.practitioner_code].append(row)
    return [found[code] for code in codes]
