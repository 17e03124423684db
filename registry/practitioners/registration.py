"""Registering a practitioner (登记备案) at one or more institutions, and deregistering them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.practitioners import lookups, standing, store
from registry.practitioners.commands import DeregisterPractitioner, RegisterPractitioner
from registry.practitioners.facts import PractitionerDeregistered, PractitionerRegistered
from registry.practitioners.models import Practitioner, Registration
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
        await lookups.lock_codes(session, [cmd.code, fact.id_digest])  # one person, one registration at a time
        await _refuse_if_forbidden(session, fact)
        await store.registration(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        return await lookups.lock_person(session, cmd.code)


async def _refuse_if_forbidden(session: AsyncSession, fact: PractitionerRegistered) -> None:
    """Refuse a registration the rules forbid.

    Points belong to the person: a second code for someone already registered would split them. A sanction follows
    the person (their resident-ID digest), not the code: a running suspension or termination, or a re-registration
    bar, of any code of theirs refuses a registration until it ends. A person registered again after a termination
    (bar served) or after deregistration starts a new period; the one running until then ends the day before.
    """
    code, on = fact.code, fact.registered_on
    person = await session.get(Practitioner, code)
    if person is not None and person.id_hash != fact.id_digest:
        raise fail(Code.ALREADY_REGISTERED, f"code {code} belongs to another person", "code")
    if blocked := await standing.blocked_until(session, fact.id_digest, code, on):
        raise fail(Code.REREGISTRATION_BARRED, f"re-registration is barred until {blocked}", "registered_on")
    same_person = await session.scalars(select(Practitioner.code).where(Practitioner.id_hash == fact.id_digest))
    for other in same_person:
        if other != code and await lookups.open_registration(session, other, on) is not None:
            # The other code is not named: the caller may not be entitled to read that person's record.
            raise fail(Code.ALREADY_REGISTERED, "this person is already registered under another code", "id_number")
    if person is None:
        return
    current = await lookups.open_registration(session, code, on)
    if current is not None and not await standing.terminated_since(session, code, current.starts_on):
        raise fail(Code.ALREADY_REGISTERED, f"{code} is already registered", "code")
    later = await session.scalar(
        select(Registration.id).where(Registration.practitioner_code == code, Registration.starts_on > on)
    )
    if later is not None:
        raise fail(Code.ALREADY_REGISTERED, f"{code} has a later registration", "registered_on")


async def deregister_practitioner(
    db: Database, cmd: DeregisterPractitioner, *, actor: Actor, node: Node
) -> Practitioner:
    """End the registration that covers `ends_on` on that day, and every affiliation with it."""
    raise_if(cmd.problems())
    async with db.transaction() as session:
        await lookups.lock_codes(session, [cmd.practitioner_code])
        known = await session.get(Practitioner, cmd.practitioner_code)
        verdict = access.deregister_practitioner(
            actor,
            practitioner_code=cmd.practitioner_code,
            practitioner_region=None if known is None else known.region_code,
        )
        access.enforce(verdict)
        person, _ = await lookups.registered_person(session, cmd.practitioner_code, cmd.ends_on)
        fact = PractitionerDeregistered.of(cmd, region_code=person.region_code)
        await store.deregistration(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        return person
