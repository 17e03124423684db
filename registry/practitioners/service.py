"""Registration use cases: institutions, practitioners (登记备案), affiliations, deregistration.

Each public function is one transaction. Input problems are collected and reported together; nothing is written
when any is found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import eventlog
from registry.auth import Actor, Role
from registry.db import Database
from registry.errors import Code, Problem, check_not_future, check_region, check_text, fail, raise_if
from registry.points.models import Sanction
from registry.practitioners.models import (
    CATEGORIES,
    INSTITUTION_KINDS,
    Affiliation,
    Institution,
    Practitioner,
    Registration,
)
from registry.validation import (
    hash_resident_id,
    is_institution_code,
    is_practitioner_code,
    is_resident_id,
    mask_resident_id,
)


@dataclass(frozen=True)
class Node:
    """What the use cases need from the node besides the database."""

    region: str
    id_secret: bytes


async def register_institution(
    db: Database, *, node: Node, actor: Actor, code: str, name: str, kind: str, region_code: str
) -> Institution:
    problems: list[Problem] = []
    if not is_institution_code(code):
        problems.append(
            Problem(Code.INVALID_CODE, "an institution code is H or P followed by 11 digits", ("input", "code"))
        )
    elif (code[0] == "H") != (kind == "MEDICAL_INSTITUTION"):
        problems.append(
            Problem(Code.INVALID_CODE, "H codes are medical institutions, P codes pharmacies", ("input", "code"))
        )
    check_text(problems, name, 200, "input", "name")
    if kind not in INSTITUTION_KINDS:
        problems.append(Problem(Code.INVALID_INPUT, f"unknown kind {kind}", ("input", "kind")))
    check_region(problems, region_code, "input", "regionCode")
    raise_if(problems)
    allowed = actor.covers_region(region_code) or (actor.role is Role.INSTITUTION and actor.institution == code)
    if not allowed:
        raise fail(Code.FORBIDDEN, f"{actor.subject} may not register institutions in {region_code}")

    async with db.transaction() as session:
        existing = await session.get(Institution, code, with_for_update=True)
        if existing is not None:
            if (existing.name, existing.kind, existing.region_code) == (name, kind, region_code):
                return existing  # a resend of the same registration
            raise fail(Code.ALREADY_REGISTERED, f"institution {code} is already registered", "input", "code")
        institution = Institution(code=code, name=name, kind=kind, region_code=region_code, registered_by=actor.subject)
        session.add(institution)
        await eventlog.append(
            session,
            node=node.region,
            kind="institution.registered",
            subject=code,
            payload={"code": code, "name": name, "kind": kind, "regionCode": region_code},
            actor=actor.subject,
        )
        return institution


async def _institutions(session: AsyncSession, codes: Sequence[str]) -> dict[str, Institution]:
    rows = await session.scalars(select(Institution).where(Institution.code.in_(codes)))
    return {row.code: row for row in rows}


def _may_staff(actor: Actor, institution: Institution) -> bool:
    if actor.role is Role.INSTITUTION:
        return actor.institution == institution.code
    return actor.covers_region(institution.region_code)


async def barred_until(session: AsyncSession, codes: Sequence[str], on: date) -> date | None:
    """The end of a re-registration bar still running on `on` for any of these codes, if any."""
    return await session.scalar(
        select(Sanction.reregistration_allowed_from)
        .where(
            Sanction.practitioner_code.in_(codes),
            Sanction.kind == "TERMINATION",
            Sanction.state == "VALID",
            Sanction.reregistration_allowed_from > on,
        )
        .order_by(Sanction.reregistration_allowed_from.desc())
        .limit(1)
    )


async def open_registration(session: AsyncSession, code: str, on: date) -> Registration | None:
    return await session.scalar(
        select(Registration)
        .where(
            Registration.practitioner_code == code,
            Registration.starts_on <= on,
            (Registration.ends_on.is_(None)) | (Registration.ends_on >= on),
        )
        .order_by(Registration.starts_on.desc())
        .limit(1)
    )


async def register_practitioner(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    today: date,
    code: str,
    name: str,
    id_number: str,
    category: str,
    region_code: str,
    institution_codes: Sequence[str],
    registered_on: date,
) -> Practitioner:
    problems: list[Problem] = []
    if not is_practitioner_code(code):
        problems.append(
            Problem(Code.INVALID_CODE, "a practitioner code is 1 to 20 letters and digits", ("input", "code"))
        )
    check_text(problems, name, 100, "input", "name")
    if not is_resident_id(id_number):
        problems.append(
            Problem(Code.INVALID_ID_NUMBER, "not a valid 18-character resident ID number", ("input", "idNumber"))
        )
    if category not in CATEGORIES:
        problems.append(Problem(Code.INVALID_INPUT, f"unknown category {category}", ("input", "category")))
    check_region(problems, region_code, "input", "regionCode")
    if not institution_codes:
        problems.append(Problem(Code.INVALID_INPUT, "give at least one institution", ("input", "institutionCodes")))
    if len(set(institution_codes)) != len(institution_codes):
        problems.append(Problem(Code.INVALID_INPUT, "an institution is listed twice", ("input", "institutionCodes")))
    for i, inst in enumerate(institution_codes):
        if not is_institution_code(inst):
            problems.append(
                Problem(
                    Code.INVALID_CODE,
                    f"{inst!r} is not an institution code",
                    ("input", "institutionCodes", str(i)),
                )
            )
    check_not_future(problems, registered_on, today, "input", "registeredOn")
    raise_if(problems)

    async with db.transaction() as session:
        institutions = await _institutions(session, institution_codes)
        for i, inst in enumerate(institution_codes):
            if inst not in institutions:
                raise fail(
                    Code.UNKNOWN_INSTITUTION,
                    f"institution {inst} is not registered",
                    "input",
                    "institutionCodes",
                    str(i),
                )
            if not _may_staff(actor, institutions[inst]):
                raise fail(Code.FORBIDDEN, f"{actor.subject} may not register staff of {inst}")
        id_hash = hash_resident_id(node.id_secret, id_number)
        person = await session.get(Practitioner, code, with_for_update=True)
        same_person = list(await session.scalars(select(Practitioner.code).where(Practitioner.id_hash == id_hash)))
        if person is not None and person.id_hash != id_hash:
            raise fail(Code.ALREADY_REGISTERED, f"code {code} belongs to another person", "input", "code")
        if bar := await barred_until(session, [code, *same_person], registered_on):
            raise fail(Code.REREGISTRATION_BARRED, f"re-registration is barred until {bar}", "input", "registeredOn")
        # Points belong to the person: a second code for someone already registered would split them.
        for other in same_person:
            if other != code and await open_registration(session, other, registered_on) is not None:
                raise fail(Code.ALREADY_REGISTERED, f"this person is registered as {other}", "input", "idNumber")
        if person is None:
            person = Practitioner(code=code, id_hash=id_hash, id_masked=mask_resident_id(id_number))
            session.add(person)
        else:
            current = await open_registration(session, code, registered_on)
            if current is not None and not await _terminated(session, code, current.starts_on):
                raise fail(Code.ALREADY_REGISTERED, f"{code} is already registered", "input", "code")
            # A registration after a termination (bar served) or after deregistration starts afresh.
            later = await session.scalar(
                select(Registration.id).where(
                    Registration.practitioner_code == code, Registration.starts_on > registered_on
                )
            )
            if later is not None:
                raise fail(Code.ALREADY_REGISTERED, f"{code} has a later registration", "input", "registeredOn")
            if current is not None:
                current.ends_on = registered_on - timedelta(days=1)
                await _end_affiliations(session, code, registered_on - timedelta(days=1))
        person.name, person.category, person.region_code = name, category, region_code
        await session.flush()
        session.add(Registration(practitioner_code=code, starts_on=registered_on, recorded_by=actor.subject))
        for inst in institution_codes:
            session.add(
                Affiliation(
                    practitioner_code=code,
                    institution_code=inst,
                    starts_on=registered_on,
                    recorded_by=actor.subject,
                )
            )
        await eventlog.append(
            session,
            node=node.region,
            kind="practitioner.registered",
            subject=code,
            payload={
                "code": code,
                "name": name,
                "category": category,
                "regionCode": region_code,
                "idHash": id_hash,
                "institutionCodes": list(institution_codes),
                "registeredOn": registered_on.isoformat(),
            },
            actor=actor.subject,
        )
        return person


async def _terminated(session: AsyncSession, code: str, since: date) -> bool:
    found = await session.scalar(
        select(Sanction.id).where(
            Sanction.practitioner_code == code,
            Sanction.kind == "TERMINATION",
            Sanction.state == "VALID",
            Sanction.starts_on >= since,
        )
    )
    return found is not None


async def _end_affiliations(session: AsyncSession, code: str, last_day: date) -> None:
    rows = await session.scalars(
        select(Affiliation).where(
            Affiliation.practitioner_code == code,
            (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on > last_day),
        )
    )
    for row in rows:
        row.ends_on = max(last_day, row.starts_on)


async def _registered_person(session: AsyncSession, code: str, on: date) -> Registration:
    if await session.get(Practitioner, code, with_for_update=True) is None:
        raise fail(Code.UNKNOWN_PRACTITIONER, f"practitioner {code} is not known", "input", "practitionerCode")
    registration = await open_registration(session, code, on)
    if registration is None:
        raise fail(Code.NOT_REGISTERED, f"{code} is not registered on {on}", "input", "practitionerCode")
    return registration


async def add_affiliation(
    db: Database,
    *,
    node: Node,
    actor: Actor,
    today: date,
    practitioner_code: str,
    institution_code: str,
    starts_on: date,
) -> Affiliation:
    problems: list[Problem] = []
    if not is_practitioner_code(practitioner_code):
        problems.append(Problem(Code.INVALID_CODE, "not a practitioner code", ("input", "practitionerCode")))
    if not is_institution_code(institution_code):
        problems.append(Problem(Code.INVALID_CODE, "not an institution code", ("input", "institutionCode")))
    check_not_future(problems, starts_on, today, "input", "startsOn")
    raise_if(problems)
    async with db.transaction() as session:
        institution = await session.get(Institution, institution_code)
        if institution is None:
            raise fail(
                Code.UNKNOWN_INSTITUTION,
                f"institution {institution_code} is not registered",
                "input",
                "institutionCode",
            )
        if not _may_staff(actor, institution):
            raise fail(Code.FORBIDDEN, f"{actor.subject} may not register staff of {institution_code}")
        await _registered_person(session, practitioner_code, starts_on)
        overlapping = await session.scalar(
            select(Affiliation.id).where(
                Affiliation.practitioner_code == practitioner_code,
                Affiliation.institution_code == institution_code,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= starts_on),
            )
        )
        if overlapping is not None:
            raise fail(
                Code.ALREADY_REGISTERED,
                f"{practitioner_code} is already affiliated with {institution_code}",
                "input",
            )
        affiliation = Affiliation(
            practitioner_code=practitioner_code,
            institution_code=institution_code,
            starts_on=starts_on,
            recorded_by=actor.subject,
        )
        session.add(affiliation)
        await eventlog.append(
            session,
            node=node.region,
            kind="affiliation.added",
            subject=practitioner_code,
            payload={
                "practitionerCode": practitioner_code,
                "institutionCode": institution_code,
                "startsOn": starts_on.isoformat(),
            },
            actor=actor.subject,
        )
        return affiliation


async def end_affiliation(
    db: Database, *, node: Node, actor: Actor, practitioner_code: str, institution_code: str, ends_on: date
) -> Affiliation:
    async with db.transaction() as session:
        institution = await session.get(Institution, institution_code)
        if institution is None:
            raise fail(
                Code.UNKNOWN_INSTITUTION,
                f"institution {institution_code} is not registered",
                "input",
                "institutionCode",
            )
        if not _may_staff(actor, institution):
            raise fail(Code.FORBIDDEN, f"{actor.subject} may not change staff of {institution_code}")
        affiliation = await session.scalar(
            select(Affiliation)
            .where(
                Affiliation.practitioner_code == practitioner_code,
                Affiliation.institution_code == institution_code,
                Affiliation.starts_on <= ends_on,
                (Affiliation.ends_on.is_(None)) | (Affiliation.ends_on >= ends_on),
            )
            .with_for_update()
        )
        if affiliation is None:
            raise fail(
                Code.UNKNOWN_AFFILIATION,
                f"{practitioner_code} is not affiliated with {institution_code} on {ends_on}",
                "input",
            )
        affiliation.ends_on = ends_on
        await eventlog.append(
            session,
            node=node.region,
            kind="affiliation.ended",
            subject=practitioner_code,
            payload={
                "practitionerCode": practitioner_code,
                "institutionCode": institution_code,
                "endsOn": ends_on.isoformat(),
            },
            actor=actor.subject,
        )
        return affiliation


async def deregister(
    db: Database, *, node: Node, actor: Actor, practitioner_code: str, ends_on: date, reason: str
) -> Practitioner:
    problems: list[Problem] = []
    check_text(problems, reason, 2000, "input", "reason")
    raise_if(problems)
    async with db.transaction() as session:
        registration = await _registered_person(session, practitioner_code, ends_on)
        person = await session.get(Practitioner, practitioner_code)
        assert person is not None
        if not actor.covers_region(person.region_code):
            raise fail(Code.FORBIDDEN, f"{actor.subject} may not deregister {practitioner_code}")
        registration.ends_on = ends_on
        await _end_affiliations(session, practitioner_code, ends_on)
        await eventlog.append(
            session,
            node=node.region,
            kind="practitioner.deregistered",
            subject=practitioner_code,
            payload={"practitionerCode": practitioner_code, "endsOn": ends_on.isoformat(), "reason": reason},
            actor=actor.subject,
        )
        return person


async def get_practitioner(db: Database, code: str) -> Practitioner | None:
    async with db.transaction() as session:
        return await session.get(Practitioner, code)


async def get_affiliations(db: Database, code: str) -> list[Affiliation]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Affiliation)
            .where(Affiliation.practitioner_code == code)
            .order_by(Affiliation.starts_on, Affiliation.id)
        )
        return list(rows)


async def get_institution(db: Database, code: str) -> Institution | None:
    async with db.transaction() as session:
        return await session.get(Institution, code)
