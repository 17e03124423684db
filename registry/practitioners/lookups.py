"""Reads and locks that several use cases share, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import Code, UserErrors, fail
from registry.practitioners.models import Institution, Practitioner, Registration


def unknown_institution(code: str, *field: str | int) -> UserErrors:
    return fail(Code.UNKNOWN_INSTITUTION, f"institution {code} is not registered", *field)


def unknown_practitioner(code: str, *field: str | int) -> UserErrors:
    return fail(Code.UNKNOWN_PRACTITIONER, f"practitioner {code} is not known", *field)


async def institution(session: AsyncSession, code: str, *field: str | int) -> Institution:
    """The registered institution, or UNKNOWN_INSTITUTION at `field`."""
    found = await session.get(Institution, code)
    if found is None:
        raise unknown_institution(code, *field)
    return found


async def institutions(session: AsyncSession, codes: Sequence[str]) -> dict[str, Institution]:
    rows = await session.scalars(select(Institution).where(Institution.code.in_(codes)))
    return {row.code: row for row in rows}


# The locks are taken in the order of their keys, so that two transactions never wait for each other.
LOCK_PEOPLE = text("""
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended('person:' || c, 0) AS k FROM unnest(CAST(:codes AS text[])) c ORDER BY k) keys
""")


async def lock_codes(session: AsyncSession, codes: Iterable[str]) -> None:
    """Serialise the use cases (and the replicas applied) of these people until commit: one statement, however
    many people. An advisory lock, so that it works before the person's row exists."""
    wanted = list(set(codes))
    if wanted:
        await session.execute(LOCK_PEOPLE, {"codes": wanted})


async def lock_people(session: AsyncSession, codes: Sequence[str]) -> dict[str, Practitioner]:
    """Lock the people, and read those known."""
    await lock_codes(session, codes)
    rows = await session.scalars(
        select(Practitioner).where(Practitioner.code.in_(codes)).execution_options(populate_existing=True)
    )
    return {row.code: row for row in rows}


async def lock_person(session: AsyncSession, code: str, *field: str | int) -> Practitioner:
    """Lock one known person, or fail with UNKNOWN_PRACTITIONER at `field`."""
    person = (await lock_people(session, [code])).get(code)
    if person is None:
        raise unknown_practitioner(code, *field)
    return person


async def open_registration(session: AsyncSession, code: str, on: date) -> Registration | None:
    """The registration period that covers `on`, if any."""
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


async def registered_person(session: AsyncSession, code: str, on: date) -> tuple[Practitioner, Registration]:
    """Lock a person registered on `on`, with that registration; UNKNOWN_PRACTITIONER or NOT_REGISTERED if not."""
    person = await lock_person(session, code, "practitioner_code")
    registration = await open_registration(session, code, on)
    if registration is None:
        raise fail(Code.NOT_REGISTERED, f"{code} is not registered on {on}", "practitioner_code")
    return person, registration
