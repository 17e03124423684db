"""Affiliations: a registered person practises at one more institution (多点执业), or stops."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database, columns_of
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.practitioners import lookups
from registry.practitioners.commands import AddAffiliation, EndAffiliation
from registry.practitioners.facts import AffiliationAdded, AffiliationEnded
from registry.practitioners.models import Affiliation


async def add_affiliation(db: Database, cmd: AddAffiliation, *, actor: Actor, node: Node, today: date) -> Affiliation:
    raise_if(cmd.problems(today))
    async with db.transaction() as session:
        institution = await lookups.institution(session, cmd.institution_code, "institution_code")
        access.enforce(
            access.add_affiliation(actor, institution_code=institution.code, institution_region=institution.region_code)
        )
        await lookups.registered_person(session, cmd.practitioner_code, cmd.starts_on)
        overlapping = await session.scalar(
            select(Affiliation.id).where(
                Affiliation.practitioner_code == cmd.practitioner_code,
                Affiliation.institution_code == cmd.institution_code,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= cmd.starts_on),
            )
        )
        if overlapping is not None:
            raise fail(
                Code.ALREADY_REGISTERED, f"{cmd.practitioner_code} is already affiliated with {cmd.institution_code}"
            )
        affiliation = Affiliation(**columns_of(Affiliation, cmd), recorded_by=actor.subject)
        session.add(affiliation)
        fact = AffiliationAdded.of(cmd, region_code=institution.region_code)
        await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        return affiliation


async def end_affiliation(db: Database, cmd: EndAffiliation, *, actor: Actor, node: Node) -> Affiliation:
    """End the affiliation that covers `ends_on` on that day."""
    raise_if(cmd.problems())
    async with db.transaction() as session:
        institution = await lookups.institution(session, cmd.institution_code, "institution_code")
        access.enforce(
            access.end_affiliation(actor, institution_code=institution.code, institution_region=institution.region_code)
        )
        affiliation = await session.scalar(
            select(Affiliation)
            .where(
                Affiliation.practitioner_code == cmd.practitioner_code,
                Affiliation.institution_code == cmd.institution_code,
                Affiliation.starts_on <= cmd.ends_on,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= cmd.ends_on),
            )
            .with_for_update()
        )
        if affiliation is None:
            message = f"{cmd.practitioner_code} is not affiliated with {cmd.institution_code} on {cmd.ends_on}"
            raise fail(Code.UNKNOWN_AFFILIATION, message)
        affiliation.ends_on = cmd.ends_on
        fact = AffiliationEnded.of(cmd, region_code=institution.region_code)
        await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        return affiliation


async def end_affiliations(session: AsyncSession, code: str, last_day: date) -> None:
    """End every affiliation of a person still running after `last_day` (one that starts later ends on its start)."""
    rows = await session.scalars(
        select(Affiliation).where(
            Affiliation.practitioner_code == code,
            (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on > last_day),
        )
    )
    for row in rows:
        row.ends_on = max(last_day, row.starts_on)
