"""Two decisions for one person, committed at the same moment in two real transactions, both count."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.auth import Actor, Role
from registry.db import Database
from registry.errors import Code, UserErrors
from registry.points import service as points
from registry.points.policy import default_book
from registry.practitioners import service as practitioners
from registry.practitioners.service import Node
from tests import factories as f

NODE = Node(region="000000", id_secret=b"k" * 32)
ACTOR = Actor(Role.NATIONAL)


async def test_concurrent_decisions_for_one_person_both_count(engine: AsyncEngine) -> None:
    # Committed data, so each transaction is a real one; unique codes keep it apart from other tests.
    db = Database(engine)
    suffix = uuid.uuid4().int % 10**5
    institution, person = f"H520201{suffix:05d}", f"DC{suffix:05d}"
    await practitioners.register_institution(
        db, node=NODE, actor=ACTOR, code=institution, name="x", kind="MEDICAL_INSTITUTION", region_code="520201"
    )
    await practitioners.register_practitioner(
        db,
        node=NODE,
        actor=ACTOR,
        today=date(2025, 12, 31),
        code=person,
        name="x",
        id_number=f.resident_id(),
        category="PHYSICIAN",
        region_code="520201",
        institution_codes=[institution],
        registered_on=date(2024, 1, 1),
    )

    async def decide(case: str, day: int) -> points.DecisionResult:
        return await points.record_decision(
            db,
            node=NODE,
            actor=ACTOR,
            policies=default_book(),
            today=date(2025, 12, 31),
            case_number=f"{person}-{case}",
            region_code="520201",
            institution_code=institution,
            basis="ADMINISTRATIVE_PENALTY",
            decided_on=date(2025, 3, day),
            behaviour="x",
            entries=[points.EntryInput(person, 5, "MAIN")],
        )

    await asyncio.gather(decide("a", 1), decide("b", 2))
    assert await points.year_points(db, default_book(), person, 2025) == 10
    sanctions = await points.sanctions_of(db, person)
    assert [(s.kind, s.state, s.starts_on) for s in sanctions] == [("SUSPENSION", "VALID", date(2025, 3, 2))]
    async with engine.connect() as conn:
        seqs = (await conn.execute(text("SELECT seq FROM events ORDER BY seq"))).scalars().all()
    assert seqs == list(range(1, len(seqs) + 1))


async def test_the_same_decision_sent_twice_at_once_is_recorded_once(engine: AsyncEngine) -> None:
    db = Database(engine)
    suffix = uuid.uuid4().int % 10**5
    institution, people = f"H520201{suffix:05d}", [f"DD{suffix:05d}", f"DE{suffix:05d}"]
    await practitioners.register_institution(
        db, node=NODE, actor=ACTOR, code=institution, name="x", kind="MEDICAL_INSTITUTION", region_code="520201"
    )
    for i, person in enumerate(people):
        await practitioners.register_practitioner(
            db,
            node=NODE,
            actor=ACTOR,
            today=date(2025, 12, 31),
            code=person,
            name="x",
            id_number=f.resident_id(birth=f"1980{1 + suffix % 12:02d}{1 + i:02d}", serial=f"{suffix % 1000:03d}"),
            category="PHYSICIAN",
            region_code="520201",
            institution_codes=[institution],
            registered_on=date(2024, 1, 1),
        )

    async def send(order: list[str]) -> points.DecisionResult:
        return await points.record_decision(
            db,
            node=NODE,
            actor=ACTOR,
            policies=default_book(),
            today=date(2025, 12, 31),
            case_number=f"{institution}-same",
            region_code="520201",
            institution_code=institution,
            basis="ADMINISTRATIVE_PENALTY",
            decided_on=date(2025, 3, 1),
            behaviour="x",
            entries=[points.EntryInput(code, 12, "MAIN") for code in order],
        )

    # Sent twice at once, the second time with its entries in another order: one decision, one set of sanctions.
    first, second = await asyncio.gather(send(people), send(people[::-1]))
    assert first.decision.id == second.decision.id
    assert sorted(len(r.sanctions) for r in (first, second)) == [0, 2]
    for person in people:
        assert await points.year_points(db, default_book(), person, 2025) == 12


async def test_one_case_number_with_two_contents_at_once_gives_one_decision(engine: AsyncEngine) -> None:
    db = Database(engine)
    suffix = uuid.uuid4().int % 10**5
    institution, people = f"H520201{suffix:05d}", [f"DF{suffix:05d}", f"DG{suffix:05d}"]
    await practitioners.register_institution(
        db, node=NODE, actor=ACTOR, code=institution, name="x", kind="MEDICAL_INSTITUTION", region_code="520201"
    )
    for i, person in enumerate(people):
        await practitioners.register_practitioner(
            db,
            node=NODE,
            actor=ACTOR,
            today=date(2025, 12, 31),
            code=person,
            name="x",
            id_number=f.resident_id(birth=f"1980{1 + suffix % 12:02d}{1 + i:02d}", serial=f"{suffix % 1000:03d}"),
            category="PHYSICIAN",
            region_code="520201",
            institution_codes=[institution],
            registered_on=date(2024, 1, 1),
        )

    async def send(person: str) -> points.DecisionResult:
        return await points.record_decision(
            db,
            node=NODE,
            actor=ACTOR,
            policies=default_book(),
            today=date(2025, 12, 31),
            case_number=f"{institution}-one",
            region_code="520201",
            institution_code=institution,
            basis="ADMINISTRATIVE_PENALTY",
            decided_on=date(2025, 3, 1),
            behaviour="x",
            entries=[points.EntryInput(person, 3, "MAIN")],
        )

    # Different people, so no row lock orders them: the case number itself must.
    results = await asyncio.gather(*(send(p) for p in people), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["DecisionResult", "UserErrors"]
    refused = next(r for r in results if isinstance(r, UserErrors))
    assert [p.code for p in refused.problems] == [Code.DUPLICATE_CASE_NUMBER]
