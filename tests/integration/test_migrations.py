"""Migrations applied to a database holding data: what was stored before still behaves as before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest_asyncio
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.auth import Actor, Role
from registry.db import create_database, make_engine, sqlalchemy_url
from registry.migrate import alembic_config
from registry.node import Node
from registry.points.commands import DecisionEntry
from registry.points.decisions import record_decision
from registry.points.enums import Responsibility
from registry.points.policy import default_book
from tests import samples
from tests.helpers import node_database

DATABASE = "registry_migrations_test"
CASE = samples.decision(
    entries=(DecisionEntry("D2", 3, Responsibility.GENERAL), DecisionEntry("D1", 12, Responsibility.MAIN, None)),
    amount_involved=Decimal("100.5"),
)


def first_digest() -> str:
    """The content hash as the first revision's code computed it (camelCase keys, dates as str)."""
    content = {
        "caseNumber": CASE.case_number,
        "regionCode": CASE.region_code,
        "institutionCode": CASE.institution_code,
        "basis": "ADMINISTRATIVE_PENALTY",
        "decidedOn": CASE.decided_on,
        "conductFrom": None,
        "conductTo": None,
        "behaviour": CASE.behaviour,
        "amountInvolved": "100.50",
        "entries": [
            {"practitioner_code": "D1", "points": 12, "responsibility": "MAIN", "suspension_months": None},
            {"practitioner_code": "D2", "points": 3, "responsibility": "GENERAL", "suspension_months": None},
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


OLD_ROWS = [
    "INSERT INTO institutions VALUES ('H52020100001', 'x', 'MEDICAL_INSTITUTION', '520201', now(), 'n')",
    "INSERT INTO practitioners VALUES ('D1', 'x', 'PHYSICIAN', '520201', 'h1', 'm', now()),"
    " ('D2', 'x', 'NURSE', '520201', 'h2', 'm', now())",
    "INSERT INTO decisions (id, region_code, case_number, institution_code, basis, decided_on, behaviour,"
    " amount_involved, content_hash, recorded_by) VALUES (1, '520201', :case, 'H52020100001',"
    " 'ADMINISTRATIVE_PENALTY', '2025-03-10', :behaviour, 100.50, :hash, 'national')",
    "INSERT INTO point_records (decision_id, practitioner_code, decided_on, points, responsibility)"
    " VALUES (1, 'D1', '2025-03-10', 12, 'MAIN'), (1, 'D2', '2025-03-10', 3, 'GENERAL')",
    "INSERT INTO events VALUES ('000000', 1, 'decision.recorded', 'x', '{\"caseNumber\": \"x\"}', 'national', now())",
]


@pytest_asyncio.fixture(loop_scope="session")
async def old_database(admin_url: str) -> AsyncIterator[str]:
    """A database at the first revision, holding one decision, one event and their rows as that revision wrote them."""
    create_database(admin_url, DATABASE, drop_first=True)
    url = sqlalchemy_url(admin_url).replace("/postgres?", f"/{DATABASE}?", 1)
    command.upgrade(alembic_config(url), "0001")
    engine = make_engine(url)
    params = {"case": CASE.case_number, "behaviour": CASE.behaviour, "hash": first_digest()}
    async with engine.begin() as conn:
        for statement in OLD_ROWS:
            await conn.execute(text(statement), params)
    await engine.dispose()
    yield url


async def test_an_old_decision_resent_after_the_upgrade_is_the_same_decision(old_database: str) -> None:
    command.upgrade(alembic_config(old_database), "0002")
    engine: AsyncEngine = make_engine(old_database)
    try:
        async with engine.connect() as conn:
            events = (await conn.execute(text("SELECT type, v, fact FROM events ORDER BY seq"))).all()
        assert [tuple(e) for e in events] == [("decision.recorded", 0, {"caseNumber": "x"})]  # the old form, marked
    finally:
        await engine.dispose()
    # The feed of signed envelopes (0003) cannot carry the old unsigned entries: it starts empty.
    command.upgrade(alembic_config(old_database), "head")
    engine = make_engine(old_database)
    try:
        db = node_database(engine)
        again = await record_decision(
            db,
            CASE,
            actor=Actor(Role.NATIONAL),
            node=Node("000000", b"k" * 32),
            policies=default_book(),
            today=date(2025, 12, 31),
        )
        assert (again.decision.id, again.sanctions) == (1, [])
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM events")) == 0
            assert await conn.scalar(text("SELECT origin || '#' || origin_seq FROM decisions")) == "000000#1"
    finally:
        await engine.dispose()
    command.downgrade(alembic_config(old_database), "0001")
    engine = make_engine(old_database)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT content_hash FROM decisions")) == first_digest()
            assert await conn.scalar(text("SELECT count(kind) FROM events")) == 0  # the first revision's shape
    finally:
        await engine.dispose()
