"""Affiliations: a registered person practises at one more institution (多点执业), or stops."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.practitioners import lookups, store
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
        fact = AffiliationAdded.of(cmd, region_code=institution.region_code)
        return await store.affiliation_added(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )


async def end_affiliation(db: Database, cmd: EndAffiliation, *, actor: Actor, node: Node) -> Affiliation:
    """End the affiliation that covers `ends_on` on that day."""
    raise_if(cmd.problems())
    async with db.transaction() as session:
        await lookups.lock_codes(session, [cmd.practitioner_code])
        institution = await lookups.institution(session, cmd.institution_code, "institution_code")
        access.enforce(
            access.end_affiliation(actor, institution_code=institution.code, institution_region=institution.region_code)
        )
        affiliation = await session.scalar(
            select(Affiliation).where(
                Affiliation.practitioner_code == cmd.practitioner_code,
                Affiliation.institution_code == cmd.institution_code,
                Affiliation.starts_on <= cmd.ends_on,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= cmd.ends_on),
            )
        )
        if affiliation is None:
            message = f"{cmd.practitioner_code} is not affiliated with {cmd.institution_code} on {cmd.ends_on}"
            raise fail(Code.UNKNOWN_AFFILIATION, message)
        fact = AffiliationEnded.of(cmd, region_code=institution.region_code)
        await store.affiliation_ended(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        return affiliation
