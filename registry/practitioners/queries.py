"""Reads of the registry: an institution, a person's affiliations (a person's record is read with who scored
them, in `registry.points.queries`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from registry import access
from registry.auth import Actor
from registry.db import Database
from registry.practitioners.models import Affiliation, Institution


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
