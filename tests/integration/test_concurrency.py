"""Real concurrent transactions: decisions committed at the same moment.

These tests commit (each transaction must be a real one), so every test makes its own institution and people
with fresh codes and resident IDs, apart from every other test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.auth import Actor, Role
from registry.db import Database
from registry.errors import Code, UserErrors
from registry.node import Node
from registry.points import queries
from registry.points.commands import DecisionEntry, RecordDecision
from registry.points.decisions import DecisionResult, record_decision
from registry.points.enums import DecisionBasis, Responsibility, SanctionKind, SanctionState
from registry.points.policy import default_book
from registry.practitioners.commands import RegisterInstitution, RegisterPractitioner
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from registry.practitioners.institutions import register_institution
from registry.practitioners.registration import register_practitioner
from tests import factories as f
from tests.helpers import node_database

NODE = Node(region="000000", id_secret=b"k" * 32)
ACTOR = Actor(Role.NATIONAL)
TODAY = date(2025, 12, 31)


async def staffed_institution(db: Database, people: int) -> tuple[str, list[str]]:
    """A new institution with `people` new practitioners, committed."""
    n = uuid.uuid4().int % 10**5
    institution, codes = f"H520201{n:05d}", [f"D{i}X{n:05d}" for i in range(people)]
    registered = RegisterInstitution(institution, "x", InstitutionKind.MEDICAL_INSTITUTION, "520201")
    await register_institution(db, registered, actor=ACTOR, node=NODE)
    for i, code in enumerate(codes):
        person = RegisterPractitioner(
            code=code,
            name="x",
            id_number=f.resident_id(birth=f"1980{1 + n % 12:02d}{1 + i:02d}", serial=f"{n % 1000:03d}"),
            category=PractitionerCategory.PHYSICIAN,
            region_code="520201",
            institution_codes=(institution,),
            registered_on=date(2024, 1, 1),
        )
        await register_practitioner(db, person, actor=ACTOR, node=NODE, today=TODAY)
    return institution, codes


async def decide(
    db: Database, institution: str, case: str, day: date, entries: Sequence[tuple[str, int]]
) -> DecisionResult:
    cmd = RecordDecision(
        case_number=f"{institution}-{case}",
        region_code="520201",
        institution_code=institution,
        basis=DecisionBasis.ADMINISTRATIVE_PENALTY,
        decided_on=day,
        behaviour="x",
        entries=tuple(DecisionEntry(code, n, Responsibility.MAIN) for code, n in entries),
    )
    return await record_decision(db, cmd, actor=ACTOR, node=NODE, policies=default_book(), today=TODAY)


async def year_points(db: Database, person: str) -> int:
    (year,) = await queries.person_years(db, default_book(), [(person, 2025)])
    return year.outcome.total


async def test_concurrent_decisions_for_one_person_both_count(engine: AsyncEngine) -> None:
    db = node_database(engine)
    institution, (person,) = await staffed_institution(db, 1)
    await asyncio.gather(
        decide(db, institution, "a", date(2025, 3, 1), [(person, 5)]),
        decide(db, institution, "b", date(2025, 3, 2), [(person, 5)]),
    )
    assert await year_points(db, person) == 10
    [sanctions] = await queries.sanctions_of(db, [person])
    assert [(s.kind, s.state, s.starts_on) for s in sanctions] == [
        (SanctionKind.SUSPENSION, SanctionState.VALID, date(2025, 3, 2))
    ]
    async with engine.connect() as conn:
        seqs = (await conn.execute(text("SELECT seq FROM events ORDER BY seq"))).scalars().all()
    assert seqs == list(range(1, len(seqs) + 1))


async def test_the_same_decision_sent_twice_at_once_is_recorded_once(engine: AsyncEngine) -> None:
    db = node_database(engine)
    institution, people = await staffed_institution(db, 2)
    day = date(2025, 3, 1)
    # Sent twice at once, the second time with its entries in another order: one decision, one set of sanctions.
    first, second = await asyncio.gather(
        decide(db, institution, "same", day, [(people[0], 12), (people[1], 12)]),
        decide(db, institution, "same", day, [(people[1], 12), (people[0], 12)]),
    )
    assert first.decision.id == second.decision.id
    assert sorted(len(r.sanctions) for r in (first, second)) == [0, 2]
    for person in people:
        assert await year_points(db, person) == 12


async def test_one_case_number_with_two_contents_at_once_gives_one_decision(engine: AsyncEngine) -> None:
    db = node_database(engine)
    institution, people = await staffed_institution(db, 2)
    # Different people, so no row lock orders them: the case number itself must.
    results = await asyncio.gather(
        *(decide(db, institution, "one", date(2025, 3, 1), [(p, 3)]) for p in people), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["DecisionResult", "UserErrors"]
    refused = next(r for r in results if isinstance(r, UserErrors))
    assert [p.code for p in refused.problems] == [Code.DUPLICATE_CASE_NUMBER]
