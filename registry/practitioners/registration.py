"""Registering a practitioner (登记备案) at one or more institutions, and deregistering them."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.practitioners import lookups, standing
from registry.practitioners.affiliations import end_affiliations
from registry.practitioners.commands import DeregisterPractitioner, RegisterPractitioner
from registry.practitioners.facts import PractitionerDeregistered, PractitionerRegistered
from registry.practitioners.models import Affiliation, Practitioner, Registration
from registry.validation import hash_resident_id, mask_resident_id


async def register_practitioner(
    db: Database, cmd: RegisterPractitioner, *, actor: Actor, node: Node, today: date
) -> Practitioner:
    raise_if(cmd.problems(today))
    async with db.transaction() as session:
        known = await lookups.institutions(session, cmd.institution_codes)
        for i, code in enumerate(cmd.institution_codes):
            if code not in known:
                raise lookups.unknown_institution(code, "institution_codes", i)
            verdict = access.register_practitioner(
                actor,
                institution_code=code,
                institution_region=known[code].region_code,
                practitioner_region=cmd.region_code,
            )
            access.enforce(verdict)
        fact = PractitionerRegistered.of(
            cmd, id_digest=hash_resident_id(node.id_secret, cmd.id_number), id_masked=mask_resident_id(cmd.id_number)
        )
        person = await _make_way(session, fact)
        if person is None:
            person = Practitioner(code=cmd.code, id_hash=fact.id_digest, id_masked=fact.id_masked)
            session.add(person)
        person.name, person.category, person.region_code = cmd.name, cmd.category, cmd.region_code
        await session.flush()
        session.add(Registration(practitioner_code=cmd.code, starts_on=cmd.registered_on, recorded_by=actor.subject))
        for code in cmd.institution_codes:
            session.add(
                Affiliation(
                    practitioner_code=cmd.code,
                    institution_code=code,
                    starts_on=cmd.registered_on,
                    recorded_by=actor.subject,
                )
            )
        await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        return person


async def _make_way(session: AsyncSession, fact: PractitionerRegistered) -> Practitioner | None:
    """Refuse a registration the rules forbid, and end the period a new one replaces; return the stored person
    under this code (None for a new code).

    Points belong to the person: a second code for someone already registered would split them, and a bar follows
    every code of the same resident ID. A person registered again after a termination (bar served) or after
    deregistration starts a new period; the period running until then ends the day before.
    """
    code, on = fact.code, fact.registered_on
    person = await session.get(Practitioner, code, with_for_update=True)
    same_person = list(await session.scalars(select(Practitioner.code).where(Practitioner.id_hash == fact.id_digest)))
    if person is not None and person.id_hash != fact.id_digest:
        raise fail(Code.ALREADY_REGISTERED, f"code {code} belongs to another person", "code")
    if bar := await standing.barred_until(session, [code, *same_person], on):
        raise fail(Code.REREGISTRATION_BARRED, f"re-registration is barred until {bar}", "registered_on")
    for other in same_person:
        if other != code and await lookups.open_registration(session, other, on) is not None:
            # The other code is not named: the caller may not be entitled to read that person's record.
            raise fail(Code.ALREADY_REGISTERED, "this person is already registered under another code", "id_number")
    if person is None:
        return None
    current = await lookups.open_registration(session, code, on)
    if current is not None and not await standing.terminated_since(session, code, current.starts_on):
        raise fail(Code.ALREADY_REGISTERED, f"{code} is already registered", "code")
    later = await session.scalar(
        select(Registration.id).where(Registration.practitioner_code == code, Registration.starts_on > on)
    )
    if later is not None:
        raise fail(Code.ALREADY_REGISTERED, f"{code} has a later registration", "registered_on")
    if current is not None:
        current.ends_on = on - timedelta(days=1)
        await end_affiliations(session, code, on - timedelta(days=1))
    return person


async def deregister_practitioner(
    db: Database, cmd: DeregisterPractitioner, *, actor: Actor, node: Node
) -> Practitioner:
    """End the registration that covers `ends_on` on that day, and every affiliation with it."""
    raise_if(cmd.problems())
    async with db.transaction() as session:
        known = await session.get(Practitioner, cmd.practitioner_code, with_for_update=True)
        verdict = access.deregister_practitioner(
            actor,
            practitioner_code=cmd.practitioner_code,
            practitioner_region=None if known is None else known.region_code,
        )
        access.enforce(verdict)
        person, registration = await lookups.registered_person(session, cmd.practitioner_code, cmd.ends_on)
        registration.ends_on = cmd.ends_on
        await end_affiliations(session, person.code, cmd.ends_on)
        fact = PractitionerDeregistered.of(cmd, region_code=person.region_code)
        await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        return person
